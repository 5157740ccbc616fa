"""The use cases without HTTP: send, check, resend, cancel; attempts, expiry, signals, logs, backend failures."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from verification import flow, signals, state
from verification.backends import locmem
from verification.backends.locmem import LocmemVerifyBackend
from verification.exceptions import (
    CodeExpired,
    ConcurrentVerification,
    InvalidCode,
    InvalidNumber,
    Misconfigured,
    NoPendingVerification,
    NumberRefused,
    ProviderThrottled,
    ProviderUnavailable,
    TooManyAttempts,
    WrongCode,
)
from verification.models import Challenge, LocalCode, VerifiedNumber

pytestmark = pytest.mark.django_db
NUMBER = "+447400123456"
NEW_NUMBER = "+447911125678"
BACKEND = "verification.backends.locmem.LocmemVerifyBackend"


@pytest.fixture
def user():
    return get_user_model().objects.create_user("alice")


@pytest.fixture
def received(mocker):
    """Every signal the flow sends, as (name, kwargs) pairs."""
    calls: list[tuple[str, dict]] = []
    for name in ("code_sent", "verified", "verification_failed", "verification_locked"):
        signal = getattr(signals, name)

        def receiver(sender, signal=None, _name=name, **kwargs):
            calls.append((_name, kwargs))

        signal.connect(receiver, weak=False, dispatch_uid=f"test-{name}")
    yield calls
    for name in ("code_sent", "verified", "verification_failed", "verification_locked"):
        getattr(signals, name).disconnect(dispatch_uid=f"test-{name}")


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def fresh(user, number: str = NUMBER) -> state.VerifiedState:
    """A session's verification of `number`, made just now: it may change the number on file."""
    return state.VerifiedState(str(user.pk), "hash", number, int(time.time()))


def test_start_records_a_pending_challenge_and_sends_a_code(user, received):
    challenge = flow.start_verification(user, "+44 7400 123456", ip="203.0.113.7", locale="en")

    assert challenge.status == Challenge.Status.PENDING
    assert challenge.number == NUMBER
    assert challenge.backend == BACKEND
    assert challenge.request_id == locmem.outbox[-1].request_id
    assert challenge.client_ip == "203.0.113.7"
    assert challenge.channel == "sms"
    assert challenge.expires_at > timezone.now()
    assert flow.pending_challenge(user) == challenge
    assert [name for name, _ in received] == ["code_sent"]
    assert received[0][1]["challenge"] == challenge
    assert received[0][1]["user"] == user


def test_the_right_code_verifies_and_saves_the_number(user, received):
    flow.start_verification(user, NUMBER)

    challenge = flow.check_code(user, locmem.outbox[-1].code)

    assert challenge.status == Challenge.Status.VERIFIED
    assert VerifiedNumber.objects.get(user=user).number == NUMBER
    assert flow.pending_challenge(user) is None
    assert [name for name, _ in received] == ["code_sent", "verified"]


def test_a_new_number_replaces_the_old_only_once_confirmed(user):
    flow.start_verification(user, NUMBER)
    flow.check_code(user, locmem.outbox[-1].code)

    flow.start_verification(user, NEW_NUMBER, verification=fresh(user))
    assert VerifiedNumber.objects.get(user=user).number == NUMBER
    with pytest.raises(InvalidCode):
        flow.check_code(user, wrong(locmem.outbox[-1].code), verification=fresh(user))
    assert VerifiedNumber.objects.get(user=user).number == NUMBER

    flow.check_code(user, locmem.outbox[-1].code, verification=fresh(user))
    assert VerifiedNumber.objects.get(user=user).number == NEW_NUMBER
    assert VerifiedNumber.objects.count() == 1


def test_a_wrong_code_says_how_many_attempts_are_left(user, received):
    flow.start_verification(user, NUMBER)

    with pytest.raises(WrongCode) as caught:
        flow.check_code(user, wrong(locmem.outbox[-1].code))

    assert caught.value.attempts_left == 4
    assert Challenge.objects.get().attempts == 1
    assert received[-1][0] == "verification_failed"
    assert received[-1][1]["attempts_left"] == 4


def test_five_wrong_codes_lock_the_challenge_even_for_the_right_code(user, received, mocker):
    flow.start_verification(user, NUMBER)
    code = locmem.outbox[-1].code
    for _ in range(4):
        with pytest.raises(WrongCode):
            flow.check_code(user, wrong(code))
    cancel = mocker.spy(LocmemVerifyBackend, "cancel")

    with pytest.raises(TooManyAttempts):
        flow.check_code(user, wrong(code))
    with pytest.raises(NoPendingVerification):
        flow.check_code(user, code)

    challenge = Challenge.objects.get()
    assert challenge.status == Challenge.Status.LOCKED
    assert challenge.attempts == 5
    assert [name for name, _ in received].count("verification_locked") == 1
    cancel.assert_called_once_with(mocker.ANY, challenge.request_id)
    assert not VerifiedNumber.objects.exists()


