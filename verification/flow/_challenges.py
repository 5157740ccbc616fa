"""What the flow's use cases share: challenge states, the backend by path, best-effort cancels, log lines (internal)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from verification import signals
from verification.backends.base import BaseVerifyBackend, get_backend
from verification.exceptions import Misconfigured, NumberChangeNotAllowed, VerificationError
from verification.models import Challenge, VerifiedNumber
from verification.phone import mask_number

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

#: The flow's one logger, whichever module of it writes.
logger = logging.getLogger("verification.flow")

Status = Challenge.Status
#: Challenges that may still get a code: being sent, or sent and waiting.
OPEN_STATUSES = (Status.SENDING, Status.PENDING)
#: A resend goes to the number of the user's latest challenge when it ended in one of these.
RESENDABLE_STATUSES = (Status.PENDING, Status.EXPIRED, Status.LOCKED)


def backend_at(path: str) -> BaseVerifyBackend:
    try:
        return get_backend(path)
    except ImportError as exc:
        logger.error("Verify backend cannot be imported: %s", path)
        raise Misconfigured(f"cannot import {path}") from exc


def log_refusal(
    step: str, user: AbstractBaseUser, current: VerifiedNumber | None, number: str, refusal: NumberChangeNotAllowed
) -> None:
    # A warning: a stolen password trying to swap the second factor looks exactly like this.
    logger.warning(
        "Number change refused at %s: user=%s on_file=%s requested=%s reason=%s",
        step,
        user.pk,
        current.masked if current is not None else "-",
        mask_number(number),
        refusal.reason,
    )


def lock(user: AbstractBaseUser, challenge: Challenge, backend: BaseVerifyBackend) -> None:
    if not set_status(challenge, Status.LOCKED, only_from=Status.PENDING):
        return
    if challenge.request_id:
        best_effort_cancel(backend, challenge.request_id)
    logger.warning("Challenge locked after too many wrong codes: user=%s number=%s", user.pk, challenge.masked)
    signals.verification_locked.send(sender=Challenge, user=user, challenge=challenge)


def set_status(challenge: Challenge, status: str, *, only_from: str | None = None) -> bool:
    rows = Challenge.objects.filter(pk=challenge.pk)
    if only_from is not None:
        rows = rows.filter(status=only_from)
    changed = bool(rows.update(status=status))
    if changed:
        challenge.status = status
    return changed


def cancel_at_backend(challenges: Iterable[Challenge]) -> None:
    for challenge in challenges:
        if challenge.request_id:
            try:
                backend = backend_at(challenge.backend)
            except Misconfigured:
                continue
            best_effort_cancel(backend, challenge.request_id)


def cancel_stale_request(
    user: AbstractBaseUser, backend: BaseVerifyBackend, backend_path: str, request_id: str | None
) -> None:
    """Cancel the provider request that blocks a new send, unless it is another user's live verification."""
    if not request_id:
        return
    owner = Challenge.objects.filter(backend=backend_path, request_id=request_id).values_list("user_id", flat=True)
    owners = set(owner)
    if owners and owners != {user.pk}:
        return
    best_effort_cancel(backend, request_id)
    Challenge.objects.filter(backend=backend_path, request_id=request_id, status__in=OPEN_STATUSES).update(
        status=Status.CANCELLED
    )


def best_effort_cancel(backend: BaseVerifyBackend, request_id: str) -> None:
    # A failed cancel only leaves a code that expires on its own: log it, never fail the user's request.
    try:
        backend.cancel(request_id)
    except Exception as exc:
        # The exception's text may quote the provider's reply: log only its kind.
        logger.warning("Cancel failed at the backend: request_id=%s error=%s", request_id, type(exc).__name__)


def log_backend_error(action: str, exc: VerificationError, number: str) -> None:
    level = logging.ERROR if isinstance(exc, Misconfigured) else logging.WARNING
    logger.log(level, "Backend refused to %s: error=%s number=%s", action, exc.code, mask_number(number))
