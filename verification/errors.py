"""What each failure means to the user: its message, its HTTP status and the next step, keyed by `code`.

One row per `code` of `verification.exceptions`; the HTML views (and any JSON view) look the row up
instead of testing exception classes one by one, so the order of a chain can never decide a message.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from verification import throttling
from verification.exceptions import NumberChangeNotAllowed, VerificationError

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

__all__ = [
    "ERRORS",
    "LOG_IN_AGAIN",
    "NEW_CODE",
    "RETRY",
    "VERIFY_CURRENT_NUMBER",
    "WAIT",
    "Outcome",
    "describe",
    "outcome_for",
    "wait_text",
]

#: The same step may be tried again at once: another code, another number, the same request.
RETRY = "retry"
#: The same step works again later (`retry_after` seconds, when the exception knows them).
WAIT = "wait"
#: This code is over: ask for a new one.
NEW_CODE = "new_code"
#: The session must verify the number on file before it may use another one.
VERIFY_CURRENT_NUMBER = "verify_current_number"
#: This session may not register a phone number: the user must log out and log in again.
LOG_IN_AGAIN = "log_in_again"


def wait_text(seconds: int) -> str:
    """Say how long to wait: in seconds under a minute, in hours from two hours, else in minutes (rounded up)."""
    if seconds < 60:
        return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}
    if seconds >= 2 * 3600:
        hours = math.ceil(seconds / 3600)
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    minutes = math.ceil(seconds / 60)
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


@dataclass(frozen=True)
class Outcome:
    """What a failure means: the `message` a user reads for an exception, its HTTP `status`, the `next_step`."""

    message: Callable[[Any], StrOrPromise]
    status: int
    next_step: str


def _fixed(message: StrOrPromise) -> Callable[[Any], StrOrPromise]:
    return lambda exc: message


def _send_limit(exc: Any) -> StrOrPromise:
    wait = {"wait": wait_text(exc.retry_after)}
    if exc.scope == throttling.SCOPE_COOLDOWN:
        return _("A code was sent only a moment ago. You can ask for a new one in %(wait)s.") % wait
    if exc.scope == throttling.SCOPE_OTHER_ACCOUNT:
        return (
            _(
                "A code asked for from another account is still on its way to your number. "
                "You can ask for yours in %(wait)s."
            )
            % wait
        )
    if exc.scope == throttling.SCOPE_REGION:
        return _("Codes cannot be sent to this destination right now. Try again in %(wait)s.") % wait
    if exc.scope == throttling.SCOPE_GLOBAL:
        return _("Codes cannot be sent right now. Try again in %(wait)s.") % wait
    return _("Too many codes have been requested. Try again in %(wait)s.") % wait


def _wrong_code(exc: Any) -> StrOrPromise:
    return ngettext(
        "That code is not right. You can try %(count)d more time.",
        "That code is not right. You can try %(count)d more times.",
        exc.attempts_left,
    ) % {"count": exc.attempts_left}


def _number_change(exc: Any) -> StrOrPromise:
    if exc.reason == NumberChangeNotAllowed.STALE:
        return _(
            "You verified your current number too long ago to change it now. "
            "Verify your current number again, then enter the new one."
        )
    return _("To use another number, first verify your current number. Then you can enter the new one.")


def _account_locked(exc: Any) -> StrOrPromise:
    return _(
        "Too many wrong codes were entered for this account, so codes are stopped for %(wait)s. "
        "If you did not enter them, change your password. To get in sooner, ask the site's staff "
        "to reset your phone number."
    ) % {"wait": wait_text(exc.retry_after)}


def _throttled(exc: Any) -> StrOrPromise:
    if exc.retry_after:
        return _("The messaging service is busy. Try again in %(wait)s.") % {"wait": wait_text(exc.retry_after)}
    return _("The messaging service is busy. Try again in a few minutes.")


#: code -> what it means. Every `code` of verification.exceptions has exactly one row (a test says so).
ERRORS: dict[str, Outcome] = {
    "error": Outcome(_fixed(_("Something went wrong with the verification. Please try again.")), 400, NEW_CODE),
    "invalid_code": Outcome(_fixed(_("That code is not right.")), 400, RETRY),
    "wrong_code": Outcome(_wrong_code, 400, RETRY),
    "expired": Outcome(_fixed(_("That code has expired. Ask for a new code.")), 400, NEW_CODE),
    "no_pending": Outcome(_fixed(_("No code is waiting to be confirmed. Ask for a new code.")), 400, NEW_CODE),
    "too_many_attempts": Outcome(
        _fixed(_("Too many wrong codes: that code no longer works. Ask for a new code.")), 400, NEW_CODE
    ),
    "concurrent": Outcome(
        # Another verification holds the number at the provider: a new code, once it has ended.
        _fixed(_("A code is already on its way to this number. Wait a minute, then try again.")),
        400,
        NEW_CODE,
    ),
    "invalid_number": Outcome(
        _fixed(_("This number cannot receive a code. Check it, or use another number.")), 400, RETRY
    ),
    "number_refused": Outcome(lambda exc: exc.user_message, 400, RETRY),
    "send_limit": Outcome(_send_limit, 429, WAIT),
    "throttled": Outcome(_throttled, 429, WAIT),
    "unavailable": Outcome(
        _fixed(_("We could not reach the messaging service. Please try again in a moment.")), 503, RETRY
    ),
    "misconfigured": Outcome(
        _fixed(_("Phone verification is not available right now. Please try again later.")), 503, WAIT
    ),
    "number_change_not_allowed": Outcome(_number_change, 403, VERIFY_CURRENT_NUMBER),
    "account_locked": Outcome(_account_locked, 429, WAIT),
    "login_again": Outcome(
        _fixed(_("To register a phone number, log out and log in again with your password.")), 403, LOG_IN_AGAIN
    ),
}


def outcome_for(exc: VerificationError) -> Outcome:
    """Return what `exc` means, by its `code`.

    A code without a row (a custom backend's own exception) reads as the nearest base class's code.
    """
    for klass in type(exc).__mro__:
        outcome = ERRORS.get(getattr(klass, "code", ""))
        if outcome is not None:
            return outcome
    return ERRORS[VerificationError.code]


def describe(exc: VerificationError) -> StrOrPromise:
    """Return the message a user sees for `exc`, saying what to do next."""
    return outcome_for(exc).message(exc)
