"""System checks of the middleware's place: E001 (missing while rules exist), E002 (authentication after it),
W011 (FormCharsetMiddleware missing, or after CsrfViewMiddleware)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.checks import Warning as CheckWarning
from django.utils.module_loading import import_string

from verification.conf import conf

__all__ = [
    "AUTHENTICATION_MIDDLEWARE_PATH",
    "CSRF_MIDDLEWARE_PATH",
    "FORM_CHARSET_MIDDLEWARE_PATH",
    "MIDDLEWARE_PATH",
    "check_form_charset_middleware",
    "check_middleware",
    "index_of",
]

MIDDLEWARE_PATH = "verification.middleware.VerificationRequiredMiddleware"
AUTHENTICATION_MIDDLEWARE_PATH = "django.contrib.auth.middleware.AuthenticationMiddleware"
FORM_CHARSET_MIDDLEWARE_PATH = "verification.form_charset.FormCharsetMiddleware"
CSRF_MIDDLEWARE_PATH = "django.middleware.csrf.CsrfViewMiddleware"


def index_of(class_path: str, middleware: Sequence[str]) -> int | None:
    """Return the position of `class_path`, or of a subclass of it, in MIDDLEWARE."""
    try:
        base = import_string(class_path)
    except ImportError:
        return None
    for index, path in enumerate(middleware):
        try:
            candidate = import_string(path)
        except ImportError:
            continue
        if isinstance(candidate, type) and issubclass(candidate, base):
            return index
    return None


@register(Tags.security, "verification")
def check_middleware(**kwargs: Any) -> list[CheckMessage]:
    """E001, E002: the middleware is installed, after AuthenticationMiddleware."""
    middleware = list(settings.MIDDLEWARE)
    ours = index_of(MIDDLEWARE_PATH, middleware)
    if ours is None:
        if isinstance(conf.REQUIRED_URLS, list | tuple) and conf.REQUIRED_URLS:
            return [
                Error(
                    "VERIFICATION_REQUIRED_URLS has rules, but VerificationRequiredMiddleware is not in MIDDLEWARE: "
                    "nothing is protected.",
                    hint=f"Add '{MIDDLEWARE_PATH}' to MIDDLEWARE, after '{AUTHENTICATION_MIDDLEWARE_PATH}'.",
                    id="verification.E001",
                )
            ]
        return []
    authentication = index_of(AUTHENTICATION_MIDDLEWARE_PATH, middleware)
    if authentication is None or authentication > ours:
        return [
            Error(
                "VerificationRequiredMiddleware needs AuthenticationMiddleware before it in MIDDLEWARE.",
                hint=f"Put '{AUTHENTICATION_MIDDLEWARE_PATH}' before '{MIDDLEWARE_PATH}' in MIDDLEWARE.",
                id="verification.E002",
            )
        ]
    return []


@register(Tags.security, "verification")
def check_form_charset_middleware(**kwargs: Any) -> list[CheckMessage]:
    """W011: with CsrfViewMiddleware, FormCharsetMiddleware is installed before it."""
    middleware = list(settings.MIDDLEWARE)
    csrf = index_of(CSRF_MIDDLEWARE_PATH, middleware)
    if csrf is None:
        return []
    ours = index_of(FORM_CHARSET_MIDDLEWARE_PATH, middleware)
    if ours is not None and ours < csrf:
        return []
    where = "is not in MIDDLEWARE" if ours is None else "comes after CsrfViewMiddleware"
    return [
        CheckWarning(
            f"FormCharsetMiddleware {where}: a POST whose form body names a charset other than UTF-8 makes "
            "Django's CSRF check fail inside its own error handling, a bare 500 on every POST view.",
            hint=f"Put '{FORM_CHARSET_MIDDLEWARE_PATH}' in MIDDLEWARE before '{CSRF_MIDDLEWARE_PATH}'.",
            id="verification.W011",
        )
    ]
