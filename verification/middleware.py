"""VerificationRequiredMiddleware: send users who have not verified their phone (recently enough) to do so.

It decides in `process_view`, after `AuthenticationMiddleware`, and works in sync and async stacks:

1. no rule of VERIFICATION_REQUIRED_URLS matches, or the request is exempt: pass, without touching
   `request.user` or the session;
2. otherwise the `VerificationEnforcer` it inherits decides and answers (`verification.enforcement`):
   anonymous users to LOGIN_URL, unverified ones to the flow, verified ones pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from asgiref.sync import iscoroutinefunction
from django.utils.deprecation import MiddlewareMixin

from verification import enforcement
from verification._compat import moved
from verification.rules import Requirement, get_rules

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

__all__ = ["VerificationRequiredMiddleware"]

#: What lived here before `verification.enforcement` keeps importing from here, with a warning.
__getattr__ = moved(
    __name__,
    dict.fromkeys(
        (
            "VerificationEnforcer",
            "VERIFICATION_URL_NAME",
            "HTMX_REQUEST_HEADER",
            "HTMX_CURRENT_URL_HEADER",
            "HTMX_REDIRECT_HEADER",
            "VARY_HEADERS",
            "REPLAYABLE_METHODS",
        ),
        "verification.enforcement",
    ),
)


class VerificationRequiredMiddleware(enforcement.VerificationEnforcer, MiddlewareMixin):
    """Enforce VERIFICATION_REQUIRED_URLS on every request; put it after AuthenticationMiddleware.

    Sync and async capable: in an async stack, `process_view` is a coroutine and the user is fetched
    with `request.auser()`, so no thread is needed.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[..., Any]) -> None:
        super().__init__(get_response)
        # Compile the rules now, so the worker pays for it before it serves, not its first request
        # (after a settings change they are compiled again on first use). A bad rule stops start-up.
        get_rules()
        is_async = iscoroutinefunction(get_response)
        if is_async:
            # Django adapts process_view by what it is: give an async stack a coroutine function.
            self.process_view = self.aprocess_view  # type: ignore[method-assign,assignment]
        # MiddlewareMixin.__call__ asks on every request whether process_request and process_response
        # exist. This class has neither, so a sync stack passes each request straight on; a subclass
        # that adds one of them gets MiddlewareMixin's way.
        self._passes_straight_on = not is_async and not any(
            hasattr(self, hook) for hook in ("process_request", "process_response")
        )

    def __call__(self, request: HttpRequest) -> Any:
        """Pass the request on to the next layer; the decision is `process_view`'s."""
        if self._passes_straight_on:
            return self.get_response(request)
        return super().__call__(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        """Return None to let the request through, or the answer that stops it."""
        requirement = self.get_requirement(request, view_func)
        if requirement is None:
            return None
        return self.check_requirement(request, requirement)

    async def aprocess_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        """Async `process_view`."""
        requirement = self.get_requirement(request, view_func)
        if requirement is None:
            return None
        if not hasattr(request, "auser"):
            return self.check_requirement(request, requirement)  # raises ImproperlyConfigured
        return self.check_requirement(request, requirement, user=await request.auser())

    def get_requirement(self, request: HttpRequest, view_func: Callable[..., Any]) -> Requirement | None:
        """Return what `request` needs under the settings' rules, or None to let it through untouched."""
        return get_rules().requirement(request, view_func)