def test_the_attempt_is_reserved_before_the_backend_is_asked(user, mocker, settings):
    settings.VERIFICATION_MAX_ATTEMPTS = 2
    flow.start_verification(user, NUMBER)
    seen = []

    def check(self, request_id, code):
        seen.append(Challenge.objects.get().attempts)
        raise InvalidCode()

    mocker.patch.object(LocmemVerifyBackend, "check", check)
    with pytest.raises(WrongCode):
        flow.check_code(user, "123456")
    with pytest.raises(TooManyAttempts):
        flow.check_code(user, "123456")
    with pytest.raises(NoPendingVerification):
        flow.check_code(user, "123456")

    assert seen == [1, 2]


def test_a_malformed_code_uses_no_attempt_and_reaches_no_backend(user, mocker):
    flow.start_verification(user, NUMBER)
    check = mocker.spy(LocmemVerifyBackend, "check")

    for code in ["12345", "1234567", "12345a", "١٢٣٤٥٦", " 12345", ""]:
        with pytest.raises(InvalidCode):
            flow.check_code(user, code)

    check.assert_not_called()
    assert Challenge.objects.get().attempts == 0


def test_an_expired_challenge_says_so_then_nothing_is_pending(user, frozen):
    flow.start_verification(user, NUMBER)
    code = locmem.outbox[-1].code
    frozen.shift(timedelta(seconds=301))

    with pytest.raises(CodeExpired) as first:
        flow.check_code(user, code)
    with pytest.raises(NoPendingVerification):
        flow.check_code(user, code)

    assert type(first.value) is CodeExpired
    assert Challenge.objects.get().status == Challenge.Status.EXPIRED


def test_a_used_challenge_cannot_be_replayed(user):
    flow.start_verification(user, NUMBER)
    code = locmem.outbox[-1].code
    flow.check_code(user, code)

    with pytest.raises(NoPendingVerification):
        flow.check_code(user, code)


def test_another_users_challenge_is_never_found(user):
    flow.start_verification(user, NUMBER)
    mallory = get_user_model().objects.create_user("mallory")

    with pytest.raises(NoPendingVerification):
        flow.check_code(mallory, locmem.outbox[-1].code)
    assert flow.pending_challenge(user) is not None


def test_resend_cancels_the_previous_code_at_the_backend(user, frozen, mocker):
    first = flow.start_verification(user, NUMBER)
    first_code = locmem.outbox[-1].code
    frozen.shift(timedelta(seconds=30))
    cancel = mocker.spy(LocmemVerifyBackend, "cancel")

    second = flow.resend_code(user, ip="203.0.113.7")

    cancel.assert_called_once_with(mocker.ANY, first.request_id)
    assert second.number == NUMBER
    assert Challenge.objects.get(pk=first.pk).status == Challenge.Status.CANCELLED
    assert LocalCode.objects.get(request_id=first.request_id).status == LocalCode.Status.CANCELLED
    if first_code != locmem.outbox[-1].code:
        with pytest.raises(WrongCode):
            flow.check_code(user, first_code)
    flow.check_code(user, locmem.outbox[-1].code)


def test_resend_works_after_expiry_and_after_a_lock(user, frozen, settings):
    settings.VERIFICATION_MAX_ATTEMPTS = 1
    flow.start_verification(user, NUMBER)
    frozen.shift(timedelta(seconds=301))
    flow.resend_code(user)

    with pytest.raises(TooManyAttempts):
        flow.check_code(user, wrong(locmem.outbox[-1].code))
    frozen.shift(timedelta(seconds=30))
    flow.resend_code(user)
    flow.check_code(user, locmem.outbox[-1].code)


def test_resend_with_nothing_to_resend_is_refused(user):
    with pytest.raises(NoPendingVerification):
        flow.resend_code(user)
    flow.start_verification(user, NUMBER)
    flow.check_code(user, locmem.outbox[-1].code)
    with pytest.raises(NoPendingVerification):
        flow.resend_code(user)


