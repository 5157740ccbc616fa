"""VerificationRequiredMiddleware: send users who have not verified their phone (recently enough) to do so.

It decides in `process_view`, after `AuthenticationMiddleware`, and works in sync and async stacks:

1. no rule of VERIFICATION_REQUIRED_URLS matches, or the request is exempt: pass, without touching
   `request.user` or the session;
2. otherwise the `VerificationEnforcer` it inherits decides and answers (`verification.enforcement`):
   anonymous users to LOGIN_URL, unverified ones to the flow, verified ones pass, and the response
   their page gives is marked `Cache-Control: private, no-store` (`protect_response`).

Around the next layer it compares the session's key before and after (two attribute reads, no load):
when a view gave a logged-in session a new key (`update_session_auth_hash`, say), the registry of
`verification.sessions` follows it. A request whose key does not change costs nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.utils.deprecation import MiddlewareMixin

from verification import enforcement, sessions
from verification._compat import moved
from verification.rules import Requirement, get_rules

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse, HttpResponseBase

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


def _session_key(request: HttpRequest) -> str | None:
    # A plain attribute read: it neither loads the session nor needs one on the request.
    return getattr(getattr(request, "session", None), "session_key", None)


def _needs_registering(request: HttpRequest) -> bool:
    # The session has a new key that the login receiver or the verification has not registered already.
    key = _session_key(request)
    return bool(key) and getattr(request, sessions.REGISTERED_KEY_ATTRIBUTE, None) != key


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
        self._is_async = is_async
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
        """Pass the request on to the next layer (the decision is `process_view`'s); follow a new session key."""
        if self._is_async:
            return self.__acall__(request)
        key = _session_key(request)
        # A sync stack: MiddlewareMixin answers synchronously too.
        response = cast(
            "HttpResponseBase", self.get_response(request) if self._passes_straight_on else super().__call__(request)
        )
        if _session_key(request) != key:
            self._follow_new_key(request, key)
        if getattr(request, enforcement.PROTECTED_ATTRIBUTE, False):
            self.protect_response(response)
        return response

    async def __acall__(self, request: HttpRequest) -> Any:
        """Async `__call__`."""
        key = _session_key(request)
        response = await super().__acall__(request)
        if _session_key(request) != key:
            await self._afollow_new_key(request, key)
        if getattr(request, enforcement.PROTECTED_ATTRIBUTE, False):
            self.protect_response(response)
        return response

    def _follow_new_key(self, request: HttpRequest, previous_key: str | None) -> None:
        # Rare (a login, a password change, a verification): only then the user and a write.
        # Without AuthenticationMiddleware (check E002) there is no user to register the session for.
        user = getattr(request, "user", None)
        if _needs_registering(request) and user is not None and user.is_authenticated:
            sessions.register(request, previous_key=previous_key)

    async def _afollow_new_key(self, request: HttpRequest, previous_key: str | None) -> None:
        if not _needs_registering(request) or not hasattr(request, "auser"):
            return
        user = await request.auser()
        if user.is_authenticated:
            await sync_to_async(sessions.register)(request, previous_key=previous_key, user=user)

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
        return self._let_through(request, self.check_requirement(request, requirement))

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
        return self._let_through(request, self.check_requirement(request, requirement, user=await request.auser()))

    @staticmethod
    def _let_through(request: HttpRequest, answer: HttpResponse | None) -> HttpResponse | None:
        # A protected page let through: its response is marked on the way out (`protect_response`).
        if answer is None:
            setattr(request, enforcement.PROTECTED_ATTRIBUTE, True)
        return answer

    def get_requirement(self, request: HttpRequest, view_func: Callable[..., Any]) -> Requirement | None:
        """Return what `request` needs under the settings' rules, or None to let it through untouched."""
        return get_rules().requirement(request, view_func)
