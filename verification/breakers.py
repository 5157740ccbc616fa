"""Tripped circuit breakers: each trip recorded in the database, logged and signalled once, not per refused send."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest

from verification import signals
from verification.models import BreakerTrip, Challenge

if TYPE_CHECKING:
    from verification.throttling import Breaker

__all__ = ["report_trip", "tripped_breakers"]

logger = logging.getLogger("verification.throttling")

#: Suffix of the trip record of a breaker that refuses new numbers only (its reserve still serves known ones).
NEW_NUMBERS_SUFFIX = ":new"


def report_trip(breaker: Breaker, retry_after: int, now: datetime, *, new_numbers_only: bool) -> bool:
    """Record that `breaker` refused a send until `retry_after` seconds from `now`; report a new trip once.

    Returns True when this call reported it (a WARNING and `signals.send_budget_exhausted`): the breaker
    was not tripped, or its last trip had reopened. While it stays tripped, later refusals only push its
    reopening time, in every worker alike (the record is a database row).
    """
    key = breaker.trip_key + (NEW_NUMBERS_SUFFIX if new_numbers_only else "")
    reopens_at = now + timedelta(seconds=retry_after)
    trips = BreakerTrip.objects.filter(key=key)
    if trips.filter(reopens_at__gt=now).update(reopens_at=Greatest(F("reopens_at"), Value(reopens_at))):
        return False
    # A trip that had reopened becomes a new one; the WHERE is decided again on the locked row, so two
    # workers racing here cannot both win.
    if not trips.filter(reopens_at__lte=now).update(tripped_at=now, reopens_at=reopens_at):
        try:
            with transaction.atomic():
                BreakerTrip.objects.create(key=key, tripped_at=now, reopens_at=reopens_at)
        except IntegrityError:
            return False
    _announce(breaker, retry_after, new_numbers_only)
    return True


def _announce(breaker: Breaker, retry_after: int, new_numbers_only: bool) -> None:
    limit = breaker.new_limit if new_numbers_only else breaker.limit
    refused = "codes to new numbers refused" if new_numbers_only else "codes refused"
    # The key is a region code or "global", never a number.
    logger.warning(
        "Circuit breaker tripped, %s: scope=%s key=%s limit=%s window=%ss retry_after=%ss",
        refused,
        breaker.scope,
        breaker.key,
        limit,
        breaker.window,
        retry_after,
    )
    signals.send_budget_exhausted.send(
        sender=Challenge,
        scope=breaker.scope,
        key=breaker.key,
        limit=limit,
        window=breaker.window,
        retry_after=retry_after,
        new_numbers_only=new_numbers_only,
    )


def tripped_breakers(now: datetime) -> list[BreakerTrip]:
    """Return the breakers refusing codes at `now`, the one that reopens last first."""
    return list(BreakerTrip.objects.filter(reopens_at__gt=now).order_by("-reopens_at"))