def test_changing_number_cancels_the_previous_code(user, mocker):
    first = flow.start_verification(user, NUMBER)
    cancel = mocker.spy(LocmemVerifyBackend, "cancel")

    flow.start_verification(user, NEW_NUMBER)

    cancel.assert_called_once_with(mocker.ANY, first.request_id)
    assert flow.pending_challenge(user).number == NEW_NUMBER


def test_cancel_ends_the_pending_code(user, mocker):
    challenge = flow.start_verification(user, NUMBER)
    code = locmem.outbox[-1].code
    cancel = mocker.spy(LocmemVerifyBackend, "cancel")

    assert flow.cancel_verification(user) == 1
    assert flow.cancel_verification(user) == 0

    cancel.assert_called_once_with(mocker.ANY, challenge.request_id)
    with pytest.raises(NoPendingVerification):
        flow.check_code(user, code)


def test_refused_numbers_never_reach_the_backend(user, mocker):
    start = mocker.spy(LocmemVerifyBackend, "start")

    with pytest.raises(NumberRefused):
        flow.start_verification(user, "+448001234567")

    start.assert_not_called()
    assert not Challenge.objects.exists()


def test_an_unoffered_channel_is_a_programming_error(user):
    with pytest.raises(ValueError, match="not offered"):
        flow.start_verification(user, NUMBER, channel="carrier-pigeon")


def test_channels_offered_are_those_configured_that_the_backend_supports(settings):
    settings.VERIFICATION_CHANNELS = ["whatsapp", "voice", "sms"]
    assert flow.available_channels() == ["voice", "sms"]
    settings.VERIFICATION_CHANNELS = ["whatsapp"]
    assert flow.available_channels() == ["whatsapp"]
    settings.VERIFICATION_BACKEND = "no.such.Backend"
    settings.VERIFICATION_CHANNELS = ["sms", "voice"]
    assert flow.available_channels() == ["sms"]


@pytest.mark.parametrize(
    "error",
    [InvalidNumber(), ProviderThrottled(retry_after=60), ProviderUnavailable(), Misconfigured()],
)
def test_a_backend_refusing_to_send_leaves_an_undelivered_challenge(user, mocker, error):
    mocker.patch.object(LocmemVerifyBackend, "start", side_effect=error)

    with pytest.raises(type(error)):
        flow.start_verification(user, NUMBER)

    assert Challenge.objects.get().status == Challenge.Status.UNDELIVERED
    assert flow.pending_challenge(user) is None


def test_an_unexpected_backend_crash_becomes_provider_unavailable(user, mocker):
    mocker.patch.object(LocmemVerifyBackend, "start", side_effect=RuntimeError("boom"))
    with pytest.raises(ProviderUnavailable):
        flow.start_verification(user, NUMBER)

    mocker.stopall()
    flow.start_verification(user, NEW_NUMBER)
    mocker.patch.object(LocmemVerifyBackend, "check", side_effect=KeyError("boom"))
    with pytest.raises(ProviderUnavailable):
        flow.check_code(user, "123456")


def test_an_unimportable_backend_is_misconfigured(user, settings):
    settings.VERIFICATION_BACKEND = "no.such.Backend"

    with pytest.raises(Misconfigured):
        flow.start_verification(user, NUMBER)
    assert not Challenge.objects.exists()


def test_a_concurrent_verification_of_our_own_is_cancelled_at_the_backend(user, mocker):
    cancel = mocker.patch.object(LocmemVerifyBackend, "cancel")
    mocker.patch.object(LocmemVerifyBackend, "start", side_effect=ConcurrentVerification(provider_request_id="req-1"))

    with pytest.raises(ConcurrentVerification):
        flow.start_verification(user, NUMBER)

    cancel.assert_called_once_with("req-1")
    assert Challenge.objects.get().status == Challenge.Status.UNDELIVERED


def test_another_users_verification_in_progress_is_left_alone(user, mocker):
    other = get_user_model().objects.create_user("bob")
    theirs = flow.start_verification(other, NUMBER)
    cancel = mocker.patch.object(LocmemVerifyBackend, "cancel")
    mocker.patch.object(
        LocmemVerifyBackend, "start", side_effect=ConcurrentVerification(provider_request_id=theirs.request_id)
    )

    with pytest.raises(ConcurrentVerification):
        flow.start_verification(user, NUMBER)

    cancel.assert_not_called()
    assert flow.pending_challenge(other) == theirs


@pytest.mark.parametrize("error", [ProviderUnavailable(), ProviderThrottled(), Misconfigured()])
def test_a_backend_failing_to_check_uses_the_attempt_but_keeps_the_challenge(user, mocker, error):
    flow.start_verification(user, NUMBER)
    mocker.patch.object(LocmemVerifyBackend, "check", side_effect=error)

    with pytest.raises(type(error)):
        flow.check_code(user, "123456")

    challenge = Challenge.objects.get()
    assert challenge.status == Challenge.Status.PENDING
    assert challenge.attempts == 1


