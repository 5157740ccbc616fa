"""System checks of the session engine: E054 (client-side sessions, which cannot be revoked)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from verification.sessions import is_client_side_engine

__all__ = ["check_session_engine"]


@register(Tags.security, "verification")
def check_session_engine(**kwargs: Any) -> list[CheckMessage]:
    """E054: SESSION_ENGINE keeps sessions on the server, where ending a user's verifications can delete them."""
    try:
        client_side = is_client_side_engine()
    except ImportError:
        return []  # Django's own checks and the first request report an engine that cannot be imported.
    if not client_side:
        return []
    return [
        Error(
            f"SESSION_ENGINE is {settings.SESSION_ENGINE!r}: sessions, and the verification state in them, live "
            "in the client's cookie, where they cannot be revoked (signing out other sessions, a number change "
            "or a staff reset end nothing) and, with a known SECRET_KEY, can be forged.",
            hint="Use 'django.contrib.sessions.backends.db' or 'django.contrib.sessions.backends.cached_db'.",
            id="verification.E054",
        )
    ]
