"""The console and locmem backends: random codes, a keyed hash in the database, expiry, attempts, cancel."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from verification.backends.base import MAX_CODE_TTL, LocalCodeBackend, code_ttl, get_backend
from verification.backends.console import ConsoleVerifyBackend
from verification.backends.locmem import LocmemVerifyBackend
from verification.exceptions import CodeExpired, InvalidCode, TooManyAttempts
from verification.models import LocalCode
from verification.testing import latest_code, outbox

pytestmark = pytest.mark.django_db
NUMBER = "+447400123456"


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def test_get_backend_instantiates_the_configured_class():
    assert isinstance(get_backend(), LocmemVerifyBackend)
    assert isinstance(get_backend("verification.backends.console.ConsoleVerifyBackend"), ConsoleVerifyBackend)


def test_start_delivers_a_code_to_the_outbox_and_returns_its_request_id():
    request_id = LocmemVerifyBackend().start(NUMBER, channel="voice", locale="en")

    [sent] = outbox()
    assert sent.request_id == request_id
    assert sent.number == NUMBER
    assert sent.channel == "voice"
    assert len(sent.code) == 6
    assert sent.code.isascii()
    assert sent.code.isdigit()
    assert sent.code in sent.message
    assert "Example Shop" in sent.message


def test_codes_have_the_configured_length_and_keep_leading_zeros(settings, mocker):
    settings.VERIFICATION_CODE_LENGTH = 8
    mocker.patch("verification.backends.base.secrets.randbelow", return_value=42)

    backend = LocmemVerifyBackend()
    request_id = backend.start(NUMBER)

    assert latest_code() == "00000042"
    backend.check(request_id, "00000042")


def test_only_a_keyed_hash_of_the_code_is_stored(settings):
    request_id = LocmemVerifyBackend().start(NUMBER)
    code = latest_code()
    row = LocalCode.objects.get(request_id=request_id)

    assert code not in row.code_hash
    assert code not in str(list(LocalCode.objects.values()))
    settings.SECRET_KEY = "another secret key, so another hash altogether"
    with pytest.raises(InvalidCode):
        LocmemVerifyBackend().check(request_id, code)


def test_a_code_sent_by_one_worker_is_checked_by_another():
    request_id = LocmemVerifyBackend().start(NUMBER)

    LocmemVerifyBackend().check(request_id, latest_code())

    assert LocalCode.objects.get(request_id=request_id).status == LocalCode.Status.USED


def test_a_code_works_only_once():
    backend = LocmemVerifyBackend()
    request_id = backend.start(NUMBER)
    code = latest_code()
    backend.check(request_id, code)

    with pytest.raises(CodeExpired):
        backend.check(request_id, code)


def test_a_code_is_bound_to_its_request():
    backend = LocmemVerifyBackend()
    first = backend.start(NUMBER)
    first_code = latest_code()
    second = backend.start("+447911125678")

    with pytest.raises(InvalidCode):
        backend.check(second, first_code)
    backend.check(first, first_code)


def test_a_code_expires_after_the_ttl(settings, time_machine):
    settings.VERIFICATION_CODE_TTL = 120
    time_machine.move_to(timezone.now(), tick=False)
    backend = LocmemVerifyBackend()
    request_id = backend.start(NUMBER)
    code = latest_code()

    time_machine.shift(timedelta(seconds=121))

    with pytest.raises(CodeExpired):
        backend.check(request_id, code)


def test_the_ttl_is_capped_at_ten_minutes(settings, time_machine):
    settings.VERIFICATION_CODE_TTL = 3600
    time_machine.move_to(timezone.now(), tick=False)
    backend = LocmemVerifyBackend()
    request_id = backend.start(NUMBER)

    assert code_ttl() == MAX_CODE_TTL == 600
    assert LocalCode.objects.get(request_id=request_id).expires_at == timezone.now() + timedelta(seconds=600)
    assert "10 minutes" in outbox()[-1].message


def test_too_many_wrong_codes_kill_the_code_even_for_the_right_one(settings):
    settings.VERIFICATION_MAX_ATTEMPTS = 3
    backend = LocmemVerifyBackend()
    request_id = backend.start(NUMBER)
    code = latest_code()

    for _ in range(3):
        with pytest.raises(InvalidCode):
            backend.check(request_id, wrong(code))

    with pytest.raises(TooManyAttempts):
        backend.check(request_id, code)
    assert LocalCode.objects.get(request_id=request_id).attempts == 3


def test_cancel_ends_the_code_and_ignores_unknown_ids():
    backend = LocmemVerifyBackend()
    request_id = backend.start(NUMBER)
    code = latest_code()

    backend.cancel(request_id)
    backend.cancel("no-such-request")

    with pytest.raises(CodeExpired):
        backend.check(request_id, code)


def test_an_unknown_request_is_expired():
    with pytest.raises(CodeExpired):
        LocmemVerifyBackend().check("no-such-request", "123456")


def test_console_backend_prints_the_message_with_the_code_and_a_masked_number():
    stream = io.StringIO()
    stream.flush = lambda: setattr(stream, "flushed", True)  # type: ignore[method-assign]
    backend = ConsoleVerifyBackend(stream=stream)

    request_id = backend.start(NUMBER)

    output = stream.getvalue()
    code = LocalCode.objects.get(request_id=request_id)
    assert output.startswith("[verification] sms to +44 •••• ••3456: Your Example Shop code is ")
    assert NUMBER not in output
    assert getattr(stream, "flushed", False)
    printed_code = output.split("code is ")[1][:6]
    backend.check(code.request_id, printed_code)


@pytest.mark.parametrize("brand", [None, "Corner Bakery"])
def test_without_a_brand_the_local_backends_write_a_neutral_text(settings, brand):
    settings.VERIFICATION_BRAND = brand

    LocmemVerifyBackend().start(NUMBER)

    [sent] = outbox()
    expected = f"Your {brand} code is" if brand else "Your verification code is"
    assert sent.message.startswith(f"{expected} {sent.code}. It expires in 5 minutes.")
    assert "None" not in sent.message


def test_console_backend_writes_to_standard_output_by_default(capsys):
    ConsoleVerifyBackend().start(NUMBER)

    assert "Your Example Shop code is" in capsys.readouterr().out


def test_local_backends_share_one_contract():
    assert issubclass(ConsoleVerifyBackend, LocalCodeBackend)
    assert issubclass(LocmemVerifyBackend, LocalCodeBackend)
    with pytest.raises(NotImplementedError):
        LocalCodeBackend().start(NUMBER)


def test_a_code_used_by_a_concurrent_check_is_expired_not_wrong(mocker):
    backend = LocmemVerifyBackend()
    request_id = backend.start(NUMBER)
    code = latest_code()
    original_update = type(LocalCode.objects.all()).update

    def update_then_used_elsewhere(queryset, **kwargs):
        # The attempt is counted; then another worker uses the code before this one compares.
        rows = original_update(queryset, **kwargs)
        original_update(LocalCode.objects.filter(request_id=request_id), status=LocalCode.Status.USED)
        return rows

    mocker.patch.object(type(LocalCode.objects.all()), "update", update_then_used_elsewhere)

    with pytest.raises(CodeExpired):
        backend.check(request_id, code)
