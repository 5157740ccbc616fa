"""Vonage Verify backends: the v2 API, and the legacy API the original tutorial used (vonage SDK 4.x).

Vonage generates, delivers, expires and checks the code; these backends only translate. Every outcome
the APIs document becomes one of `verification.exceptions`; anything else is `ProviderUnavailable`,
logged with the provider's request id and the masked number.

The SDK needs four corrections, all made here:
- no timeout by default: every client gets `VONAGE_TIMEOUT`;
- a POST whose connection drops is re-sent up to ten times (one click, ten SMS): the pool size, which
  the SDK uses as its re-send count, and urllib3's retries are set so that one call is one request;
- a client mutates shared headers on every call: one client per API and per thread, reused so that
  its connections are pooled (`_clients`, the module's only mutable state);
- its `vonage` logger writes numbers, codes and credentials at DEBUG: a filter drops those records
  and masks digit runs in the rest, whatever level the logging settings allow.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, ClassVar

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.checks import CheckMessage, Error
from django.core.checks import Warning as CheckWarning
from vonage import Auth, HttpClientOptions, Vonage
from vonage_http_client.errors import HttpRequestError
from vonage_utils.errors import VonageError
from vonage_verify import ChannelType, Locale, SmsChannel, VerifyRequest, VoiceChannel, WhatsappChannel
from vonage_verify_legacy import VerifyRequest as LegacyVerifyRequest
from vonage_verify_legacy.language_codes import LanguageCode

from verification.backends.base import BaseVerifyBackend
from verification.conf import conf
from verification.exceptions import (
    CodeExpired,
    ConcurrentVerification,
    InvalidCode,
    InvalidNumber,
    Misconfigured,
    ProviderThrottled,
    ProviderUnavailable,
    TooManyAttempts,
    VerificationError,
)
from verification.phone import mask_number

logger = logging.getLogger(__name__)

SDK_LOGGER = "vonage"

# Vonage wants E.164 digits without "+": 7 to 15 digits, no leading zero (vonage_utils.types.PhoneNumber).
_E164_DIGITS = re.compile(r"[1-9]\d{6,14}")
# Ids go into URL paths: v2 ids are UUIDs, legacy ids 32 hex digits.
_REQUEST_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
# What a number or a code looks like inside provider text.
_DIGIT_RUN = re.compile(r"\d{4,}")
# A sender name: 3 to 11 letters and digits (vonage_verify.requests).
_ALPHANUMERIC_SENDER = re.compile(r"[a-zA-Z0-9]{3,11}")
# Characters the v2 API refuses in a brand (its docs: `^[^\/{}:$]*$`, else 422).
_BRAND_FORBIDDEN = re.compile(r"[/{}:$\\]")

V2_LOCALES = frozenset(locale.value for locale in Locale)
LEGACY_LOCALES = frozenset(code.value for code in LanguageCode)
# Django language codes whose Vonage locale is not "<language>-<language>" or the only one for the language.
_LOCALE_ALIASES = {"en": "en-us", "zh-hans": "zh-cn", "zh-hant": "zh-tw", "nb": "nb-no", "no": "nb-no"}

# Legacy predefined workflows with a single event: 6 is one SMS, 7 is one text-to-speech call.
LEGACY_WORKFLOWS = {"sms": 6, "voice": 7}

# One SDK client per API in each thread: {api: (settings fingerprint, client)}.
_clients = threading.local()


def vonage_locale(language: str | None, supported: frozenset[str]) -> str | None:
    """Return the supported Vonage locale closest to a Django language code, or None to let Vonage choose."""
    if not language:
        return None
    tag = language.replace("_", "-").lower()
    tag = _LOCALE_ALIASES.get(tag, tag)
    if tag in supported:
        return tag
    base = tag.split("-")[0]
    for candidate in (_LOCALE_ALIASES.get(base), f"{base}-{base}"):
        if candidate in supported:
            return candidate
    same_language = sorted(locale for locale in supported if locale.split("-")[0] == base)
    return same_language[0] if same_language else None


def _redact(text: object) -> str:
    """Return provider text fit for logs: runs of four or more digits (numbers, codes) masked."""
    return _DIGIT_RUN.sub("••••", str(text))


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_sender(value: object) -> bool:
    """Tell whether `value` is a sender Vonage accepts: E.164 digits, or 3 to 11 letters and digits."""
    return isinstance(value, str) and bool(_E164_DIGITS.fullmatch(value) or _ALPHANUMERIC_SENDER.fullmatch(value))


class _SensitiveRecordFilter(logging.Filter):
    """Drop the SDK's DEBUG/INFO records (request data, headers) and mask digit runs in the others."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        # Error records quote the response body; a number or code in it must not reach the logs.
        record.msg = _redact(record.getMessage())
        record.args = ()
        return True


