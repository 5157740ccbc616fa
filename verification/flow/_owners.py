"""Numbers belong to their verified owner: who owns a number, and clearing other accounts' codes off it (internal)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from verification import throttling
from verification.exceptions import ConcurrentVerification, Misconfigured, SendLimitExceeded
from verification.flow._challenges import OPEN_STATUSES, Status, backend_at, logger, set_status
from verification.models import Challenge, VerifiedNumber

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

    from verification.backends.base import BaseVerifyBackend

__all__ = ["cancel_other_accounts_codes", "owners_of"]

#: Seconds added to a provider's no-cancel delay: the request started a moment after its challenge row.
CANCEL_MARGIN = 2


def owners_of(number: str) -> set[Any]:
    """Return the pks of the users who verified the E.164 `number` (several only where sharing allowed it)."""
    return set(VerifiedNumber.objects.filter(number=number).values_list("user_id", flat=True))


def cancel_other_accounts_codes(user: AbstractBaseUser, number: str, now: datetime) -> None:
    """Before the owner's send to `number`, cancel the live codes other accounts asked for to it.

    Co-owners' codes (a number shared before sharing was turned off) and withheld ones (never sent)
    are left alone. Raises SendLimitExceeded (scope "other_account") with the seconds until the
    provider will cancel a code it cannot cancel yet; nothing is sent then and no budget is spent.
    """
    others = list(
        Challenge.objects.filter(number=number, status__in=OPEN_STATUSES, withheld=False).exclude(
            user_id__in=owners_of(number)
        )
    )
    waits = [wait for challenge in others if (wait := _cancel(challenge, now)) is not None]
    if others:
        logger.info(
            "Other accounts' codes to the owner's number: user=%s number=%s found=%s not_cancellable_yet=%s",
            user.pk,
            others[0].masked,
            len(others),
            len(waits),
        )
    if waits:
        raise SendLimitExceeded(retry_after=max(waits), scope=throttling.SCOPE_OTHER_ACCOUNT)


def _cancel(challenge: Challenge, now: datetime) -> int | None:
    """Cancel one other account's challenge; return the seconds to wait if its provider will not cancel it yet."""
    if not challenge.request_id:
        # Still being sent: its sender finds it cancelled and cancels the provider's request itself.
        set_status(challenge, Status.CANCELLED, only_from=Status.SENDING)
        return None
    try:
        backend = backend_at(challenge.backend)
        backend.cancel(challenge.request_id)
    except ConcurrentVerification:
        return _cancel_wait(challenge, backend, now)
    except Misconfigured:
        pass
    except Exception as exc:
        # The owner's own send then tells whether the provider still holds the number.
        logger.warning("Cancel failed at the backend: request_id=%s error=%s", challenge.request_id, type(exc).__name__)
    set_status(challenge, Status.CANCELLED, only_from=Status.PENDING)
    return None


def _cancel_wait(challenge: Challenge, backend: BaseVerifyBackend, now: datetime) -> int:
    age = (now - challenge.created_at).total_seconds()
    wait = backend.cancel_delay + CANCEL_MARGIN - age
    if wait <= 0:
        # Past the delay and still refused (a later step of its workflow has begun): it ends with its code.
        wait = (challenge.expires_at - now).total_seconds()
    return max(1, math.ceil(wait))
