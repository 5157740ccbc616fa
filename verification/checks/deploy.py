"""System checks of how the site is deployed: W007 (deploy: no toll-fraud circuit breaker), W008 (ATOMIC_REQUESTS),
W010 (deploy: the admin is not behind verification)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Tags, register
from django.core.checks import Warning as CheckWarning
from django.core.exceptions import ImproperlyConfigured, ViewDoesNotExist
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from verification.conf import conf
from verification.paths import resolve_site_path, site_path
from verification.rules import compile_rules

__all__ = ["check_admin_protected", "check_atomic_requests", "check_circuit_breakers"]

#: The rule W010's hint suggests: the whole admin, with a verification at most 15 minutes old.
ADMIN_RULE = {"name": "admin:*", "max_age": 900}


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
    """W008: no database wraps requests in a transaction, in which a send of the site's own views would run."""
    atomic = sorted(alias for alias, options in settings.DATABASES.items() if options.get("ATOMIC_REQUESTS"))
    if not atomic:
        return []
    return [
        CheckWarning(
            f"ATOMIC_REQUESTS is on for {', '.join(repr(alias) for alias in atomic)}. The verification pages opt "
            "out, but a view of yours that calls verification.flow to send a code would send it inside the "
            "request's transaction: the send budgets' row locks held across the call to the Verify provider, "
            "and the circuit breakers blind to that send until the request commits, so concurrent sends could "
            "pass them.",
            hint="Turn ATOMIC_REQUESTS off, or mark such views with transaction.non_atomic_requests (as the "
            "verification pages are).",
            id="verification.W008",
        )
    ]


@register(Tags.security, "verification", deploy=True)
def check_admin_protected(**kwargs: Any) -> list[CheckMessage]:
    """W010: with the admin installed, a rule covers its index, as the middleware decides it.

    Otherwise a stolen staff password alone opens the admin, where the reset action removes second factors.
    """
    if not apps.is_installed("django.contrib.admin"):
        return []
    try:
        url = reverse("admin:index")
        match = resolve_site_path(url)
        rules = compile_rules()
    except (NoReverseMatch, ImproperlyConfigured, ImportError, ViewDoesNotExist):
        # No admin in the URLconf, or a URLconf or rules that do not load: other checks report those.
        return []
    if match is None:
        return []
    # The request the middleware would see for the admin's index.
    request = HttpRequest()
    request.path = url
    request.path_info = site_path(url) or url
    request.resolver_match = match
    if rules.requirement(request, match.func) is not None:
        return []
    return [
        CheckWarning(
            f"django.contrib.admin is installed and no rule of VERIFICATION_REQUIRED_URLS covers its index ({url}): "
            "a staff password alone opens the admin, phone verification aside.",
            hint=f"Add {ADMIN_RULE!r} to VERIFICATION_REQUIRED_URLS (and leave the admin out of "
            "VERIFICATION_EXEMPT_URLS); the admin's login stays exempt.",
            id="verification.W010",
        )
    ]