def _protect_sdk_logger() -> None:
    sdk_logger = logging.getLogger(SDK_LOGGER)
    if not any(isinstance(existing, _SensitiveRecordFilter) for existing in sdk_logger.filters):
        sdk_logger.addFilter(_SensitiveRecordFilter())


def _read_private_key(value: str) -> bytes:
    """Return the PEM bytes of VONAGE_PRIVATE_KEY, given as PEM text or a file path; raise OSError."""
    text = value.strip()
    if text.startswith("-----BEGIN"):
        # Environment files often carry the PEM on one line with literal "\n".
        return text.replace("\\n", "\n").encode()
    return Path(text).expanduser().read_bytes()


def _parse_private_key(data: bytes) -> str:
    """Return an RSA private key as unencrypted PKCS#8 PEM text (the one form the SDK accepts); raise ValueError."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (TypeError, ValueError) as exc:  # TypeError: the key is encrypted
        raise ValueError(f"not an unencrypted PEM private key ({type(exc).__name__})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA key (Vonage signs its JWTs with RS256)")
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem.decode()


def _timeout_seconds() -> int:
    """Return VONAGE_TIMEOUT in whole seconds (the SDK takes an int), rounded up; raise Misconfigured."""
    timeout = conf.VONAGE_TIMEOUT
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise Misconfigured("VONAGE_TIMEOUT must be a positive number of seconds")
    return math.ceil(timeout)


def _json_body(response: requests.Response | None) -> dict[str, Any]:
    if response is None:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(response: requests.Response) -> int | None:
    """Return the seconds a Retry-After header asks to wait (delta or HTTP date), or None."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, math.ceil((when - datetime.now(UTC)).total_seconds()))


def _digits(number: str) -> str:
    """Return E.164 `number` as the digits Vonage wants, without "+"; raise InvalidNumber."""
    digits = number.removeprefix("+")
    if not _E164_DIGITS.fullmatch(digits):
        raise InvalidNumber("not an E.164 number")
    return digits


class _AlreadyOver(CodeExpired):
    """A cancel found the request unknown or finished: nothing left to cancel."""


