"""Arbitrary text thrown at both forms and both pages: never a 500, and nothing passes that should not."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from verification import flow, state
from verification.backends import locmem
from verification.forms import CodeForm, PhoneForm
from verification.models import VerifiedNumber
from verification.phone import REFUSED_TYPES

E164 = re.compile(r"\A\+[1-9][0-9]{1,14}\Z")
TRICKY = [
    "",
    " ",
    "\x00",
    "+",
    "+44",
    "+447400123456",
    "+447400123456\x00",
    "+44 7400 123456 ext. 1",
    "+448001234567",
    "+447400１２３４５６",
    "+٤٤٧٤٠٠١٢٣٤٥٦",
    "tel:+447400123456",
    "1-800-FLOWERS",
    "\u200b+447400123456",
    "+44\u00a07400\u00a0123456",
    "+" + "9" * 300,
    "123456",
    " 123456 ",
    "12 3456",
    "١٢٣٤٥٦",
    "１２３４５６",
    "123456\n",
    "\t123456",
    "0x1E240",
    "1e5",
    "-12345",
    "+12345",
]
any_text = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(categories=["Nd", "Zs", "Cc", "Pd", "Ps", "Pe"]), max_size=30),
    st.from_regex(r"\A\+?[0-9 ()\-.]{0,20}\Z"),
    st.sampled_from(TRICKY),
)
hypothesis_settings = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@hypothesis_settings
@given(text=any_text)
def test_the_phone_form_accepts_only_numbers_that_can_take_a_code(text):
    form = PhoneForm({"number": text, "next": "/"})

    if form.is_valid():
        number = form.cleaned_data["number"]
        assert E164.match(number)
        parsed = phonenumbers.parse(number)
        assert phonenumbers.is_valid_number(parsed)
        assert not parsed.extension
        assert phonenumbers.number_type(parsed) not in REFUSED_TYPES
    else:
        assert form.errors["number"]


@hypothesis_settings
@given(text=any_text)
def test_the_code_form_accepts_exactly_six_ascii_digits(text):
    form = CodeForm({"code": text})

    expected = text.strip(" ")
    should_pass = len(expected) == 6 and all(ch in "0123456789" for ch in expected)
    assert form.is_valid() is should_pass
    if should_pass:
        assert form.cleaned_data["code"] == expected
    else:
        assert form.errors["code"]


@pytest.fixture
def alice(db, settings):
    # Fresh sends for every example: the budgets are tested elsewhere.
    settings.VERIFICATION_SEND_LIMIT = 10_000
    settings.VERIFICATION_IP_SEND_LIMIT = 10_000
    settings.VERIFICATION_RESEND_COOLDOWN = 0
    settings.VERIFICATION_COUNTRY_SEND_LIMITS = {}
    settings.VERIFICATION_GLOBAL_SEND_LIMIT = None
    settings.VERIFICATION_FOREIGN_SEND_LIMIT = 10_000
    settings.VERIFICATION_FAILED_CHALLENGE_LIMIT = None
    user = get_user_model().objects.create_user("alice")
    client = Client()
    client.force_login(user)
    return user, client


@hypothesis_settings
@given(text=any_text)
def test_the_send_page_never_fails_whatever_is_posted(alice, text):
    _, client = alice

    response = client.post(reverse("verification:send"), {"number": text, "next": text})

    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert response["Location"].startswith(reverse("verification:confirm"))
        assert E164.match(locmem.outbox[-1].number)


@hypothesis_settings
@given(text=any_text)
def test_the_confirm_page_never_fails_and_never_passes_a_wrong_code(alice, text):
    user, client = alice
    flow.start_verification(user, "+447400123456")
    assume(text.strip(" ") != locmem.outbox[-1].code)

    response = client.post(reverse("verification:confirm"), {"code": text, "next": text})

    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert response["Location"].startswith(reverse("verification:phone"))
    assert not VerifiedNumber.objects.filter(user=user).exists()
    assert not state.is_verified(client.get(reverse("verification:phone")).wsgi_request)
