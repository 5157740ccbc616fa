"""The failure table: one row per exception code, each with a message, a status and a next step."""

from __future__ import annotations

import inspect

import pytest
from django.utils.translation import override

from verification import errors, exceptions
from verification.errors import (
    ERRORS,
    LOG_IN_AGAIN,
    NEW_CODE,
    RETRY,
    VERIFY_CURRENT_NUMBER,
    WAIT,
    describe,
    outcome_for,
)
from verification.exceptions import (
    AccountLocked,
    LoginAgainRequired,
    NumberChangeNotAllowed,
    NumberRefused,
    ProviderThrottled,
    SendLimitExceeded,
    TooManyAttempts,
    VerificationError,
    WrongCode,
)

ERROR_CLASSES = [
    klass
    for name in exceptions.__all__
    if inspect.isclass(klass := getattr(exceptions, name)) and issubclass(klass, VerificationError)
]


def test_every_code_of_the_exceptions_has_exactly_one_row() -> None:
    codes = [klass.code for klass in ERROR_CLASSES]
    assert len(codes) == len(set(codes)), "two exceptions share a code"
    assert sorted(codes) == sorted(ERRORS)


def test_every_exception_class_is_declared() -> None:
    declared = set(ERROR_CLASSES)
    defined = {
        klass
        for _, klass in inspect.getmembers(exceptions, inspect.isclass)
        if issubclass(klass, VerificationError) and klass.__module__ == exceptions.__name__
    }
    assert defined == declared


def example(klass: type[VerificationError]) -> VerificationError:
    if klass is WrongCode:
        return WrongCode(attempts_left=2)
    if klass is NumberRefused:
        return NumberRefused("invalid", "Enter a valid phone number.")
    if klass is SendLimitExceeded:
        return SendLimitExceeded(retry_after=90, scope="user")
    if klass is AccountLocked:
        return AccountLocked(retry_after=86400)
    if klass is NumberChangeNotAllowed:
        return NumberChangeNotAllowed(reason=NumberChangeNotAllowed.STALE)
    return klass()


@pytest.mark.parametrize("klass", ERROR_CLASSES, ids=lambda klass: klass.__name__)
def test_every_row_gives_a_message_a_status_and_a_next_step(klass: type[VerificationError]) -> None:
    exc = example(klass)
    outcome = outcome_for(exc)
    with override("en"):
        assert str(describe(exc)).strip()
    assert outcome is ERRORS[klass.code]
    assert outcome.status in {400, 403, 429, 503}
    assert outcome.next_step in {RETRY, WAIT, NEW_CODE, VERIFY_CURRENT_NUMBER, LOG_IN_AGAIN}


def test_messages_carry_what_the_exception_knows() -> None:
    with override("en"):
        assert "2 more times" in str(describe(WrongCode(attempts_left=2)))
        assert "1 more time." in str(describe(WrongCode(attempts_left=1)))
        assert "2 minutes" in str(describe(SendLimitExceeded(retry_after=90, scope="user")))
        assert "only a moment ago" in str(describe(SendLimitExceeded(retry_after=20, scope="cooldown")))
        assert "this destination" in str(describe(SendLimitExceeded(retry_after=20, scope="region")))
        assert "too long ago" in str(describe(NumberChangeNotAllowed(reason=NumberChangeNotAllowed.STALE)))
        assert "first verify" in str(describe(NumberChangeNotAllowed(reason=NumberChangeNotAllowed.UNVERIFIED)))
        assert "log in again" in str(describe(LoginAgainRequired()))
        assert "in 45 seconds" in str(describe(ProviderThrottled(retry_after=45)))
        assert "a few minutes" in str(describe(ProviderThrottled()))


def test_a_custom_exception_reads_as_its_nearest_known_base() -> None:
    class BackendSpecific(TooManyAttempts):
        code = "backend_specific"

    class Unknown(VerificationError):
        code = "something_new"

    assert outcome_for(BackendSpecific()) is ERRORS["too_many_attempts"]
    assert outcome_for(Unknown()) is ERRORS["error"]


def test_wait_text_rounds_up_to_minutes() -> None:
    with override("en"):
        assert errors.wait_text(1) == "1 second"
        assert errors.wait_text(59) == "59 seconds"
        assert errors.wait_text(61) == "2 minutes"
