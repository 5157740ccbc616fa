"""The toll-fraud circuit breakers: what each counts, the count of a committed send, each trip reported once.

Per destination region, VERIFICATION_COUNTRY_SEND_LIMITS (a limit per ISO 3166 code, "*" for every region
not listed) per VERIFICATION_COUNTRY_SEND_WINDOW; for the whole site, VERIFICATION_GLOBAL_SEND_LIMIT per
VERIFICATION_GLOBAL_SEND_WINDOW. Each keeps VERIFICATION_BREAKER_RESERVE of its limit for codes to numbers
their users already verified. They take no lock (see `pass_breakers`, and `verification.throttling`
for the budgets that do); a trip is a `BreakerTrip` row, logged and signalled once, not per refused send.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.db import IntegrityError, connections, router, transaction
from django.db.models import Count, F, Field, Q, QuerySet, Value
from django.db.models.functions import Greatest

from verification import signals
from verification._windows import edge_wait, in_window, seconds_until
from verification.conf import conf
from verification.exceptions import SendLimitExceeded
from verification.models import BreakerTrip, Challenge
from verification.phone import destination_region

__all__ = [
    "ANY_REGION",
    "BREAKER_TRIES",
    "CIRCUIT_BREAKER_SCOPES",
    "GLOBAL_KEY",
    "SCOPE_GLOBAL",
    "SCOPE_REGION",
    "Breaker",
    "breakers_for",
    "pass_breakers",
    "region_send_limit",
    "report_trip",
    "tripped_breakers",
]

SCOPE_REGION = "region"
SCOPE_GLOBAL = "global"
#: Budgets that protect the whole site rather than one account: operators are told when they trip.
CIRCUIT_BREAKER_SCOPES = frozenset({SCOPE_REGION, SCOPE_GLOBAL})
#: The key of the site-wide budget (the signal's `key`).
GLOBAL_KEY = "global"
#: In VERIFICATION_COUNTRY_SEND_LIMITS, the limit of every region not listed.
ANY_REGION = "*"
#: Times a send is recorded again when sends counted at the same moment crowded a breaker's edge.
BREAKER_TRIES = 3

logger = logging.getLogger("verification.throttling")

#: Suffix of the trip record of a breaker that refuses new numbers only (its reserve still serves known ones).
NEW_NUMBERS_SUFFIX = ":new"


@dataclass(frozen=True)
class Breaker:
    """A circuit breaker: at most `limit` challenges within `window` seconds, to region `key` or site-wide.

    Sends to numbers not yet verified by their user stop at `new_limit`; the rest is kept for known ones.
    """

    scope: str
    key: str
    limit: int
    window: int

    @property
    def rows(self) -> Q:
        """The challenges this breaker counts: those to its region, or every one (site-wide)."""
        return Q(region=self.key) if self.scope == SCOPE_REGION else Q()

    @property
    def new_limit(self) -> int:
        """The sends new numbers may spend: the limit less VERIFICATION_BREAKER_RESERVE of it (at least 1)."""
        return max(1, self.limit - math.floor(self.limit * conf.BREAKER_RESERVE))

    @property
    def trip_key(self) -> str:
        """The `BreakerTrip` row of this breaker."""
        return self.scope if self.scope == SCOPE_GLOBAL else f"{self.scope}:{self.key}"

    def sends_in_window(self, now: datetime) -> QuerySet[Challenge]:
        """Return the challenges this breaker counts at `now`, newest first."""
        return in_window(self.rows, self.window, now)

    def peek(self, now: datetime, known: bool) -> int | None:
        """Seconds until one more send (to a known number or not) would fit, counted without adding one."""
        return edge_wait(self.sends_in_window(now), self.limit if known else self.new_limit, self.window, now)

    def known_wait(self, now: datetime) -> int | None:
        """For a committed send to a known number: seconds until it fits; None if it fits now."""
        counts = self.sends_in_window(now).aggregate(
            known=Count("pk", filter=Q(known_number=True)), new=Count("pk", filter=Q(known_number=False))
        )
        if counts["known"] + min(counts["new"], self.new_limit) <= self.limit:
            return None
        oldest = self.sends_in_window(now).order_by("created_at").values_list("created_at", flat=True).first()
        return seconds_until(oldest + timedelta(seconds=self.window), now) if oldest else 1


def region_send_limit(region: str) -> int | None:
    """Return the VERIFICATION_COUNTRY_SEND_LIMITS budget of `region` ("*" if not listed); None: no budget."""
    limits = conf.COUNTRY_SEND_LIMITS
    return limits.get(region, limits.get(ANY_REGION))


def breakers_for(number: str) -> list[Breaker]:
    """Return the circuit breakers a send to the E.164 `number` counts against."""
    result = []
    region = destination_region(number)
    region_limit = region_send_limit(region)
    if region_limit is not None:
        result.append(Breaker(SCOPE_REGION, region, region_limit, conf.COUNTRY_SEND_WINDOW))
    global_limit = conf.GLOBAL_SEND_LIMIT
    if global_limit is not None:
        result.append(Breaker(SCOPE_GLOBAL, GLOBAL_KEY, global_limit, conf.GLOBAL_SEND_WINDOW))
    return result


def pass_breakers(challenge: Challenge, *, last_try: bool = True) -> bool:
    """Count the committed `challenge` against the circuit breakers; True if it fits in every one.

    Otherwise the row is deleted. If sends counted at the same moment crowded the edge, and room is
    left once they are gone, return False (unless `last_try`): the caller may record the send again.
    Else raise SendLimitExceeded (the breaker that reopens last); every breaker found over is reported
    once per trip (`verification.breakers.report_trip`). Call it outside any transaction: the row must
    be visible to every concurrent send before it is counted.
    """
    breakers = breakers_for(challenge.number)
    if not breakers:
        return True
    now, known = challenge.created_at, challenge.known_number
    if known:
        spent = [(breaker, wait) for breaker in breakers if (wait := breaker.known_wait(now)) is not None]
    else:
        spent = _new_number_waits(challenge, breakers, now)
    if not spent:
        return True
    Challenge.objects.filter(pk=challenge.pk).delete()
    if not last_try and all(breaker.peek(now, known) is None for breaker, _ in spent):
        return False
    for breaker, wait in spent:
        report_trip(breaker, wait, now, new_numbers_only=not known)
    breaker, wait = max(spent, key=lambda item: item[1])
    raise SendLimitExceeded(retry_after=wait, scope=breaker.scope)


def _new_number_waits(challenge: Challenge, breakers: list[Breaker], now: datetime) -> list[tuple[Breaker, int]]:
    # The one query every counted send makes, written out: the ORM took longer to compile it (subqueries
    # as annotations) than the database to run it. For every breaker, the pk of the (new_limit + 1)-th
    # newest row of its window, if there is one: a send too many, ours included. Each subquery walks
    # the breaker's (key, created_at) index backwards and stops at that row.
    connection = connections[router.db_for_write(Challenge)]
    quote = connection.ops.quote_name
    table = quote(Challenge._meta.db_table)
    created, region, pk = (quote(_column(name)) for name in ("created_at", "region", "id"))
    selects: list[str] = []
    params: list[Any] = []
    for breaker in breakers:
        start = connection.ops.adapt_datetimefield_value(now - timedelta(seconds=breaker.window))
        # `rows`, written out: the region's challenges, or all of them.
        where, values = (f"{region} = %s AND ", [breaker.key]) if breaker.scope == SCOPE_REGION else ("", [])
        # Only quoted names of the model's own table and columns are written in; every value is a parameter.
        selects.append(
            f"(SELECT {pk} FROM {table} WHERE {where}{created} > %s ORDER BY {created} DESC LIMIT 1 OFFSET %s)"  # noqa: S608
        )
        params += [*values, start, breaker.new_limit]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(selects), params)
        edges = cursor.fetchone()
    spent = []
    for breaker, edge in zip(breakers, edges, strict=True):
        # Only over a limit: how long until it reopens, read as any budget's wait (None: room again).
        if edge is None:
            continue
        wait = edge_wait(breaker.sends_in_window(now), breaker.new_limit + 1, breaker.window, now)
        if wait is not None:
            spent.append((breaker, wait))
    return spent


def _column(name: str) -> str:
    # A concrete field of the model's own table: its column is always set.
    field = cast("Field[Any, Any]", Challenge._meta.get_field(name))
    return str(field.column)


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
