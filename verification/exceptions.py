"""Every exception a caller of the app may catch, each with a stable `code`.

`VerificationError` and its subclasses are what backends and the flow raise; `verification.errors`
turns each `code` into the user's message, an HTTP status and the next step. `InvalidRule` is a
configuration error in the URL rules, reported by the system checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

__all__ = [
    "AccountLocked",
    "CodeExpired",
    "ConcurrentVerification",
    "InvalidCode",
    "InvalidNumber",
    "InvalidRule",
    "LoginAgainRequired",
    "Misconfigured",
    "NoPendingVerification",
    "NumberChangeNotAllowed",
    "NumberRefused",
    "ProviderThrottled",
    "ProviderUnavailable",
    "SendLimitExceeded",
    "TooManyAttempts",
    "VerificationError",
    "WrongCode",
]


class VerificationError(Exception):
    """Base of every verification failure; `code` names it for forms, logs and JSON."""

    code = "error"

    def __init__(self, message: str = "", *, provider_request_id: str | None = None) -> None:
        super().__init__(message or self.code)
        self.provider_request_id = provider_request_id


class InvalidCode(VerificationError):
    """The code does not match; the user may try again."""

    code = "invalid_code"


class WrongCode(InvalidCode):
    """The code is wrong and the challenge still lives; `attempts_left` more codes may be tried."""

    code = "wrong_code"

    def __init__(self, message: str = "", *, attempts_left: int, provider_request_id: str | None = None) -> None:
        super().__init__(message, provider_request_id=provider_request_id)
        self.attempts_left = attempts_left


class CodeExpired(VerificationError):
    """The challenge is over (expired, cancelled, already used or unknown to the provider)."""

    code = "expired"


class TooManyAttempts(VerificationError):
    """Too many wrong codes: the challenge is dead, even for the right code."""

    code = "too_many_attempts"


class ConcurrentVerification(VerificationError):
    """A verification to this number is already in progress at the provider."""

    code = "concurrent"


class InvalidNumber(VerificationError):
    """The number cannot receive a code (invalid, unsupported or refused destination)."""

    code = "invalid_number"


class NumberRefused(InvalidNumber):
    """A number refused before any provider is asked; `reason` is a stable code, `user_message` says why."""

    code = "number_refused"

    def __init__(self, reason: str, user_message: str | StrOrPromise) -> None:
        super().__init__(reason)
        self.reason = reason
        self.user_message = user_message


class ProviderThrottled(VerificationError):
    """The provider refuses for now (rate limit, quota); `retry_after` in seconds when known."""

    code = "throttled"

    def __init__(
        self, message: str = "", *, provider_request_id: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message, provider_request_id=provider_request_id)
        self.retry_after = retry_after


class ProviderUnavailable(VerificationError):
    """The provider could not be reached or failed; nothing is known to have been sent."""

    code = "unavailable"


class Misconfigured(VerificationError):
    """The backend's configuration or credentials are wrong; an operator must act."""

    code = "misconfigured"


class NoPendingVerification(CodeExpired):
    """No code is waiting for this user: never sent, already used, cancelled or replaced."""

    code = "no_pending"


class SendLimitExceeded(VerificationError):
    """A send budget (or the resend cooldown) refuses a new code for `retry_after` seconds.

    `scope` names the limit: "user", "number" and "foreign" (the number's budgets for accounts that have
    not verified it), "ip" (the client's network), "cooldown", "other_account" (another account's code
    to the owner's number cannot be cancelled at the provider yet), or one of the toll-fraud circuit
    breakers, "region" (the destination's region) and "global" (the whole site).
    """

    code = "send_limit"

    def __init__(self, message: str = "", *, retry_after: int, scope: str) -> None:
        super().__init__(message or f"{scope} limit")
        self.retry_after = retry_after
        self.scope = scope


class AccountLocked(VerificationError):
    """Too many challenges failed within VERIFICATION_FAILED_CHALLENGE_WINDOW: no code is sent or checked.

    It lasts `retry_after` seconds, until the oldest counted failure leaves the window, or until staff
    reset the user's number.
    """

    code = "account_locked"

    def __init__(self, message: str = "", *, retry_after: int) -> None:
        super().__init__(message or "too many failed challenges")
        self.retry_after = retry_after


class NumberChangeNotAllowed(VerificationError):
    """A code to a number other than the verified one on file, refused: this session must verify that one first.

    A stolen password alone must not be enough to swap the second factor. `reason` says what is
    missing: UNVERIFIED (this session holds no verification of the number on file) or STALE (it
    does, made more than VERIFICATION_NUMBER_CHANGE_MAX_AGE seconds ago).
    """

    code = "number_change_not_allowed"
    UNVERIFIED = "unverified"
    STALE = "stale"

    def __init__(self, message: str = "", *, reason: str, provider_request_id: str | None = None) -> None:
        super().__init__(message or f"number change refused: {reason}", provider_request_id=provider_request_id)
        self.reason = reason


class LoginAgainRequired(VerificationError):
    """A first number (no number on file) refused in this session: the user must log in again to enrol one.

    Whoever holds a session opened before a staff reset (the stolen phone's browser, say) must not be
    able to enrol their own number without the password. `reason` says which rule refused: BEFORE_RESET
    (the session logged in before the user's last number reset, or cannot tell when it logged in) or
    STAFF_WINDOW (a staff user more than VERIFICATION_STAFF_ENROLMENT_LOGIN_MAX_AGE seconds after logging in).
    """

    code = "login_again"
    BEFORE_RESET = "before_reset"
    STAFF_WINDOW = "staff_window"

    def __init__(self, message: str = "", *, reason: str = BEFORE_RESET) -> None:
        super().__init__(message or f"enrolment refused: {reason}")
        self.reason = reason


class InvalidRule(ValueError):
    """A URL rule that cannot be used; `check_id` is the system check that reports it."""

    code = "invalid_rule"

    def __init__(self, message: str, check_id: str) -> None:
        super().__init__(message)
        self.check_id = check_id
