"""`VonageLegacyVerifyBackend`: one SMS or one voice call through the legacy Vonage Verify API (v1)."""

from __future__ import annotations

from typing import Any, ClassVar

from vonage_utils.errors import VonageError
from vonage_verify_legacy import VerifyRequest as LegacyVerifyRequest

from verification.backends.vonage.base import HttpFailure, _AlreadyOver, _VonageBackend
from verification.backends.vonage.sdk import LEGACY_LOCALES, REQUEST_ID, logger, redact, vonage_digits, vonage_locale
from verification.conf import conf
from verification.exceptions import (
    CodeExpired,
    ConcurrentVerification,
    InvalidCode,
    InvalidNumber,
    Misconfigured,
    ProviderThrottled,
    TooManyAttempts,
    VerificationError,
)
from verification.phone import mask_number

__all__ = ["LEGACY_WORKFLOWS", "VonageLegacyVerifyBackend"]

# Legacy predefined workflows with a single event: 6 is one SMS, 7 is one text-to-speech call.
LEGACY_WORKFLOWS = {"sms": 6, "voice": 7}


class VonageLegacyVerifyBackend(_VonageBackend):
    """Send and check codes with the legacy Vonage Verify API (v1), as the original tutorial did.

    Authenticates with VONAGE_API_KEY and VONAGE_API_SECRET only. Sends one SMS (workflow 6) or
    one voice call (workflow 7); the code lives VONAGE_CHANNEL_TIMEOUT seconds.
    """

    api = "legacy"
    endpoint = "verify_legacy"
    channels = ("sms", "voice")
    code_lengths = (4, 6)
    longest_brand = 18
    channel_timeouts = (60, 900)
    locales = LEGACY_LOCALES

    # Statuses every legacy call may answer (besides 0, success).
    _THROTTLED: ClassVar[frozenset[str]] = frozenset({"1"})
    _MISCONFIGURED: ClassVar[frozenset[str]] = frozenset({"2", "4", "8", "20"})

    @classmethod
    def _auth_kwargs(cls) -> dict[str, str]:
        if conf.VONAGE_API_KEY and conf.VONAGE_API_SECRET:
            return {"api_key": conf.VONAGE_API_KEY, "api_secret": conf.VONAGE_API_SECRET}
        raise Misconfigured("the legacy Verify API needs VONAGE_API_KEY and VONAGE_API_SECRET")

    def _shared_http_failure(self, operation: str, *, request_id: str | None, masked: str | None) -> HttpFailure:
        """Return the HTTP failure mapping of `operation`: the legacy API has only the ones both APIs share."""
        return lambda exc: self._http_failure(operation, exc, request_id=request_id, masked=masked)

    def _common_failure(
        self, operation: str, body: dict[str, Any], *, request_id: str | None, masked: str | None
    ) -> VerificationError:
        status = str(body.get("status"))
        text = redact(body.get("error_text", ""))
        if status in self._THROTTLED:
            logger.warning("Vonage Verify legacy %s throttled (status 1)", operation)
            return ProviderThrottled("Vonage rate limit", provider_request_id=request_id)
        if status in self._MISCONFIGURED:
            logger.error("Vonage Verify legacy %s refused: status %s, %s", operation, status, text)
            return Misconfigured(f"Vonage status {status}", provider_request_id=request_id)
        if status == "9":
            return self._unavailable(
                operation,
                "account credit too low (status 9)",
                request_id=request_id,
                masked=masked,
            )
        return self._unavailable(operation, f"status {status}: {text}", request_id=request_id, masked=masked)

    def start(self, number: str, *, channel: str = "sms", locale: str | None = None) -> str:
        """Start a legacy verification of `number` by `channel` and return its request id."""
        digits = vonage_digits(number)
        masked = mask_number(number)
        if channel not in LEGACY_WORKFLOWS:
            raise Misconfigured(f"channel {channel!r} is not one legacy Vonage Verify sends on")
        timeout = conf.VONAGE_CHANNEL_TIMEOUT
        try:
            request = LegacyVerifyRequest(
                number=digits,
                brand=conf.BRAND,
                code_length=conf.CODE_LENGTH,
                lg=vonage_locale(locale, self.locales),
                workflow_id=LEGACY_WORKFLOWS[channel],
                # One event, so the code lives as long as its wait; equal values keep the SDK from warning.
                next_event_wait=timeout,
                pin_expiry=timeout,
            )
        except (VonageError, ValueError) as exc:
            raise Misconfigured(f"the settings make an invalid Verify request ({type(exc).__name__})") from None
        response = self._call(
            "start",
            lambda api: api.start_verification(request),
            request_id=None,
            masked=masked,
            http_failure=self._shared_http_failure("start", request_id=None, masked=masked),
            on_status_error=lambda body: self._start_failure(body, masked),
        )
        logger.info("Vonage Verify legacy request %s started to %s by %s", response.request_id, masked, channel)
        return str(response.request_id)

    def _start_failure(self, body: dict[str, Any], masked: str) -> VerificationError:
        status = str(body.get("status"))
        text = redact(body.get("error_text", ""))
        if status == "10":
            active = str(body.get("request_id") or "") or None
            logger.info("Vonage Verify legacy refused a concurrent verification to %s (active %s)", masked, active)
            return ConcurrentVerification("a verification to this number is in progress", provider_request_id=active)
        if status == "3" and "number" not in text.lower():
            logger.error("Vonage Verify legacy start refused a parameter: %s", text)
            return Misconfigured(f"Vonage status 3: {text}")
        if status in {"3", "6", "7", "15", "29"}:
            # 3 invalid number, 6 unroutable, 7 blacklisted, 15 unsupported network, 29 not on a demo
            # account's approved list: this number cannot get a code from this account.
            log = logger.warning if status == "29" else logger.info
            log("Vonage Verify legacy cannot send to %s: status %s, %s", masked, status, text)
            return InvalidNumber(f"Vonage status {status}")
        return self._common_failure("start", body, request_id=None, masked=masked)

    def check(self, request_id: str, code: str) -> None:
        """Return when `code` is right for the legacy request `request_id`; raise InvalidCode, CodeExpired..."""
        if not REQUEST_ID.fullmatch(request_id):
            raise CodeExpired("not a Vonage request id", provider_request_id=request_id)
        self._call(
            "check",
            lambda api: api.check_code(request_id, code),
            request_id=request_id,
            masked=None,
            http_failure=self._shared_http_failure("check", request_id=request_id, masked=None),
            on_status_error=lambda body: self._check_failure(body, request_id),
        )
        logger.info("Vonage Verify legacy request %s completed", request_id)

    def _check_failure(self, body: dict[str, Any], request_id: str) -> VerificationError:
        status = str(body.get("status"))
        text = str(body.get("error_text", "")).lower()
        if status == "16" or (status == "3" and "code" in text and "request_id" not in text):
            return InvalidCode("wrong code", provider_request_id=request_id)
        if status == "17":
            return TooManyAttempts("too many wrong codes", provider_request_id=request_id)
        if status in {"3", "6"}:
            return CodeExpired("unknown, finished or already verified", provider_request_id=request_id)
        return self._common_failure("check", body, request_id=request_id, masked=None)

    def _cancel(self, request_id: str) -> None:
        self._call(
            "cancel",
            lambda api: api.cancel_verification(request_id),
            request_id=request_id,
            masked=None,
            http_failure=self._shared_http_failure("cancel", request_id=request_id, masked=None),
            on_status_error=lambda body: self._cancel_failure(body, request_id),
        )

    def _cancel_failure(self, body: dict[str, Any], request_id: str) -> VerificationError:
        status = str(body.get("status"))
        if status in {"3", "6"}:
            return _AlreadyOver("unknown or finished", provider_request_id=request_id)
        if status == "19":
            return ConcurrentVerification("Vonage cannot cancel it now", provider_request_id=request_id)
        return self._common_failure("cancel", body, request_id=request_id, masked=None)