class _VonageBackend(BaseVerifyBackend):
    """What both Vonage backends share: credentials, the per-thread SDK client, failures, checks."""

    #: Which SDK API this backend calls: "v2" or "legacy".
    api: ClassVar[str]
    #: Accepted VERIFICATION_CODE_LENGTH values.
    code_lengths: ClassVar[tuple[int, ...]]
    #: The longest VERIFICATION_BRAND accepted.
    longest_brand: ClassVar[int]
    #: Accepted VONAGE_CHANNEL_TIMEOUT values (seconds).
    channel_timeouts: ClassVar[tuple[int, int]]
    #: Locales this API understands.
    locales: ClassVar[frozenset[str]]

    # --- the SDK client ---------------------------------------------------------------------------

    @classmethod
    def _auth_kwargs(cls) -> dict[str, str]:
        """Return the credentials this API authenticates with; raise Misconfigured."""
        raise NotImplementedError

    @property
    def client(self) -> Any:
        """Return this thread's SDK client for this API, built on first use and when settings change.

        Every backend instance in a thread shares it, so its connection pool is reused; no two
        threads share one (the SDK writes per-call headers into the client).
        """
        fingerprint = (
            conf.VONAGE_API_KEY,
            conf.VONAGE_API_SECRET,
            conf.VONAGE_APPLICATION_ID,
            conf.VONAGE_PRIVATE_KEY,
            conf.VONAGE_TIMEOUT,
        )
        cache: dict[str, tuple[tuple[Any, ...], Any]] = _clients.__dict__
        cached = cache.get(self.api)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        _protect_sdk_logger()
        options = HttpClientOptions(
            timeout=_timeout_seconds(),
            pool_connections=1,
            # The SDK re-sends a request whose connection dropped as many times as the pool is large:
            # a pool of one is one attempt (a client serves one thread, so one connection is enough).
            pool_maxsize=1,
            # urllib3's retries below it: none either, not even for a refused connection.
            max_retries=0,
        )
        try:
            client = Vonage(Auth(**self._auth_kwargs()), options)
        except VonageError as exc:
            raise Misconfigured(f"Vonage rejected the credentials settings ({type(exc).__name__})") from None
        cache[self.api] = (fingerprint, client)
        return client

    # --- failures -----------------------------------------------------------------------------------

    def _unavailable(
        self, operation: str, reason: str, *, request_id: str | None, masked: str | None
    ) -> VerificationError:
        logger.error(
            "Vonage Verify %s %s failed: %s (request %s, number %s)",
            self.api,
            operation,
            _redact(reason),
            request_id or "-",
            masked or "-",
        )
        return ProviderUnavailable(_redact(reason), provider_request_id=request_id)

    def _network_failure(
        self, operation: str, exc: requests.RequestException, *, request_id: str | None, masked: str | None
    ) -> VerificationError:
        # After a read timeout a start may have reached Vonage and sent a code: say so, never re-send.
        return self._unavailable(
            operation, f"network error ({type(exc).__name__})", request_id=request_id, masked=masked
        )

    def _http_failure(
        self, operation: str, exc: HttpRequestError, *, request_id: str | None, masked: str | None
    ) -> VerificationError:
        """Map the HTTP failures both APIs share (credentials, rate limits, server errors)."""
        response = exc.response
        status = response.status_code
        body = _json_body(response)
        if status in (401, 403):
            logger.error(
                "Vonage Verify %s %s refused the credentials (HTTP %s: %s)",
                self.api,
                operation,
                status,
                _redact(body.get("title", "")),
            )
            return Misconfigured(f"Vonage refused the credentials (HTTP {status})", provider_request_id=request_id)
        if status == 429:
            retry_after = _retry_after(response)
            logger.warning("Vonage Verify %s %s throttled (retry after %s s)", self.api, operation, retry_after)
            return ProviderThrottled("Vonage rate limit", provider_request_id=request_id, retry_after=retry_after)
        if status == 402:
            return self._unavailable(
                operation, "account balance too low (HTTP 402)", request_id=request_id, masked=masked
            )
        return self._unavailable(
            operation, f"HTTP {status} {body.get('title', '')}".strip(), request_id=request_id, masked=masked
        )

    # --- system checks ------------------------------------------------------------------------------

    @classmethod
    def check_configuration(cls) -> list[CheckMessage]:
        """Return errors for missing or unusable credentials, keys and settings this API refuses.

        - E020 the selected API has no credentials.
        - E021 VONAGE_PRIVATE_KEY cannot be read; E022 it is not an unencrypted RSA key in PEM.
        - E023 half a credential pair: application id / private key, or API key / secret.
        - E024 the legacy backend with application credentials only.
        - E025 VERIFICATION_CODE_LENGTH, E026 VERIFICATION_BRAND, E027 VONAGE_CHANNEL_TIMEOUT:
          outside what this API accepts.
        - E028 "whatsapp" allowed without a valid VONAGE_WHATSAPP_FROM.
        - W020 VONAGE_CHANNEL_TIMEOUT is longer than VERIFICATION_CODE_TTL.
        - W021 a channel in VERIFICATION_CHANNELS this backend cannot send on (not offered).
        """
        messages = cls._check_credentials()
        messages += cls._check_request_settings()
        return messages

    @classmethod
    def _check_credentials(cls) -> list[CheckMessage]:
        raise NotImplementedError

    @classmethod
    def _check_request_settings(cls) -> list[CheckMessage]:
        # Values of the wrong type or outside every API's range are verification.checks' (E013, E031,
        # E034, E036, E039); these are the limits of this API only.
        messages: list[CheckMessage] = []
        name = cls.__name__
        length = conf.CODE_LENGTH
        if _is_whole(length) and 4 <= length <= 10 and length not in cls.code_lengths:
            allowed = ", ".join(str(value) for value in cls.code_lengths)
            messages.append(
                Error(
                    f"VERIFICATION_CODE_LENGTH = {length!r} is not a code length {name} can send.",
                    hint=f"Set VERIFICATION_CODE_LENGTH to one of {allowed}.",
                    id="verification.E025",
                )
            )
        brand = conf.BRAND
        longest = cls.longest_brand
        if isinstance(brand, str) and brand.strip() and (len(brand) > longest or _BRAND_FORBIDDEN.search(brand)):
            messages.append(
                Error(
                    f"VERIFICATION_BRAND = {brand!r} is not a brand {name} accepts.",
                    hint=f"Use at most {longest} characters, without / \\ {{ }} : or $.",
                    id="verification.E026",
                )
            )
        timeout = conf.VONAGE_CHANNEL_TIMEOUT
        first, last = cls.channel_timeouts
        if not _is_whole(timeout) or not first <= timeout <= last:
            messages.append(
                Error(
                    f"VONAGE_CHANNEL_TIMEOUT = {timeout!r} is outside what {name} accepts.",
                    hint=f"Set a whole number of seconds from {first} to {last} (default 300).",
                    id="verification.E027",
                )
            )
        elif _is_whole(conf.CODE_TTL) and timeout > conf.CODE_TTL:
            messages.append(
                CheckWarning(
                    f"VONAGE_CHANNEL_TIMEOUT ({timeout} s) is longer than VERIFICATION_CODE_TTL ({conf.CODE_TTL} s).",
                    hint=(
                        "Vonage keeps a verification alive after this site has given up on it, so a new code to "
                        "the same number is refused as concurrent until Vonage lets it go. Make them equal."
                    ),
                    id="verification.W020",
                )
            )
        channels = list(conf.CHANNELS) if isinstance(conf.CHANNELS, list | tuple) else []
        if any(channel in cls.channels for channel in channels):  # none at all is E039
            for channel in channels:
                if channel not in cls.channels:
                    messages.append(
                        CheckWarning(
                            f"VERIFICATION_CHANNELS allows {channel!r}; {name} cannot send on it: not offered.",
                            hint=f"Allow only {', '.join(cls.channels)} with this backend, or use one that sends "
                            f"on {channel!r}.",
                            id="verification.W021",
                        )
                    )
        if "whatsapp" in channels and "whatsapp" in cls.channels and not _is_sender(conf.VONAGE_WHATSAPP_FROM):
            messages.append(
                Error(
                    "VERIFICATION_CHANNELS allows 'whatsapp', but VONAGE_WHATSAPP_FROM = "
                    f"{conf.VONAGE_WHATSAPP_FROM!r} is not a sender Vonage accepts.",
                    hint="Set VONAGE_WHATSAPP_FROM to your WhatsApp Business sender number (E.164 digits "
                    "without '+'), or remove 'whatsapp'.",
                    id="verification.E028",
                )
            )
        return messages


