"""Vonage Verify backends: the v2 API, and the legacy API the original tutorial used (vonage SDK 4.x).

Vonage generates, delivers, expires and checks the code; these backends only translate. Every outcome
the APIs document becomes one of `verification.exceptions`; anything else is `ProviderUnavailable`,
logged with the provider's request id and the masked number.

The SDK needs four corrections, all made in `verification.backends.vonage.sdk`:
- no timeout by default: every client gets `VONAGE_TIMEOUT`;
- a POST whose connection drops is re-sent up to ten times (one click, ten SMS): the pool size, which
  the SDK uses as its re-send count, and urllib3's retries are set so that one call is one request;
- a client mutates shared headers on every call: one client per API and per thread, reused so that
  its connections are pooled (`_clients`, the package's only mutable state);
- its `vonage` logger writes numbers, codes and credentials at DEBUG: a filter drops those records
  and masks digit runs in the rest, whatever level the logging settings allow.

Modules: `sdk` (that plumbing, and locales), `base` (what both backends share, including the one
wrapper every SDK call goes through), `checks` (their system checks), `v2` and `legacy` (the backends).
The backends stay importable from here: settings and stored `Challenge.backend` rows name
`verification.backends.vonage.VonageVerifyBackend` and `verification.backends.vonage.VonageLegacyVerifyBackend`.
"""

from __future__ import annotations

from verification.backends.vonage.legacy import LEGACY_WORKFLOWS, VonageLegacyVerifyBackend
from verification.backends.vonage.sdk import LEGACY_LOCALES, V2_LOCALES, vonage_locale
from verification.backends.vonage.v2 import VonageVerifyBackend

__all__ = [
    "LEGACY_LOCALES",
    "LEGACY_WORKFLOWS",
    "V2_LOCALES",
    "VonageLegacyVerifyBackend",
    "VonageVerifyBackend",
    "vonage_locale",
]
