"""Vonage faked at the HTTP transport (`responses`): URLs, canned bodies, settings and a throwaway RSA key."""

from __future__ import annotations

import functools
from http.client import RemoteDisconnected
from typing import Any
from urllib.parse import parse_qs

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

V2_BACKEND = "verification.backends.vonage.VonageVerifyBackend"
LEGACY_BACKEND = "verification.backends.vonage.VonageLegacyVerifyBackend"

V2_URL = "https://api.nexmo.com/v2/verify"
LEGACY_START_URL = "https://api.nexmo.com/verify/json"
LEGACY_CHECK_URL = "https://api.nexmo.com/verify/check/json"
LEGACY_CONTROL_URL = "https://api.nexmo.com/verify/control/json"

V2_REQUEST_ID = "c11236f4-00bf-4b89-84ba-88b25df97315"
LEGACY_REQUEST_ID = "abcdef0123456789abcdef0123456789"

API_KEY = "abcd1234"
API_SECRET = "s3cr3t-Abcdef12"
APPLICATION_ID = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"

NUMBER = "+447700900123"
DIGITS = "447700900123"
MASKED = "+44 •••• ••0123"


@functools.cache
def rsa_key() -> rsa.RSAPrivateKey:
    """Return a throwaway RSA key, generated once per test run."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(private_format: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8) -> str:
    """Return the throwaway key as unencrypted PEM text."""
    pem = rsa_key().private_bytes(serialization.Encoding.PEM, private_format, serialization.NoEncryption())
    return pem.decode()


def public_pem() -> bytes:
    """Return the throwaway key's public half as PEM, to verify the JWTs signed with it."""
    return (
        rsa_key().public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def use_key_pair(settings: Any, backend: str) -> None:
    """Select `backend` with API key and secret only."""
    settings.VERIFICATION_BACKEND = backend
    settings.VONAGE_API_KEY = API_KEY
    settings.VONAGE_API_SECRET = API_SECRET
    settings.VONAGE_APPLICATION_ID = ""
    settings.VONAGE_PRIVATE_KEY = ""


def use_application(settings: Any, backend: str = V2_BACKEND, private_key: str | None = None) -> None:
    """Select `backend` with application id and private key only."""
    settings.VERIFICATION_BACKEND = backend
    settings.VONAGE_API_KEY = ""
    settings.VONAGE_API_SECRET = ""
    settings.VONAGE_APPLICATION_ID = APPLICATION_ID
    settings.VONAGE_PRIVATE_KEY = private_pem() if private_key is None else private_key


def problem(status: int, title: str, detail: str = "", **extra: Any) -> dict[str, Any]:
    """Return keyword arguments for `responses.add` answering an RFC 7807 problem."""
    body = {"title": title, "detail": detail, "type": "https://developer.vonage.com/api-errors", "instance": "t-1"}
    return {"status": status, "json": body | extra, "content_type": "application/problem+json"}


def dropped_connection() -> requests.exceptions.ConnectionError:
    """Return what requests raises when the server closes the connection before answering."""
    return requests.exceptions.ConnectionError(
        ("Connection aborted.", RemoteDisconnected("Remote end closed connection without response"))
    )


def form(body: str | bytes | None) -> dict[str, str]:
    """Return a form-encoded request body as a dict of single values."""
    text = body.decode() if isinstance(body, bytes) else body or ""
    return {name: values[0] for name, values in parse_qs(text).items()}
