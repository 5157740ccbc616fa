"""System checks of every setting's value, derived from `verification.conf`: each setting's own check id.

Besides those (see `conf.settings_table()`), this module reports:
- E037 a setting without a check of its own has the wrong type (its default's);
- E041 VERIFICATION_COUNTRY_SEND_LIMITS is not a dict; E042 a key is not an ISO 3166 region code, "001"
  or "*"; E043 a limit is not a whole number, 1 or more;
- W004 VERIFICATION_DEFAULT_REGION is not among VERIFICATION_ALLOWED_COUNTRIES;
- W005 VERIFICATION_CLIENT_IP_HEADER does not look like a request.META key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.core.checks import Warning as CheckWarning

from verification.conf import TYPE_CHECK_ID, VerificationSettings, conf
from verification.validators import is_region, whole_number_between

__all__ = ["check_settings"]

#: Keys of VERIFICATION_COUNTRY_SEND_LIMITS besides region codes: non-geographic numbers, every other region.
_BUDGET_REGION_EXTRAS = frozenset({"001", "*"})
_META_KEY = re.compile(r"^(HTTP_[A-Z0-9_]+|REMOTE_ADDR)$")


@register("verification")
def check_settings(**kwargs: Any) -> list[CheckMessage]:
    """Every setting's own check (E010, E013-E019, E030-E037, E040-E047), then W004 and W005."""
    messages: list[CheckMessage] = _check_country_send_limits(conf.COUNTRY_SEND_LIMITS)
    for setting in VerificationSettings.settings():
        if setting.checked_by:
            continue
        value = getattr(settings, setting.name, setting.default)
        if setting.is_valid(value):
            continue
        if setting.valid is None:
            default = setting.default
            messages.append(
                Error(
                    f"{setting.name} = {value!r} has the wrong type.",
                    hint=f"{setting.name} must be a {type(default).__name__}, like its default {default!r}.",
                    id=f"verification.{TYPE_CHECK_ID}",
                )
            )
        else:
            messages.append(
                Error(
                    f"{setting.name} = {value!r} is not valid.",
                    hint=f"{setting.name} must be {setting.expected}.",
                    id=f"verification.{setting.check_id}",
                )
            )
    region, countries = conf.DEFAULT_REGION, conf.ALLOWED_COUNTRIES
    if is_region(region) and isinstance(countries, list | tuple) and countries and region not in countries:
        messages.append(
            CheckWarning(
                f"VERIFICATION_DEFAULT_REGION {region!r} is not among VERIFICATION_ALLOWED_COUNTRIES: "
                "numbers typed without a country code are always refused.",
                hint=f"Add {region!r} to VERIFICATION_ALLOWED_COUNTRIES, or change VERIFICATION_DEFAULT_REGION.",
                id="verification.W004",
            )
        )
    header = conf.CLIENT_IP_HEADER
    if isinstance(header, str) and header and not _META_KEY.match(header):
        messages.append(
            CheckWarning(
                f"VERIFICATION_CLIENT_IP_HEADER {header!r} does not look like a request.META key.",
                hint="Header X-Forwarded-For is request.META['HTTP_X_FORWARDED_FOR']: use that spelling.",
                id="verification.W005",
            )
        )
    return messages


def _check_country_send_limits(limits: object) -> list[CheckMessage]:
    """E041-E043: VERIFICATION_COUNTRY_SEND_LIMITS maps region codes (or "001", "*") to limits of 1 or more."""
    example = "{'GB': 100, '*': 20}"
    if not isinstance(limits, Mapping):
        return [
            Error(
                f"VERIFICATION_COUNTRY_SEND_LIMITS = {limits!r} is not a dict.",
                hint=f"Map region codes to sends per VERIFICATION_COUNTRY_SEND_WINDOW, such as {example}; "
                "{} turns the per-region budgets off.",
                id="verification.E041",
            )
        ]
    messages: list[CheckMessage] = []
    for region, limit in limits.items():
        if not (is_region(region) or region in _BUDGET_REGION_EXTRAS):
            messages.append(
                Error(
                    f"VERIFICATION_COUNTRY_SEND_LIMITS: {region!r} is not a region code.",
                    hint="Use ISO 3166 region codes in capitals ('GB'), '001' for non-geographic numbers "
                    "(+800, +882...), or '*' for every region not listed.",
                    id="verification.E042",
                )
            )
        if not whole_number_between(1)(limit):
            messages.append(
                Error(
                    f"VERIFICATION_COUNTRY_SEND_LIMITS[{region!r}] = {limit!r} is not valid.",
                    hint="A limit is a whole number of sends, 1 or more. To send no codes to a region at all, "
                    "leave it out of VERIFICATION_ALLOWED_COUNTRIES instead.",
                    id="verification.E043",
                )
            )
    return messages
