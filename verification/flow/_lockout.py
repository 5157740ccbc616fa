"""The long-term ceiling: too many failed challenges in a day lock the account's codes (internal)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Q

from verification import signals
from verification.conf import conf
from verification.exceptions import AccountLocked
from verification.flow._challenges import Status, best_effort_cancel, logger, set_status
from verification.models import Challenge, NumberReset

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

    from verification.backends.base import BaseVerifyBackend

__all__ = ["locked_out_for", "note_wrong_code", "refuse_if_locked_out"]

#: A failed challenge: a wrong code was entered for it, and it was never confirmed.
FAILED = Q(attempts__gt=0) & ~Q(status=Status.VERIFIED)


def locked_out_for(user: AbstractBaseUser, now: datetime) -> int | None:
    """Seconds the user's codes stay locked (VERIFICATION_FAILED_CHALLENGE_LIMIT reached); None if they are not.

    Only failures since the user's last staff reset count: a reset lifts the lock.
    """
    limit = conf.FAILED_CHALLENGE_LIMIT
    if limit is None:
        return None
    window = timedelta(seconds=conf.FAILED_CHALLENGE_WINDOW)
    since = now - window
    last_reset = NumberReset.objects.filter(user_id=user.pk).order_by("-at").values_list("at", flat=True).first()
    if last_reset is not None:
        since = max(since, last_reset)
    failed = Challenge.objects.filter(FAILED, user_id=user.pk, created_at__gt=since)
    edge = list(failed.order_by("-created_at").values_list("created_at", flat=True)[limit - 1 : limit])
    if not edge:
        return None
    return max(1, math.ceil((edge[0] + window - now).total_seconds()))


def refuse_if_locked_out(user: AbstractBaseUser, now: datetime) -> None:
    """Raise AccountLocked while the user's codes are locked."""
    wait = locked_out_for(user, now)
    if wait is not None:
        raise AccountLocked(retry_after=wait)


def note_wrong_code(user: AbstractBaseUser, challenge: Challenge, backend: BaseVerifyBackend, now: datetime) -> None:
    """After a wrong code: if it made the limit-th failed challenge, lock the account's codes and raise AccountLocked.

    A challenge fails at its first wrong code, so only that one can trip the lock, and only once:
    afterwards no code is checked. The trip is logged (WARNING) and signalled (`account_locked`).
    """
    if challenge.attempts != 1:
        return
    wait = locked_out_for(user, now)
    if wait is None:
        return
    if set_status(challenge, Status.LOCKED, only_from=Status.PENDING) and challenge.request_id:
        best_effort_cancel(backend, challenge.request_id)
    limit, window = conf.FAILED_CHALLENGE_LIMIT, conf.FAILED_CHALLENGE_WINDOW
    logger.warning(
        "Account's codes locked, too many failed challenges: user=%s limit=%s window=%ss retry_after=%ss",
        user.pk,
        limit,
        window,
        wait,
    )
    signals.account_locked.send(
        sender=Challenge, user=user, challenge=challenge, retry_after=wait, limit=limit, window=window
    )
    raise AccountLocked(retry_after=wait)
