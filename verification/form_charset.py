"""FormCharsetMiddleware: a form body declared in a charset other than UTF-8 gets a 400, before CSRF reads it.

Since Django 5.0 (ticket #34709) reading `request.POST` of an `application/x-www-form-urlencoded` body
whose Content-Type names another charset raises `BadRequest`. The first reader is
`CsrfViewMiddleware`, for any POST with a CSRF cookie; Django's error views then read the body again
(their `requires_csrf_token`), which raises again inside the error handling: a bare 500, on every POST
view, without logging in (Django 5.2 and 6.1). This middleware answers such a request with the 400
Django meant, by Django's own rule, before anything reads the body. Put it before CsrfViewMiddleware
(check `verification.W011`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpResponseBadRequest

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase

__all__ = ["FORM_CONTENT_TYPE", "FormCharsetMiddleware", "unreadable_form_response"]

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def unreadable_form_response(request: HttpRequest) -> HttpResponseBadRequest | None:
    """Return a 400 if Django would refuse to read this request's form body (not UTF-8), else None."""
    if request.content_type != FORM_CONTENT_TYPE:
        return None
    # Django's own condition: `encoding` is the declared charset when Python knows it, else None.
    encoding = request.encoding
    if encoding is None or encoding.lower() == "utf-8":
        return None
    return HttpResponseBadRequest("A form must be sent in UTF-8.\n", content_type="text/plain; charset=utf-8")


class FormCharsetMiddleware:
    """Answer 400 to a form body Django cannot read; put it before CsrfViewMiddleware. Sync and async."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self._is_async = iscoroutinefunction(get_response)
        if self._is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        """Refuse an unreadable form body, or pass the request on."""
        if self._is_async:
            return self.__acall__(request)
        refusal = unreadable_form_response(request)
        return refusal if refusal is not None else self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        """Async `__call__`."""
        refusal = unreadable_form_response(request)
        return refusal if refusal is not None else await self.get_response(request)
