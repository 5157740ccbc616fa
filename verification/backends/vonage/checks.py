"""The system checks of the Vonage backends (E020 to E028, W020 and W021)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.core.checks import CheckMessage, Error
from django.core.checks import Warning as CheckWarning

from verification.backends.vonage.sdk import is_sender, parse_private_key, read_private_key
from verification.conf import conf
from verification.validators import is_whole_number

if TYPE_CHECKING:
    from verification.backends.vonage.base import _VonageBackend

__all__ = [
    "check_configuration",
    "check_legacy_credentials",
    "check_private_key",
    "check_request_settings",
    "check_v2_credentials",
]

# Characters the v2 API refuses in a brand (its docs: `^[^\/{}:$]*$`, else 422).
_BRAND_FORBIDDEN = re.compile(r"[/{}:$\\]")


def check_configuration(backend: type[_VonageBackend]) -> list[CheckMessage]:
    """Return the messages of `backend.check_configuration()`: its API's credentials, then its request settings."""
    messages = _CREDENTIAL_CHECKS[backend.api](backend.__name__)
    messages += check_request_settings(backend)
    return messages


def check_v2_credentials(name: str) -> list[CheckMessage]:
    """Check the v2 credentials: an application id with a private key, or an API key with a secret (E020 to E023)."""
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
                name,
                "neither VONAGE_APPLICATION_ID with VONAGE_PRIVATE_KEY nor VONAGE_API_KEY with VONAGE_API_SECRET is",
            )
        )
    if conf.VONAGE_PRIVATE_KEY:
        messages += check_private_key(conf.VONAGE_PRIVATE_KEY)
    return messages


def check_legacy_credentials(name: str) -> list[CheckMessage]:
    """Check the legacy credentials: an API key with its secret, never an application alone (E020, E023, E024)."""
    if bool(conf.VONAGE_API_KEY) != bool(conf.VONAGE_API_SECRET):
        return [_incomplete_pair("VONAGE_API_KEY", "VONAGE_API_SECRET")]
    if conf.VONAGE_API_KEY:
        return []
    if conf.VONAGE_APPLICATION_ID or conf.VONAGE_PRIVATE_KEY:
        return [
            Error(
                f"{name} is selected with application credentials only; the legacy API does not accept them.",
                hint="Set VONAGE_API_KEY and VONAGE_API_SECRET, or select "
                "verification.backends.vonage.VonageVerifyBackend (v2), which uses the application.",
                id="verification.E024",
            )
        ]
    return [_missing_credentials(name, "VONAGE_API_KEY and VONAGE_API_SECRET are")]


_CREDENTIAL_CHECKS: dict[str, Callable[[str], list[CheckMessage]]] = {
    "v2": check_v2_credentials,
    "legacy": check_legacy_credentials,
}


def check_private_key(value: str) -> list[CheckMessage]:
    """Check that VONAGE_PRIVATE_KEY can be read (E021) and is an unencrypted RSA key in PEM (E022)."""
    try:
        data = read_private_key(value)
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
        parse_private_key(data)
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


def check_request_settings(backend: type[_VonageBackend]) -> list[CheckMessage]:
    """Check the settings every request carries against the limits of `backend`'s API (E025-E028, W020, W021)."""
    # Values of the wrong type or outside every API's range are verification.checks' (E013, E031,
    # E034, E036, E039); these are the limits of this API only.
    messages: list[CheckMessage] = []
    name = backend.__name__
    length = conf.CODE_LENGTH
    if is_whole_number(length) and 4 <= length <= 10 and length not in backend.code_lengths:
        allowed = ", ".join(str(value) for value in backend.code_lengths)
        messages.append(
            Error(
                f"VERIFICATION_CODE_LENGTH = {length!r} is not a code length {name} can send.",
                hint=f"Set VERIFICATION_CODE_LENGTH to one of {allowed}.",
                id="verification.E025",
            )
        )
    brand = conf.BRAND
    longest = backend.longest_brand
    if isinstance(brand, str) and brand.strip() and (len(brand) > longest or _BRAND_FORBIDDEN.search(brand)):
        messages.append(
            Error(
                f"VERIFICATION_BRAND = {brand!r} is not a brand {name} accepts.",
                hint=f"Use at most {longest} characters, without / \\ {{ }} : or $.",
                id="verification.E026",
            )
        )
    timeout = conf.VONAGE_CHANNEL_TIMEOUT
    first, last = backend.channel_timeouts
    if not is_whole_number(timeout) or not first <= timeout <= last:
        messages.append(
            Error(
                f"VONAGE_CHANNEL_TIMEOUT = {timeout!r} is outside what {name} accepts.",
                hint=f"Set a whole number of seconds from {first} to {last} (default 300).",
                id="verification.E027",
            )
        )
    elif is_whole_number(conf.CODE_TTL) and timeout > conf.CODE_TTL:
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
    if any(channel in backend.channels for channel in channels):  # none at all is E039
        for channel in channels:
            if channel not in backend.channels:
                messages.append(
                    CheckWarning(
                        f"VERIFICATION_CHANNELS allows {channel!r}; {name} cannot send on it: not offered.",
                        hint=f"Allow only {', '.join(backend.channels)} with this backend, or use one that sends "
                        f"on {channel!r}.",
                        id="verification.W021",
                    )
                )
    if "whatsapp" in channels and "whatsapp" in backend.channels and not is_sender(conf.VONAGE_WHATSAPP_FROM):
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
        hint="Copy the credentials from the Vonage dashboard into the environment (see docs/backends.md, Vonage).",
        id="verification.E020",
    )


def _incomplete_pair(first: str, second: str) -> Error:
    return Error(
        f"{first} and {second} must be set together; only one of them is.",
        hint=f"Set both {first} and {second}, or neither.",
        id="verification.E023",
    )
