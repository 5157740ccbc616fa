"""Circuit breakers without a shared lock row: the reserve kept for known numbers, one report per trip, the edge.

A pumping run sends from fresh accounts and addresses to fresh numbers; a "known" send is a user's code
to the number they verified (a `VerifiedNumber` row).
"""

from __future__ import annotations

import itertools
import logging
import random
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from verification import breakers as breaker_module
from verification import flow, signals, throttling
from verification.breakers import tripped_breakers
from verification.exceptions import SendLimitExceeded
from verification.models import BreakerTrip, Challenge, ThrottleLock, VerifiedNumber
from verification.testing import outbox
from verification.tests.racing import race
from verification.tests.receiving import receiving
from verification.tests.servers import skip_or_fail

HOUR = 3600
REGION = "VERIFICATION_COUNTRY_SEND_LIMITS"
SITE = "VERIFICATION_GLOBAL_SEND_LIMIT"
#: Each breaker, with its refusal's scope and its `BreakerTrip` key.
EACH_BREAKER = pytest.mark.parametrize(
    ("setting", "scope", "trip_key"), [(REGION, "region", "region:GB"), (SITE, "global", "global")]
)

_serial = itertools.count(1)


def new_number() -> str:
    return f"+4474009{next(_serial):05d}"


def fresh_ip() -> str:
    return f"2001:db8:{next(_serial):x}::1"  # a /64 each: a network budget each


def fresh_user() -> Any:
    return get_user_model().objects.create_user(f"sender{next(_serial)}")


def known_user() -> Any:
    """A user with a verified GB number of their own."""
    user = fresh_user()
    VerifiedNumber.objects.create(user=user, number=f"+4474008{next(_serial):05d}")
    return user


def send_new() -> Challenge:
    return flow.start_verification(fresh_user(), new_number(), ip=fresh_ip())


def send_known(user: Any) -> Challenge:
    return flow.start_verification(user, VerifiedNumber.objects.get(user=user).number, ip=fresh_ip())


def refused(send: Any, *args: Any) -> SendLimitExceeded:
    with pytest.raises(SendLimitExceeded) as caught:
        send(*args)
    return caught.value


def set_limit(settings: Any, setting: str, limit: int) -> None:
    setattr(settings, setting, {"GB": limit} if setting == REGION else limit)


@pytest.fixture
def breakers(settings: Any) -> Any:
    """The per-key budgets out of the way: only the circuit breakers can refuse."""
    settings.VERIFICATION_SEND_LIMIT = 1000
    settings.VERIFICATION_IP_SEND_LIMIT = 1000
    settings.VERIFICATION_COUNTRY_SEND_LIMITS = {}
    settings.VERIFICATION_GLOBAL_SEND_LIMIT = None
    return settings


@pytest.fixture
def exhausted() -> Any:
    with receiving(signals.send_budget_exhausted) as received:
        yield received


def trip_warnings(caplog: Any) -> list[str]:
    records = [r for r in caplog.records if r.name == "verification.throttling" and r.levelno == logging.WARNING]
    return [r.getMessage() for r in records if r.getMessage().startswith("Circuit breaker tripped")]


def tripped_keys() -> set[str]:
    return {trip.key for trip in tripped_breakers(timezone.now())}


# -- the reserve ----------------------------------------------------------------------------------------


@EACH_BREAKER
def test_new_numbers_stop_short_of_the_reserve_that_known_numbers_spend_to_the_limit(
    db, breakers, frozen, setting, scope, trip_key
):
    set_limit(breakers, setting, 10)
    for _ in range(8):
        send_new()

    assert refused(send_new).scope == scope
    known = [known_user() for _ in range(3)]
    send_known(known[0])
    send_known(known[1])
    assert refused(send_known, known[2]).scope == scope
    # A pumping run still finds no room, and nothing beyond the limit was recorded.
    assert refused(send_new).scope == scope
    assert Challenge.objects.filter(known_number=False).count() == 8
    assert Challenge.objects.filter(known_number=True).count() == 2
    assert len(outbox()) == 10


@pytest.mark.parametrize(("reserve", "new_admitted"), [(0, 10), (0.5, 5), (0.9, 1)])
def test_the_reserve_follows_its_setting(db, breakers, frozen, reserve, new_admitted):
    breakers.VERIFICATION_BREAKER_RESERVE = reserve
    breakers.VERIFICATION_COUNTRY_SEND_LIMITS = {"GB": 10}
    for _ in range(new_admitted):
        send_new()
    assert refused(send_new).scope == "region"

    known = [known_user() for _ in range(11 - new_admitted)]
    for user in known[:-1]:
        send_known(user)

    assert refused(send_known, known[-1]).scope == "region"
    assert Challenge.objects.count() == 10
    # Two trips: the new numbers' share, then the whole limit.
    assert tripped_keys() == {"region:GB:new", "region:GB"}


