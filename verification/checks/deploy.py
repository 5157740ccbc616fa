"""System checks of how the site is deployed: W007 (deploy: no toll-fraud circuit breaker), W008 (ATOMIC_REQUESTS)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, register
from django.core.checks import Warning as CheckWarning

from verification.conf import conf

__all__ = ["check_atomic_requests", "check_circuit_breakers"]


@register(Tags.security, "verification", deploy=True)
def check_circuit_breakers(**kwargs: Any) -> list[CheckMessage]:
    """W007: in production, at least one toll-fraud circuit breaker caps what the site can be made to send."""
    if settings.DEBUG or conf.COUNTRY_SEND_LIMITS or conf.GLOBAL_SEND_LIMIT is not None:
        return []
    return [
        CheckWarning(
            "No toll-fraud circuit breaker is set: SMS pumping through many accounts, addresses and numbers "
            "is capped only by your provider's bill.",
            hint="Set VERIFICATION_COUNTRY_SEND_LIMITS (such as {'GB': 100, '*': 20}) and/or "
            "VERIFICATION_GLOBAL_SEND_LIMIT to a few times your busiest hour's sends.",
            id="verification.W007",
        )
    ]


@register("verification")
def check_atomic_requests(**kwargs: Any) -> list[CheckMessage]:
    """W008: no database wraps requests in a transaction, which would hold the send locks across the provider call."""
    atomic = sorted(alias for alias, options in settings.DATABASES.items() if options.get("ATOMIC_REQUESTS"))
    if not atomic:
        return []
    return [
        CheckWarning(
            f"ATOMIC_REQUESTS is on for {', '.join(repr(alias) for alias in atomic)}: the send budgets' row locks "
            "would be held until the request ends, across the call to the Verify provider, so concurrent sends "
            "(every send, with VERIFICATION_GLOBAL_SEND_LIMIT) wait for each other's provider round trip.",
            hint="Turn ATOMIC_REQUESTS off, or wrap the verification URLs' views in transaction.non_atomic_requests.",
            id="verification.W008",
        )
    ]
