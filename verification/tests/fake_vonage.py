"""Vonage faked at the HTTP transport (`responses`): URLs, canned bodies, settings and a throwaway RSA key."""

from __future__ import annotations

import functools
import json as json_module
import re
import time
from http.client import RemoteDisconnected
from typing import Any
from urllib.parse import parse_qs

import requests
import responses
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


class FakeVonage:
    """A small Verify provider behind `responses`, for both APIs: it issues request ids and codes,
    refuses a second verification to a number in progress, checks codes (three wrong ones end a
    request, as Vonage documents), and cancels (legacy: not within the first 30 seconds).

    `fail_next(...)` makes the next start answer with the given `responses` arguments instead.
    """

    WRONG_CODES_ALLOWED = 3

    def __init__(self, http: responses.RequestsMock, code: str = "246810") -> None:
        self.code = code
        self.requests: dict[str, dict[str, Any]] = {}
        self.starts: list[dict[str, Any]] = []
        self.checks: list[tuple[str, str]] = []
        self.cancels: list[str] = []
        self._failures: list[dict[str, Any]] = []
        self._serial = 0
        #: Start requests that reached the transport, answered or not.
        self.start_calls = 0
        http.add_callback(responses.POST, V2_URL, callback=self._v2_start)
        http.add_callback(responses.POST, re.compile(rf"{re.escape(V2_URL)}/[^/]+$"), callback=self._v2_check)
        http.add_callback(responses.DELETE, re.compile(rf"{re.escape(V2_URL)}/[^/]+$"), callback=self._v2_cancel)
        http.add_callback(responses.POST, LEGACY_START_URL, callback=self._legacy_start)
        http.add_callback(responses.POST, LEGACY_CHECK_URL, callback=self._legacy_check)
        http.add_callback(responses.POST, LEGACY_CONTROL_URL, callback=self._legacy_control)

    def fail_next(self, *, status: int = 200, json: Any = None, body: Any = None, headers: Any = None) -> None:
        """Answer the next start with this instead of issuing a code (`body` may be an exception)."""
        self._failures.append({"status": status, "json": json, "body": body, "headers": headers or {}})

    def in_progress(self, digits: str) -> str:
        """Open a verification to `digits` that this site did not start; return its request id."""
        self._serial += 1
        request_id = f"{self._serial:032x}"
        self.requests[request_id] = {"number": digits, "state": "pending", "wrong": 0, "at": time.time()}
        return request_id

    def numbers(self) -> list[str]:
        """Return the digits each issued code went to, in order, whichever API was used."""
        return [sent["workflow"][0]["to"] if "workflow" in sent else sent["number"] for sent in self.starts]

    def expire(self, request_id: str) -> None:
        """End `request_id` as if its time ran out."""
        self.requests[request_id]["state"] = "expired"

    # --- the provider's rules ---------------------------------------------------------------------

    def _failure(self) -> Any:
        if not self._failures:
            return None
        failure = self._failures.pop(0)
        if isinstance(failure["body"], Exception):
            return failure["body"]
        payload = json_module.dumps(failure["json"]) if failure["json"] is not None else failure["body"] or ""
        return failure["status"], failure["headers"], payload

    def _active(self, number: str) -> str | None:
        return next(
            (rid for rid, req in self.requests.items() if req["number"] == number and req["state"] == "pending"), None
        )

    def _issue(self, number: str, sent: dict[str, Any], request_id: str) -> str:
        self.starts.append(sent)
        self.requests[request_id] = {"number": number, "state": "pending", "wrong": 0, "at": time.time()}
        return request_id

    def _verdict(self, request_id: str, code: str) -> str:
        """Return "ok", "wrong", "too_many" or "unknown", updating the request."""
        self.checks.append((request_id, code))
        request = self.requests.get(request_id)
        if request is None or request["state"] in ("expired", "cancelled", "verified"):
            return "unknown"
        if request["state"] == "failed":
            return "too_many"
        if code == self.code:
            request["state"] = "verified"
            return "ok"
        request["wrong"] += 1
        if request["wrong"] >= self.WRONG_CODES_ALLOWED:
            request["state"] = "failed"
        return "wrong"

    # --- v2 -----------------------------------------------------------------------------------------

    @staticmethod
    def _problem(status: int, title: str, detail: str = "") -> tuple[int, dict[str, str], str]:
        body = {"title": title, "detail": detail, "type": "https://developer.vonage.com/api-errors", "instance": "x"}
        return status, {"Content-Type": "application/problem+json"}, json_module.dumps(body)

    def _v2_start(self, request: Any) -> Any:
        self.start_calls += 1
        failure = self._failure()
        if failure is not None:
            return failure
        sent = json_module.loads(request.body)
        number = sent["workflow"][0]["to"]
        if self._active(number):
            return self._problem(409, "Conflict", "Concurrent verifications to the same number are not allowed.")
        self._serial += 1
        request_id = self._issue(number, sent, f"00000000-0000-4000-8000-{self._serial:012d}")
        return 202, {}, json_module.dumps({"request_id": request_id})

    def _v2_check(self, request: Any) -> Any:
        request_id = request.url.rsplit("/", 1)[1]
        verdict = self._verdict(request_id, json_module.loads(request.body)["code"])
        if verdict == "ok":
            return 200, {}, json_module.dumps({"request_id": request_id, "status": "completed"})
        if verdict == "wrong":
            return self._problem(400, "Invalid Code", "The code you provided does not match the expected value.")
        if verdict == "too_many":
            return self._problem(410, "Invalid Code", "An incorrect code has been provided too many times.")
        return self._problem(404, "Not Found", "Request was not found or it has been verified already.")

    def _v2_cancel(self, request: Any) -> Any:
        request_id = request.url.rsplit("/", 1)[1]
        self.cancels.append(request_id)
        known = self.requests.get(request_id)
        if known is None or known["state"] != "pending":
            return self._problem(404, "Not Found")
        known["state"] = "cancelled"
        return 204, {}, ""

    # --- legacy ----------------------------------------------------------------------------------------

    def _legacy_start(self, request: Any) -> Any:
        self.start_calls += 1
        failure = self._failure()
        if failure is not None:
            return failure
        sent = form(request.body)
        active = self._active(sent["number"])
        if active:
            return 200, {}, json_module.dumps({"status": "10", "request_id": active, "error_text": "Concurrent"})
        self._serial += 1
        request_id = self._issue(sent["number"], sent, f"{self._serial:032x}")
        return 200, {}, json_module.dumps({"status": "0", "request_id": request_id})

    def _legacy_check(self, request: Any) -> Any:
        sent = form(request.body)
        verdict = self._verdict(sent["request_id"], sent["code"])
        status = {"ok": "0", "wrong": "16", "too_many": "17", "unknown": "6"}[verdict]
        body: dict[str, str] = {"status": status, "request_id": sent["request_id"]}
        if verdict == "ok":
            body |= {"event_id": "0A00000012345678", "price": "0.10000000", "currency": "EUR"}
        else:
            body["error_text"] = verdict
        return 200, {}, json_module.dumps(body)

    def _legacy_control(self, request: Any) -> Any:
        sent = form(request.body)
        self.cancels.append(sent["request_id"])
        known = self.requests.get(sent["request_id"])
        if known is None or known["state"] != "pending":
            return 200, {}, json_module.dumps({"status": "6", "error_text": "not found or no longer active"})
        if time.time() - known["at"] < 30:
            return 200, {}, json_module.dumps({"status": "19", "error_text": "can't be cancelled within 30 seconds"})
        known["state"] = "cancelled"
        return 200, {}, json_module.dumps({"status": "0", "command": "cancel"})