# -- once per trip ----------------------------------------------------------------------------------------


@EACH_BREAKER
def test_a_trip_is_reported_once_however_many_sends_it_refuses(
    db, breakers, frozen, exhausted, caplog, setting, scope, trip_key
):
    set_limit(breakers, setting, 5)
    caplog.set_level(logging.INFO, logger="verification")
    key = "GB" if scope == "region" else "global"
    for _ in range(4):
        send_new()
    for i in range(20):
        refused(send_new)
        if i == 10:
            frozen.shift(timedelta(seconds=600))

    assert exhausted == [
        {"scope": scope, "key": key, "limit": 4, "window": HOUR, "retry_after": HOUR, "new_numbers_only": True}
    ]
    assert len(trip_warnings(caplog)) == 1
    assert tripped_keys() == {f"{trip_key}:new"}

    # The reserve's one slot goes to a known user; the next known users' refusals are a trip of their own.
    known = [known_user() for _ in range(4)]
    send_known(known[0])
    for user in known[1:]:
        refused(send_known, user)

    assert [(event["limit"], event["new_numbers_only"]) for event in exhausted] == [(4, True), (5, False)]
    assert exhausted[1]["retry_after"] == HOUR - 600
    assert len(trip_warnings(caplog)) == 2
    assert tripped_keys() == {trip_key, f"{trip_key}:new"}

    # Past the reopening the breaker is a new one: its next trip is reported again, once.
    frozen.shift(timedelta(seconds=HOUR))
    assert tripped_keys() == set()
    for _ in range(4):
        send_new()
    for _ in range(5):
        refused(send_new)

    assert [event["new_numbers_only"] for event in exhausted] == [True, False, True]
    assert len(trip_warnings(caplog)) == 3
    assert tripped_keys() == {f"{trip_key}:new"}


# -- no shared lock row --------------------------------------------------------------------------------------


def test_a_send_takes_no_lock_row_for_the_breakers(db, breakers, frozen):
    breakers.VERIFICATION_COUNTRY_SEND_LIMITS = {"GB": 10}
    breakers.VERIFICATION_GLOBAL_SEND_LIMIT = 10
    send_new()
    new_sender, known_sender = fresh_user(), known_user()

    with CaptureQueriesContext(connection) as queries:
        flow.start_verification(new_sender, new_number(), ip=fresh_ip())
        send_known(known_sender)

    lock_queries = [query["sql"] for query in queries if "verification_throttlelock" in query["sql"]]
    # The per-key locks are in the capture, so the capture shows what a send locks.
    assert any(f"'user:{new_sender.pk}'" in sql for sql in lock_queries), lock_queries
    assert any(f"'user:{known_sender.pk}'" in sql for sql in lock_queries), lock_queries
    assert [sql for sql in lock_queries if "'global'" in sql or "'region:" in sql] == []
    assert not ThrottleLock.objects.filter(key="global").exists()
    assert not ThrottleLock.objects.filter(key__startswith="region:").exists()


# -- the crowded edge ------------------------------------------------------------------------------------------


def crowd(mocker: Any, times: int) -> list[int]:
    """Make the first `times` breaker counts of new numbers see a concurrent send, gone once counted."""
    original = breaker_module._new_number_waits
    counted: list[int] = []
    other = fresh_user()

    def counted_in_a_crowd(challenge: Challenge, counted_breakers: Any, now: Any) -> Any:
        crowding = None
        if len(counted) < times:
            # Another send committed its row at the same moment, found the window full too, and backs off.
            crowding = Challenge.objects.create(
                user=other, number=new_number(), backend="x", created_at=now, expires_at=now
            )
        counted.append(challenge.pk)
        try:
            return original(challenge, counted_breakers, now)
        finally:
            if crowding is not None:
                crowding.delete()

    mocker.patch.object(breaker_module, "_new_number_waits", side_effect=counted_in_a_crowd)
    return counted


