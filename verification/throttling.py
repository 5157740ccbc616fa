"""Send budgets, the resend cooldown and the circuit breakers, counted from challenge rows in SQL.

Budgets are sliding windows over `Challenge.created_at`:
- per user: VERIFICATION_SEND_LIMIT per VERIFICATION_SEND_WINDOW seconds;
- per destination number, counting only sends for accounts that had not verified it (its verified
  owner's own codes never count, so nobody else can spend the owner's budget): VERIFICATION_SEND_LIMIT
  per VERIFICATION_SEND_WINDOW, and VERIFICATION_FOREIGN_SEND_LIMIT per VERIFICATION_FOREIGN_SEND_WINDOW;
- per client network (an IPv4 address, or the IPv6 /VERIFICATION_IPV6_PREFIX network an address is
  in): VERIFICATION_IP_SEND_LIMIT per VERIFICATION_IP_SEND_WINDOW;
- two circuit breakers against SMS pumping (toll fraud), which spreads over many accounts, addresses
  and numbers, so the budgets above never trip: per destination region, VERIFICATION_COUNTRY_SEND_LIMITS
  (a limit per ISO 3166 code, "*" for every region not listed) per VERIFICATION_COUNTRY_SEND_WINDOW;
  and for the whole site, VERIFICATION_GLOBAL_SEND_LIMIT per VERIFICATION_GLOBAL_SEND_WINDOW. Each keeps
  VERIFICATION_BREAKER_RESERVE of its limit for codes to numbers their users already verified.
Every send attempt counts, even one the provider refused or timed out on (a timed-out request may
still have delivered).

Per-key budgets (`send_slot`) lock one `ThrottleLock` row per user, number and network, count, and let
the caller insert its challenge row in the same transaction; the commit releases the locks. These rows
are per key, so only sends that share a key wait on each other.

Circuit breakers (`pass_breakers`) take no lock: every send of the site would wait on the same row.
The challenge row is committed first, then counted with every other committed row of the window; a
send that finds the window over its limit deletes its row and is refused. Each admitted send saw
every send admitted before it, so a limit is never exceeded. The tolerance is on the refusing side
only: sends counted at the same moment at the edge of a limit see each other and may all find it
full. Each then deletes its row and, if room is left once they are gone, records the send again (up to
BREAKER_TRIES times), so a slot goes unused only when a burst crowds the edge that often. A known
number's send counts new numbers' rows only up to their share, so a pumping run at the edge cannot
crowd out a known user's reserve.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet, Subquery

from verification._compat import moved
from verification.breakers import report_trip
from verification.conf import conf
from verification.exceptions import SendLimitExceeded
from verification.models import Challenge, ThrottleLock
from verification.network import client_network
from verification.phone import destination_region

__all__ = [
    "CIRCUIT_BREAKER_SCOPES",
    "SCOPE_COOLDOWN",
    "SCOPE_FOREIGN",
    "SCOPE_GLOBAL",
    "SCOPE_IP",
    "SCOPE_NUMBER",
    "SCOPE_OTHER_ACCOUNT",
    "SCOPE_REGION",
    "SCOPE_USER",
    "Breaker",
    "Budget",
    "cooldown_retry_after",
    "hold_number",
    "pass_breakers",
    "prune_locks",
    "region_send_limit",
    "send_slot",
]

SCOPE_USER = "user"
SCOPE_NUMBER = "number"
SCOPE_FOREIGN = "foreign"
SCOPE_IP = "ip"
SCOPE_REGION = "region"
SCOPE_GLOBAL = "global"
SCOPE_COOLDOWN = "cooldown"
#: Another account's code to the owner's number is still live at a provider that cannot cancel it yet.
SCOPE_OTHER_ACCOUNT = "other_account"
#: Budgets that protect the whole site rather than one account: operators are told when they trip.
CIRCUIT_BREAKER_SCOPES = frozenset({SCOPE_REGION, SCOPE_GLOBAL})
#: The key of the site-wide budget (the signal's `key`).
GLOBAL_KEY = "global"
#: In VERIFICATION_COUNTRY_SEND_LIMITS, the limit of every region not listed.
ANY_REGION = "*"
#: Times a send is recorded again when sends counted at the same moment crowded a breaker's edge.
BREAKER_TRIES = 3
#: Stale lock rows deleted by one send, at most: the first sends after an upgrade share the backlog.
PRUNE_BATCH = 100

#: Challenges in these states started the resend cooldown: a code went (or may have gone) out.
COOLDOWN_STATUSES = (
    Challenge.Status.SENDING,
    Challenge.Status.PENDING,
    Challenge.Status.CANCELLED,
    Challenge.Status.EXPIRED,
    Challenge.Status.LOCKED,
)


@dataclass(frozen=True)
class Budget:
    """One sliding-window budget: at most `limit` challenges matching `rows` within `window` seconds.

    `key` names what is budgeted within the scope (a user pk, a number, a client network); never log it
    for the number scopes, it is the full number. `lock_key` is the `ThrottleLock` row it is counted under.
    """

    scope: str
    key: str
    rows: Q
    limit: int
    window: int
    lock_key: str

    def sends_in_window(self, now: datetime) -> QuerySet[Challenge]:
        """Return the challenges this budget counts at `now`, newest first."""
        return _in_window(self.rows, self.window, now)

    def retry_after(self, now: datetime) -> int | None:
        """Seconds until one more send fits in this budget; None if one fits now."""
        return _edge_wait(self.sends_in_window(now), self.limit, self.window, now)


@dataclass(frozen=True)
class Breaker:
    """A circuit breaker: at most `limit` challenges matching `rows` within `window` seconds, site-wide.

    Sends to numbers not yet verified by their user stop at `new_limit`; the rest is kept for known ones.
    """

    scope: str
    key: str
    rows: Q
    limit: int
    window: int

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
        return _in_window(self.rows, self.window, now)

    def peek(self, now: datetime, known: bool) -> int | None:
        """Seconds until one more send (to a known number or not) would fit, counted without adding one."""
        return _edge_wait(self.sends_in_window(now), self.limit if known else self.new_limit, self.window, now)

    def known_wait(self, now: datetime) -> int | None:
        """For a committed send to a known number: seconds until it fits; None if it fits now."""
        counts = self.sends_in_window(now).aggregate(
            known=Count("pk", filter=Q(known_number=True)), new=Count("pk", filter=Q(known_number=False))
        )
        if counts["known"] + min(counts["new"], self.new_limit) <= self.limit:
            return None
        oldest = self.sends_in_window(now).order_by("created_at").values_list("created_at", flat=True).first()
        return _seconds_until(oldest + timedelta(seconds=self.window), now) if oldest else 1


def region_send_limit(region: str) -> int | None:
    """Return the VERIFICATION_COUNTRY_SEND_LIMITS budget of `region` ("*" if not listed); None: no budget."""
    limits = conf.COUNTRY_SEND_LIMITS
    return limits.get(region, limits.get(ANY_REGION))


def budgets_for(user_pk: Any, number: str, ip: str | None, *, known: bool = False) -> list[Budget]:
    """Return the per-key budgets a send by `user_pk` to the E.164 `number` from `ip` counts against.

    `known`: the number is the one the user verified; the number's budgets for other accounts do not apply.
    """
    user = str(user_pk)
    result = [Budget(SCOPE_USER, user, Q(user_id=user_pk), conf.SEND_LIMIT, conf.SEND_WINDOW, f"user:{user}")]
    if not known:
        foreign = Q(number=number, known_number=False)
        lock = f"number:{number}"
        result.append(Budget(SCOPE_NUMBER, number, foreign, conf.SEND_LIMIT, conf.SEND_WINDOW, lock))
        result.append(Budget(SCOPE_FOREIGN, number, foreign, conf.FOREIGN_SEND_LIMIT, conf.FOREIGN_SEND_WINDOW, lock))
    network = client_network(ip)
    if network:
        rows = Q(client_network=network)
        result.append(Budget(SCOPE_IP, network, rows, conf.IP_SEND_LIMIT, conf.IP_SEND_WINDOW, f"ip:{network}"))
    return result


def breakers_for(number: str) -> list[Breaker]:
    """Return the circuit breakers a send to the E.164 `number` counts against."""
    result = []
    region = destination_region(number)
    region_limit = region_send_limit(region)
    if region_limit is not None:
        result.append(Breaker(SCOPE_REGION, region, Q(region=region), region_limit, conf.COUNTRY_SEND_WINDOW))
    global_limit = conf.GLOBAL_SEND_LIMIT
    if global_limit is not None:
        result.append(Breaker(SCOPE_GLOBAL, GLOBAL_KEY, Q(), global_limit, conf.GLOBAL_SEND_WINDOW))
    return result


def cooldown_retry_after(user_pk: Any, number: str, now: datetime) -> int | None:
    """Seconds until this user may have another code sent to `number`; None if now."""
    cooldown = conf.RESEND_COOLDOWN
    if cooldown <= 0:
        return None
    last = (
        Challenge.objects.filter(
            user_id=user_pk,
            number=number,
            status__in=COOLDOWN_STATUSES,
            created_at__gt=now - timedelta(seconds=cooldown),
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return None if last is None else _seconds_until(last + timedelta(seconds=cooldown), now)


@contextmanager
def send_slot(user_pk: Any, number: str, ip: str | None, now: datetime, *, known: bool = False) -> Iterator[None]:
    """Lock the per-key budgets of this send, raise SendLimitExceeded if one is spent, else let the caller record it.

    The body runs inside the same transaction, with the locks held: a challenge row created there
    is counted by every concurrent send before its own check, in every worker and on every host.
    Keep the body to database writes; then call `pass_breakers`, then the provider. When several
    budgets are spent, the one that reopens last is reported (its `retry_after` is a real answer).
    """
    budgets = budgets_for(user_pk, number, ip, known=known)
    with transaction.atomic():
        _lock(sorted({budget.lock_key for budget in budgets}), now)
        wait = cooldown_retry_after(user_pk, number, now)
        if wait is not None:
            raise SendLimitExceeded(retry_after=wait, scope=SCOPE_COOLDOWN)
        spent = [(budget.scope, wait) for budget in budgets if (wait := budget.retry_after(now)) is not None]
        if not spent:
            yield
            return
    # A spent circuit breaker may reopen later than the budget that refused: "try in 10 minutes" must not lie.
    for breaker in breakers_for(number):
        if (wait := breaker.peek(now, known)) is not None:
            spent.append((breaker.scope, wait))
    scope, wait = max(spent, key=lambda item: item[1])
    raise SendLimitExceeded(retry_after=wait, scope=scope)


def _lock(keys: list[str], now: datetime) -> None:
    # Missing rows first, in one statement; then an UPDATE each, in one global key order: a row lock on
    # PostgreSQL (no deadlock between overlapping sends), and SQLite's write lock taken before any read.
    # A row pruned between the two is inserted again, which locks it for this transaction.
    ThrottleLock.objects.bulk_create([ThrottleLock(key=key, touched_at=now) for key in keys], ignore_conflicts=True)
    for key in keys:
        rows = ThrottleLock.objects.filter(key=key)
        while not rows.update(touched_at=now):
            ThrottleLock.objects.bulk_create([ThrottleLock(key=key, touched_at=now)], ignore_conflicts=True)


def hold_number(number: str, now: datetime) -> None:
    """Lock the E.164 `number`'s row until the current transaction ends (the one its sends are counted under)."""
    _lock([f"number:{number}"], now)


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
    # One query for every breaker: the (new_limit + 1)-th newest row of each window, if there is one,
    # is a send too many (ours included). Each subquery stops after that row.
    edges = {
        f"edge{index}": Subquery(
            breaker.sends_in_window(now).values("created_at")[breaker.new_limit : breaker.new_limit + 1]
        )
        for index, breaker in enumerate(breakers)
    }
    found = Challenge.objects.filter(pk=challenge.pk).annotate(**edges).values(*edges).first() or {}
    spent = []
    for index, breaker in enumerate(breakers):
        edge = found.get(f"edge{index}")
        if edge is not None:
            spent.append((breaker, _seconds_until(edge + timedelta(seconds=breaker.window), now)))
    return spent


