"""Send budgets and the resend cooldown, counted from challenge rows in SQL under per-key row locks.

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

Circuit breakers (`verification.breakers`, whose names this module re-exports) take no lock: every
send of the site would wait on the same row.
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

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from verification._compat import moved
from verification._windows import edge_wait, in_window, seconds_until
from verification.breakers import (
    ANY_REGION,
    BREAKER_TRIES,
    CIRCUIT_BREAKER_SCOPES,
    GLOBAL_KEY,
    SCOPE_GLOBAL,
    SCOPE_REGION,
    Breaker,
    breakers_for,
    pass_breakers,
    region_send_limit,
)
from verification.conf import conf
from verification.exceptions import SendLimitExceeded
from verification.models import Challenge, ThrottleLock
from verification.network import client_network

__all__ = [
    "ANY_REGION",
    "BREAKER_TRIES",
    "CIRCUIT_BREAKER_SCOPES",
    "GLOBAL_KEY",
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
    "breakers_for",
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
SCOPE_COOLDOWN = "cooldown"
#: Another account's code to the owner's number is still live at a provider that cannot cancel it yet.
SCOPE_OTHER_ACCOUNT = "other_account"
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
        return in_window(self.rows, self.window, now)

    def retry_after(self, now: datetime) -> int | None:
        """Seconds until one more send fits in this budget; None if one fits now."""
        return edge_wait(self.sends_in_window(now), self.limit, self.window, now)


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
    return None if last is None else seconds_until(last + timedelta(seconds=cooldown), now)


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


__getattr__ = moved(__name__, {"client_ip": "verification.network"})
