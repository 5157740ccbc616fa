"""The use cases that send: start a verification, resend its code, cancel it."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.utils import timezone

from verification import signals, state, throttling
from verification.backends.base import BaseVerifyBackend, code_ttl
from verification.conf import conf
from verification.exceptions import (
    ConcurrentVerification,
    NoPendingVerification,
    ProviderUnavailable,
    VerificationError,
)
from verification.flow._challenges import (
    OPEN_STATUSES,
    RESENDABLE_STATUSES,
    Status,
    backend_at,
    best_effort_cancel,
    cancel_at_backend,
    cancel_stale_request,
    log_backend_error,
    log_refusal,
    logger,
    set_status,
)
from verification.flow._lockout import refuse_if_locked_out
from verification.flow._owners import cancel_other_accounts_codes, owners_of
from verification.flow.queries import available_channels, first_number_refusal, number_refusal, verified_number
from verification.models import Challenge
from verification.phone import destination_refusal, mask_number, parse_number

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

__all__ = ["cancel_verification", "resend_code", "start_verification"]


def start_verification(
    user: AbstractBaseUser,
    number: str,
    *,
    channel: str | None = None,
    ip: str | None = None,
    locale: str | None = None,
    verification: state.VerifiedState | None = None,
    logged_in_at: int | None = None,
    registered: bool = False,
) -> Challenge:
    """Send a new code to `number` for `user` and return the pending challenge.

    The number is normalised (NumberRefused if it cannot take a code); a number other than the one
    on file is refused (NumberChangeNotAllowed) unless `verification`, the session's, allows the
    change; nothing is sent then and no budget is spent. With no number on file, `logged_in_at` and
    `registered` (the session's, `verification.sessions`) must allow a first enrolment
    (`enrolment_refusal`, LoginAgainRequired; left out, they count as unknown). AccountLocked while too
    many of the user's challenges failed. To the number the user verified, other accounts' live codes
    are cancelled first (SendLimitExceeded, scope "other_account", while the provider cannot cancel one
    yet). The send budgets and the resend cooldown are checked under lock, the circuit breakers after
    (SendLimitExceeded, with `retry_after`); the user's older open challenges are cancelled, at the
    backend too; then the backend is asked to send. With VERIFICATION_NUMBER_SHARING off, a number
    another account verified gets no code: the challenge is recorded `withheld` and answers like any
    other, but no code is right for it. Backend failures are re-raised as VerificationError subclasses;
    the attempt still counts against the budgets.
    """
    number = parse_number(number)
    channel = _offered_channel(channel)
    current = verified_number(user)
    refusal = number_refusal(current, number, verification)
    if refusal is not None:
        log_refusal("send", user, current, number, refusal)
        raise refusal
    if current is None:
        refused = first_number_refusal(user, logged_in_at=logged_in_at, registered=registered)
        if refused is not None:
            raise refused
    refuse_if_locked_out(user, timezone.now())
    known = current is not None and current.number == number
    if not known:
        # Rules added after a number was verified never lock its owner out.
        refused_destination = destination_refusal(number, channel, voice_offered="voice" in available_channels())
        if refused_destination is not None:
            raise refused_destination
    if known:
        cancel_other_accounts_codes(user, number, timezone.now())
    # Sharing off: another account's number gets no code, and this account hears what it would hear
    # for any number (a code it cannot know is never right), so nobody learns whose number it is.
    withheld = not known and not conf.NUMBER_SHARING and bool(owners_of(number))
    backend_path = conf.BACKEND
    backend = backend_at(backend_path)
    challenge = _reserve_send(user, number, channel, ip, backend_path, known=known, withheld=withheld)
    if withheld:
        request_id = ""
        logger.warning("Code withheld, the number is another account's: user=%s number=%s", user.pk, challenge.masked)
    else:
        request_id = _send_at_backend(user, challenge, backend, backend_path, locale)
    sent_at = timezone.now()
    activated = Challenge.objects.filter(pk=challenge.pk, status=Status.SENDING).update(
        status=Status.PENDING, request_id=request_id, expires_at=sent_at + timedelta(seconds=code_ttl())
    )
    if not activated:
        # A newer send by the same user replaced this one while the backend was working.
        if request_id:
            best_effort_cancel(backend, request_id)
        raise NoPendingVerification("replaced")
    challenge.refresh_from_db()
    if withheld:
        return challenge
    logger.info(
        "Code sent: user=%s number=%s channel=%s challenge=%s", user.pk, challenge.masked, channel, challenge.pk
    )
    signals.code_sent.send(sender=Challenge, user=user, challenge=challenge, channel=channel)
    return challenge


def _offered_channel(channel: str | None) -> str:
    channels = available_channels()
    channel = channel or channels[0]
    if channel not in channels:
        raise ValueError(f"Channel {channel!r} is not offered; use one of {channels}.")
    return channel


def _reserve_send(
    user: AbstractBaseUser, number: str, channel: str, ip: str | None, backend_path: str, *, known: bool, withheld: bool
) -> Challenge:
    """Spend the send budgets and the breakers, record the challenge (SENDING), then replace the user's open ones."""
    for attempt in range(1, throttling.BREAKER_TRIES + 1):
        now = timezone.now()
        with throttling.send_slot(user.pk, number, ip, now, known=known):
            challenge = Challenge.objects.create(
                user_id=user.pk,
                number=number,
                backend=backend_path,
                channel=channel,
                status=Status.SENDING,
                created_at=now,
                expires_at=now + timedelta(seconds=code_ttl()),
                client_ip=ip,
                known_number=known,
                withheld=withheld,
            )
        if throttling.pass_breakers(challenge, last_try=attempt == throttling.BREAKER_TRIES):
            break
    # Only older ones: the user's sends are serialised by the user's lock, so their pks follow their order,
    # and of two racing sends the later one wins.
    replaced = list(Challenge.objects.filter(user_id=user.pk, status__in=OPEN_STATUSES, pk__lt=challenge.pk))
    Challenge.objects.filter(pk__in=[old.pk for old in replaced], status__in=OPEN_STATUSES).update(
        status=Status.CANCELLED
    )
    cancel_at_backend(replaced)
    throttling.prune_locks(now)
    return challenge


def _send_at_backend(
    user: AbstractBaseUser, challenge: Challenge, backend: BaseVerifyBackend, backend_path: str, locale: str | None
) -> str:
    """Ask the backend to send the code and return its request id; on failure the challenge is UNDELIVERED."""
    number = challenge.number
    try:
        return backend.start(number, channel=challenge.channel, locale=locale)
    except ConcurrentVerification as exc:
        set_status(challenge, Status.UNDELIVERED)
        cancel_stale_request(user, backend, backend_path, exc.provider_request_id)
        logger.warning("Send refused, a verification is in progress: number=%s", mask_number(number))
        raise
    except VerificationError as exc:
        set_status(challenge, Status.UNDELIVERED)
        log_backend_error("send", exc, number)
        raise
    except Exception as exc:
        set_status(challenge, Status.UNDELIVERED)
        logger.exception("Send failed in the backend: number=%s", mask_number(number))
        raise ProviderUnavailable("backend error") from exc


def resend_code(
    user: AbstractBaseUser,
    *,
    ip: str | None = None,
    locale: str | None = None,
    verification: state.VerifiedState | None = None,
    logged_in_at: int | None = None,
    registered: bool = False,
) -> Challenge:
    """Send a new code to the number of the user's latest challenge (cancelling it), after the cooldown.

    Raises NoPendingVerification when the latest challenge was confirmed, cancelled or never sent, and
    NumberChangeNotAllowed when its number is not the one on file and `verification` no longer allows a change,
    LoginAgainRequired as `start_verification` does.
    """
    latest = Challenge.objects.filter(user_id=user.pk).order_by("-created_at", "-pk").first()
    if latest is None or latest.status not in RESENDABLE_STATUSES:
        raise NoPendingVerification("nothing to resend")
    return start_verification(
        user,
        latest.number,
        channel=latest.channel,
        ip=ip,
        locale=locale,
        verification=verification,
        logged_in_at=logged_in_at,
        registered=registered,
    )


def cancel_verification(user: AbstractBaseUser) -> int:
    """Cancel the user's open challenges, at the backend too; return how many there were."""
    # No read-then-write transaction: on SQLite it could fail to take the write lock under load.
    open_challenges = list(Challenge.objects.filter(user_id=user.pk, status__in=OPEN_STATUSES))
    Challenge.objects.filter(pk__in=[c.pk for c in open_challenges], status__in=OPEN_STATUSES).update(
        status=Status.CANCELLED
    )
    cancel_at_backend(open_challenges)
    if open_challenges:
        logger.info("Verification cancelled: user=%s challenges=%s", user.pk, len(open_challenges))
    return len(open_challenges)
