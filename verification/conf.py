"""Every `VERIFICATION_*` (and `VONAGE_*`) setting with its default, read at access time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings as django_settings

DEFAULTS: dict[str, Any] = {
    # Which URLs need a verified phone: a string starting with "^" or "/" is a regular expression
    # matched against the decoded path; any other string is a URL name ("polls:vote") or a whole
    # namespace ("polls:*"). A dict {"path": ..., "max_age": 300} or {"name": ..., "max_age": 300}
    # asks for a fresher verification on those URLs.
    "VERIFICATION_REQUIRED_URLS": [],
    # Same forms as above; an exemption wins over every protection.
    "VERIFICATION_EXEMPT_URLS": [],
    # Seconds a verification lasts; None: as long as the session.
    "VERIFICATION_MAX_AGE": None,
    "VERIFICATION_BACKEND": "verification.backends.console.ConsoleVerifyBackend",
    "VERIFICATION_BRAND": "Pollstr",
    "VERIFICATION_CODE_LENGTH": 6,
    "VERIFICATION_CODE_TTL": 300,
    "VERIFICATION_MAX_ATTEMPTS": 5,
    # Sends per user and per destination number within VERIFICATION_SEND_WINDOW seconds.
    "VERIFICATION_SEND_LIMIT": 3,
    "VERIFICATION_SEND_WINDOW": 600,
    # Sends per client IP address within VERIFICATION_IP_SEND_WINDOW seconds.
    "VERIFICATION_IP_SEND_LIMIT": 10,
    "VERIFICATION_IP_SEND_WINDOW": 3600,
    "VERIFICATION_RESEND_COOLDOWN": 30,
    # Region for numbers typed without a country code ("GB"); None: only international input.
    "VERIFICATION_DEFAULT_REGION": None,
    # ISO 3166 region codes a code may be sent to; None: everywhere.
    "VERIFICATION_ALLOWED_COUNTRIES": None,
    "VERIFICATION_CHANNELS": ["sms"],
    # The request.META key holding the client address set by a trusted proxy
    # ("HTTP_X_FORWARDED_FOR"); None: REMOTE_ADDR.
    "VERIFICATION_CLIENT_IP_HEADER": None,
    # IPv6 clients are budgeted per network of this prefix length (one subscriber usually holds a /64).
    "VERIFICATION_IPV6_PREFIX": 64,
    # Toll-fraud circuit breakers: sends per destination region (ISO 3166 code, "*" for every region not
    # listed) within VERIFICATION_COUNTRY_SEND_WINDOW seconds; {} turns them off.
    "VERIFICATION_COUNTRY_SEND_LIMITS": {},
    "VERIFICATION_COUNTRY_SEND_WINDOW": 3600,
    # Sends by the whole site within VERIFICATION_GLOBAL_SEND_WINDOW seconds; None turns it off.
    "VERIFICATION_GLOBAL_SEND_LIMIT": None,
    "VERIFICATION_GLOBAL_SEND_WINDOW": 3600,
    # Another number may replace the verified one only in a session that verified the number on file
    # within this many seconds (else a stolen password would be enough to swap the second factor).
    "VERIFICATION_NUMBER_CHANGE_MAX_AGE": 600,
    "VONAGE_API_KEY": "",
    "VONAGE_API_SECRET": "",
    "VONAGE_APPLICATION_ID": "",
    # A path to the private key file, or the PEM text itself.
    "VONAGE_PRIVATE_KEY": "",
    "VONAGE_TIMEOUT": 10.0,
    # Seconds Vonage waits on a channel before the next one in the workflow (v2: 15 to 900; legacy: 60 to 900).
    "VONAGE_CHANNEL_TIMEOUT": 300,
    # The WhatsApp Business (WABA) sender number, E.164 digits without "+"; needed for the "whatsapp" channel.
    "VONAGE_WHATSAPP_FROM": "",
}


class VerificationSettings:
    """Typed access to the verification settings, each read from Django's settings at access time.

    Nothing is cached, so `override_settings` takes effect at once. Attribute names drop the
    `VERIFICATION_` prefix (`conf.MAX_AGE`); the Vonage ones keep theirs (`conf.VONAGE_TIMEOUT`).
    """

    def _get(self, name: str) -> Any:
        return getattr(django_settings, name, DEFAULTS[name])

    @property
    def REQUIRED_URLS(self) -> Sequence[str | dict[str, Any]]:
        return self._get("VERIFICATION_REQUIRED_URLS")

    @property
    def EXEMPT_URLS(self) -> Sequence[str | dict[str, Any]]:
        return self._get("VERIFICATION_EXEMPT_URLS")

    @property
    def MAX_AGE(self) -> int | None:
        return self._get("VERIFICATION_MAX_AGE")

    @property
    def BACKEND(self) -> str:
        return self._get("VERIFICATION_BACKEND")

    @property
    def BRAND(self) -> str:
        return self._get("VERIFICATION_BRAND")

    @property
    def CODE_LENGTH(self) -> int:
        return self._get("VERIFICATION_CODE_LENGTH")

    @property
    def CODE_TTL(self) -> int:
        return self._get("VERIFICATION_CODE_TTL")

    @property
    def MAX_ATTEMPTS(self) -> int:
        return self._get("VERIFICATION_MAX_ATTEMPTS")

    @property
    def SEND_LIMIT(self) -> int:
        return self._get("VERIFICATION_SEND_LIMIT")

    @property
    def SEND_WINDOW(self) -> int:
        return self._get("VERIFICATION_SEND_WINDOW")

    @property
    def IP_SEND_LIMIT(self) -> int:
        return self._get("VERIFICATION_IP_SEND_LIMIT")

    @property
    def IP_SEND_WINDOW(self) -> int:
        return self._get("VERIFICATION_IP_SEND_WINDOW")

    @property
    def RESEND_COOLDOWN(self) -> int:
        return self._get("VERIFICATION_RESEND_COOLDOWN")

    @property
    def DEFAULT_REGION(self) -> str | None:
        return self._get("VERIFICATION_DEFAULT_REGION")

    @property
    def ALLOWED_COUNTRIES(self) -> Sequence[str] | None:
        return self._get("VERIFICATION_ALLOWED_COUNTRIES")

    @property
    def CHANNELS(self) -> Sequence[str]:
        return self._get("VERIFICATION_CHANNELS")

    @property
    def CLIENT_IP_HEADER(self) -> str | None:
        return self._get("VERIFICATION_CLIENT_IP_HEADER")

    @property
    def IPV6_PREFIX(self) -> int:
        return self._get("VERIFICATION_IPV6_PREFIX")

    @property
    def COUNTRY_SEND_LIMITS(self) -> Mapping[str, int]:
        return self._get("VERIFICATION_COUNTRY_SEND_LIMITS")

    @property
    def COUNTRY_SEND_WINDOW(self) -> int:
        return self._get("VERIFICATION_COUNTRY_SEND_WINDOW")

    @property
    def GLOBAL_SEND_LIMIT(self) -> int | None:
        return self._get("VERIFICATION_GLOBAL_SEND_LIMIT")

    @property
    def GLOBAL_SEND_WINDOW(self) -> int:
        return self._get("VERIFICATION_GLOBAL_SEND_WINDOW")

    @property
    def NUMBER_CHANGE_MAX_AGE(self) -> int:
        return self._get("VERIFICATION_NUMBER_CHANGE_MAX_AGE")

    @property
    def VONAGE_API_KEY(self) -> str:
        return self._get("VONAGE_API_KEY")

    @property
    def VONAGE_API_SECRET(self) -> str:
        return self._get("VONAGE_API_SECRET")

    @property
    def VONAGE_APPLICATION_ID(self) -> str:
        return self._get("VONAGE_APPLICATION_ID")

    @property
    def VONAGE_PRIVATE_KEY(self) -> str:
        return self._get("VONAGE_PRIVATE_KEY")

    @property
    def VONAGE_TIMEOUT(self) -> float:
        return self._get("VONAGE_TIMEOUT")

    @property
    def VONAGE_CHANNEL_TIMEOUT(self) -> int:
        return self._get("VONAGE_CHANNEL_TIMEOUT")

    @property
    def VONAGE_WHATSAPP_FROM(self) -> str:
        return self._get("VONAGE_WHATSAPP_FROM")


conf = VerificationSettings()