def prune_locks(now: datetime) -> int:
    """Delete up to PRUNE_BATCH lock rows no send touched within the longest per-key window; return how many."""
    longest = max(conf.SEND_WINDOW, conf.FOREIGN_SEND_WINDOW, conf.IP_SEND_WINDOW, conf.RESEND_COOLDOWN)
    stale = ThrottleLock.objects.filter(touched_at__lt=now - timedelta(seconds=longest))
    # Most sends find nothing to prune: one indexed read, no transaction.
    if not stale.exists():
        return 0
    with transaction.atomic():
        # Rows a send holds right now are skipped (it is touching them anyway), never waited for.
        keys = list(stale.select_for_update(skip_locked=True).values_list("key", flat=True)[:PRUNE_BATCH])
        if not keys:
            return 0
        deleted, _ = stale.filter(key__in=keys).delete()
    return deleted


def _in_window(rows: Q, window: int, now: datetime) -> QuerySet[Challenge]:
    return Challenge.objects.filter(rows, created_at__gt=now - timedelta(seconds=window)).order_by("-created_at")


def _edge_wait(newest_first: QuerySet[Challenge], limit: int, window: int, now: datetime) -> int | None:
    # The limit-th most recent send in the window, read by walking the (key, created_at) index
    # backwards from now: no count of the whole window, one row sent back.
    oldest_counted = list(newest_first.values_list("created_at", flat=True)[limit - 1 : limit])
    if not oldest_counted:
        return None
    # That send has to leave the window before another one fits.
    return _seconds_until(oldest_counted[0] + timedelta(seconds=window), now)


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


__getattr__ = moved(__name__, {"client_ip": "verification.network"})
