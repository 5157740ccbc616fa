"""`VonageVerifyBackend`: codes by SMS, voice or WhatsApp through the Vonage Verify v2 API."""

from __future__ import annotations

import re
from typing import Any

from vonage_http_client.errors import HttpRequestError
from vonage_utils.errors import VonageError
from vonage_verify import ChannelType, SmsChannel, VerifyRequest, VoiceChannel, WhatsappChannel

from verification.backends.vonage.base import _AlreadyOver, _VonageBackend
from verification.backends.vonage.sdk import (
    REQUEST_ID,
    V2_LOCALES,
    is_sender,
    json_body,
    logger,
    parse_private_key,
    read_private_key,
    redact,
    vonage_digits,
    vonage_locale,
)
from verification.conf import conf
from verification.exceptions import (
    CodeExpired,
    ConcurrentVerification,
    InvalidCode,
    InvalidNumber,
    Misconfigured,
    TooManyAttempts,
    VerificationError,
)
from verification.phone import mask_number

__all__ = ["VonageVerifyBackend"]


class VonageVerifyBackend(_VonageBackend):
    """Send and check codes with Vonage Verify v2 (SMS, voice or WhatsApp).

    Authenticates with a JWT when VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY are set, otherwise
    with VONAGE_API_KEY and VONAGE_API_SECRET (HTTP Basic).
    """

    api = "v2"
    endpoint = "verify"
    channels = ("sms", "voice", "whatsapp")
    code_lengths = (4, 5, 6, 7, 8, 9, 10)
    longest_brand = 16  # the API takes 18, the SDK's model 16
    channel_timeouts = (15, 900)
    locales = V2_LOCALES

    @classmethod
    def _auth_kwargs(cls) -> dict[str, str]:
        if conf.VONAGE_APPLICATION_ID and conf.VONAGE_PRIVATE_KEY:
            try:
                private_key = parse_private_key(read_private_key(conf.VONAGE_PRIVATE_KEY))
            except (OSError, ValueError) as exc:
                raise Misconfigured(f"VONAGE_PRIVATE_KEY is unusable: {exc}") from None
            return {"application_id": conf.VONAGE_APPLICATION_ID, "private_key": private_key}
        if conf.VONAGE_API_KEY and conf.VONAGE_API_SECRET:
            return {"api_key": conf.VONAGE_API_KEY, "api_secret": conf.VONAGE_API_SECRET}
        raise Misconfigured("no Vonage credentials: set an application id and private key, or an API key and secret")

    def _workflow(self, digits: str, channel: str) -> Any:
        if channel == "sms":
            return SmsChannel(to=digits)
        if channel == "voice":
            return VoiceChannel(to=digits)
        if channel == "whatsapp":
            sender = conf.VONAGE_WHATSAPP_FROM
            if not is_sender(sender):
                raise Misconfigured("VONAGE_WHATSAPP_FROM is neither E.164 digits nor 3 to 11 letters and digits")
            # The SDK's validator refuses numeric senders longer than 11 digits (it tests `type(v) is
            # PhoneNumber`, never true for an Annotated str); the sender was validated just above.
            return WhatsappChannel.model_construct(to=digits, from_=sender, channel=ChannelType.WHATSAPP)
        raise Misconfigured(f"channel {channel!r} is not one Vonage Verify v2 sends on")

    def start(self, number: str, *, channel: str = "sms", locale: str | None = None) -> str:
        """Start a v2 verification of `number` on `channel` and return its request id."""
        digits = vonage_digits(number)
        masked = mask_number(number)
        try:
            request = VerifyRequest(
                brand=conf.BRAND,
                workflow=[self._workflow(digits, channel)],
                locale=vonage_locale(locale, self.locales),
                channel_timeout=conf.VONAGE_CHANNEL_TIMEOUT,
                code_length=conf.CODE_LENGTH,
            )
        except (VonageError, ValueError) as exc:
            # The validation error quotes its input, the number included: name the error type only.
            raise Misconfigured(f"the settings make an invalid Verify request ({type(exc).__name__})") from None
        response = self._call(
            "start",
            lambda verify: verify.start_verification(request),
            request_id=None,
            masked=masked,
            http_failure=lambda exc: self._start_failure(exc, masked),
        )
        logger.info("Vonage Verify v2 request %s started to %s by %s", response.request_id, masked, channel)
        return str(response.request_id)

    def _start_failure(self, exc: HttpRequestError, masked: str) -> VerificationError:
        status = exc.response.status_code
        body = json_body(exc.response)
        if status == 409:
            # The docs' 409 body names no request; take an id if one ever comes, for the flow to cancel.
            active = body.get("request_id") or None
            logger.info("Vonage Verify v2 refused a concurrent verification to %s (active %s)", masked, active)
            return ConcurrentVerification("a verification to this number is in progress", provider_request_id=active)
        if status == 422:
            names = [str(item.get("name", "")) for item in body.get("invalid_parameters", []) if isinstance(item, dict)]
            if not names or any(re.search(r"\bto\b", name) for name in names):
                logger.info("Vonage Verify v2 refused the number %s (HTTP 422)", masked)
                return InvalidNumber("Vonage refused the number")
            refused = redact(", ".join(names))
            logger.error("Vonage Verify v2 refused parameters %s (HTTP 422)", refused)
            return Misconfigured(f"Vonage refused the parameters {refused}")
        return self._http_failure("start", exc, request_id=None, masked=masked)

    def check(self, request_id: str, code: str) -> None:
        """Return when `code` is right for the v2 request `request_id`; raise InvalidCode, CodeExpired..."""
        if not REQUEST_ID.fullmatch(request_id):
            raise CodeExpired("not a Vonage request id", provider_request_id=request_id)
        response = self._call(
            "check",
            lambda verify: verify.check_code(request_id, code),
            request_id=request_id,
            masked=None,
            http_failure=lambda exc: self._check_failure(exc, request_id),
        )
        if response.status != "completed":
            raise self._unavailable(
                "check", f"unexpected status {response.status!r}", request_id=request_id, masked=None
            )
        logger.info("Vonage Verify v2 request %s completed", request_id)

    def _check_failure(self, exc: HttpRequestError, request_id: str) -> VerificationError:
        status = exc.response.status_code
        body = json_body(exc.response)
        if status == 400:
            return InvalidCode("wrong code", provider_request_id=request_id)
        if status == 404:
            return CodeExpired("unknown, finished or already verified", provider_request_id=request_id)
        if status == 410:
            detail = f"{body.get('title', '')} {body.get('detail', '')}".lower()
            if "too many" in detail:
                return TooManyAttempts("too many wrong codes", provider_request_id=request_id)
            return CodeExpired("expired", provider_request_id=request_id)
        if status == 409:
            # The current workflow step takes no code (the docs' "no-code"): only a new code can help.
            logger.warning("Vonage Verify v2 request %s takes no code now (HTTP 409)", request_id)
            return CodeExpired("the request takes no code now", provider_request_id=request_id)
        return self._http_failure("check", exc, request_id=request_id, masked=None)

    def _cancel(self, request_id: str) -> None:
        self._call(
            "cancel",
            lambda verify: verify.cancel_verification(request_id),
            request_id=request_id,
            masked=None,
            http_failure=lambda exc: self._cancel_failure(exc, request_id),
        )

    def _cancel_failure(self, exc: HttpRequestError, request_id: str) -> VerificationError:
        status = exc.response.status_code
        if status in (404, 410):
            return _AlreadyOver("unknown or finished", provider_request_id=request_id)
        if status == 409:
            return ConcurrentVerification("Vonage cannot cancel it now", provider_request_id=request_id)
        return self._http_failure("cancel", exc, request_id=request_id, masked=None)