@pytest.mark.parametrize("crowded", [1, throttling.BREAKER_TRIES - 1])
def test_a_send_crowded_out_while_room_remains_is_recorded_again_and_admitted(
    db, breakers, frozen, exhausted, mocker, crowded
):
    breakers.VERIFICATION_COUNTRY_SEND_LIMITS = {"GB": 5}
    for _ in range(3):
        send_new()
    counted = crowd(mocker, crowded)
    number = new_number()

    challenge = flow.start_verification(fresh_user(), number, ip=fresh_ip())

    assert len(counted) == crowded + 1
    # Each try was a row of its own; the crowded ones were deleted.
    assert (challenge.pk, len(set(counted))) == (counted[-1], crowded + 1)
    assert list(Challenge.objects.filter(number=number).values_list("pk", flat=True)) == [challenge.pk]
    assert Challenge.objects.count() == 4
    assert [message.number for message in outbox()][-1] == number
    assert exhausted == []


def test_a_send_crowded_out_on_every_try_is_refused(db, breakers, frozen, mocker):
    breakers.VERIFICATION_COUNTRY_SEND_LIMITS = {"GB": 5}
    for _ in range(3):
        send_new()
    counted = crowd(mocker, throttling.BREAKER_TRIES)
    number = new_number()

    assert refused(lambda: flow.start_verification(fresh_user(), number)).scope == "region"
    assert len(counted) == throttling.BREAKER_TRIES
    assert not Challenge.objects.filter(number=number).exists()
    assert Challenge.objects.count() == 3
    assert number not in [message.number for message in outbox()]


def test_pass_breakers_refuses_on_the_last_try_and_offers_another_before(db, breakers, frozen, mocker):
    breakers.VERIFICATION_COUNTRY_SEND_LIMITS = {"GB": 5}
    for _ in range(3):
        send_new()
    user, now = fresh_user(), timezone.now()

    def record() -> Challenge:
        return Challenge.objects.create(user=user, number=new_number(), backend="x", created_at=now, expires_at=now)

    crowd(mocker, 2)
    first = record()
    assert throttling.pass_breakers(first, last_try=False) is False
    last = record()
    with pytest.raises(SendLimitExceeded):
        throttling.pass_breakers(last, last_try=True)
    assert not Challenge.objects.filter(pk__in=[first.pk, last.pk]).exists()
    # Uncrowded, the same send fits.
    assert throttling.pass_breakers(record(), last_try=True) is True


# -- PostgreSQL: a pumping run racing known users ------------------------------------------------------------------


@pytest.fixture
def postgresql() -> None:
    if connection.vendor != "postgresql":
        skip_or_fail("this test needs DATABASE_URL=postgres://...")


PUMPERS, ROUNDS = 24, 3


def race_sends(senders: list[tuple[Any, str]], ips: list[str]) -> list[Any]:
    """Send for every (user, number) at the same moment, each from its own address and connection."""
    return race(len(senders), lambda i: flow.start_verification(*senders[i], ip=ips[i]))


@pytest.mark.multiworker
@EACH_BREAKER
def test_a_pumping_run_racing_known_users_never_takes_their_reserve(
    postgresql, transactional_db, breakers, exhausted, setting, scope, trip_key
):
    set_limit(breakers, setting, 10)
    known = [known_user() for _ in range(2)]
    for round_ in range(ROUNDS):
        senders = [(fresh_user(), new_number()) for _ in range(PUMPERS)]
        senders += [(user, VerifiedNumber.objects.get(user=user).number) for user in known]
        # The known users start anywhere in the crowd.
        random.Random(round_).shuffle(senders)
        ips = [fresh_ip() for _ in senders]

        results = race_sends(senders, ips)

        sent = [result for result in results if isinstance(result, Challenge)]
        refusals = [result for result in results if isinstance(result, SendLimitExceeded)]
        assert len(sent) + len(refusals) == len(senders), results
        assert {refusal.scope for refusal in refusals} == {scope}
        known_pks = {user.pk for user in known}
        assert sorted(challenge.user_id for challenge in sent if challenge.user_id in known_pks) == sorted(known_pks)
        new_sent = [challenge for challenge in sent if challenge.user_id not in known_pks]
        # Never over the new numbers' share; at most one slot short of what the known sends left them.
        assert 8 - len(known) - 1 <= len(new_sent) <= 8
        assert len(sent) <= 10
        assert sorted(Challenge.objects.values_list("pk", flat=True)) == sorted(challenge.pk for challenge in sent)
        # However many workers it refused at once, the trip was reported once.
        assert [event["new_numbers_only"] for event in exhausted] == [True]
        # The next round starts with an empty window.
        Challenge.objects.all().delete()
        BreakerTrip.objects.all().delete()
        exhausted.clear()
