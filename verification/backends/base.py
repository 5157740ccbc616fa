"""The Verify backend contract, and `get_backend()` to instantiate the configured one."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage

from django.utils.module_loading import import_string

from verification.conf import conf


class BaseVerifyBackend:
    """Send and check one-time codes; subclasses talk to a provider or keep codes themselves.

    Every method raises only `verification.exceptions.VerificationError` subclasses. A backend
    keeps no state in process memory (any worker may check a code that another one sent), and
    never logs a code or a full number.
    """

    #: Channels this backend can deliver on; the flow offers their intersection with VERIFICATION_CHANNELS.
    channels: tuple[str, ...] = ("sms",)

    def __init__(self, **kwargs: Any) -> None:
        self.options = kwargs

    @classmethod
    def check_configuration(cls) -> list[CheckMessage]:
        """Return system-check messages about this backend's settings (credentials, keys...).

        Called by `verification.checks` for the configured backend; ids are `verification.*`.
        """
        return []

    def start(self, number: str, *, channel: str = "sms", locale: str | None = None) -> str:
        """Send a new code to `number` (E.164) and return the provider's request id."""
        raise NotImplementedError

    def check(self, request_id: str, code: str) -> None:
        """Return when `code` is right for `request_id`; raise InvalidCode, CodeExpired, TooManyAttempts..."""
        raise NotImplementedError

    def cancel(self, request_id: str) -> None:
        """Stop the challenge `request_id` so its code no longer works; unknown or finished ids are ignored."""
        raise NotImplementedError


def get_backend(backend: str | None = None, **kwargs: Any) -> BaseVerifyBackend:
    """Instantiate the backend at the dotted path `backend` (default: VERIFICATION_BACKEND)."""
    backend_class = import_string(backend or conf.BACKEND)
    return backend_class(**kwargs)  # type: ignore[no-any-return]
