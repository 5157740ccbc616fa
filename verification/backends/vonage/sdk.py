"""The Vonage SDK plumbing: per-thread clients, their safe options, a quiet SDK logger, parsing helpers."""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from vonage import Auth, HttpClientOptions, Vonage
from vonage_utils.errors import VonageError
from vonage_verify import Locale
from vonage_verify_legacy.language_codes import LanguageCode

from verification.conf import conf
from verification.exceptions import InvalidNumber, Misconfigured

__all__ = [
    "LEGACY_LOCALES",
    "LOGGER_NAME",
    "REQUEST_ID",
    "SDK_LOGGER",
    "V2_LOCALES",
    "client_for",
    "is_sender",
    "json_body",
    "parse_private_key",
    "read_private_key",
    "redact",
    "retry_after_seconds",
    "vonage_digits",
    "vonage_locale",
]

#: The backends' logger, named as before the package split so that logging settings keep applying.
LOGGER_NAME = "verification.backends.vonage"
#: The SDK's own logger, which writes numbers, codes and credentials at DEBUG.
SDK_LOGGER = "vonage"

logger = logging.getLogger(LOGGER_NAME)

# Vonage wants E.164 digits without "+": 7 to 15 digits, no leading zero (vonage_utils.types.PhoneNumber).
_E164_DIGITS = re.compile(r"[1-9]\d{6,14}")
# Ids go into URL paths: v2 ids are UUIDs, legacy ids 32 hex digits.
REQUEST_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
# What a number or a code looks like inside provider text.
_DIGIT_RUN = re.compile(r"\d{4,}")
# A sender name: 3 to 11 letters and digits (vonage_verify.requests).
_ALPHANUMERIC_SENDER = re.compile(r"[a-zA-Z0-9]{3,11}")

V2_LOCALES = frozenset(locale.value for locale in Locale)
LEGACY_LOCALES = frozenset(code.value for code in LanguageCode)
# Django language codes whose Vonage locale is not "<language>-<language>" or the only one for the language.
_LOCALE_ALIASES = {"en": "en-us", "zh-hans": "zh-cn", "zh-hant": "zh-tw", "nb": "nb-no", "no": "nb-no"}

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


def redact(text: object) -> str:
    """Return provider text fit for logs: runs of four or more digits (numbers, codes) masked."""
    return _DIGIT_RUN.sub("••••", str(text))


def is_sender(value: object) -> bool:
    """Tell whether `value` is a sender Vonage accepts: E.164 digits, or 3 to 11 letters and digits."""
    return isinstance(value, str) and bool(_E164_DIGITS.fullmatch(value) or _ALPHANUMERIC_SENDER.fullmatch(value))


class _SensitiveRecordFilter(logging.Filter):
    """Drop the SDK's DEBUG/INFO records (request data, headers) and mask digit runs in the others."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        # Error records quote the response body; a number or code in it must not reach the logs.
        record.msg = redact(record.getMessage())
        record.args = ()
        return True


def _protect_sdk_logger() -> None:
    sdk_logger = logging.getLogger(SDK_LOGGER)
    if not any(isinstance(existing, _SensitiveRecordFilter) for existing in sdk_logger.filters):
        sdk_logger.addFilter(_SensitiveRecordFilter())


def read_private_key(value: str) -> bytes:
    """Return the PEM bytes of VONAGE_PRIVATE_KEY, given as PEM text or a file path; raise OSError."""
    text = value.strip()
    if text.startswith("-----BEGIN"):
        # Environment files often carry the PEM on one line with literal "\n".
        return text.replace("\\n", "\n").encode()
    return Path(text).expanduser().read_bytes()


def parse_private_key(data: bytes) -> str:
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


def json_body(response: requests.Response | None) -> dict[str, Any]:
    """Return the JSON object `response` carries, or {} when there is none."""
    if response is None:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def retry_after_seconds(response: requests.Response) -> int | None:
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


def vonage_digits(number: str) -> str:
    """Return E.164 `number` as the digits Vonage wants, without "+"; raise InvalidNumber."""
    digits = number.removeprefix("+")
    if not _E164_DIGITS.fullmatch(digits):
        raise InvalidNumber("not an E.164 number")
    return digits


def client_for(api: str, auth_kwargs: Callable[[], dict[str, str]]) -> Any:
    """Return this thread's SDK client for `api`, built on first use and when settings change.

    `auth_kwargs()` gives the credentials for `Auth` (and raises Misconfigured); it is called only
    to build a client. Every backend instance in a thread shares the client, so its connection pool
    is reused; no two threads share one (the SDK writes per-call headers into the client).
    """
    fingerprint = (
        conf.VONAGE_API_KEY,
        conf.VONAGE_API_SECRET,
        conf.VONAGE_APPLICATION_ID,
        conf.VONAGE_PRIVATE_KEY,
        conf.VONAGE_TIMEOUT,
    )
    cache: dict[str, tuple[tuple[Any, ...], Any]] = _clients.__dict__
    cached = cache.get(api)
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
        client = Vonage(Auth(**auth_kwargs()), options)
    except VonageError as exc:
        raise Misconfigured(f"Vonage rejected the credentials settings ({type(exc).__name__})") from None
    cache[api] = (fingerprint, client)
    return client