def _missing_credentials(name: str, needed: str) -> Error:
    return Error(
        f"{name} is selected, but {needed} not set.",
        hint="Copy the credentials from the Vonage dashboard into the environment (see README, 'Vonage').",
        id="verification.E020",
    )


def _incomplete_pair(first: str, second: str) -> Error:
    return Error(
        f"{first} and {second} must be set together; only one of them is.",
        hint=f"Set both {first} and {second}, or neither.",
        id="verification.E023",
    )


class VonageVerifyBackend(_VonageBackend):
    """Send and check codes with Vonage Verify v2 (SMS, voice or WhatsApp).

    Authenticates with a JWT when VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY are set, otherwise
    with VONAGE_API_KEY and VONAGE_API_SECRET (HTTP Basic).
    """

    api = "v2"
    channels = ("sms", "voice", "whatsapp")
    code_lengths = (4, 5, 6, 7, 8, 9, 10)
    longest_brand = 16  # the API takes 18, the SDK's model 16
    channel_timeouts = (15, 900)
    locales = V2_LOCALES

    @classmethod
    def _auth_kwargs(cls) -> dict[str, str]:
        if conf.VONAGE_APPLICATION_ID and conf.VONAGE_PRIVATE_KEY:
            try:
                private_key = _parse_private_key(_read_private_key(conf.VONAGE_PRIVATE_KEY))
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
            if not _is_sender(sender):
                raise Misconfigured("VONAGE_WHATSAPP_FROM is neither E.164 digits nor 3 to 11 letters and digits")
            # The SDK's validator refuses numeric senders longer than 11 digits (it tests `type(v) is
            # PhoneNumber`, never true for an Annotated str); the sender was validated just above.
            return WhatsappChannel.model_construct(to=digits, from_=sender, channel=ChannelType.WHATSAPP)
        raise Misconfigured(f"channel {channel!r} is not one Vonage Verify v2 sends on")

    def start(self, number: str, *, channel: str = "sms", locale: str | None = None) -> str:
        """Start a v2 verification of `number` on `channel` and return its request id."""
        digits = _digits(number)
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
        body = _json_body(exc.response)
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
            refused = _redact(", ".join(names))
            logger.error("Vonage Verify v2 refused parameters %s (HTTP 422)", refused)
            return Misconfigured(f"Vonage refused the parameters {refused}")
        return self._http_failure("start", exc, request_id=None, masked=masked)

    def check(self, request_id: str, code: str) -> None:
        """Return when `code` is right for the v2 request `request_id`; raise InvalidCode, CodeExpired..."""
        if not _REQUEST_ID.fullmatch(request_id):
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
        body = _json_body(exc.response)
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

    def cancel(self, request_id: str) -> None:
        """Cancel the v2 request `request_id`; unknown or finished ones are ignored.

        Raises ConcurrentVerification when Vonage will not cancel it now (its docs: not within the
        first 30 seconds, nor once a second event has happened): the code may still arrive and work
        at Vonage until the request ends.
        """
        if not _REQUEST_ID.fullmatch(request_id):
            return
        try:
            self._call(
                "cancel",
                lambda verify: verify.cancel_verification(request_id),
                request_id=request_id,
                masked=None,
                http_failure=lambda exc: self._cancel_failure(exc, request_id),
            )
        except _AlreadyOver:
            return
        logger.info("Vonage Verify v2 request %s cancelled", request_id)

    def _cancel_failure(self, exc: HttpRequestError, request_id: str) -> VerificationError:
        status = exc.response.status_code
        if status in (404, 410):
            return _AlreadyOver("unknown or finished", provider_request_id=request_id)
        if status == 409:
            return ConcurrentVerification("Vonage cannot cancel it now", provider_request_id=request_id)
        return self._http_failure("cancel", exc, request_id=request_id, masked=None)

    def _call(
        self,
        operation: str,
        call: Callable[[Any], Any],
        *,
        request_id: str | None,
        masked: str | None,
        http_failure: Callable[[HttpRequestError], VerificationError],
    ) -> Any:
        """Run `call(client.verify)`, turning every SDK and network failure into one of the app's exceptions."""
        client = self.client
        try:
            return call(client.verify)
        except HttpRequestError as exc:
            raise http_failure(exc) from None
        except requests.RequestException as exc:
            raise self._network_failure(operation, exc, request_id=request_id, masked=masked) from None
        except (VonageError, ValueError, TypeError) as exc:
            raise self._unavailable(
                operation, f"unexpected response ({type(exc).__name__})", request_id=request_id, masked=masked
            ) from None

    @classmethod
    def _check_credentials(cls) -> list[CheckMessage]:
        messages: list[CheckMessage] = []
        has_application = bool(conf.VONAGE_APPLICATION_ID) and bool(conf.VONAGE_PRIVATE_KEY)
        has_key_pair = bool(conf.VONAGE_API_KEY) and bool(conf.VONAGE_API_SECRET)
        if bool(conf.VONAGE_APPLICATION_ID) != bool(conf.VONAGE_PRIVATE_KEY):
            messages.append(_incomplete_pair("VONAGE_APPLICATION_ID", "VONAGE_PRIVATE_KEY"))
        if bool(conf.VONAGE_API_KEY) != bool(conf.VONAGE_API_SECRET):
            messages.append(_incomplete_pair("VONAGE_API_KEY", "VONAGE_API_SECRET"))
        if not messages and not has_application and not has_key_pair:
            messages.append(
                _missing_credentials(
                    cls.__name__,
                    "neither VONAGE_APPLICATION_ID with VONAGE_PRIVATE_KEY nor VONAGE_API_KEY with "
                    "VONAGE_API_SECRET is",
                )
            )
        if conf.VONAGE_PRIVATE_KEY:
            messages += _check_private_key(conf.VONAGE_PRIVATE_KEY)
        return messages


