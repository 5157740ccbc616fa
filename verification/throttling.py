"""Send budgets and the resend cooldown, counted from challenge rows and enforced under row locks in SQL.

Budgets are sliding windows over `Challenge.created_at`:
- per user and per destination number: VERIFICATION_SEND_LIMIT per VERIFICATION_SEND_WINDOW seconds;
- per client network (an IPv4 address, or the IPv6 /VERIFICATION_IPV6_PREFIX network an address is
  in): VERIFICATION_IP_SEND_LIMIT per VERIFICATION_IP_SEND_WINDOW;
- two circuit breakers against SMS pumping (toll fraud), which spreads over many accounts, addresses
  and numbers, so the budgets above never trip: per destination region, VERIFICATION_COUNTRY_SEND_LIMITS
  (a limit per ISO 3166 code, "*" for every region not listed) per VERIFICATION_COUNTRY_SEND_WINDOW;
  and for the whole site, VERIFICATION_GLOBAL_SEND_LIMIT per VERIFICATION_GLOBAL_SEND_WINDOW.
Every send attempt counts, even one the provider refused or timed out on (a timed-out request may
still have delivered). The attempts limit per challenge lives in `verification.flow` as a conditional
UPDATE.

Locking: `send_slot` locks one `ThrottleLock` row per budget, counts, and lets the caller insert its
challenge row (status SENDING) in the same transaction; the commit releases the locks. The provider
is called only after that, outside the lock (see `flow.start_verification`): the row inserted under
the lock already reserves the slot, so the lock is held for a few queries, never for a provider's
round trip. This matters for the site-wide breaker, whose single lock row serialises every send of
the site: acceptable for sends (rare, and slow anyway), not for a provider timeout. Do not run a send
inside an outer transaction (ATOMIC_REQUESTS): the locks would be held until it commits
(check `verification.W008`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from verification import signals
from verification._compat import moved
from verification.conf import conf
from verification.exceptions import SendLimitExceeded
from verification.models import Challenge, ThrottleLock
from verification.network import client_network
from verification.phone import destination_region

__all__ = [
    "CIRCUIT_BREAKER_SCOPES",
    "SCOPE_COOLDOWN",
    "SCOPE_GLOBAL",
    "SCOPE_IP",
    "SCOPE_NUMBER",
    "SCOPE_REGION",
    "SCOPE_USER",
    "Budget",
    "cooldown_retry_after",
    "region_send_limit",
    "send_slot",
]

logger = logging.getLogger(__name__)

SCOPE_USER = "user"
SCOPE_NUMBER = "number"
SCOPE_IP = "ip"
SCOPE_REGION = "region"
SCOPE_GLOBAL = "global"
SCOPE_COOLDOWN = "cooldown"
#: Budgets that protect the whole site rather than one account: operators are told when they trip.
CIRCUIT_BREAKER_SCOPES = frozenset({SCOPE_REGION, SCOPE_GLOBAL})
#: The key of the site-wide budget (its lock row, the signal's `key`).
GLOBAL_KEY = "global"
#: In VERIFICATION_COUNTRY_SEND_LIMITS, the limit of every region not listed.
ANY_REGION = "*"

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

    `key` names what is budgeted within the scope (a user pk, a number, a client network, a region
    code, "global"); never log it for the "number" scope, it is the full number.
    """

    scope: str
    key: str
    rows: Q
    limit: int
    window: int

    @property
    def lock_key(self) -> str:
        """The primary key of this budget's `ThrottleLock` row."""
        return GLOBAL_KEY if self.scope == SCOPE_GLOBAL else f"{self.scope}:{self.key}"

    def sends_in_window(self, now: datetime) -> QuerySet[Challenge]:
        """Return the challenges this budget counts at `now`, newest first."""
        window_start = now - timedelta(seconds=self.window)
        return Challenge.objects.filter(self.rows, created_at__gt=window_start).order_by("-created_at")

    def retry_after(self, now: datetime) -> int | None:
        """Seconds until one more send fits in this budget; None if one fits now."""
        # The limit-th most recent send in the window, read by walking the (key, created_at) index
        # backwards from now: no count of the whole window, one row sent back.
        oldest_counted = list(
            self.sends_in_window(now).values_list("created_at", flat=True)[self.limit - 1 : self.limit]
        )
        if not oldest_counted:
            return None
        # That send has to leave the window before another one fits.
        return _seconds_until(oldest_counted[0] + timedelta(seconds=self.window), now)


