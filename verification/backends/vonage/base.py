"""What both Vonage backends share: credentials, the per-thread client, the one SDK call wrapper, failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import requests
from django.core.checks import CheckMessage
from vonage_http_client.errors import HttpRequestError
from vonage_utils.errors import VonageError

from verification.backends.base import BaseVerifyBackend
from verification.backends.vonage import checks
from verification.backends.vonage.sdk import REQUEST_ID, client_for, json_body, logger, redact, retry_after_seconds
from verification.exceptions import (
    CodeExpired,
    Misconfigured,
    ProviderThrottled,
    ProviderUnavailable,
    VerificationError,
)

__all__ = ["HttpFailure", "StatusFailure"]

T = TypeVar("T")

#: Turns an HTTP error response into one of the app's exceptions.
HttpFailure = Callable[[HttpRequestError], VerificationError]
#: Turns a legacy error body (one with a "status") into one of the app's exceptions.
StatusFailure = Callable[[dict[str, Any]], VerificationError]


class _AlreadyOver(CodeExpired):
    """A cancel found the request unknown or finished: nothing left to cancel."""


class _VonageBackend(BaseVerifyBackend):
    """What both Vonage backends share: credentials, the per-thread SDK client, failures, checks."""

    #: Which SDK API this backend calls: "v2" or "legacy".
    api: ClassVar[str]
    #: The attribute of the SDK client that serves this API ("verify" or "verify_legacy").
    endpoint: ClassVar[str]
    #: Accepted VERIFICATION_CODE_LENGTH values.
    code_lengths: ClassVar[tuple[int, ...]]
    #: The longest VERIFICATION_BRAND accepted.
    longest_brand: ClassVar[int]
    #: Accepted VONAGE_CHANNEL_TIMEOUT values (seconds).
    channel_timeouts: ClassVar[tuple[int, int]]
    #: Locales this API understands.
    locales: ClassVar[frozenset[str]]
    # Vonage's docs, both APIs: a request cannot be cancelled within 30 seconds of its start.
    cancel_delay = 30

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
        return client_for(self.api, self._auth_kwargs)

    def _call(
        self,
        operation: str,
        call: Callable[[Any], T],
        *,
        request_id: str | None,
        masked: str | None,
        http_failure: HttpFailure,
        on_status_error: StatusFailure | None = None,
    ) -> T:
        """Return `call(api)` run on this thread's client; raise every failure as one of the app's exceptions.

        `api` is the client's `endpoint` attribute. An HTTP error response goes to `http_failure`;
        a network error is `_network_failure`. An SDK error whose response body has a "status" (the
        legacy API's non-zero statuses) goes to `on_status_error` when given; any other SDK or
        parsing error is ProviderUnavailable. Nothing is ever returned in place of a result.
        """
        client = self.client
        try:
            return call(getattr(client, self.endpoint))
        except HttpRequestError as exc:
            raise http_failure(exc) from None
        except requests.RequestException as exc:
            raise self._network_failure(operation, exc, request_id=request_id, masked=masked) from None
        except VonageError as exc:
            if on_status_error is None:
                raise self._unexpected(operation, exc, request_id=request_id, masked=masked) from None
            # A non-zero status: the SDK puts the body in its message; the client keeps the response.
            body = json_body(client.http_client.last_response)
            if "status" not in body:
                raise self._unavailable(operation, "unreadable error", request_id=request_id, masked=masked) from None
            raise on_status_error(body) from None
        except (ValueError, TypeError, KeyError) as exc:
            raise self._unexpected(operation, exc, request_id=request_id, masked=masked) from None

    def cancel(self, request_id: str) -> None:
        """Cancel the request `request_id`; unknown or finished ones are ignored.

        Raises ConcurrentVerification when Vonage will not cancel it now (its docs: not within the
        first 30 seconds, nor once a second event has happened): the code may still arrive and work
        at Vonage until the request ends.
        """
        if not REQUEST_ID.fullmatch(request_id):
            return
        try:
            self._cancel(request_id)
        except _AlreadyOver:
            return
        logger.info("Vonage Verify %s request %s cancelled", self.api, request_id)

    def _cancel(self, request_id: str) -> None:
        """Ask this API to cancel `request_id`; raise _AlreadyOver when it is unknown or finished."""
        raise NotImplementedError

    # --- failures -----------------------------------------------------------------------------------

    def _unavailable(
        self, operation: str, reason: str, *, request_id: str | None, masked: str | None
    ) -> VerificationError:
        logger.error(
            "Vonage Verify %s %s failed: %s (request %s, number %s)",
            self.api,
            operation,
            redact(reason),
            request_id or "-",
            masked or "-",
        )
        return ProviderUnavailable(redact(reason), provider_request_id=request_id)

    def _unexpected(
        self, operation: str, exc: Exception, *, request_id: str | None, masked: str | None
    ) -> VerificationError:
        return self._unavailable(
            operation, f"unexpected response ({type(exc).__name__})", request_id=request_id, masked=masked
        )

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
        body = json_body(response)
        if status in (401, 403):
            logger.error(
                "Vonage Verify %s %s refused the credentials (HTTP %s: %s)",
                self.api,
                operation,
                status,
                redact(body.get("title", "")),
            )
            return Misconfigured(f"Vonage refused the credentials (HTTP {status})", provider_request_id=request_id)
        if status == 429:
            retry_after = retry_after_seconds(response)
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
        return checks.check_configuration(cls)
