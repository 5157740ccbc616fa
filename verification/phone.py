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

__all__ = [
    "INTERNATIONAL_NETWORKS",
    "MAX_INPUT_LENGTH",
    "REFUSED_TYPES",
    "TEXT_CHANNELS",
    "UNKNOWN_REGION",
    "destination_refusal",
    "destination_region",
    "mask_number",
    "parse_number",
]

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


#: Country calling codes of networks that belong to no country: +881 satellite phones, +882 and +883
#: international networks. Costly to reach, rarely one person's everyday phone, a toll-fraud favourite.
INTERNATIONAL_NETWORKS = frozenset({881, 882, 883})
#: Channels that deliver a text: a landline cannot receive them.
TEXT_CHANNELS = frozenset({"sms", "whatsapp"})


def destination_refusal(number: str, channel: str, *, voice_offered: bool = False) -> NumberRefused | None:
    """Return why the E.164 `number` may not get a code by `channel`, or None if it may.

    A landline (FIXED_LINE; not FIXED_LINE_OR_MOBILE, which is what North American numbers are) takes
    no text; a VoIP number unless VERIFICATION_ALLOW_VOIP; the international networks (+881, +882,
    +883) unless VERIFICATION_ALLOW_INTERNATIONAL_NETWORKS. The flow asks this for numbers not yet
    verified by their user only: a number already on file keeps working for its owner.
    """
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return NumberRefused("invalid", _("Enter a valid phone number."))
    if parsed.country_code in INTERNATIONAL_NETWORKS and not conf.ALLOW_INTERNATIONAL_NETWORKS:
        return NumberRefused(
            "international_network", _("Codes cannot be sent to satellite or international network numbers.")
        )
    number_type = phonenumbers.number_type(parsed)
    if number_type == PhoneNumberType.VOIP and not conf.ALLOW_VOIP:
        return NumberRefused("voip", _("Codes cannot be sent to internet (VoIP) numbers. Enter a mobile number."))
    if number_type == PhoneNumberType.FIXED_LINE and channel in TEXT_CHANNELS:
        if voice_offered:
            return NumberRefused(
                "fixed_line",
                _("This is a landline, which cannot receive texts. Enter a mobile number, or choose a call."),
            )
        return NumberRefused("fixed_line", _("This is a landline, which cannot receive texts. Enter a mobile number."))
    return None


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
