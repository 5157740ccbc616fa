"""The bench's requests: WSGI environs, serving them, what went wrong, and the handlers with and without us."""

from __future__ import annotations

import io
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import CommandError
from django.core.signals import got_request_exception
from django.http import HttpResponseBase
from django.test.utils import override_settings

from verification._bench.visitors import Visitor
from verification.checks.middleware import AUTHENTICATION_MIDDLEWARE_PATH, MIDDLEWARE_PATH

__all__ = [
    "AUTHENTICATION_MIDDLEWARE_PATH",
    "HOST",
    "MIDDLEWARE_PATH",
    "build_handler",
    "describe_exception",
    "describe_response",
    "make_environ",
    "middleware_variants",
    "raised_in_views",
    "serve",
]

HOST = "testserver"


def make_environ(path_info: str, visitor: Visitor) -> dict[str, Any]:
    """Return the WSGI environ of a browser's GET of `path_info` over HTTPS."""
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path_info,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": HOST,
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "HTTP_HOST": HOST,
        "HTTP_COOKIE": visitor.cookie,
        "HTTP_ACCEPT": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.8",
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
    return _discard


def _discard(data: bytes) -> None:
    pass


def serve(
    handler: WSGIHandler, environ: dict[str, Any], clock: Callable[[], int] = time.perf_counter_ns
) -> tuple[HttpResponseBase, int]:
    """Serve one request as a WSGI server would (body read, response closed); return it and its nanoseconds."""
    start = clock()
    response = handler(environ, _start_response)
    try:
        for _chunk in response:
            pass
    finally:
        response.close()
    return response, clock() - start


def describe_response(response: HttpResponseBase) -> str:
    """Describe a response for an error message: its status and where it redirects, if it does."""
    location = response.get("Location")
    return f"{response.status_code}" + (f" to {location}" if location else "")


def describe_exception(error: BaseException) -> str:
    """Describe an exception for an error message: its type and its message, as a traceback ends."""
    message = str(error)
    return type(error).__name__ + (f": {message}" if message else "")


@contextmanager
def raised_in_views() -> Iterator[list[BaseException]]:
    """Collect, while the block runs, what views and middleware raised that Django answered with a 500.

    Django sends `got_request_exception` from inside its `except` block, where `sys.exc_info()` still
    holds the exception; Django's test client finds it the same way. The signal is sent on failures
    only, so listening costs the requests timed nothing.
    """
    raised: list[BaseException] = []

    def record(sender: object, **kwargs: object) -> None:
        exception = sys.exc_info()[1]
        if exception is not None:
            raised.append(exception)

    got_request_exception.connect(record)
    try:
        yield raised
    finally:
        got_request_exception.disconnect(record)


def build_handler(middleware: Sequence[str]) -> WSGIHandler:
    """Return a WSGI handler with this middleware list (and the current settings otherwise)."""
    with override_settings(MIDDLEWARE=list(middleware)), warnings.catch_warnings():
        # WhiteNoise warns when STATIC_ROOT has not been collected yet; it does not matter here.
        warnings.filterwarnings("ignore", message="No directory at")
        return WSGIHandler()


def middleware_variants(measured: str) -> tuple[list[str], list[str]]:
    """Return the site's MIDDLEWARE with the `measured` middleware, and the same without it."""
    without_us = [name for name in settings.MIDDLEWARE if name != measured]
    if measured in settings.MIDDLEWARE:
        return list(settings.MIDDLEWARE), without_us
    if AUTHENTICATION_MIDDLEWARE_PATH not in without_us:
        raise CommandError(
            f"MIDDLEWARE lacks {AUTHENTICATION_MIDDLEWARE_PATH}: there is nothing to measure, since "
            f"{measured} needs request.user. Add it to MIDDLEWARE, after SessionMiddleware."
        )
    with_us = list(without_us)
    with_us.insert(with_us.index(AUTHENTICATION_MIDDLEWARE_PATH) + 1, measured)
    return with_us, without_us
