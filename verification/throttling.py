"""Send budgets and the resend cooldown, counted from challenge rows and enforced under row locks in SQL.

Budgets are sliding windows over `Challenge.created_at`: at most VERIFICATION_SEND_LIMIT sends per
user and per destination number within VERIFICATION_SEND_WINDOW seconds, and VERIFICATION_IP_SEND_LIMIT
per client address within VERIFICATION_IP_SEND_WINDOW. Every send attempt counts, even one the provider
refused or timed out on (a timed-out request may still have delivered). The attempts limit per
challenge lives in `verification.flow` as a conditional UPDATE.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q

from verification.conf import conf
from verification.exceptions import SendLimitExceeded
from verification.models import Challenge, ThrottleLock

SCOPE_USER = "user"
SCOPE_NUMBER = "number"
SCOPE_IP = "ip"
SCOPE_COOLDOWN = "cooldown"

#: Challenges in these states started the resend cooldown: a code went (or may have gone) out.
COOLDOWN_STATUSES = (
    Challenge.Status.SENDING,
    Challenge.Status.PENDING,
    Challenge.Status.CANCELLED,
    Challenge.Status.EXPIRED,
    Challenge.Status.LOCKED,
)


def client_ip(meta: Mapping[str, Any]) -> str | None:
    """Return the client's address: the right-most one in VERIFICATION_CLIENT_IP_HEADER, else REMOTE_ADDR.

    The right-most entry is the one the trusted proxy appended; anything to its left is what the
    client claimed. A value that is not an IP address is ignored; None when nothing valid is found.
    """
    header = conf.CLIENT_IP_HEADER
    if header:
        entries = str(meta.get(header, "")).split(",")
        candidate = _valid_ip(entries[-1])
        if candidate:
            return candidate
    return _valid_ip(str(meta.get("REMOTE_ADDR", "")))


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


@dataclass(frozen=True)
class Budget:
    """One sliding-window budget: at most `limit` challenges matching `rows` within `window` seconds."""

    scope: str
    lock_key: str
    rows: Q
    limit: int
    window: int

    def retry_after(self, now: datetime) -> int | None:
        """Seconds until one more send fits in this budget; None if one fits now."""
        recent = list(
            Challenge.objects.filter(self.rows, created_at__gt=now - timedelta(seconds=self.window))
            .order_by("-created_at")
            .values_list("created_at", flat=True)[: self.limit]
        )
        if len(recent) < self.limit:
            return None
        # The limit-th most recent send has to leave the window before another one fits.
        return _seconds_until(recent[-1] + timedelta(seconds=self.window), now)


def budgets_for(user_pk: Any, number: str, ip: str | None) -> list[Budget]:
    """Return the budgets a send by user `user_pk` to `number` from `ip` counts against."""
    result = [
        Budget(SCOPE_USER, f"user:{user_pk}", Q(user_id=user_pk), conf.SEND_LIMIT, conf.SEND_WINDOW),
        Budget(SCOPE_NUMBER, f"number:{number}", Q(number=number), conf.SEND_LIMIT, conf.SEND_WINDOW),
    ]
    if ip is not None:
        result.append(Budget(SCOPE_IP, f"ip:{ip}", Q(client_ip=ip), conf.IP_SEND_LIMIT, conf.IP_SEND_WINDOW))
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
    """
    budgets = budgets_for(user_pk, number, ip)
    keys = sorted(budget.lock_key for budget in budgets)
    ThrottleLock.objects.bulk_create([ThrottleLock(key=key) for key in keys], ignore_conflicts=True)
    with transaction.atomic():
        # An UPDATE first, in one global key order: a row lock on PostgreSQL (no deadlock between
        # overlapping sends), and SQLite's write lock taken before any read.
        for key in keys:
            ThrottleLock.objects.filter(key=key).update(touched_at=now)
        wait = cooldown_retry_after(user_pk, number, now)
        if wait is not None:
            raise SendLimitExceeded(retry_after=wait, scope=SCOPE_COOLDOWN)
        for budget in budgets:
            wait = budget.retry_after(now)
            if wait is not None:
                raise SendLimitExceeded(retry_after=wait, scope=budget.scope)
        yield


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))
