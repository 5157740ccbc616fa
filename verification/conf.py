"""The single source of every `VERIFICATION_*` (and `VONAGE_*`) setting: name, default, meaning, validator.

Each setting is one `Setting` attribute of `VerificationSettings`, read from Django's settings at
access time (nothing is cached, so `override_settings` takes effect at once). The system checks
(`verification.checks.settings`) and the settings table of the documentation are derived from them.
Attribute names drop the `VERIFICATION_` prefix (`conf.MAX_AGE`); the Vonage ones keep theirs
(`conf.VONAGE_TIMEOUT`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar, overload

import phonenumbers
from django.conf import settings as django_settings

from verification.channels import CHANNELS

__all__ = [
    "DEFAULTS",
    "Setting",
    "VerificationSettings",
    "conf",
    "is_channel_list",
    "is_region",
    "is_whole_number",
    "settings_table",
    "whole_number_between",
]

T = TypeVar("T")
Validator = Callable[[object], bool]

#: Settings of the Vonage backends keep their own prefix; every other one is `VERIFICATION_<attribute>`.
_OWN_PREFIXES = ("VONAGE_",)
#: The check that reports a setting of the wrong type, for settings without a validator of their own.
TYPE_CHECK_ID = "E037"


def is_whole_number(value: object) -> bool:
    """Tell whether `value` is an int (True and False, although ints, are not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def whole_number_between(low: int, high: int | None = None) -> Validator:
    """Return a validator of whole numbers from `low` to `high` (no upper bound if None)."""

    def valid(value: object) -> bool:
        return is_whole_number(value) and low <= value and (high is None or value <= high)  # type: ignore[operator]

    return valid


def _optional(validator: Validator) -> Validator:
    def valid(value: object) -> bool:
        return value is None or validator(value)

    return valid


def is_region(value: object) -> bool:
    """Tell whether `value` is an ISO 3166 region code that phonenumbers knows, in capitals ("GB")."""
    return isinstance(value, str) and value in phonenumbers.SUPPORTED_REGIONS


def is_channel_list(value: object) -> bool:
    """Tell whether `value` is a non-empty list or tuple of distinct known channel codes."""
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(isinstance(channel, str) and channel in CHANNELS for channel in value)
        and len(set(value)) == len(value)
    )


def _is_region_list(value: object) -> bool:
    return isinstance(value, list | tuple) and bool(value) and all(is_region(code) for code in value)


