"""The flow's questions, answered without changing anything: channels, codes, the number on file, the challenge."""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.module_loading import import_string

from verification import state, throttling
from verification.conf import conf
from verification.exceptions import LoginAgainRequired, NumberChangeNotAllowed
from verification.models import Challenge, NumberReset, VerifiedNumber

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

__all__ = [
    "available_channels",
    "enrolment_refusal",
    "first_number_refusal",
    "is_well_formed_code",
    "number_change_refusal",
    "number_refusal",
    "pending_challenge",
    "resend_available_in",
    "verified_number",
]


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


def enrolment_refusal(
    user: AbstractBaseUser, *, logged_in_at: int | None, registered: bool, now: float | None = None
) -> LoginAgainRequired | None:
    """Return why a session of `user` may not enrol a first number (none on file); None if it may.

    `logged_in_at` (Unix seconds) and `registered` describe the session (`verification.sessions`).
    After a staff reset, only a registered session that logged in after the user's last `NumberReset`
    may enrol: whoever kept a session from before (the lost phone's browser) must know the password.
    With VERIFICATION_STAFF_ENROLMENT_LOGIN_MAX_AGE set, a staff user may enrol only that many seconds
    after logging in. Unknown login times are refused. A user with a number on file is not enrolling: None.
    """
    if verified_number(user) is not None:
        return None
    return first_number_refusal(user, logged_in_at=logged_in_at, registered=registered, now=now)


def first_number_refusal(
    user: AbstractBaseUser, *, logged_in_at: int | None, registered: bool, now: float | None = None
) -> LoginAgainRequired | None:
    """`enrolment_refusal` for a caller that knows `user` has no number on file (one query fewer)."""
    window = conf.STAFF_ENROLMENT_LOGIN_MAX_AGE
    if window is not None and getattr(user, "is_staff", False):
        now = time.time() if now is None else now
        if logged_in_at is None or not registered or now - logged_in_at > window:
            return LoginAgainRequired(reason=LoginAgainRequired.STAFF_WINDOW)
    last_reset = NumberReset.objects.filter(user_id=user.pk).order_by("-at").values_list("at", flat=True).first()
    if last_reset is None:
        return None
    # Whole seconds on the session's side: a login in the same second as the reset counts as before it.
    if logged_in_at is None or not registered or logged_in_at <= last_reset.timestamp():
        return LoginAgainRequired(reason=LoginAgainRequired.BEFORE_RESET)
    return None


def pending_challenge(user: AbstractBaseUser, now: datetime | None = None) -> Challenge | None:
    """Return the newest challenge of `user` still waiting for its code, if any."""
    return (
        Challenge.objects.filter(user_id=user.pk, status=Challenge.Status.PENDING, expires_at__gt=now or timezone.now())
        .order_by("-created_at", "-pk")
        .first()
    )


def resend_available_in(challenge: Challenge, now: datetime | None = None) -> int | None:
    """Seconds until a new code may be sent to the number of `challenge`; None if now."""
    return throttling.cooldown_retry_after(challenge.user_id, challenge.number, now or timezone.now())
