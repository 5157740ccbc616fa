"""The use case that checks a code, in named steps: find the challenge, reserve an attempt, ask, confirm, announce."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from verification import signals, state, throttling
from verification.backends.base import BaseVerifyBackend
from verification.conf import conf
from verification.exceptions import (
    CodeExpired,
    InvalidCode,
    InvalidNumber,
    NoPendingVerification,
    ProviderUnavailable,
    TooManyAttempts,
    VerificationError,
    WrongCode,
)
from verification.flow._challenges import (
    Status,
    backend_at,
    cancel_at_backend,
    lock,
    log_backend_error,
    log_refusal,
    logger,
    set_status,
)
from verification.flow._lockout import note_wrong_code, refuse_if_locked_out
from verification.flow.queries import (
    first_number_refusal,
    is_well_formed_code,
    number_refusal,
    pending_challenge,
    verified_number,
)
from verification.models import Challenge, VerifiedNumber

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

__all__ = ["check_code"]


def check_code(
    user: AbstractBaseUser,
    code: str,
    *,
    verification: state.VerifiedState | None = None,
    logged_in_at: int | None = None,
    registered: bool = False,
) -> Challenge:
    """Check `code` against the user's pending challenge; on success, save the number and return the challenge.

    The attempt is reserved in the database before the backend is asked, so at most
    VERIFICATION_MAX_ATTEMPTS checks reach the backend per challenge, however many workers race.
    Raises WrongCode (attempts left), TooManyAttempts (the challenge is dead, even for the right
    code), CodeExpired / NoPendingVerification, or the backend's other errors. A challenge to a number
    other than the one on file is confirmed only while `verification` (the session's) allows the change:
    else it is cancelled, without using an attempt, and NumberChangeNotAllowed is raised. When it
    replaces the number on file, `number_changed` is sent after `verified`. A first number (none on file)
    is confirmed only when `logged_in_at` and `registered` (the session's) allow an enrolment: else
    LoginAgainRequired, without using an attempt; the code stays for a session that may confirm it.
    """
    now = timezone.now()
    challenge = _live_challenge(user, now)
    refuse_if_locked_out(user, now)
    _refuse_unconfirmable(user, challenge, verification, logged_in_at=logged_in_at, registered=registered)
    if not is_well_formed_code(code):
        # Cannot be right: no backend call, no attempt used.
        raise InvalidCode("malformed")
    _reserve_attempt(challenge, now)
    backend = backend_at(challenge.backend)
    _check_at_backend(user, challenge, backend, code, now)
    previous = _confirm(user, challenge, verification)
    _announce(user, challenge, previous)
    return challenge


def _live_challenge(user: AbstractBaseUser, now: datetime) -> Challenge:
    """Return the user's pending challenge; raise CodeExpired (marking it so) or NoPendingVerification."""
    challenge = pending_challenge(user, now)
    if challenge is not None:
        return challenge
    expired = Challenge.objects.filter(user_id=user.pk, status=Status.PENDING, expires_at__lte=now).update(
        status=Status.EXPIRED
    )
    raise CodeExpired("expired") if expired else NoPendingVerification("no pending challenge")


def _refuse_unconfirmable(
    user: AbstractBaseUser,
    challenge: Challenge,
    verification: state.VerifiedState | None,
    *,
    logged_in_at: int | None,
    registered: bool,
) -> None:
    """Raise NumberChangeNotAllowed (ending the challenge) or LoginAgainRequired if this session may not confirm it."""
    current = verified_number(user)
    if current is None:
        refused = first_number_refusal(user, logged_in_at=logged_in_at, registered=registered)
        if refused is not None:
            raise refused
    refusal = number_refusal(current, challenge.number, verification)
    if refusal is None:
        return
    # The code could never be confirmed in this session (verifying the number on file first sends a
    # new code, which replaces this one): end it, at the backend too.
    if set_status(challenge, Status.CANCELLED, only_from=Status.PENDING):
        cancel_at_backend([challenge])
    log_refusal("confirm", user, current, challenge.number, refusal)
    raise refusal


def _reserve_attempt(challenge: Challenge, now: datetime) -> None:
    """Count this check against the challenge's attempts, atomically; raise TooManyAttempts or NoPendingVerification."""
    with transaction.atomic():
        reserved = Challenge.objects.filter(
            pk=challenge.pk, status=Status.PENDING, expires_at__gt=now, attempts__lt=conf.MAX_ATTEMPTS
        ).update(attempts=F("attempts") + 1)
        # Read inside the transaction that holds the row: `attempts` is this request's own attempt number.
        challenge.refresh_from_db()
    if reserved:
        return
    if challenge.status == Status.PENDING and challenge.attempts >= conf.MAX_ATTEMPTS:
        # The request holding the last attempt decides whether the challenge is locked or verified.
        raise TooManyAttempts(provider_request_id=challenge.request_id)
    raise NoPendingVerification("challenge ended")


def _check_at_backend(
    user: AbstractBaseUser, challenge: Challenge, backend: BaseVerifyBackend, code: str, now: datetime
) -> None:
    """Ask the backend whether `code` is right; raise WrongCode, TooManyAttempts (locking), AccountLocked, others."""
    try:
        if challenge.withheld:
            # No code was sent: none is right, and the answer is the one any wrong code gets.
            raise InvalidCode("withheld")
        backend.check(challenge.request_id, code)
    except InvalidCode as exc:
        attempts_left = max(0, conf.MAX_ATTEMPTS - challenge.attempts)
        logger.info("Wrong code: user=%s number=%s attempts_left=%s", user.pk, challenge.masked, attempts_left)
        signals.verification_failed.send(sender=Challenge, user=user, challenge=challenge, attempts_left=attempts_left)
        note_wrong_code(user, challenge, backend, now)
        if attempts_left == 0:
            lock(user, challenge, backend)
            raise TooManyAttempts(provider_request_id=challenge.request_id) from exc
        raise WrongCode(attempts_left=attempts_left, provider_request_id=challenge.request_id) from exc
    except TooManyAttempts:
        lock(user, challenge, backend)
        raise
    except CodeExpired:
        set_status(challenge, Status.EXPIRED, only_from=Status.PENDING)
        logger.info("Code expired at the backend: user=%s number=%s", user.pk, challenge.masked)
        raise
    except VerificationError as exc:
        log_backend_error("check", exc, challenge.number)
        raise
    except Exception as exc:
        logger.exception("Check failed in the backend: number=%s", challenge.masked)
        raise ProviderUnavailable("backend error") from exc


def _confirm(
    user: AbstractBaseUser, challenge: Challenge, verification: state.VerifiedState | None
) -> VerifiedNumber | None:
    """Mark the challenge verified and save its number; return the number on file before, if any.

    Raises NoPendingVerification when a concurrent request used the challenge first,
    NumberChangeNotAllowed when the number on file changed meanwhile so that this session may not replace it,
    and InvalidNumber when, sharing off, another account verified the number meanwhile.
    """
    verified_at = timezone.now()
    with transaction.atomic():
        # The rule is decided again on the locked row about to be replaced: the number on file may have
        # changed (another session, a staff reset) while the backend was checking.
        current = VerifiedNumber.objects.select_for_update().filter(user_id=user.pk).first()
        refusal = number_refusal(current, challenge.number, verification)
        # Exactly one of two concurrent right answers moves the challenge on. EXPIRED is allowed: the
        # loser of such a race hears "expired" from the backend and may mark it so first. A cancelled
        # or locked challenge stays dead.
        verifiable = (Status.PENDING, Status.EXPIRED)
        taken = refusal is None and _taken_by_another_account(user, current, challenge.number, verified_at)
        outcome = Status.VERIFIED if refusal is None and not taken else Status.CANCELLED
        if not Challenge.objects.filter(pk=challenge.pk, status__in=verifiable).update(status=outcome):
            raise NoPendingVerification("already used")
        if outcome == Status.VERIFIED:
            VerifiedNumber.objects.update_or_create(
                user_id=user.pk, defaults={"number": challenge.number, "verified_at": verified_at}
            )
    if refusal is not None:
        log_refusal("confirm", user, current, challenge.number, refusal)
        raise refusal
    if taken:
        logger.warning("Number verified by another account meanwhile: user=%s number=%s", user.pk, challenge.masked)
        raise InvalidNumber("verified by another account")
    challenge.refresh_from_db()
    return current


def _taken_by_another_account(
    user: AbstractBaseUser, current: VerifiedNumber | None, number: str, now: datetime
) -> bool:
    """Tell whether another account verified `number` since this code was sent (sharing off); in the transaction."""
    if conf.NUMBER_SHARING or (current is not None and current.number == number):
        return False
    # The number's lock row: two accounts confirming one number at once are decided one after the other.
    throttling.hold_number(number, now)
    return VerifiedNumber.objects.filter(number=number).exclude(user_id=user.pk).exists()


def _announce(user: AbstractBaseUser, challenge: Challenge, previous: VerifiedNumber | None) -> None:
    """Log and signal a confirmed challenge: `verified`, then `number_changed` if it replaced another number."""
    logger.info("Number verified: user=%s number=%s challenge=%s", user.pk, challenge.masked, challenge.pk)
    signals.verified.send(sender=Challenge, user=user, challenge=challenge)
    if previous is None or previous.number == challenge.number:
        return
    logger.info(
        "Number changed: user=%s old=%s new=%s challenge=%s", user.pk, previous.masked, challenge.masked, challenge.pk
    )
    signals.number_changed.send(
        sender=Challenge, user=user, challenge=challenge, old_number=previous.number, new_number=challenge.number
    )
