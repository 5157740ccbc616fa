"""Per-view opt-in and opt-out: decorators for view functions, mixins for class-based views.

- `verification_required` (or `verification_required(max_age=300)`) protects one view without a
  setting: the view itself checks, so it works with or without the middleware.
- `verification_not_required` exempts one view from VerificationRequiredMiddleware's rules.
- `VerificationRequiredMixin` and `VerificationNotRequiredMixin` do the same for class-based views.

Both decorators and mixins work on sync and async views.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, overload

from asgiref.sync import iscoroutinefunction

from verification.enforcement import VerificationEnforcer
from verification.rules import VIEW_ATTRIBUTE

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase

__all__ = [
    "VerificationNotRequiredMixin",
    "VerificationRequiredMixin",
    "verification_not_required",
    "verification_required",
]

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., Any])


@overload
def verification_required(
    function: ViewFunc, *, max_age: int | None = None, enforcer_class: type[VerificationEnforcer] = ...
) -> ViewFunc: ...


@overload
def verification_required(
    function: None = None, *, max_age: int | None = None, enforcer_class: type[VerificationEnforcer] = ...
) -> Callable[[ViewFunc], ViewFunc]: ...


def verification_required(
    function: ViewFunc | None = None,
    *,
    max_age: int | None = None,
    enforcer_class: type[VerificationEnforcer] = VerificationEnforcer,
) -> ViewFunc | Callable[[ViewFunc], ViewFunc]:
    """Let only users who verified their phone (within `max_age` seconds, default VERIFICATION_MAX_AGE) in.

    The view's response to them is marked `Cache-Control: private, no-store` (`protect_response`).
    Anonymous users go to LOGIN_URL, unverified ones to the verification flow, both with `next`; a
    subclass of VerificationEnforcer given as `enforcer_class` changes where and how, as
    `verification_enforcer_class` does for the mixin.
    """
    enforcer = enforcer_class()

    def decorator(view_func: ViewFunc) -> ViewFunc:
        if iscoroutinefunction(view_func):

            async def _async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
                response = await enforcer.acheck(request, max_age)
                if response is not None:
                    return response
                return enforcer.protect_response(await view_func(request, *args, **kwargs))

            wrapper: Callable[..., Any] = _async_view
        else:

            def _sync_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
                response = enforcer.check(request, max_age)
                if response is not None:
                    return response
                return enforcer.protect_response(view_func(request, *args, **kwargs))

            wrapper = _sync_view
        wrapper = wraps(view_func)(wrapper)
        setattr(wrapper, VIEW_ATTRIBUTE, True)
        return wrapper  # type: ignore[return-value]

    if function is not None:
        return decorator(function)
    return decorator


def verification_not_required(view_func: ViewFunc) -> ViewFunc:
    """Exempt this view from VerificationRequiredMiddleware, whatever VERIFICATION_REQUIRED_URLS says.

    The view is wrapped, not marked in place, so the same function used elsewhere stays protected.
    """
    if iscoroutinefunction(view_func):

        async def _async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            return await view_func(request, *args, **kwargs)

        wrapper: Callable[..., Any] = _async_view
    else:

        def _sync_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            return view_func(request, *args, **kwargs)

        wrapper = _sync_view
    wrapper = wraps(view_func)(wrapper)
    setattr(wrapper, VIEW_ATTRIBUTE, False)
    return wrapper  # type: ignore[return-value]


class VerificationRequiredMixin:
    """Let only users who verified their phone (within `verification_max_age` seconds) use this view.

    Put it first among the bases, like LoginRequiredMixin: it checks before `dispatch` runs.
    """

    #: Seconds the verification may be old for this view; None: VERIFICATION_MAX_AGE.
    verification_max_age: int | None = None
    #: The enforcer building the answers; subclass VerificationEnforcer to change them.
    verification_enforcer_class: type[VerificationEnforcer] = VerificationEnforcer

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., HttpResponseBase]:
        """Return the view function, marked as protected for introspection."""
        view: Callable[..., HttpResponseBase] = super().as_view(**initkwargs)  # type: ignore[misc]
        setattr(view, VIEW_ATTRIBUTE, True)
        return view

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        """Check the verification, then dispatch as usual (awaiting in an async view)."""
        enforcer = self.verification_enforcer_class()
        if getattr(self, "view_is_async", False):
            return self._async_dispatch(enforcer, request, *args, **kwargs)
        response = enforcer.check(request, self.verification_max_age)
        if response is not None:
            return response
        return enforcer.protect_response(super().dispatch(request, *args, **kwargs))  # type: ignore[misc]

    async def _async_dispatch(
        self, enforcer: VerificationEnforcer, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> Any:
        response = await enforcer.acheck(request, self.verification_max_age)
        if response is not None:
            return response
        return enforcer.protect_response(await super().dispatch(request, *args, **kwargs))  # type: ignore[misc]


class VerificationNotRequiredMixin:
    """Exempt this class-based view from VerificationRequiredMiddleware's rules."""

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., HttpResponseBase]:
        """Return the view function, marked as exempt."""
        view: Callable[..., HttpResponseBase] = super().as_view(**initkwargs)  # type: ignore[misc]
        setattr(view, VIEW_ATTRIBUTE, False)
        return view