def region_send_limit(region: str) -> int | None:
    """Return the VERIFICATION_COUNTRY_SEND_LIMITS budget of `region` ("*" if not listed); None: no budget."""
    limits = conf.COUNTRY_SEND_LIMITS
    return limits.get(region, limits.get(ANY_REGION))


def budgets_for(user_pk: Any, number: str, ip: str | None) -> list[Budget]:
    """Return the budgets a send by user `user_pk` to the E.164 `number` from address `ip` counts against."""
    result = [
        Budget(SCOPE_USER, str(user_pk), Q(user_id=user_pk), conf.SEND_LIMIT, conf.SEND_WINDOW),
        Budget(SCOPE_NUMBER, number, Q(number=number), conf.SEND_LIMIT, conf.SEND_WINDOW),
    ]
    network = client_network(ip)
    if network:
        result.append(Budget(SCOPE_IP, network, Q(client_network=network), conf.IP_SEND_LIMIT, conf.IP_SEND_WINDOW))
    region = destination_region(number)
    region_limit = region_send_limit(region)
    if region_limit is not None:
        result.append(Budget(SCOPE_REGION, region, Q(region=region), region_limit, conf.COUNTRY_SEND_WINDOW))
    global_limit = conf.GLOBAL_SEND_LIMIT
    if global_limit is not None:
        result.append(Budget(SCOPE_GLOBAL, GLOBAL_KEY, Q(), global_limit, conf.GLOBAL_SEND_WINDOW))
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
def send_slot(user_pk: Any, number: str, ip: str | None, now: datetime) -> Iterator[None]:
    """Lock the budgets of this send, raise SendLimitExceeded if one is spent, else let the caller record it.

    The body runs inside the same transaction, with the locks held: a challenge row created there
    is counted by every concurrent send before its own check, in every worker and on every host.
    Keep the body to database writes; call the provider after the block. When several budgets are
    spent, the one that reopens last is reported (its `retry_after` is a real answer); every spent
    circuit breaker is logged and signalled (`signals.send_budget_exhausted`) once the locks are released.
    """
    budgets = budgets_for(user_pk, number, ip)
    keys = sorted({budget.lock_key for budget in budgets})
    ThrottleLock.objects.bulk_create([ThrottleLock(key=key) for key in keys], ignore_conflicts=True)
    with transaction.atomic():
        # An UPDATE first, in one global key order: a row lock on PostgreSQL (no deadlock between
        # overlapping sends), and SQLite's write lock taken before any read.
        for key in keys:
            ThrottleLock.objects.filter(key=key).update(touched_at=now)
        wait = cooldown_retry_after(user_pk, number, now)
        if wait is not None:
            raise SendLimitExceeded(retry_after=wait, scope=SCOPE_COOLDOWN)
        spent = [(budget, wait) for budget in budgets if (wait := budget.retry_after(now)) is not None]
        if not spent:
            yield
            return
    # Outside the transaction: receivers may be slow (paging someone), and the locks serialise sends.
    for budget, wait in spent:
        if budget.scope in CIRCUIT_BREAKER_SCOPES:
            _report_circuit_breaker(budget, wait)
    budget, wait = max(spent, key=lambda item: item[1])
    raise SendLimitExceeded(retry_after=wait, scope=budget.scope)


def _report_circuit_breaker(budget: Budget, retry_after: int) -> None:
    # The key is a region code or "global", never a number.
    logger.warning(
        "Send budget exhausted, codes refused: scope=%s key=%s limit=%s window=%ss retry_after=%ss",
        budget.scope,
        budget.key,
        budget.limit,
        budget.window,
        retry_after,
    )
    signals.send_budget_exhausted.send(
        sender=Challenge,
        scope=budget.scope,
        key=budget.key,
        limit=budget.limit,
        window=budget.window,
        retry_after=retry_after,
    )


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


__getattr__ = moved(__name__, {"client_ip": "verification.network"})
