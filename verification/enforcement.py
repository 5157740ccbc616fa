"""VerificationEnforcer: decide whether a request may pass, and build the answer that stops it.

Shared by the middleware, the decorators and the mixins. The answers: anonymous users go to LOGIN_URL
with `next`; logged-in users who have not verified (recently enough) go to `verification:phone` with
`next`. A request asking for JSON (Accept, X-Requested-With, or a JSON body) gets 401 with a JSON body
naming the URL to visit; an htmx request gets 200 with an `HX-Redirect` header (htmx ignores response
headers on 3xx, and would swap a followed redirect's page into the target).

`next` is the full path with its query string for GET and HEAD. Other methods cannot be replayed by a
redirect, so `next` is the page they were sent from (the Referer, if it is a safe same-site path), else
the path itself; the body of the request is not kept. For htmx, the page in the browser (HX-Current-URL)
comes first, since the request path is usually a fragment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse, HttpResponseBase, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, patch_cache_control, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

from verification import state
from verification.conf import conf
from verification.paths import REDIRECT_FIELD_NAME, login_url, with_next
from verification.redirects import is_safe_next
from verification.rules import Requirement

if TYPE_CHECKING:
    from django.http import HttpRequest

    from verification.state import AnyUser

__all__ = ["VARY_HEADERS", "VERIFICATION_URL_NAME", "VerificationEnforcer"]

#: The verification flow's first step, where unverified users are sent.
VERIFICATION_URL_NAME = "verification:phone"
HTMX_REQUEST_HEADER = "HX-Request"
HTMX_CURRENT_URL_HEADER = "HX-Current-URL"
HTMX_REDIRECT_HEADER = "HX-Redirect"
#: Request headers the answers depend on (for caches between the site and the browser).
VARY_HEADERS = ("Accept", "X-Requested-With", HTMX_REQUEST_HEADER)
#: Methods whose request a browser may repeat by following a redirect.
REPLAYABLE_METHODS = frozenset({"GET", "HEAD"})
#: What a protected page's response says to caches: only this browser may have it, and not even it may keep it.
PROTECTED_CACHE_CONTROL = "private, no-store"
#: Set on a request that a protection let through: its response is then marked `protect_response`.
PROTECTED_ATTRIBUTE = "_verification_protected"


class VerificationEnforcer:
    """Build the answers that stop a request: to the login page, or to the verification flow.

    Shared by the middleware, the decorators and the mixins; override a hook in a subclass to change
    where users are sent or how (`get_login_url`, `get_verification_url`, `get_next_url`,
    `handle_anonymous`, `handle_unverified`, `redirect`, `protect_response`).
    """

    redirect_field_name = REDIRECT_FIELD_NAME

    def check(
        self, request: HttpRequest, max_age: int | None = None, *, user: AnyUser | None = None
    ) -> HttpResponse | None:
        """Return None if `request` may pass (a verification at most `max_age` seconds old, default
        VERIFICATION_MAX_AGE), else the answer."""
        return self.check_requirement(request, Requirement(conf.MAX_AGE if max_age is None else max_age), user=user)

    def check_requirement(
        self, request: HttpRequest, requirement: Requirement, *, user: AnyUser | None = None
    ) -> HttpResponse | None:
        """Return None if `request` meets `requirement` (its `max_age` as is: None is any age), else the answer.

        The one decision behind `check` and the middleware.
        """
        if user is None:
            if not hasattr(request, "user"):
                raise ImproperlyConfigured(
                    "Verification needs django.contrib.auth.middleware.AuthenticationMiddleware before "
                    "verification.middleware.VerificationRequiredMiddleware in MIDDLEWARE."
                )
            user = request.user
        # The real user, not its lazy stand-in: the check reads it several times.
        user = state.unwrap_user(user)
        if not user.is_authenticated:
            return self.handle_anonymous(request)
        if state.verified_within(request, requirement.max_age, user=user):
            return None
        return self.handle_unverified(request, requirement.max_age)

    async def acheck(self, request: HttpRequest, max_age: int | None = None) -> HttpResponse | None:
        """Async `check`: fetches the user with `request.auser()`."""
        if not hasattr(request, "auser"):
            return self.check(request, max_age)  # raises ImproperlyConfigured
        return self.check(request, max_age, user=await request.auser())

    # Hooks.

    def protect_response(self, response: HttpResponseBase) -> HttpResponseBase:
        """Mark the response a protected view gave a verified user: `Cache-Control: private, no-store`.

        No cache may keep it, the browser's included: after logging out, the back button or the
        back/forward cache cannot show the page again, and no shared cache can hand it to someone else.
        """
        if response.has_header("Cache-Control"):
            # The view said something of its own: merged, with `public` and the like giving way.
            patch_cache_control(response, private=True, no_store=True)
        else:
            # The common case, without parsing a header that is not there (a few microseconds a request).
            response.headers["Cache-Control"] = PROTECTED_CACHE_CONTROL
        return response

    def get_login_url(self, request: HttpRequest) -> str:
        """Return the login page's URL (LOGIN_URL)."""
        url = login_url()
        if url is None:
            raise ImproperlyConfigured(
                "Verification needs settings.LOGIN_URL (a URL or a URL name) for anonymous users."
            )
        return url

    def get_verification_url(self, request: HttpRequest) -> str:
        """Return the verification flow's first page (`verification:phone`)."""
        return reverse(VERIFICATION_URL_NAME)

    def get_next_url(self, request: HttpRequest) -> str:
        """Return where to come back to: the full path, or for a POST & co. the safe page it came from."""
        if request.headers.get(HTMX_REQUEST_HEADER) == "true":
            current = self._same_site_path(request, request.headers.get(HTMX_CURRENT_URL_HEADER))
            if current is not None:
                return current
        if request.method in REPLAYABLE_METHODS:
            return request.get_full_path()
        referer = self._same_site_path(request, request.headers.get("Referer"))
        if referer is not None:
            return referer
        # The path alone: many views answer GET on the URL they take a POST on (a form).
        return request.get_full_path()

    def handle_anonymous(self, request: HttpRequest) -> HttpResponse:
        """Answer an anonymous request for a protected page: to LOGIN_URL, with `next`."""
        url = self.get_login_url(request)
        next_url = self.get_next_url(request)
        if not self.wants_json(request) and not self.is_htmx(request):
            response: HttpResponse = redirect_to_login(next_url, url, self.redirect_field_name)
            return self._finish(response)
        return self.redirect(
            request,
            self._with_next(url, next_url),
            error="login_required",
            message=_("Log in to see this page."),
        )

    def handle_unverified(self, request: HttpRequest, max_age: int | None = None) -> HttpResponse:
        """Answer a logged-in user who has not verified (recently enough): to the verification flow."""
        url = self._with_next(self.get_verification_url(request), self.get_next_url(request))
        return self.redirect(
            request,
            url,
            error="verification_required",
            message=_("Confirm your phone number to see this page."),
        )

    def redirect(self, request: HttpRequest, url: str, *, error: str, message: Any) -> HttpResponse:
        """Send the client to `url` in the way it understands: htmx header, JSON 401, or a 302."""
        response: HttpResponse
        if self.is_htmx(request):
            response = HttpResponse(status=200)
            response[HTMX_REDIRECT_HEADER] = url
        elif self.wants_json(request):
            response = JsonResponse({"error": error, "detail": str(message), "url": url}, status=401)
            # RFC 9110 asks a 401 to name its challenge; this one is "go to `url`".
            response["WWW-Authenticate"] = f'Verification realm="{error}"'
        else:
            response = HttpResponseRedirect(url)
        return self._finish(response)

    def is_htmx(self, request: HttpRequest) -> bool:
        """Tell whether htmx sent the request (HX-Request: true)."""
        return request.headers.get(HTMX_REQUEST_HEADER) == "true"

    def wants_json(self, request: HttpRequest) -> bool:
        """Tell whether the client asks for JSON: X-Requested-With, a JSON body, or JSON first in Accept."""
        if request.headers.get("X-Requested-With") == "XMLHttpRequest":
            return True
        if request.content_type == "application/json" and request.method not in REPLAYABLE_METHODS:
            return True
        accept = request.headers.get("Accept", "")
        if "json" not in accept:
            return False
        preferred = request.accepted_types[:1]
        return bool(preferred) and (preferred[0].sub_type == "json" or preferred[0].sub_type.endswith("+json"))

    # Helpers.

    def _with_next(self, url: str, next_url: str) -> str:
        return with_next(url, next_url, self.redirect_field_name)

    @staticmethod
    def _same_site_path(request: HttpRequest, url: str | None) -> str | None:
        """Return the path and query of `url` if it is a safe page of this site, else None."""
        if not url or not url_has_allowed_host_and_scheme(
            url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return None
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return path if is_safe_next(path, request) else None

    @staticmethod
    def _finish(response: HttpResponse) -> HttpResponse:
        # The answer depends on who asks and how; no cache may keep it for someone else.
        add_never_cache_headers(response)
        patch_vary_headers(response, VARY_HEADERS)
        return response
