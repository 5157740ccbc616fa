"""The verification use cases: send a code, check it, resend, cancel; plain functions with no HTTP in them.

Views (and any later JSON API) are thin adapters: they pass the user, the client address and the
locale, and turn the `VerificationError` subclasses raised here into messages. The pending challenge
is always looked up in the database (the user's newest live one), never kept in the session, so a
replayed or late request finds nothing to act on and any worker can serve any step.

A user with a verified number on file verifies with that number. A code to another number is sent,
and confirmed, only in a session that verified the number on file within
VERIFICATION_NUMBER_CHANGE_MAX_AGE seconds (`number_refusal`): otherwise a stolen password alone would
let anyone enrol their own phone and pass the second factor. The callers pass the session's
verification (`verification.state.get_state`) as `verification`; leaving it out counts as none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F
from django.middleware.csrf import rotate_token
from django.utils import timezone
from django.utils.module_loading import import_string

from verification import signals, state, throttling
from verification.backends.base import BaseVerifyBackend, code_ttl, get_backend
from verification.conf import conf
from verification.exceptions import (
    CodeExpired,
    ConcurrentVerification,
    InvalidCode,
    Misconfigured,
    NoPendingVerification,
    NumberChangeNotAllowed,
    ProviderUnavailable,
    TooManyAttempts,
    VerificationError,
)
from verification.models import Challenge, VerifiedNumber
from verification.phone import mask_number, parse_number

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.http import HttpRequest

logger = logging.getLogger(__name__)

Status = Challenge.Status
#: Challenges that may still get a code: being sent, or sent and waiting.
OPEN_STATUSES = (Status.SENDING, Status.PENDING)
#: A resend goes to the number of the user's latest challenge when it ended in one of these.
RESENDABLE_STATUSES = (Status.PENDING, Status.EXPIRED, Status.LOCKED)


class WrongCode(InvalidCode):
    """The code is wrong and the challenge still lives; `attempts_left` more codes may be tried."""

    def __init__(self, message: str = "", *, attempts_left: int, provider_request_id: str | None = None) -> None:
        super().__init__(message, provider_request_id=provider_request_id)
        self.attempts_left = attempts_left


def available_channels() -> list[str]:
    """Return the channels offered to users: VERIFICATION_CHANNELS that the configured backend supports."""
    try:
        supported = import_string(conf.BACKEND).channels
    except ImportError:
        # Reported by the system checks; sending will raise Misconfigured.
        supported = ()
    channels = [channel for channel in conf.CHANNELS if channel in supported]
    # A mismatch is reported by the system checks; the flow still offers the first configured channel.
    return channels or list(conf.CHANNELS[:1]) or ["sms"]


def is_well_formed_code(code: object) -> bool:
    """Tell whether `code` is exactly VERIFICATION_CODE_LENGTH ASCII digits (leading zeros count)."""
    return isinstance(code, str) and len(code) == conf.CODE_LENGTH and code.isascii() and code.isdigit()


def verified_number(user: AbstractBaseUser) -> VerifiedNumber | None:
    """Return the number `user` last confirmed, if any."""
    return VerifiedNumber.objects.filter(user_id=user.pk).first()


def number_change_refusal(
    current: VerifiedNumber | None, verification: state.VerifiedState | None, now: float | None = None
) -> NumberChangeNotAllowed | None:
    """Return why a session holding `verification` may not replace the number on file `current`; None if it may.

    With no number on file, any number may be enrolled. Otherwise the session must hold a verification
    of exactly the number on file, made within VERIFICATION_NUMBER_CHANGE_MAX_AGE seconds.
    """
    if current is None:
        return None
    if verification is None or verification.number != current.number:
        return NumberChangeNotAllowed(reason=NumberChangeNotAllowed.UNVERIFIED)
    if verification.age(now) > conf.NUMBER_CHANGE_MAX_AGE:
        return NumberChangeNotAllowed(reason=NumberChangeNotAllowed.STALE)
    return None


def number_refusal(
    current: VerifiedNumber | None, number: str, verification: state.VerifiedState | None, now: float | None = None
) -> NumberChangeNotAllowed | None:
    """Return why a code to `number` (E.164) may not be sent or confirmed in a session holding `verification`.

    None when it may: the number is the one on file (`current`), there is none on file, or the session
    may change it (`number_change_refusal`).
    """
    if current is None or number == current.number:
        return None
    return number_change_refusal(current, verification, now)


def pending_challenge(user: AbstractBaseUser, now: datetime | None = None) -> Challenge | None:
    """Return the newest challenge of `user` still waiting for its code, if any."""
    return (
        Challenge.objects.filter(user_id=user.pk, status=Status.PENDING, expires_at__gt=now or timezone.now())
        .order_by("-created_at", "-pk")
        .first()
    )


def resend_available_in(challenge: Challenge, now: datetime | None = None) -> int | None:
    """Seconds until a new code may be sent to the number of `challenge`; None if now."""
    return throttling.cooldown_retry_after(challenge.user_id, challenge.number, now or timezone.now())


def start_verification(
    user: AbstractBaseUser,
    number: str,
    *,
    channel: str | None = None,
    ip: str | None = None,
    locale: str | None = None,
    verification: state.VerifiedState | None = None,
) -> Challenge:
    """Send a new code to `number` for `user` and return the pending challenge.

    The number is normalised (NumberRefused if it cannot take a code); a number other than the one
    on file is refused (NumberChangeNotAllowed) unless `verification`, the session's, allows the
    change; nothing is sent then and no budget is spent. The send budgets and the
    resend cooldown are checked under lock (SendLimitExceeded, with `retry_after`); the user's
    open challenges are cancelled, at the backend too; then the backend is asked to send. Backend
    failures are re-raised as VerificationError subclasses; the attempt still counts against the budgets.
    """
    number = parse_number(number)
    channels = available_channels()
    channel = channel or channels[0]
    if channel not in channels:
        raise ValueError(f"Channel {channel!r} is not offered; use one of {channels}.")
    current = verified_number(user)
    refusal = number_refusal(current, number, verification)
    if refusal is not None:
        _log_refusal("send", user, current, number, refusal)
        raise refusal
    backend_path = conf.BACKEND
    backend = _backend(backend_path)
    now = timezone.now()
    with throttling.send_slot(user.pk, number, ip, now):
        replaced = list(Challenge.objects.filter(user_id=user.pk, status__in=OPEN_STATUSES))
        Challenge.objects.filter(pk__in=[old.pk for old in replaced]).update(status=Status.CANCELLED)
        challenge = Challenge.objects.create(
            user_id=user.pk,
            number=number,
            backend=backend_path,
            channel=channel,
            status=Status.SENDING,
            created_at=now,
            expires_at=now + timedelta(seconds=code_ttl()),
            client_ip=ip,
        )
    _cancel_at_backend(replaced)
    try:
        request_id = backend.start(number, channel=channel, locale=locale)
    except ConcurrentVerification as exc:
        _set_status(challenge, Status.UNDELIVERED)
        _cancel_stale_request(user, backend, backend_path, exc.provider_request_id)
        logger.warning("Send refused, a verification is in progress: number=%s", mask_number(number))
        raise
    except VerificationError as exc:
        _set_status(challenge, Status.UNDELIVERED)
        _log_backend_error("send", exc, number)
        raise
    except Exception as exc:
        _set_status(challenge, Status.UNDELIVERED)
        logger.exception("Send failed in the backend: number=%s", mask_number(number))
        raise ProviderUnavailable("backend error") from exc

    sent_at = timezone.now()
    activated = Challenge.objects.filter(pk=challenge.pk, status=Status.SENDING).update(
        status=Status.PENDING, request_id=request_id, expires_at=sent_at + timedelta(seconds=code_ttl())
    )
    if not activated:
        # A newer send by the same user replaced this one while the backend was working.
        _best_effort_cancel(backend, request_id)
        raise NoPendingVerification("replaced")
    challenge.refresh_from_db()
    logger.info(
        "Code sent: user=%s number=%s channel=%s challenge=%s", user.pk, challenge.masked, channel, challenge.pk
    )
    signals.code_sent.send(sender=Challenge, user=user, challenge=challenge, channel=channel)
    return challenge


def resend_code(
    user: AbstractBaseUser,
    *,
    ip: str | None = None,
    locale: str | None = None,
    verification: state.VerifiedState | None = None,
) -> Challenge:
    """Send a new code to the number of the user's latest challenge (cancelling it), after the cooldown.

    Raises NoPendingVerification when the latest challenge was confirmed, cancelled or never sent, and
    NumberChangeNotAllowed when its number is not the one on file and `verification` no longer allows a change.
    """
    latest = Challenge.objects.filter(user_id=user.pk).order_by("-created_at", "-pk").first()
    if latest is None or latest.status not in RESENDABLE_STATUSES:
        raise NoPendingVerification("nothing to resend")
    return start_verification(
        user, latest.number, channel=latest.channel, ip=ip, locale=locale, verification=verification
    )


def check_code(user: AbstractBaseUser, code: str, *, verification: state.VerifiedState | None = None) -> Challenge:
    """Check `code` against the user's pending challenge; on success, save the number and return the challenge.

    The attempt is reserved in the database before the backend is asked, so at most
    VERIFICATION_MAX_ATTEMPTS checks reach the backend per challenge, however many workers race.
    Raises WrongCode (attempts left), TooManyAttempts (the challenge is dead, even for the right
    code), CodeExpired / NoPendingVerification, or the backend's other errors. A challenge to a number
    other than the one on file is confirmed only while `verification` (the session's) allows the change:
    else it is cancelled, without using an attempt, and NumberChangeNotAllowed is raised. When it
    replaces the number on file, `number_changed` is sent after `verified`.
    """
    now = timezone.now()
    challenge = pending_challenge(user, now)
    if challenge is None:
        expired = Challenge.objects.filter(user_id=user.pk, status=Status.PENDING, expires_at__lte=now).update(
            status=Status.EXPIRED
        )
        raise CodeExpired("expired") if expired else NoPendingVerification("no pending challenge")
    current = verified_number(user)
    refusal = number_refusal(current, challenge.number, verification)
    if refusal is not None:
        # The code could never be confirmed in this session (verifying the number on file first sends a
        # new code, which replaces this one): end it, at the backend too.
        if _set_status(challenge, Status.CANCELLED, only_from=Status.PENDING):
            _cancel_at_backend([challenge])
        _log_refusal("confirm", user, current, challenge.number, refusal)
        raise refusal
    if not is_well_formed_code(code):
        # Cannot be right: no backend call, no attempt used.
        raise InvalidCode("malformed")
    with transaction.atomic():
        reserved = Challenge.objects.filter(
            pk=challenge.pk, status=Status.PENDING, expires_at__gt=now, attempts__lt=conf.MAX_ATTEMPTS
        ).update(attempts=F("attempts") + 1)
        # Read inside the transaction that holds the row: `attempts` is this request's own attempt number.
        challenge.refresh_from_db()
    if not reserved:
        if challenge.status == Status.PENDING and challenge.attempts >= conf.MAX_ATTEMPTS:
            # The request holding the last attempt decides whether the challenge is locked or verified.
            raise TooManyAttempts(provider_request_id=challenge.request_id)
        raise NoPendingVerification("challenge ended")
    backend = _backend(challenge.backend)
    try:
        backend.check(challenge.request_id, code)
    except InvalidCode as exc:
        attempts_left = max(0, conf.MAX_ATTEMPTS - challenge.attempts)
        logger.info("Wrong code: user=%s number=%s attempts_left=%s", user.pk, challenge.masked, attempts_left)
        signals.verification_failed.send(sender=Challenge, user=user, challenge=challenge, attempts_left=attempts_left)
        if attempts_left == 0:
            _lock(user, challenge, backend)
            raise TooManyAttempts(provider_request_id=challenge.request_id) from exc
        raise WrongCode(attempts_left=attempts_left, provider_request_id=challenge.request_id) from exc
    except TooManyAttempts:
        _lock(user, challenge, backend)
        raise
    except CodeExpired:
        _set_status(challenge, Status.EXPIRED, only_from=Status.PENDING)
        logger.info("Code expired at the backend: user=%s number=%s", user.pk, challenge.masked)
        raise
    except VerificationError as exc:
        _log_backend_error("check", exc, challenge.number)
        raise
    except Exception as exc:
        logger.exception("Check failed in the backend: number=%s", challenge.masked)
        raise ProviderUnavailable("backend error") from exc

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
        outcome = Status.VERIFIED if refusal is None else Status.CANCELLED
        if not Challenge.objects.filter(pk=challenge.pk, status__in=verifiable).update(status=outcome):
            raise NoPendingVerification("already used")
        if refusal is None:
            VerifiedNumber.objects.update_or_create(
                user_id=user.pk, defaults={"number": challenge.number, "verified_at": verified_at}
            )
    if refusal is not None:
        _log_refusal("confirm", user, current, challenge.number, refusal)
        raise refusal
    challenge.refresh_from_db()
    logger.info("Number verified: user=%s number=%s challenge=%s", user.pk, challenge.masked, challenge.pk)
    signals.verified.send(sender=Challenge, user=user, challenge=challenge)
    if current is not None and current.number != challenge.number:
        logger.info(
            "Number changed: user=%s old=%s new=%s challenge=%s",
            user.pk,
            current.masked,
            challenge.masked,
            challenge.pk,
        )
        signals.number_changed.send(
            sender=Challenge, user=user, challenge=challenge, old_number=current.number, new_number=challenge.number
        )
    return challenge


def cancel_verification(user: AbstractBaseUser) -> int:
    """Cancel the user's open challenges, at the backend too; return how many there were."""
    # No read-then-write transaction: on SQLite it could fail to take the write lock under load.
    open_challenges = list(Challenge.objects.filter(user_id=user.pk, status__in=OPEN_STATUSES))
    Challenge.objects.filter(pk__in=[c.pk for c in open_challenges], status__in=OPEN_STATUSES).update(
        status=Status.CANCELLED
    )
    _cancel_at_backend(open_challenges)
    if open_challenges:
        logger.info("Verification cancelled: user=%s challenges=%s", user.pk, len(open_challenges))
    return len(open_challenges)


def mark_session_verified(request: HttpRequest, number: str) -> None:
    """Mark the session verified for `number`, then give it a new key and a new CSRF token."""
    state.mark_verified(request, number)
    # A new session key and CSRF token: whatever an attacker fixed or saw before is worthless now.
    request.session.cycle_key()
    rotate_token(request)


def _backend(path: str) -> BaseVerifyBackend:
    try:
        return get_backend(path)
    except ImportError as exc:
        logger.error("Verify backend cannot be imported: %s", path)
        raise Misconfigured(f"cannot import {path}") from exc


def _log_refusal(
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


def _lock(user: AbstractBaseUser, challenge: Challenge, backend: BaseVerifyBackend) -> None:
    if not _set_status(challenge, Status.LOCKED, only_from=Status.PENDING):
        return
    _best_effort_cancel(backend, challenge.request_id)
    logger.warning("Challenge locked after too many wrong codes: user=%s number=%s", user.pk, challenge.masked)
    signals.verification_locked.send(sender=Challenge, user=user, challenge=challenge)


def _set_status(challenge: Challenge, status: str, *, only_from: str | None = None) -> bool:
    rows = Challenge.objects.filter(pk=challenge.pk)
    if only_from is not None:
        rows = rows.filter(status=only_from)
    changed = bool(rows.update(status=status))
    if changed:
        challenge.status = status
    return changed


def _cancel_at_backend(challenges: Iterable[Challenge]) -> None:
    for challenge in challenges:
        if challenge.request_id:
            try:
                backend = _backend(challenge.backend)
            except Misconfigured:
                continue
            _best_effort_cancel(backend, challenge.request_id)


def _cancel_stale_request(
    user: AbstractBaseUser, backend: BaseVerifyBackend, backend_path: str, request_id: str | None
) -> None:
    """Cancel the provider request that blocks a new send, unless it is another user's live verification."""
    if not request_id:
        return
    owner = Challenge.objects.filter(backend=backend_path, request_id=request_id).values_list("user_id", flat=True)
    owners = set(owner)
    if owners and owners != {user.pk}:
        return
    _best_effort_cancel(backend, request_id)
    Challenge.objects.filter(backend=backend_path, request_id=request_id, status__in=OPEN_STATUSES).update(
        status=Status.CANCELLED
    )


def _best_effort_cancel(backend: BaseVerifyBackend, request_id: str) -> None:
    # A failed cancel only leaves a code that expires on its own: log it, never fail the user's request.
    try:
        backend.cancel(request_id)
    except Exception as exc:
        # The exception's text may quote the provider's reply: log only its kind.
        logger.warning("Cancel failed at the backend: request_id=%s error=%s", request_id, type(exc).__name__)


def _log_backend_error(action: str, exc: VerificationError, number: str) -> None:
    level = logging.ERROR if isinstance(exc, Misconfigured) else logging.WARNING
    logger.log(level, "Backend refused to %s: error=%s number=%s", action, exc.code, mask_number(number))
