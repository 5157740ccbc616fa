"""Limits that hold under concurrency, on PostgreSQL: many requests race on one challenge and one budget.

Each thread has its own database connection, as each worker of a real deployment would. On another
database they skip, except in CI's PostgreSQL + Redis pass, where a missing PostgreSQL fails them.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import reverse

from verification import flow, signals
from verification.backends import locmem
from verification.backends.locmem import LocmemVerifyBackend
from verification.models import Challenge, VerifiedNumber
from verification.tests.racing import race
from verification.tests.servers import skip_or_fail

pytestmark = [pytest.mark.multiworker, pytest.mark.django_db(transaction=True)]
NUMBER = "+447400123456"
THREADS = 20


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor == "postgresql":
        return
    skip_or_fail("concurrency tests need DATABASE_URL=postgres://...")


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


@pytest.fixture
def user():
    return get_user_model().objects.create_user("alice")


@pytest.fixture
def clients(user):
    """One logged-in client per thread, all for the same user (many tabs, many workers)."""
    result = []
    for _ in range(THREADS):
        client = Client()
        client.force_login(user)
        result.append(client)
    return result


@pytest.fixture
def counted_checks(mocker):
    """Count the calls that reach the backend's check, from any thread."""
    calls: list[str] = []
    lock = threading.Lock()
    original = LocmemVerifyBackend.check

    def check(self, request_id, code):
        with lock:
            calls.append(code)
        return original(self, request_id, code)

    mocker.patch.object(LocmemVerifyBackend, "check", check)
    return calls


def test_twenty_concurrent_wrong_codes_reach_the_backend_at_most_five_times(user, clients, counted_checks):
    flow.start_verification(user, NUMBER)
    code = locmem.outbox[-1].code

    responses = race(THREADS, lambda i: clients[i].post(reverse("verification:confirm"), {"code": wrong(code)}))

    assert all(not isinstance(response, Exception) for response in responses), responses
    assert all(response.status_code in (302, 400) for response in responses)
    assert len(counted_checks) <= 5
    challenge = Challenge.objects.get()
    assert challenge.attempts == 5
    assert challenge.status == Challenge.Status.LOCKED
    # Dead even for the right code.
    assert clients[0].post(reverse("verification:confirm"), {"code": code}).status_code == 302
    assert not VerifiedNumber.objects.exists()


def test_two_concurrent_right_codes_verify_once(user, clients):
    flow.start_verification(user, NUMBER)
    code = locmem.outbox[-1].code
    verified: list[Any] = []
    signals.verified.connect(lambda sender, **kwargs: verified.append(kwargs), weak=False, dispatch_uid="race")
    try:
        responses = race(2, lambda i: clients[i].post(reverse("verification:confirm"), {"code": code, "next": "/x/"}))
    finally:
        signals.verified.disconnect(dispatch_uid="race")

    assert all(not isinstance(response, Exception) for response in responses), responses
    assert len(verified) == 1
    assert sorted(response["Location"] for response in responses) == ["/verify/?next=/x/", "/x/"]
    assert Challenge.objects.get().status == Challenge.Status.VERIFIED
    assert VerifiedNumber.objects.get(user=user).number == NUMBER


def test_concurrent_sends_never_exceed_the_budget(user, clients, settings):
    settings.VERIFICATION_RESEND_COOLDOWN = 0
    numbers = [f"+4474001234{i:02d}" for i in range(THREADS)]

    responses = race(THREADS, lambda i: clients[i].post(reverse("verification:send"), {"number": numbers[i]}))

    assert all(not isinstance(response, Exception) for response in responses), responses
    refused = [response for response in responses if response.status_code == 429]
    # Three sends fit the user's budget; each may be replaced at once by a later one of the three.
    assert len(refused) == THREADS - 3
    assert Challenge.objects.filter(user=user).count() == 3
    assert len(locmem.outbox) == 3
    # Each send cancelled the one before it: one code at most is left pending.
    assert Challenge.objects.filter(status=Challenge.Status.PENDING).count() <= 1