def _is_non_empty_string(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_positive_seconds(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


class Setting(Generic[T]):
    """One setting: its default, its one-line meaning, and how the system checks validate it.

    `valid` tells a good value from a bad one, reported with `check_id` and a hint saying the value must
    be `expected`. Without `valid`, a value must have its default's type (check E037). `checked_by`
    names the checks that validate a setting elsewhere (the rules, the backend): then `valid` is unused.
    """

    name: str

    def __init__(
        self,
        default: T,
        meaning: str,
        *,
        valid: Validator | None = None,
        check_id: str = TYPE_CHECK_ID,
        expected: str = "",
        checked_by: str = "",
    ) -> None:
        self.default = default
        self.meaning = meaning
        self.valid = valid
        self.check_id = check_id
        self.expected = expected
        self.checked_by = checked_by

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.name = attribute if attribute.startswith(_OWN_PREFIXES) else f"VERIFICATION_{attribute}"

    @overload
    def __get__(self, instance: None, owner: type) -> Setting[T]: ...

    @overload
    def __get__(self, instance: object, owner: type) -> T: ...

    def __get__(self, instance: object | None, owner: type) -> T | Setting[T]:
        if instance is None:
            return self
        return getattr(django_settings, self.name, self.default)

    def is_valid(self, value: object) -> bool:
        """Tell whether `value` passes this setting's own check (its type, without a validator)."""
        if self.valid is not None:
            return self.valid(value)
        return self.default is None or isinstance(value, type(self.default))

    @property
    def check_ids(self) -> str:
        """The checks that report a bad value: "E016", or those of `checked_by`."""
        return self.checked_by or self.check_id


_SECONDS = "a whole number of seconds, 1 or more"
_COUNT = "a whole number, 1 or more"
_RULES = "E003-E009"


class VerificationSettings:
    """Typed access to the verification settings, each read from Django's settings at access time."""

    REQUIRED_URLS: Setting[Sequence[str | dict[str, Any]]] = Setting(
        [],
        "Which URLs need a verified phone: regular expressions ('^/account/'), URL names, 'namespace:*', "
        "or dicts with 'path' or 'name' and 'max_age'.",
        checked_by=_RULES,
    )
    EXEMPT_URLS: Setting[Sequence[str | dict[str, Any]]] = Setting(
        [], "URLs never enforced, in the same forms; an exemption wins over every protection.", checked_by=_RULES
    )
    MAX_AGE: Setting[int | None] = Setting(
        None,
        "Seconds a verification lasts; None: as long as the session.",
        valid=_optional(whole_number_between(1)),
        check_id="E010",
        expected=f"None or {_SECONDS}",
    )
    BACKEND: Setting[str] = Setting(
        "verification.backends.console.ConsoleVerifyBackend",
        "The dotted path of the Verify backend class that sends and checks codes.",
        checked_by="E011, E012, E039",
    )
    BRAND: Setting[str] = Setting(
        "Pollstr",
        "The name in every message: 'Your <brand> code is ...'.",
        valid=_is_non_empty_string,
        check_id="E034",
        expected="a non-empty string",
    )
    CODE_LENGTH: Setting[int] = Setting(
        6,
        "Digits in a code.",
        valid=whole_number_between(4, 10),
        check_id="E013",
        expected="a whole number from 4 to 10",
    )
    CODE_TTL: Setting[int] = Setting(
        300,
        "Seconds a code lives (at most 600).",
        valid=whole_number_between(1, 600),
        check_id="E014",
        expected="a whole number of seconds from 1 to 600",
    )
    MAX_ATTEMPTS: Setting[int] = Setting(
        5,
        "Codes that may be tried per challenge; then it is dead, even for the right code.",
        valid=whole_number_between(1),
        check_id="E015",
        expected=_COUNT,
    )
    SEND_LIMIT: Setting[int] = Setting(
        3,
        "Codes sent per user and per destination number within VERIFICATION_SEND_WINDOW.",
        valid=whole_number_between(1),
        check_id="E016",
        expected=_COUNT,
    )
    SEND_WINDOW: Setting[int] = Setting(
        600,
        "The sliding window of VERIFICATION_SEND_LIMIT, in seconds.",
        valid=whole_number_between(1),
        check_id="E017",
        expected=_SECONDS,
    )
    IP_SEND_LIMIT: Setting[int] = Setting(
        10,
        "Codes sent per client network within VERIFICATION_IP_SEND_WINDOW.",
        valid=whole_number_between(1),
        check_id="E018",
        expected=_COUNT,
    )
    IP_SEND_WINDOW: Setting[int] = Setting(
        3600,
        "The sliding window of VERIFICATION_IP_SEND_LIMIT, in seconds.",
        valid=whole_number_between(1),
        check_id="E019",
        expected=_SECONDS,
    )
    RESEND_COOLDOWN: Setting[int] = Setting(
        30,
        "Seconds before another code may be sent to the same number.",
        valid=whole_number_between(0),
        check_id="E030",
        expected="a whole number of seconds, 0 or more",
    )
    DEFAULT_REGION: Setting[str | None] = Setting(
        None,
        "Region for numbers typed without a country code ('GB'); None: only international input.",
        valid=_optional(is_region),
        check_id="E033",
        expected="None or an ISO 3166 region code in capitals, such as 'GB'",
    )
    ALLOWED_COUNTRIES: Setting[Sequence[str] | None] = Setting(
        None,
        "ISO 3166 region codes a code may be sent to; None: everywhere.",
        valid=_optional(_is_region_list),
        check_id="E032",
        expected="None or a non-empty list of ISO 3166 region codes in capitals, such as ['GB', 'IE']",
    )
    CHANNELS: Setting[Sequence[str]] = Setting(
        ["sms"],
        "Channels offered, first the default: 'sms', 'voice', 'whatsapp' (those the backend can send on).",
        valid=is_channel_list,
        check_id="E031",
        expected="a non-empty list of distinct channels among " + ", ".join(f"'{code}'" for code in CHANNELS),
    )
    CLIENT_IP_HEADER: Setting[str | None] = Setting(
        None,
        "The request.META key holding the client address set by a trusted proxy; None: REMOTE_ADDR.",
        valid=_optional(lambda value: isinstance(value, str) and bool(value)),
        check_id="E035",
        expected="None or a request.META key such as 'HTTP_X_FORWARDED_FOR'",
    )
    IPV6_PREFIX: Setting[int] = Setting(
        64,
        "IPv6 clients are budgeted per network of this prefix length (one subscriber usually holds a /64).",
        valid=whole_number_between(32, 128),
        check_id="E040",
        expected="a prefix length from 32 to 128: 64 budgets one subscriber's network; 56 or 48 if your users' "
        "providers hand out larger ones",
    )
    COUNTRY_SEND_LIMITS: Setting[Mapping[str, int]] = Setting(
        {},
        "Toll-fraud circuit breaker: codes sent per destination region ('*': every region not listed) within "
        "VERIFICATION_COUNTRY_SEND_WINDOW; {} turns it off.",
        checked_by="E041-E043",
    )
    COUNTRY_SEND_WINDOW: Setting[int] = Setting(
        3600,
        "The sliding window of VERIFICATION_COUNTRY_SEND_LIMITS, in seconds.",
        valid=whole_number_between(1),
        check_id="E044",
        expected=_SECONDS,
    )
    GLOBAL_SEND_LIMIT: Setting[int | None] = Setting(
        None,
        "Toll-fraud circuit breaker: codes sent by the whole site within VERIFICATION_GLOBAL_SEND_WINDOW; "
        "None turns it off.",
        valid=_optional(whole_number_between(1)),
        check_id="E045",
        expected="None (no site-wide budget) or a whole number, 1 or more",
    )
    GLOBAL_SEND_WINDOW: Setting[int] = Setting(
        3600,
        "The sliding window of VERIFICATION_GLOBAL_SEND_LIMIT, in seconds.",
        valid=whole_number_between(1),
        check_id="E046",
        expected=_SECONDS,
    )
    NUMBER_CHANGE_MAX_AGE: Setting[int] = Setting(
        600,
        "Another number may replace the verified one only in a session that verified the number on file "
        "within this many seconds.",
        valid=whole_number_between(1),
        check_id="E047",
        expected=f"{_SECONDS}: how recently a session must have verified the number on file before it may replace it",
    )
    VONAGE_API_KEY: Setting[str] = Setting("", "Vonage API key (legacy API; v2 without an application).")
    VONAGE_API_SECRET: Setting[str] = Setting("", "Vonage API secret, with VONAGE_API_KEY.")
    VONAGE_APPLICATION_ID: Setting[str] = Setting("", "Vonage application id (v2, JWT authentication).")
    VONAGE_PRIVATE_KEY: Setting[str] = Setting(
        "", "The application's private key: a path to the key file, or the PEM text itself."
    )
    VONAGE_TIMEOUT: Setting[float] = Setting(
        10.0,
        "Seconds to wait for Vonage before giving up on a call.",
        valid=_is_positive_seconds,
        check_id="E036",
        expected="a number of seconds above 0, such as 10.0",
    )
    VONAGE_CHANNEL_TIMEOUT: Setting[int] = Setting(
        300, "Seconds Vonage waits on a channel before the next one (v2: 15 to 900; legacy: 60 to 900)."
    )
    VONAGE_WHATSAPP_FROM: Setting[str] = Setting(
        "", "The WhatsApp Business sender number, E.164 digits without '+'; needed for the 'whatsapp' channel."
    )

    @classmethod
    def settings(cls) -> Iterator[Setting[Any]]:
        """Yield every setting, in the order they are declared."""
        for value in vars(cls).values():
            if isinstance(value, Setting):
                yield value


conf = VerificationSettings()

#: Every setting's name and default (derived from `VerificationSettings`).
DEFAULTS: dict[str, Any] = {setting.name: setting.default for setting in VerificationSettings.settings()}


def settings_table() -> str:
    """Return the Markdown table of every setting: name, default, meaning, the checks that validate it."""
    rows = ["| Setting | Default | Meaning | Checked by |", "| --- | --- | --- | --- |"]
    for setting in VerificationSettings.settings():
        meaning = setting.meaning.replace("|", "\\|")
        rows.append(f"| `{setting.name}` | `{setting.default!r}` | {meaning} | {setting.check_ids} |")
    return "\n".join(rows) + "\n"
