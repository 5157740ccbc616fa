"""The bench's visitors: their sessions, logged in or not, verified or not, and their clean-up."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.test import Client

from verification import state

# A number from Ofcom's range for drama: it can never reach a real phone.
VERIFIED_NUMBER = "+447700900123"


@dataclass(frozen=True)
class Visitor:
    """Someone who asks for pages: the cookie their browser sends."""

    cookie: str


def session_store_class() -> type[SessionBase]:
    """Return the configured session engine's SessionStore."""
    store: type[SessionBase] = import_module(settings.SESSION_ENGINE).SessionStore
    return store


def log_in(username: str) -> tuple[Any, str]:
    """Create a user without a usable password and log them in; return the user and the session key."""
    user_model = get_user_model()
    user = user_model._default_manager.create(**{user_model.USERNAME_FIELD: username})
    user.set_unusable_password()
    user.save()
    client = Client()
    client.force_login(user)
    return user, client.cookies[settings.SESSION_COOKIE_NAME].value


def create_visitors() -> tuple[dict[str, Visitor], list[str]]:
    """Create the anonymous, verified and unverified visitors; return them and their session keys."""
    store_class = session_store_class()
    # An anonymous visitor who has a session (as after reading a flash message): a session load
    # added on a page that does not need one shows up as a query.
    anonymous = store_class()
    anonymous["bench_visitor"] = "anonymous"
    anonymous.save()
    assert anonymous.session_key is not None

    verified_user, verified_key = log_in("bench-verified")
    request = HttpRequest()
    request.session = store_class(session_key=verified_key)
    request.user = verified_user
    state.mark_verified(request, VERIFIED_NUMBER)
    request.session.save()

    _unverified_user, unverified_key = log_in("bench-unverified")

    name = settings.SESSION_COOKIE_NAME
    visitors = {
        "anonymous": Visitor(f"{name}={anonymous.session_key}"),
        "verified": Visitor(f"{name}={verified_key}"),
        "unverified": Visitor(f"{name}={unverified_key}"),
    }
    return visitors, [anonymous.session_key, verified_key, unverified_key]


def delete_sessions(keys: Iterable[str]) -> None:
    """Delete the run's sessions, from the cache too when the engine keeps them there."""
    store_class = session_store_class()
    for key in keys:
        store_class(session_key=key).delete()