def test_the_backend_saying_expired_ends_the_challenge(user, mocker):
    flow.start_verification(user, NUMBER)
    mocker.patch.object(LocmemVerifyBackend, "check", side_effect=CodeExpired())

    with pytest.raises(CodeExpired):
        flow.check_code(user, "123456")

    assert Challenge.objects.get().status == Challenge.Status.EXPIRED


def test_the_backend_saying_too_many_attempts_locks_the_challenge(user, mocker, received):
    flow.start_verification(user, NUMBER)
    mocker.patch.object(LocmemVerifyBackend, "check", side_effect=TooManyAttempts())

    with pytest.raises(TooManyAttempts):
        flow.check_code(user, "123456")

    assert Challenge.objects.get().status == Challenge.Status.LOCKED
    assert received[-1][0] == "verification_locked"


def test_a_send_replaced_while_the_backend_worked_is_cancelled(user, mocker):
    original_start = LocmemVerifyBackend.start

    def start_then_replaced(self, number, **kwargs):
        request_id = original_start(self, number, **kwargs)
        Challenge.objects.filter(status=Challenge.Status.SENDING).update(status=Challenge.Status.CANCELLED)
        return request_id

    mocker.patch.object(LocmemVerifyBackend, "start", start_then_replaced)
    cancel = mocker.spy(LocmemVerifyBackend, "cancel")

    with pytest.raises(NoPendingVerification):
        flow.start_verification(user, NUMBER)

    cancel.assert_called_once_with(mocker.ANY, locmem.outbox[-1].request_id)


def test_logs_carry_masked_numbers_and_never_a_code(user, caplog, mocker):
    caplog.set_level(logging.DEBUG)
    flow.start_verification(user, NUMBER)
    code = locmem.outbox[-1].code
    with pytest.raises(WrongCode):
        flow.check_code(user, wrong(code))
    flow.check_code(user, code)
    mocker.patch.object(LocmemVerifyBackend, "start", side_effect=ProviderUnavailable("down for +447400123456"))
    with pytest.raises(ProviderUnavailable):
        flow.start_verification(user, NEW_NUMBER, verification=fresh(user))

    text = caplog.text
    assert "+44 •••• ••3456" in text
    assert "Code sent" in text
    assert "Number verified" in text
    assert NUMBER not in text
    assert NEW_NUMBER not in text
    assert code not in text
    assert wrong(code) not in text


def test_a_right_code_verifies_even_if_a_racing_loser_marked_the_challenge_expired(user, mocker):
    flow.start_verification(user, NUMBER)

    def check_while_a_loser_hears_expired(self, request_id, code):
        # Another request lost the backend race for the same code and marked the challenge expired.
        Challenge.objects.update(status=Challenge.Status.EXPIRED)

    mocker.patch.object(LocmemVerifyBackend, "check", check_while_a_loser_hears_expired)

    assert flow.check_code(user, "123456").status == Challenge.Status.VERIFIED


@pytest.mark.parametrize("status", [Challenge.Status.CANCELLED, Challenge.Status.LOCKED])
def test_a_challenge_cancelled_or_locked_during_the_check_stays_dead(user, mocker, status):
    flow.start_verification(user, NUMBER)

    def check_while_it_ends(self, request_id, code):
        Challenge.objects.update(status=status)

    mocker.patch.object(LocmemVerifyBackend, "check", check_while_it_ends)

    with pytest.raises(NoPendingVerification):
        flow.check_code(user, "123456")
    assert not VerifiedNumber.objects.exists()


def test_requests_past_the_last_attempt_leave_the_decision_to_it(user, settings, mocker):
    settings.VERIFICATION_MAX_ATTEMPTS = 1
    flow.start_verification(user, NUMBER)
    code = locmem.outbox[-1].code
    original = LocmemVerifyBackend.check
    late: list[type[Exception]] = []

    def check_with_a_late_request(self, request_id, candidate):
        # While the only attempt is being checked, another request arrives with a wrong code.
        with pytest.raises(TooManyAttempts) as caught:
            flow.check_code(user, wrong(code))
        late.append(type(caught.value))
        return original(self, request_id, candidate)

    mocker.patch.object(LocmemVerifyBackend, "check", check_with_a_late_request)

    assert flow.check_code(user, code).status == Challenge.Status.VERIFIED
    assert late == [TooManyAttempts]
