"""Phone numbers: normalised to E.164, refused when they cannot take a code, masked everywhere."""

from __future__ import annotations

import phonenumbers
import pytest

from verification.exceptions import InvalidNumber
from verification.phone import NumberRefused, mask_number, parse_number


@pytest.mark.parametrize(
    "raw",
    ["+447400123456", "+44 7400 123456", " +44 (0)7400-123456 ", "+44.7400.123.456", "00447400123456"],
)
def test_international_input_is_normalised_to_e164(raw, settings):
    settings.VERIFICATION_DEFAULT_REGION = "GB"

    assert parse_number(raw) == "+447400123456"


def test_national_input_uses_the_default_region(settings):
    settings.VERIFICATION_DEFAULT_REGION = "GB"

    assert parse_number("07400 123456") == "+447400123456"


def test_national_input_without_a_default_region_asks_for_the_country_code(settings):
    settings.VERIFICATION_DEFAULT_REGION = None

    with pytest.raises(NumberRefused) as caught:
        parse_number("07400 123456")

    assert caught.value.reason == "invalid"
    assert "country code" in str(caught.value.user_message)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "required"),
        ("   ", "required"),
        ("not a number", "invalid"),
        ("+44", "invalid"),
        ("+447700900123", "invalid"),  # Ofcom's drama range: not a real number
        ("+4474001234567890", "invalid"),
        ("+44 7400 123456 ext. 12", "extension"),
        ("+447400123456;ext=12", "extension"),
        ("+447400\x00123456", "invalid"),
        ("+" + "1" * 100, "invalid"),
    ],
)
def test_unusable_input_is_refused_with_a_reason(raw, reason):
    with pytest.raises(NumberRefused) as caught:
        parse_number(raw)

    assert caught.value.reason == reason
    assert str(caught.value.user_message)
    assert isinstance(caught.value, InvalidNumber)


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        ("+449012345678", "premium-rate"),
        ("+33884012345", "shared-cost"),
        ("+448001234567", "toll-free"),
        ("+447640123456", "pager"),
        ("+445512345678", "UAN"),
        ("+447012345678", "personal"),
        ("+49177991234567", "voicemail"),
    ],
)
def test_numbers_that_must_not_take_a_code_are_refused(number, kind):
    assert phonenumbers.is_valid_number(phonenumbers.parse(number))

    with pytest.raises(NumberRefused) as caught:
        parse_number(number)

    assert caught.value.reason == "refused_type"
    assert kind in str(caught.value.user_message)


@pytest.mark.parametrize("number", ["+447400123456", "+441212345678", "+445612345678", "+33612345678"])
def test_mobiles_landlines_and_voip_numbers_are_accepted(number):
    assert parse_number(number) == number


def test_allowed_countries_limit_destinations(settings):
    settings.VERIFICATION_ALLOWED_COUNTRIES = ["gb", "IE"]

    assert parse_number("+447400123456") == "+447400123456"
    with pytest.raises(NumberRefused) as caught:
        parse_number("+33612345678")
    assert caught.value.reason == "country_not_allowed"


def test_explicit_arguments_override_the_settings(settings):
    settings.VERIFICATION_ALLOWED_COUNTRIES = ["FR"]

    assert parse_number("07400 123456", region="GB", allowed_countries=["GB"]) == "+447400123456"


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+447400123456", "+44 •••• ••3456"),
        ("+447700900123", "+44 •••• ••0123"),
        ("+33612345678", "+33 •••• ••5678"),
        ("+6834001", "+683 •••• ••01"),
        ("", "•••"),
        (None, "•••"),
        ("garbage 987", "•••• ••87"),
    ],
)
def test_mask_number_hides_all_but_the_country_code_and_last_digits(number, masked):
    assert mask_number(number) == masked
