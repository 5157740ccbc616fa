"""Lock rows stay bounded: sends delete the ones no send touched within the longest per-key window.

Without it, every user, number and client network that ever got a code kept a `ThrottleLock` row for ever.
"""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models.query import QuerySet
from django.utils import timezone

from verification import flow, throttling
from verification.exceptions import SendLimitExceeded
from verification.models import ThrottleLock
from verification.tests.racing import race
from verification.tests.servers import skip_or_fail

DAY = 86400
_serial = itertools.count(1)


def new_number() -> str:
    return f"+4474007{next(_serial):05d}"


def send(user: Any, ip: str = "203.0.113.7") -> None:
    flow.start_verification(user, new_number(), ip=ip)


def fresh_user() -> Any:
    return get_user_model().objects.create_user(f"sender{next(_serial)}")


def stale_rows(count: int, age: int, prefix: str = "user:stale") -> None:
    touched_at = timezone.now() - timedelta(seconds=age)
    ThrottleLock.objects.bulk_create(ThrottleLock(key=f"{prefix}{i}", touched_at=touched_at) for i in range(count))


def keys() -> set[str]:
    return set(ThrottleLock.objects.values_list("key", flat=True))


@pytest.fixture
def budgets(settings: Any) -> Any:
    settings.VERIFICATION_IP_SEND_LIMIT = 1000
    return settings


def test_a_send_deletes_the_lock_rows_of_sends_older_than_a_day(db, budgets, frozen):
    old, recent, later = fresh_user(), fresh_user(), fresh_user()
    send(old, ip="203.0.113.1")
    old_keys = keys()
    frozen.shift(timedelta(seconds=3600))
    send(recent, ip="203.0.113.2")
    recent_keys = keys() - old_keys
    # The foreign-number window (a day) is the longest per-key one.
    frozen.shift(timedelta(seconds=DAY - 3600 + 1))

    send(later, ip="203.0.113.3")

    assert {f"user:{old.pk}", "ip:203.0.113.1"} < old_keys
    assert len(old_keys) == 3
    assert not keys() & old_keys
    assert recent_keys <= keys()
    assert f"user:{later.pk}" in keys()


@pytest.mark.parametrize(
    "longest",
    [
        "VERIFICATION_SEND_WINDOW",
        "VERIFICATION_FOREIGN_SEND_WINDOW",
        "VERIFICATION_IP_SEND_WINDOW",
        "VERIFICATION_RESEND_COOLDOWN",
    ],
)
def test_rows_are_kept_for_the_longest_per_key_window(db, budgets, frozen, longest):
    for setting in ("SEND_WINDOW", "FOREIGN_SEND_WINDOW", "IP_SEND_WINDOW"):
        setattr(budgets, f"VERIFICATION_{setting}", 600)
    budgets.VERIFICATION_RESEND_COOLDOWN = 30
    setattr(budgets, longest, 5000)
    stale_rows(1, 5001, "user:older")
    stale_rows(1, 5000, "user:edge")
    stale_rows(1, 4000, "user:younger")

    send(fresh_user())

    assert "user:older0" not in keys()
    assert {"user:edge0", "user:younger0"} <= keys()


def test_prune_locks_deletes_a_batch_at_most_and_returns_how_many(db, frozen):
    stale_rows(throttling.PRUNE_BATCH + 30, DAY + 1)
    stale_rows(5, DAY - 1, "user:recent")
    now = timezone.now()

    assert throttling.prune_locks(now) == throttling.PRUNE_BATCH
    assert throttling.prune_locks(now) == 30
    assert throttling.prune_locks(now) == 0
    assert keys() == {f"user:recent{i}" for i in range(5)}


def test_each_send_prunes_one_batch(db, budgets, frozen):
    stale_rows(throttling.PRUNE_BATCH + 30, DAY + 1)

    send(fresh_user())
    assert len([key for key in keys() if key.startswith("user:stale")]) == 30
    send(fresh_user())
    assert not [key for key in keys() if key.startswith("user:stale")]


def test_a_budget_stays_exact_after_its_lock_row_was_pruned(db, budgets, frozen):
    budgets.VERIFICATION_SEND_LIMIT = 3
    budgets.VERIFICATION_SEND_WINDOW = 600
    user = fresh_user()
    send(user)
    frozen.shift(timedelta(seconds=DAY + 1))
    send(fresh_user(), ip="203.0.113.99")
    assert f"user:{user.pk}" not in keys()

    for _ in range(3):
        send(user)
    with pytest.raises(SendLimitExceeded) as caught:
        send(user)

    assert (caught.value.scope, caught.value.retry_after) == ("user", 600)
    assert f"user:{user.pk}" in keys()


def test_a_lock_row_pruned_as_it_is_inserted_is_inserted_again(db, budgets, frozen, mocker):
    user = fresh_user()
    lock_key = f"user:{user.pk}"
    original = QuerySet.bulk_create
    inserted: list[set[str]] = []

    def pruned_at_once(queryset: QuerySet, objs: Any, *args: Any, **kwargs: Any) -> Any:
        objs = list(objs)
        created = original(queryset, objs, *args, **kwargs)
        if queryset.model is ThrottleLock:
            inserted.append({row.key for row in objs})
            if len(inserted) == 1:
                # Another send's prune deleted it between this insert and the UPDATE that locks it.
                ThrottleLock.objects.filter(key__in=inserted[0]).delete()
        return created

    mocker.patch.object(QuerySet, "bulk_create", pruned_at_once)

    send(user)

    assert lock_key in inserted[0]
    assert sum(lock_key in batch for batch in inserted) == 2
    assert lock_key in keys()


# -- PostgreSQL: a row some send holds is skipped, not waited for ---------------------------------------------


@pytest.fixture
def postgresql() -> None:
    if connection.vendor != "postgresql":
        skip_or_fail("this test needs DATABASE_URL=postgres://...")


@pytest.mark.multiworker
def test_prune_locks_skips_a_row_locked_by_an_open_transaction(postgresql, transactional_db):
    stale_rows(1, DAY + 1, "user:held")
    stale_rows(1, DAY + 1, "user:free")
    held, pruned = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction.atomic():
            list(ThrottleLock.objects.select_for_update().filter(key="user:held0"))
            held.set()
            assert pruned.wait(timeout=30)

    def prune() -> int:
        try:
            assert held.wait(timeout=30)
            with connection.cursor() as cursor:
                # Waiting for the held row would fail here rather than hang.
                cursor.execute("SET lock_timeout = '3s'")
            return throttling.prune_locks(timezone.now())
        finally:
            pruned.set()

    results = race(2, lambda i: prune() if i else hold())

    assert results == [None, 1]
    assert keys() == {"user:held0"}
