"""The registry of each user's sessions, so that ending a user's verifications can end those sessions.

The contract:

- a session is registered (a `UserSession` row: user, session key) when its user logs in, and followed
  through every change of its key (`login()`, `update_session_auth_hash()`, `state.mark_session_verified`):
  the login receiver, `state.mark_session_verified` and the middleware call `register`; one write then,
  no query on a request whose key does not change;
- `end_sessions(user)` deletes every registered session of the user from the session engine (db, cache,
  cached_db, file), then their rows: the next request of each of them is anonymous;
- rows of sessions the engine no longer has (expired, flushed) are pruned whenever the user registers one,
  so the registry needs no cron;
- client-side sessions (`signed_cookies`) cannot be deleted from the server: nothing is registered for
  them, and system check E054 reports the engine.
"""

from __future__ import annotations

import logging
import time
from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.contrib.sessions.backends.signed_cookies import SessionStore as SignedCookieStore
from django.db import transaction

from verification.models import UserSession

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.base import SessionBase
    from django.http import HttpRequest

    AnyUser = AbstractBaseUser | AnonymousUser

__all__ = [
    "LOGIN_AT_SESSION_KEY",
    "REGISTERED_KEY_ATTRIBUTE",
    "connect_receivers",
    "end_sessions",
    "is_client_side_engine",
    "is_registered",
    "logged_in_at",
    "prune",
    "register",
]

logger = logging.getLogger(__name__)

#: Where the session keeps the time of its login (Unix seconds).
LOGIN_AT_SESSION_KEY = "_verification_login_at"
#: The request attribute that holds the session key `register` last recorded during that request,
#: so the middleware does not register again what the login receiver or the verification just did.
REGISTERED_KEY_ATTRIBUTE = "_verification_registered_key"
#: Passes of `end_sessions` at most: each catches the rows that moved to a new key during the one before.
_END_PASSES = 3


def _session_store_class(engine: str) -> type[SessionBase]:
    return import_module(engine).SessionStore


@cache
def _is_client_side(engine: str) -> bool:
    return issubclass(_session_store_class(engine), SignedCookieStore)


def is_client_side_engine(engine: str | None = None) -> bool:
    """Tell whether `engine` (default SESSION_ENGINE) keeps sessions in the client, where none can be revoked."""
    return _is_client_side(settings.SESSION_ENGINE if engine is None else engine)


def register(
    request: HttpRequest,
    *,
    previous_key: str | None = None,
    login: bool = False,
    user: AnyUser | None = None,
) -> None:
    """Record the session of `request` for its logged-in user (or `user`); idempotent.

    With `previous_key` (the key before a `cycle_key()`), that session's row moves to the new key.
    With `login`, the session also records the time of the login (`logged_in_at`). Nothing happens for
    an anonymous user. A session without a key yet is saved first, which gives it one.
    """
    user = getattr(request, "user", None) if user is None else user
    if user is None or not user.is_authenticated:
        return
    session = request.session
    if login:
        session[LOGIN_AT_SESSION_KEY] = int(time.time())
    if is_client_side_engine():
        return
    if session.session_key is None:
        session.save()
    key = session.session_key
    if not key:
        return
    user_pk: Any = user.pk
    with transaction.atomic():
        moved = False
        if previous_key and previous_key != key and not UserSession.objects.filter(session_key=key).exists():
            moved = bool(UserSession.objects.filter(session_key=previous_key, user_id=user_pk).update(session_key=key))
        if previous_key and previous_key != key:
            # The old key is dead whatever became of its row (cycle_key deleted its session).
            UserSession.objects.filter(session_key=previous_key).delete()
        if not moved:
            UserSession.objects.update_or_create(session_key=key, defaults={"user_id": user_pk})
    setattr(request, REGISTERED_KEY_ATTRIBUTE, key)
    _prune(user_pk, keep=key)


def logged_in_at(request: HttpRequest) -> int | None:
    """Return when the session of `request` logged in (Unix seconds), or None if it was not recorded."""
    value = request.session.get(LOGIN_AT_SESSION_KEY)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def is_registered(request: HttpRequest) -> bool:
    """Tell whether the session of `request` is registered for its logged-in user (one query)."""
    key = request.session.session_key
    user = request.user
    if not key or not user.is_authenticated:
        return False
    return UserSession.objects.filter(session_key=key, user_id=user.pk).exists()


def _session_store() -> SessionBase:
    return _session_store_class(settings.SESSION_ENGINE)()


def end_sessions(user: AnyUser, *, keep: str | None = None) -> int:
    """End every registered session of `user` but the one whose key is `keep`; return how many ended.

    Each session is deleted from the session engine (for cached_db, its cache entry and its row), so its
    next request is anonymous; then its registry row goes.
    """
    user_pk: Any = user.pk
    store = _session_store()
    ended = 0
    # Again while rows remain: a session that cycled its key meanwhile (a login, a verification) has
    # moved its row to a key the first pass did not see.
    for _ in range(_END_PASSES):
        rows = UserSession.objects.filter(user_id=user_pk)
        if keep:
            rows = rows.exclude(session_key=keep)
        keys = list(rows.values_list("session_key", flat=True))
        if not keys:
            break
        for key in keys:
            store.delete(key)
        UserSession.objects.filter(session_key__in=keys).delete()
        ended += len(keys)
    if ended:
        logger.info("Ended %d session(s) of user %s.", ended, user.pk)
    return ended


def prune(user: AnyUser, *, keep: str | None = None) -> int:
    """Drop the rows of `user` whose session the engine no longer has (but `keep`'s); return how many."""
    user_pk: Any = user.pk
    return _prune(user_pk, keep=keep)


def _prune(user_pk: Any, *, keep: str | None) -> int:
    store = _session_store()
    rows = UserSession.objects.filter(user_id=user_pk)
    if keep:
        rows = rows.exclude(session_key=keep)
    gone = [key for key in rows.values_list("session_key", flat=True) if not store.exists(key)]
    if gone:
        UserSession.objects.filter(session_key__in=gone).delete()
    return len(gone)


def _on_login(sender: Any, request: HttpRequest | None, user: AnyUser, **kwargs: Any) -> None:
    # login() has cycled the key already; for the db, cache, cached_db and file engines that saved the
    # session under its new key (register saves one that has none yet).
    if request is None or getattr(request, "session", None) is None:
        return
    register(request, login=True, user=user)


def _on_logout(sender: Any, request: HttpRequest | None, user: AnyUser | None, **kwargs: Any) -> None:
    # Sent before logout() flushes the session: the key is still the one registered.
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        UserSession.objects.filter(session_key=key).delete()


def connect_receivers() -> None:
    """Connect the login and logout receivers (the app's `ready()` does)."""
    user_logged_in.connect(_on_login, dispatch_uid="verification.sessions.login")
    user_logged_out.connect(_on_logout, dispatch_uid="verification.sessions.logout")
