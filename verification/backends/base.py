"""The Verify backend contract, and `get_backend()` to instantiate the configured one."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.checks import CheckMessage
from django.db.models import F
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.module_loading import import_string
from django.utils.translation import gettext

from verification.conf import conf
from verification.exceptions import CodeExpired, InvalidCode, TooManyAttempts

__all__ = ["MAX_CODE_TTL", "BaseVerifyBackend", "CodeMessage", "LocalCodeBackend", "code_ttl", "get_backend"]

#: No code lives longer than this, whatever VERIFICATION_CODE_TTL says.
MAX_CODE_TTL = 600


class BaseVerifyBackend:
    """Send and check one-time codes; subclasses talk to a provider or keep codes themselves.

    Every method raises only `verification.exceptions.VerificationError` subclasses. A backend
    keeps no state in process memory (any worker may check a code that another one sent), and
    never logs a code or a full number.
    """

    #: Channels this backend can deliver on; the flow offers their intersection with VERIFICATION_CHANNELS.
    channels: tuple[str, ...] = ("sms",)
    #: A provider puts VERIFICATION_BRAND in every message it sends: without one, check E051 fails.
    needs_brand: bool = True
    #: Seconds after a start during which the provider refuses to cancel the request (`cancel` raises
    #: ConcurrentVerification): the flow tells a number's owner to wait that long for another account's code.
    cancel_delay: int = 0

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
    return backend_class(**kwargs)


def code_ttl() -> int:
    """Seconds a code lives: VERIFICATION_CODE_TTL, capped at MAX_CODE_TTL."""
    return max(1, min(int(conf.CODE_TTL), MAX_CODE_TTL))


@dataclass(frozen=True)
class CodeMessage:
    """One code a local backend delivers: where, how, which request, and the text a person would read."""

    number: str
    code: str
    channel: str
    request_id: str
    message: str


class LocalCodeBackend(BaseVerifyBackend):
    """Issue and check codes itself, keeping only a keyed hash in the database; subclasses `deliver` them.

    Codes are `conf.CODE_LENGTH` random digits from `secrets` (leading zeros kept), expire after
    `code_ttl()` seconds, allow `conf.MAX_ATTEMPTS` checks each, and are compared in constant time.
    Any worker can check a code that another worker issued.
    """

    channels: tuple[str, ...] = ("sms", "voice")
    # Nobody but the developer reads a local code: without a brand, the text is neutral.
    needs_brand = False

    def deliver(self, message: CodeMessage) -> None:
        """Hand `message` to the person (print it, store it...); must not log the code."""
        raise NotImplementedError

    def start(self, number: str, *, channel: str = "sms", locale: str | None = None) -> str:
        from verification.models import LocalCode

        length = int(conf.CODE_LENGTH)
        code = f"{secrets.randbelow(10**length):0{length}d}"
        request_id = secrets.token_hex(16)
        ttl = code_ttl()
        now = timezone.now()
        LocalCode.objects.create(
            request_id=request_id,
            number=number,
            channel=channel,
            code_hash=self._hash(request_id, code),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
        self.deliver(CodeMessage(number, code, channel, request_id, self.compose(code, ttl, locale)))
        return request_id

    def check(self, request_id: str, code: str) -> None:
        from verification.models import LocalCode

        now = timezone.now()
        pending = LocalCode.objects.filter(request_id=request_id, status=LocalCode.Status.PENDING)
        # The attempt is counted before the comparison, in one conditional UPDATE: concurrent checks
        # can never exceed MAX_ATTEMPTS between them.
        reserved = pending.filter(expires_at__gt=now, attempts__lt=conf.MAX_ATTEMPTS).update(attempts=F("attempts") + 1)
        if not reserved:
            if pending.filter(expires_at__gt=now).exists():
                raise TooManyAttempts(provider_request_id=request_id)
            raise CodeExpired(provider_request_id=request_id)
        stored = pending.values_list("code_hash", flat=True).first()
        if stored is None:
            # Used or cancelled by a concurrent request since the attempt was counted.
            raise CodeExpired(provider_request_id=request_id)
        if not constant_time_compare(stored, self._hash(request_id, code)):
            raise InvalidCode(provider_request_id=request_id)
        # Only one of two concurrent right answers may use the code.
        if not pending.update(status=LocalCode.Status.USED):
            raise CodeExpired(provider_request_id=request_id)

    def cancel(self, request_id: str) -> None:
        from verification.models import LocalCode

        LocalCode.objects.filter(request_id=request_id, status=LocalCode.Status.PENDING).update(
            status=LocalCode.Status.CANCELLED
        )

    def compose(self, code: str, ttl: int, locale: str | None) -> str:
        """Return the text a person receives, in `locale` when given."""
        minutes = max(1, round(ttl / 60))
        brand = conf.BRAND
        with translation.override(locale or translation.get_language()):
            if not brand:
                return gettext("Your verification code is %(code)s. It expires in %(minutes)s minutes.") % {
                    "code": code,
                    "minutes": minutes,
                }
            return gettext("Your %(brand)s code is %(code)s. It expires in %(minutes)s minutes.") % {
                "brand": brand,
                "code": code,
                "minutes": minutes,
            }

    @staticmethod
    def _hash(request_id: str, code: str) -> str:
        # Keyed by SECRET_KEY and bound to the request: a leaked table reveals no code.
        return salted_hmac("verification.LocalCodeBackend", f"{request_id}:{code}", algorithm="sha256").hexdigest()
