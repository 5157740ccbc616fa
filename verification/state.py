"""The one place that reads and writes the verification state in the session.

The state is bound to the user (primary key and session auth hash, so a password change ends it),
to the verified number and to the time of verification. Logging out flushes the session, and the
state with it. Nothing else touches `SESSION_KEY`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth import HASH_SESSION_KEY

from verification.conf import conf

if TYPE_CHECKING:
    from django.http import HttpRequest

SESSION_KEY = "_verification"


@dataclass(frozen=True)
class VerifiedState:
    """A verification held by the session: who, which number (E.164), when (Unix seconds)."""

    user_pk: str
    auth_hash: str
    number: str
    verified_at: int

    def age(self, now: float | None = None) -> float:
        """Seconds since the verification."""
        return (time.time() if now is None else now) - self.verified_at


def mark_verified(request: HttpRequest, number: str) -> None:
    """Record that the logged-in user of `request` has just verified `number`."""
    user = request.user
    if not user.is_authenticated:
        raise ValueError("Only a logged-in user can be marked verified.")
    request.session[SESSION_KEY] = {
        "user": str(user.pk),
        "hash": user.get_session_auth_hash(),
        "number": number,
        "at": int(time.time()),
    }


def get_state(request: HttpRequest) -> VerifiedState | None:
    """Return the session's verification if it belongs to the current user and auth hash, else None.

    Reads only the session (already loaded by authentication); makes no query.
    """
    raw = request.session.get(SESSION_KEY)
    if not isinstance(raw, dict):
        return None
    user = request.user
    if not user.is_authenticated:
        return None
    try:
        state = VerifiedState(str(raw["user"]), str(raw["hash"]), str(raw["number"]), int(raw["at"]))
    except (KeyError, TypeError, ValueError):
        return None
    if state.user_pk != str(user.pk):
        return None
    # AuthenticationMiddleware has checked the session's auth hash against the user; comparing with
    # the session's copy (not recomputing it) ends the state when the password changes.
    if state.auth_hash != request.session.get(HASH_SESSION_KEY):
        return None
    return state


def is_verified(request: HttpRequest, max_age: int | None = None) -> bool:
    """Tell whether the current user verified within `max_age` seconds (default VERIFICATION_MAX_AGE)."""
    state = get_state(request)
    if state is None:
        return False
    limit = conf.MAX_AGE if max_age is None else max_age
    return limit is None or state.age() <= limit


def clear(request: HttpRequest) -> None:
    """Forget the session's verification."""
    request.session.pop(SESSION_KEY, None)