def _check_private_key(value: str) -> list[CheckMessage]:
    try:
        data = _read_private_key(value)
    except OSError as exc:
        return [
            Error(
                f"VONAGE_PRIVATE_KEY cannot be read ({exc.strerror or type(exc).__name__}).",
                hint="Give the path of the private.key file the Vonage dashboard generated, readable by this "
                "process, or the PEM text itself.",
                id="verification.E021",
            )
        ]
    try:
        _parse_private_key(data)
    except ValueError as exc:
        return [
            Error(
                f"VONAGE_PRIVATE_KEY is not a usable private key: {exc}.",
                hint="Use the unencrypted RSA key in PEM form ('-----BEGIN PRIVATE KEY-----') that the Vonage "
                "dashboard generated for VONAGE_APPLICATION_ID.",
                id="verification.E022",
            )
        ]
    return []


class VonageLegacyVerifyBackend(_VonageBackend):
    """Send and check codes with the legacy Vonage Verify API (v1), as the original tutorial did.

    Authenticates with VONAGE_API_KEY and VONAGE_API_SECRET only. Sends one SMS (workflow 6) or
    one voice call (workflow 7); the code lives VONAGE_CHANNEL_TIMEOUT seconds.
    """

    api = "legacy"
    channels = ("sms", "voice")
    code_lengths = (4, 6)
    longest_brand = 18
    channel_timeouts = (60, 900)
    locales = LEGACY_LOCALES

    # Statuses every legacy call may answer (besides 0, success).
    _THROTTLED = frozenset({"1"})
    _MISCONFIGURED = frozenset({"2", "4", "8", "20"})

    @classmethod
    def _auth_kwargs(cls) -> dict[str, str]:
        if conf.VONAGE_API_KEY and conf.VONAGE_API_SECRET:
            return {"api_key": conf.VONAGE_API_KEY, "api_secret": conf.VONAGE_API_SECRET}
        raise Misconfigured("the legacy Verify API needs VONAGE_API_KEY and VONAGE_API_SECRET")

    def _call(
        self, operation: str, call: Callable[[Any], Any], *, request_id: str | None, masked: str | None
    ) -> tuple[Any, dict[str, Any] | None]:
        """Run `call(client.verify_legacy)`: (its result, None), or (None, the error body) for a non-zero status."""
        client = self.client
        try:
            return call(client.verify_legacy), None
        except HttpRequestError as exc:
            raise self._http_failure(operation, exc, request_id=request_id, masked=masked) from None
        except requests.RequestException as exc:
            raise self._network_failure(operation, exc, request_id=request_id, masked=masked) from None
        except VonageError:
            # A non-zero status: the SDK puts the body in its message; the client keeps the response.
            body = _json_body(client.http_client.last_response)
            if "status" not in body:
                raise self._unavailable(operation, "unreadable error", request_id=request_id, masked=masked) from None
            return None, body
        except (ValueError, TypeError, KeyError) as exc:
            raise self._unavailable(
                operation, f"unexpected response ({type(exc).__name__})", request_id=request_id, masked=masked
            ) from None

    def _common_failure(
        self, operation: str, body: dict[str, Any], *, request_id: str | None, masked: str | None
    ) -> VerificationError:
        status = str(body.get("status"))
        text = _redact(body.get("error_text", ""))
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
        digits = _digits(number)
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
        response, error = self._call(
            "start", lambda api: api.start_verification(request), request_id=None, masked=masked
        )
        if error is not None:
            raise self._start_failure(error, masked)
        logger.info("Vonage Verify legacy request %s started to %s by %s", response.request_id, masked, channel)
        return str(response.request_id)

    def _start_failure(self, body: dict[str, Any], masked: str) -> VerificationError:
        status = str(body.get("status"))
        text = _redact(body.get("error_text", ""))
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
        if not _REQUEST_ID.fullmatch(request_id):
            raise CodeExpired("not a Vonage request id", provider_request_id=request_id)
        _, error = self._call("check", lambda api: api.check_code(request_id, code), request_id=request_id, masked=None)
        if error is None:
            logger.info("Vonage Verify legacy request %s completed", request_id)
            return
        status = str(error.get("status"))
        text = str(error.get("error_text", "")).lower()
        if status == "16" or (status == "3" and "code" in text and "request_id" not in text):
            raise InvalidCode("wrong code", provider_request_id=request_id)
        if status == "17":
            raise TooManyAttempts("too many wrong codes", provider_request_id=request_id)
        if status in {"3", "6"}:
            raise CodeExpired("unknown, finished or already verified", provider_request_id=request_id)
        raise self._common_failure("check", error, request_id=request_id, masked=None)

    def cancel(self, request_id: str) -> None:
        """Cancel the legacy request `request_id`; unknown or finished ones are ignored.

        Raises ConcurrentVerification for status 19: Vonage does not cancel within the first 30
        seconds, nor after a second delivery attempt.
        """
        if not _REQUEST_ID.fullmatch(request_id):
            return
        _, error = self._call(
            "cancel", lambda api: api.cancel_verification(request_id), request_id=request_id, masked=None
        )
        if error is None:
            logger.info("Vonage Verify legacy request %s cancelled", request_id)
            return
        status = str(error.get("status"))
        if status in {"3", "6"}:
            return
        if status == "19":
            raise ConcurrentVerification("Vonage cannot cancel it now", provider_request_id=request_id)
        raise self._common_failure("cancel", error, request_id=request_id, masked=None)

    @classmethod
    def _check_credentials(cls) -> list[CheckMessage]:
        if bool(conf.VONAGE_API_KEY) != bool(conf.VONAGE_API_SECRET):
            return [_incomplete_pair("VONAGE_API_KEY", "VONAGE_API_SECRET")]
        if conf.VONAGE_API_KEY:
            return []
        if conf.VONAGE_APPLICATION_ID or conf.VONAGE_PRIVATE_KEY:
            return [
                Error(
                    f"{cls.__name__} is selected with application credentials only; the legacy API does not "
                    "accept them.",
                    hint="Set VONAGE_API_KEY and VONAGE_API_SECRET, or select "
                    "verification.backends.vonage.VonageVerifyBackend (v2), which uses the application.",
                    id="verification.E024",
                )
            ]
        return [_missing_credentials(cls.__name__, "VONAGE_API_KEY and VONAGE_API_SECRET are")]
