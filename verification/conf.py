"""The single source of every `VERIFICATION_*` (and `VONAGE_*`) setting: name, default, meaning, validator.

Each setting is one `Setting` attribute of `VerificationSettings`, read from Django's settings at
access time (nothing is cached, so `override_settings` takes effect at once). The system checks
(`verification.checks.settings`) and the settings table of the documentation are derived from them.
Attribute names drop the `VERIFICATION_` prefix (`conf.MAX_AGE`); the Vonage ones keep theirs
(`conf.VONAGE_TIMEOUT`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from verification._setting import TYPE_CHECK_ID, Setting
from verification.channels import CHANNELS
from verification.validators import (
    is_channel_list,
    is_non_empty_string,
    is_positive_number,
    is_region,
    is_region_list,
    optional,
    whole_number_between,
)

__all__ = ["DEFAULTS", "TYPE_CHECK_ID", "Setting", "VerificationSettings", "conf", "settings_table"]

_SECONDS = "a whole number of seconds, 1 or more"
_COUNT = "a whole number, 1 or more"
_RULES = "E003-E009"


class VerificationSettings:
    """Typed access to the verification settings, each read from Django's settings at access time."""

    REQUIRED_URLS: Setting[Sequence[str | dict[str, Any]]] = Setting(
        [],
        'Rules for the pages that need a verified phone (see "Rules").',
        checked_by=_RULES,
    )
    EXEMPT_URLS: Setting[Sequence[str | dict[str, Any]]] = Setting(
        [],
        "Rules for the pages that never do; an exemption beats every protection.",
        checked_by=_RULES,
    )
    MAX_AGE: Setting[int | None] = Setting(
        None,
        "Seconds a verification lasts for rules without their own `max_age`. `None`: as long as the session.",
        valid=optional(whole_number_between(1)),
        check_id="E010",
        expected=f"None or {_SECONDS}",
    )
    BACKEND: Setting[str] = Setting(
        "verification.backends.console.ConsoleVerifyBackend",
        "Dotted path of the Verify backend that sends and checks codes.",
        checked_by="E011, E012, E039",
    )
    BRAND: Setting[str | None] = Setting(
        None,
        "Your site's name, shown in the message that carries the code and in the pages' titles. A provider "
        "backend needs it (E051); the local backends then write a neutral text.",
        valid=optional(is_non_empty_string),
        check_id="E034",
        expected="None or a non-empty string",
    )
    BASE_TEMPLATE: Setting[str] = Setting(
        "verification/layout.html",
        "The template the flow's pages extend; they fill its `title` and `content` blocks. The default is "
        'the app\'s own standalone layout. See "Fitting the pages into your site".',
        valid=is_non_empty_string,
        check_id="E048",
        expected="a template name, such as 'verification/layout.html'",
    )
    CONSOLE_BACKEND_ALLOWED: Setting[bool] = Setting(
        False,
        "`True` says the console backend runs with `DEBUG` off on purpose (load tests): it writes every code "
        "to the server's output. Otherwise that is an error (E052).",
    )
    CODE_LENGTH: Setting[int] = Setting(
        6,
        "Digits in a code, 4 to 10.",
        valid=whole_number_between(4, 10),
        check_id="E013",
        expected="a whole number from 4 to 10",
    )
    CODE_TTL: Setting[int] = Setting(
        300,
        "Seconds a code stays valid, 1 to 600.",
        valid=whole_number_between(1, 600),
        check_id="E014",
        expected="a whole number of seconds from 1 to 600",
    )
    MAX_ATTEMPTS: Setting[int] = Setting(
        5,
        "Wrong codes allowed per challenge before it is dead, even for the right code.",
        valid=whole_number_between(1),
        check_id="E015",
        expected=_COUNT,
    )
    SEND_LIMIT: Setting[int] = Setting(
        3,
        "Codes sent per user, and per destination number, within `VERIFICATION_SEND_WINDOW`.",
        valid=whole_number_between(1),
        check_id="E016",
        expected=_COUNT,
    )
    SEND_WINDOW: Setting[int] = Setting(
        600,
        "Seconds of the window above.",
        valid=whole_number_between(1),
        check_id="E017",
        expected=_SECONDS,
    )
    IP_SEND_LIMIT: Setting[int] = Setting(
        10,
        "Codes sent per client IP address within `VERIFICATION_IP_SEND_WINDOW`.",
        valid=whole_number_between(1),
        check_id="E018",
        expected=_COUNT,
    )
    IP_SEND_WINDOW: Setting[int] = Setting(
        3600,
        "Seconds of the window above.",
        valid=whole_number_between(1),
        check_id="E019",
        expected=_SECONDS,
    )
    RESEND_COOLDOWN: Setting[int] = Setting(
        30,
        'Seconds before "resend" is allowed again (0: at once).',
        valid=whole_number_between(0),
        check_id="E030",
        expected="a whole number of seconds, 0 or more",
    )
    DEFAULT_REGION: Setting[str | None] = Setting(
        None,
        'ISO 3166 region for numbers typed without a country code (`"GB"`). `None`: only international input (`+44…`).',
        valid=optional(is_region),
        check_id="E033",
        expected="None or an ISO 3166 region code in capitals, such as 'GB'",
    )
    ALLOWED_COUNTRIES: Setting[Sequence[str] | None] = Setting(
        None,
        'ISO 3166 regions a code may be sent to (`["GB", "IE"]`). `None`: everywhere.',
        valid=optional(is_region_list),
        check_id="E032",
        expected="None or a non-empty list of ISO 3166 region codes in capitals, such as ['GB', 'IE']",
    )
    CHANNELS: Setting[Sequence[str]] = Setting(
        ["sms"],
        'Channels offered, among `"sms"`, `"voice"`, `"whatsapp"`; the backend\'s channels limit them further.',
        valid=is_channel_list,
        check_id="E031",
        expected="a non-empty list of distinct channels among " + ", ".join(f"'{code}'" for code in CHANNELS),
    )
    CLIENT_IP_HEADER: Setting[str | None] = Setting(
        None,
        '`request.META` key a trusted proxy puts the client address in (`"HTTP_X_FORWARDED_FOR"`; its '
        "right-most entry is used). `None`: `REMOTE_ADDR`.",
        valid=optional(lambda value: isinstance(value, str) and bool(value)),
        check_id="E035",
        expected="None or a request.META key such as 'HTTP_X_FORWARDED_FOR'",
    )
    IPV6_PREFIX: Setting[int] = Setting(
        64,
        "An IPv6 client counts against the per-address budget as its whole network of this prefix length.",
        valid=whole_number_between(32, 128),
        check_id="E040",
        expected="a prefix length from 32 to 128: 64 budgets one subscriber's network; 56 or 48 if your users' "
        "providers hand out larger ones",
    )
    ALLOW_VOIP: Setting[bool] = Setting(
        False,
        "`True`: codes may go to VoIP numbers, which anyone can rent by the minute. Numbers already on file "
        "keep working either way (check W012 lists them).",
    )
    ALLOW_INTERNATIONAL_NETWORKS: Setting[bool] = Setting(
        False,
        "`True`: codes may go to satellite and international network numbers (+881, +882, +883), costly and "
        "a toll-fraud favourite. Numbers already on file keep working either way (check W012 lists them).",
    )
    COUNTRY_SEND_LIMITS: Setting[Mapping[str, int]] = Setting(
        {},
        'Toll-fraud circuit breaker: sends per destination region within the window (`{"GB": 100, "*": '
        '20}`); `{}`: off. See "Send budgets against SMS toll fraud".',
        checked_by="E041-E043",
    )
    COUNTRY_SEND_WINDOW: Setting[int] = Setting(
        3600,
        "Seconds of the per-region window.",
        valid=whole_number_between(1),
        check_id="E044",
        expected=_SECONDS,
    )
    GLOBAL_SEND_LIMIT: Setting[int | None] = Setting(
        None,
        "Toll-fraud circuit breaker: sends by the whole site within the window; `None`: off.",
        valid=optional(whole_number_between(1)),
        check_id="E045",
        expected="None (no site-wide budget) or a whole number, 1 or more",
    )
    GLOBAL_SEND_WINDOW: Setting[int] = Setting(
        3600,
        "Seconds of the site-wide window.",
        valid=whole_number_between(1),
        check_id="E046",
        expected=_SECONDS,
    )
    NUMBER_SHARING: Setting[bool] = Setting(
        False,
        "`True`: several accounts may verify the same number. `False`: a code another account asks for to a "
        "number someone verified is withheld, and the pages answer as if it were sent, so nobody learns "
        'whose number it is; numbers already shared keep working. See "Numbers belong to their owner".',
    )
    FOREIGN_SEND_LIMIT: Setting[int] = Setting(
        10,
        "Codes one number may get within `VERIFICATION_FOREIGN_SEND_WINDOW` for accounts that have not "
        "verified it (sign-ups, other accounts); its owner's own codes never count.",
        valid=whole_number_between(1),
        check_id="E056",
        expected=_COUNT,
    )
    FOREIGN_SEND_WINDOW: Setting[int] = Setting(
        86400,
        "Seconds of the window above.",
        valid=whole_number_between(1),
        check_id="E057",
        expected=_SECONDS,
    )
    BREAKER_RESERVE: Setting[float] = Setting(
        0.2,
        "Share of each circuit breaker kept for codes to numbers their users already verified: new numbers "
        "are refused once the rest is spent.",
        valid=lambda value: isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 0.9,
        check_id="E058",
        expected="a share from 0 to 0.9, such as 0.2",
    )
    FAILED_CHALLENGE_LIMIT: Setting[int | None] = Setting(
        10,
        "Codes a user may get wrong (counted by challenge) within `VERIFICATION_FAILED_CHALLENGE_WINDOW`; "
        "then every send and check is refused until the window passes or staff reset the number. `None`: no limit.",
        valid=optional(whole_number_between(1)),
        check_id="E059",
        expected=f"None or {_COUNT}",
    )
    FAILED_CHALLENGE_WINDOW: Setting[int] = Setting(
        86400,
        "Seconds of the window above.",
        valid=whole_number_between(1),
        check_id="E060",
        expected=_SECONDS,
    )
    NUMBER_CHANGE_MAX_AGE: Setting[int] = Setting(
        600,
        "Another number may replace the one on file only in a session that verified the number on file "
        'within this many seconds. See "Changing the phone number".',
        valid=whole_number_between(1),
        check_id="E047",
        expected=f"{_SECONDS}: how recently a session must have verified the number on file before it may replace it",
    )
    STAFF_ENROLMENT_LOGIN_MAX_AGE: Setting[int | None] = Setting(
        None,
        "A staff user with no number on file may enrol one only within this many seconds of logging in (trust "
        'on first use, from a fresh login). `None`: at any time. See "Changing the phone number".',
        valid=optional(whole_number_between(1)),
        check_id="E055",
        expected=f"None or {_SECONDS}: how soon after logging in a staff user may enrol a first number",
    )
    VONAGE_API_KEY: Setting[str] = Setting(
        "",
        "Vonage API key (legacy API, or v2 without an application).",
    )
    VONAGE_API_SECRET: Setting[str] = Setting(
        "",
        "Vonage API secret, with the key.",
    )
    VONAGE_APPLICATION_ID: Setting[str] = Setting(
        "",
        "Vonage application id; with the private key, v2 authenticates with a JWT.",
    )
    VONAGE_PRIVATE_KEY: Setting[str] = Setting(
        "",
        "The application's private key: a path to the file, or the PEM text itself.",
    )
    VONAGE_TIMEOUT: Setting[float] = Setting(
        10.0,
        "Seconds to wait for Vonage on each call.",
        valid=is_positive_number,
        check_id="E036",
        expected="a number of seconds above 0, such as 10.0",
    )
    VONAGE_CHANNEL_TIMEOUT: Setting[int] = Setting(
        300,
        "Seconds a code lives at Vonage (v2: 15 to 900; legacy: 60 to 900).",
    )
    VONAGE_WHATSAPP_FROM: Setting[str] = Setting(
        "",
        'The WhatsApp Business sender number (E.164 digits without `+`); the `"whatsapp"` channel needs it.',
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


def _literal(value: object) -> str:
    """Write a default as it is written in settings.py, strings in double quotes."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    return repr(value)


def settings_table() -> str:
    """Return the Markdown table of every setting: name, default, meaning, the checks that validate it."""
    rows = ["| Setting | Default | Meaning | Checked by |", "|---|---|---|---|"]
    for setting in VerificationSettings.settings():
        meaning = setting.meaning.replace("|", "\\|")
        rows.append(f"| `{setting.name}` | `{_literal(setting.default)}` | {meaning} | {setting.check_ids} |")
    return "\n".join(rows) + "\n"
