"""Phone numbers: parse to E.164 with `phonenumbers`, refuse those that cannot take a code, mask, tell the region."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

import phonenumbers
from django.utils.translation import gettext_lazy as _
from phonenumbers import PhoneNumberType

from verification.conf import conf
from verification.exceptions import NumberRefused

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

__all__ = ["MAX_INPUT_LENGTH", "REFUSED_TYPES", "UNKNOWN_REGION", "destination_region", "mask_number", "parse_number"]

#: Longer input is refused before parsing: no real number, however formatted, needs more.
MAX_INPUT_LENGTH = 64
MASK = "•••• ••"
#: phonenumbers' own name for a region it cannot tell.
UNKNOWN_REGION = "ZZ"

#: Number types that cannot receive a code, or must not (someone else pays, or it is not one person's phone).
REFUSED_TYPES: dict[int, StrOrPromise] = {
    PhoneNumberType.PREMIUM_RATE: _("Codes cannot be sent to premium-rate numbers."),
    PhoneNumberType.SHARED_COST: _("Codes cannot be sent to shared-cost numbers."),
    PhoneNumberType.TOLL_FREE: _("Codes cannot be sent to toll-free numbers."),
    PhoneNumberType.PAGER: _("Codes cannot be sent to pagers."),
    PhoneNumberType.UAN: _("Codes cannot be sent to universal access (UAN) numbers."),
    PhoneNumberType.PERSONAL_NUMBER: _("Codes cannot be sent to personal (forwarding) numbers."),
    PhoneNumberType.VOICEMAIL: _("Codes cannot be sent to voicemail access numbers."),
}


def parse_number(
    raw: str,
    *,
    region: str | None = None,
    allowed_countries: Collection[str] | None = None,
) -> str:
    """Return `raw` as an E.164 string ("+447400123456"), or raise NumberRefused saying why not.

    `region` (default VERIFICATION_DEFAULT_REGION) reads national input; `allowed_countries`
    (default VERIFICATION_ALLOWED_COUNTRIES) limits destinations to those ISO 3166 regions.
    """
    region = conf.DEFAULT_REGION if region is None else region
    allowed = conf.ALLOWED_COUNTRIES if allowed_countries is None else allowed_countries
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        raise NumberRefused("required", _("Enter your phone number."))
    if len(text) > MAX_INPUT_LENGTH or not text.isprintable():
        raise NumberRefused("invalid", _("Enter a valid phone number."))
    try:
        parsed = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException:
        if region:
            raise NumberRefused("invalid", _("Enter a valid phone number.")) from None
        raise NumberRefused(
            "invalid", _("Enter a valid phone number in international format: + and the country code.")
        ) from None
    if parsed.extension:
        raise NumberRefused("extension", _("Enter the number without an extension."))
    if not phonenumbers.is_valid_number(parsed):
        raise NumberRefused("invalid", _("This is not a valid phone number. Check the country code and the digits."))
    number_type = phonenumbers.number_type(parsed)
    if number_type in REFUSED_TYPES:
        raise NumberRefused("refused_type", REFUSED_TYPES[number_type])
    number_region = phonenumbers.region_code_for_number(parsed)
    if allowed is not None and number_region not in {code.upper() for code in allowed}:
        raise NumberRefused("country_not_allowed", _("Codes cannot be sent to numbers in this country."))
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def mask_number(number: str | None) -> str:
    """Return `number` with all but the country code and last digits hidden: "+44 •••• ••3456".

    Never raises; used by every log line and page that shows a number.
    """
    if not number:
        return "•••"
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        digits = "".join(ch for ch in number if ch.isdigit())
        return f"{MASK}{digits[-2:]}"
    national = phonenumbers.national_significant_number(parsed)
    # Short numbers keep fewer digits visible, so the mask still hides most of them.
    visible = 4 if len(national) >= 8 else 2
    return f"+{parsed.country_code} {MASK}{national[-visible:]}"


def destination_region(number: str) -> str:
    """Return the region code of the E.164 `number` ("GB", "001" for non-geographic), or "ZZ" if unknown."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return UNKNOWN_REGION
    return phonenumbers.region_code_for_number(parsed) or UNKNOWN_REGION
