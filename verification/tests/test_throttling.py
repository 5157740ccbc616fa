"""Send budgets (sliding windows per user, number and client address), the resend cooldown, the client address."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model

from verification import flow, network
from verification.exceptions import SendLimitExceeded
from verification.models import Challenge, ThrottleLock

NUMBER = "+447400123456"
OTHER_NUMBERS = ["+447911125678", "+447400123457", "+447400123458", "+447400123459", "+447400123460"]


@pytest.mark.parametrize(
    ("header", "meta", "expected"),
    [
        (None, {"REMOTE_ADDR": "203.0.113.7"}, "203.0.113.7"),
        (None, {"REMOTE_ADDR": "203.0.113.7", "HTTP_X_FORWARDED_FOR": "198.51.100.1"}, "203.0.113.7"),
        ("HTTP_X_FORWARDED_FOR", {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "198.51.100.1"}, "198.51.100.1"),
        # Only the right-most entry was appended by the trusted proxy; the rest is what the client claimed.
        (
            "HTTP_X_FORWARDED_FOR",
            {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 198.51.100.1"},
            "198.51.100.1",
        ),
        ("HTTP_X_FORWARDED_FOR", {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4, junk"}, "10.0.0.1"),
        ("HTTP_X_FORWARDED_FOR", {"REMOTE_ADDR": "10.0.0.1"}, "10.0.0.1"),
        ("HTTP_X_REAL_IP", {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_REAL_IP": " 2001:db8::1 "}, "2001:db8::1"),
        (None, {"REMOTE_ADDR": ""}, None),
        (None, {}, None),
    ],
)
def test_client_ip(settings, header, meta, expected):
    settings.VERIFICATION_CLIENT_IP_HEADER = header

    assert network.client_ip(meta) == expected


@pytest.fixture
def users(db):
    user_model = get_user_model()
    return [user_model.objects.create_user(f"user{i}") for i in range(12)]


def send(user, number=NUMBER, ip="203.0.113.7"):
    return flow.start_verification(user, number, ip=ip)


def test_a_user_gets_three_sends_per_ten_minutes_then_is_told_when_to_retry(users, frozen):
    user = users[0]
    send(user, OTHER_NUMBERS[0])
    frozen.shift(timedelta(seconds=100))
    send(user, OTHER_NUMBERS[1])
    frozen.shift(timedelta(seconds=100))
    send(user, OTHER_NUMBERS[2])

    with pytest.raises(SendLimitExceeded) as caught:
        send(user, OTHER_NUMBERS[3])

    assert caught.value.scope == "user"
    # The first send leaves the 600 s window 600 - 200 s from now.
    assert caught.value.retry_after == 400
    assert Challenge.objects.filter(user=user).count() == 3


def test_the_window_slides_one_send_at_a_time(users, frozen):
    user = users[0]
    for seconds, number in zip([0, 100, 100], OTHER_NUMBERS, strict=False):
        frozen.shift(timedelta(seconds=seconds))
        send(user, number)

    frozen.shift(timedelta(seconds=401))  # the first send is now 601 s old
    send(user, OTHER_NUMBERS[3])
    with pytest.raises(SendLimitExceeded) as caught:
        send(user, OTHER_NUMBERS[4])
    assert caught.value.retry_after == 99  # the second send leaves the window next


def test_a_number_gets_three_sends_per_ten_minutes_whoever_asks(users, frozen):
    for user in users[:3]:
        send(user, NUMBER, ip=None)

    with pytest.raises(SendLimitExceeded) as caught:
        send(users[3], NUMBER, ip=None)

    assert caught.value.scope == "number"
    assert caught.value.retry_after == 600


def test_a_client_address_gets_ten_sends_per_hour(users, frozen):
    for i, user in enumerate(users[:10]):
        send(user, f"+4474001234{i:02d}", ip="198.51.100.9")

    with pytest.raises(SendLimitExceeded) as caught:
        send(users[10], "+447400123499", ip="198.51.100.9")
    send(users[11], "+447400123498", ip="198.51.100.10")

    assert caught.value.scope == "ip"
    assert caught.value.retry_after == 3600


def test_limits_follow_the_settings(settings, users, frozen):
    settings.VERIFICATION_SEND_LIMIT = 1
    settings.VERIFICATION_SEND_WINDOW = 60
    send(users[0], NUMBER)

    with pytest.raises(SendLimitExceeded):
        send(users[0], OTHER_NUMBERS[0])
    frozen.shift(timedelta(seconds=61))
    send(users[0], OTHER_NUMBERS[0])


def test_failed_sends_count_too(users, frozen, mocker):
    from verification.exceptions import ProviderUnavailable

    mocker.patch("verification.backends.locmem.LocmemVerifyBackend.start", side_effect=ProviderUnavailable())
    for number in OTHER_NUMBERS[:3]:
        with pytest.raises(ProviderUnavailable):
            send(users[0], number)

    with pytest.raises(SendLimitExceeded):
        send(users[0], OTHER_NUMBERS[3])


def test_the_resend_cooldown_applies_to_the_same_number_only(users, frozen):
    user = users[0]
    send(user, NUMBER)
    frozen.shift(timedelta(seconds=10))

    with pytest.raises(SendLimitExceeded) as caught:
        send(user, NUMBER)
    assert caught.value.scope == "cooldown"
    assert caught.value.retry_after == 20
    send(user, OTHER_NUMBERS[0])


def test_the_cooldown_ends(users, frozen, settings):
    settings.VERIFICATION_RESEND_COOLDOWN = 5
    send(users[0], NUMBER)
    frozen.shift(timedelta(seconds=5))

    send(users[0], NUMBER)


def test_a_refused_send_records_nothing_and_keeps_the_pending_code(users, frozen):
    first = send(users[0], NUMBER)

    with pytest.raises(SendLimitExceeded):
        send(users[0], NUMBER)

    assert list(Challenge.objects.values_list("pk", "status")) == [(first.pk, Challenge.Status.PENDING)]


def test_one_lock_row_per_key_and_none_for_the_circuit_breakers(users, frozen, settings):
    settings.VERIFICATION_COUNTRY_SEND_LIMITS = {"*": 30}
    settings.VERIFICATION_GLOBAL_SEND_LIMIT = 200
    send(users[0], NUMBER, ip="203.0.113.7")
    send(users[1], OTHER_NUMBERS[0], ip="203.0.113.7")

    assert set(ThrottleLock.objects.values_list("key", flat=True)) == {
        f"user:{users[0].pk}",
        f"user:{users[1].pk}",
        f"number:{NUMBER}",
        f"number:{OTHER_NUMBERS[0]}",
        "ip:203.0.113.7",
        # No row for the circuit breakers (the region's "*" budget, the site's): every send would wait on it.
    }
