"""System checks of VERIFICATION_BACKEND.

- E011 VERIFICATION_BACKEND cannot be imported.
- E012 VERIFICATION_BACKEND is not a BaseVerifyBackend subclass.
- E039 the backend can deliver none of VERIFICATION_CHANNELS.
- W001 the console or locmem backend while DEBUG is False: no code reaches a phone.

The backend class adds its own checks (`check_configuration()`); E020-E029 and W020-W029 belong to
the Vonage backends (`verification.backends.vonage.checks`).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.checks import Warning as CheckWarning
from django.utils.module_loading import import_string

from verification.conf import conf
from verification.validators import is_channel_list

__all__ = ["check_backend"]

#: Modules of backends that never reach a phone.
LOCAL_BACKEND_MODULES = frozenset({"verification.backends.console", "verification.backends.locmem"})


@register(Tags.security, "verification")
def check_backend(**kwargs: Any) -> list[CheckMessage]:
    """E011, E012, E039, W001 and the backend's own checks."""
    from verification.backends.base import BaseVerifyBackend

    path = conf.BACKEND
    try:
        backend_class = import_string(path)
    except (ImportError, ValueError, TypeError, AttributeError) as error:
        return [
            Error(
                f"VERIFICATION_BACKEND {path!r} cannot be imported: {error}.",
                hint="Use a dotted path such as 'verification.backends.vonage.VonageVerifyBackend'.",
                id="verification.E011",
            )
        ]
    if not isinstance(backend_class, type) or not issubclass(backend_class, BaseVerifyBackend):
        return [
            Error(
                f"VERIFICATION_BACKEND {path!r} is not a Verify backend.",
                hint="Point it at a subclass of verification.backends.base.BaseVerifyBackend.",
                id="verification.E012",
            )
        ]
    messages: list[CheckMessage] = []
    if not settings.DEBUG and any(klass.__module__ in LOCAL_BACKEND_MODULES for klass in backend_class.__mro__):
        messages.append(
            CheckWarning(
                f"VERIFICATION_BACKEND is {path!r} while DEBUG is False: no code reaches a phone.",
                hint="Use 'verification.backends.vonage.VonageVerifyBackend' in production.",
                id="verification.W001",
            )
        )
    channels = conf.CHANNELS
    if is_channel_list(channels) and not set(channels) & set(backend_class.channels):
        messages.append(
            Error(
                f"VERIFICATION_BACKEND {path!r} can deliver none of VERIFICATION_CHANNELS {list(channels)!r}.",
                hint=f"Use a channel it offers: {', '.join(backend_class.channels)}.",
                id="verification.E039",
            )
        )
    messages += backend_class.check_configuration()
    return messages
