"""The one place that reads and writes the verification state in the session.

The state is bound to the user (primary key and session auth hash, so a password change ends it),
to the verified number (E.164) and to the time of verification; only a state that says its session is
registered (`"reg"`, see `verification.sessions`) counts. Logging out flushes the session, and
the state with it. Nothing else touches `SESSION_KEY`.

Reading the state makes no database query: it uses the session that authentication has already
loaded, and the user that authentication has already fetched. In async code, pass the user from
`await request.auser()` (or use `ais_verified`), since `request.user` may query synchronously.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from django.contrib.auth import HASH_SESSION_KEY
from django.middleware.csrf import rotate_token
from django.utils.functional import LazyObject

from verification.conf import conf

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpRequest

    AnyUser = AbstractBaseUser | AnonymousUser

__all__ = [
    "SESSION_KEY",
    "VerifiedState",
    "aget_state",
    "ais_verified",
    "clear",
    "get_state",
    "is_verified",
    "mark_session_verified",
    "mark_verified",
    "unwrap_user",
    "verified_within",
]

SESSION_KEY = "_verification"


@dataclass(frozen=True)
class VerifiedState:
    """A verification held by the session: who, which number (E.164), when (Unix seconds)."""

    user_pk: str
    auth_hash: str
    number: str
    verified_at: int

    def age(self, now: float | None = None) -> float:
        """Seconds since the verification."""
        return (time.time() if now is None else now) - self.verified_at


def unwrap_user(user: AnyUser) -> AnyUser:
    """Return the user behind a lazy `request.user` (fetching it if need be), or `user` itself."""
    # Every attribute read through Django's lazy `request.user` runs Python code, and the check on every
    # protected request reads several. One read through it gives a bound method of the real user, and a
    # bound method knows its object (`__self__`): every later read is then a plain one.
    if not isinstance(user, LazyObject):
        return user
    method = getattr(user, "get_username", None)
    return cast("AnyUser", getattr(method, "__self__", user))


def _session_auth_hash(request: HttpRequest, user: AnyUser) -> str:
    # The hash authentication stored at login (and refreshed on a password change in this session);
    # recomputed only for a session logged in some other way.
    stored = request.session.get(HASH_SESSION_KEY)
    if isinstance(stored, str) and stored:
        return stored
    get_hash = getattr(user, "get_session_auth_hash", None)
    return get_hash() if get_hash is not None else ""


def mark_verified(request: HttpRequest, number: str, *, user: AnyUser | None = None) -> None:
    """Record that the logged-in user of `request` (or `user`) has just verified `number`.

    This writes the state only: a flow of a site's own calls `mark_session_verified`, which also gives
    the session a new key and registers it, so that ending the user's sessions can end this one.
    """
    user = request.user if user is None else user
    if not user.is_authenticated:
        raise ValueError("Only a logged-in user can be marked verified.")
    request.session[SESSION_KEY] = {
        "user": str(user.pk),
        "hash": _session_auth_hash(request, user),
        "number": number,
        "at": int(time.time()),
        # Only a state written since the session registry exists counts (`_verified_at`): a session
        # verified before it may be unknown to the registry, so it could not be ended.
        "reg": 1,
    }


def mark_session_verified(request: HttpRequest, number: str) -> None:
    """Mark the session verified for `number`, give it a new key and a new CSRF token, and register it.

    After it, the session is in the registry of `verification.sessions` under its new key, even on a
    site that uses the decorators without the middleware.
    """
    # Imported here: the registry's models are not ready when this module may first be imported.
    from verification import sessions

    previous_key = request.session.session_key
    mark_verified(request, number)
    # A new session key and CSRF token: whatever an attacker fixed or saw before is worthless now.
    request.session.cycle_key()
    rotate_token(request)
    sessions.register(request, previous_key=previous_key)


def _verified_at(request: HttpRequest, user: AnyUser | None) -> int | None:
    """Return when the session's verification was made, if it is whole and is the current user's; else None.

    The one check behind `get_state` and `is_verified`: it binds the state to the user's primary key and
    to the session's auth hash. It runs on every protected request, so it builds nothing and reads the
    user itself, not through its lazy stand-in.
    """
    session = request.session
    raw = session.get(SESSION_KEY)
    if not isinstance(raw, dict):
        return None
    if user is None:
        user = request.user
    if isinstance(user, LazyObject):
        user = unwrap_user(user)
    if not user.is_authenticated:
        return None
    try:
        verified_at = int(raw["at"])
        if "number" not in raw or "reg" not in raw or str(raw["user"]) != str(user.pk):
            return None
        auth_hash = str(raw["hash"])
    except (KeyError, TypeError, ValueError):
        return None
    # Authentication has checked the session's auth hash against the user; comparing with it ends
    # the state when the password changes (update_session_auth_hash stores the new hash). Both sides
    # were written by the server into this same session and neither is compared with what a client
    # sends, so a plain comparison leaks nothing through its timing.
    stored = session.get(HASH_SESSION_KEY)
    if not (isinstance(stored, str) and stored):
        stored = _session_auth_hash(request, user)
    if not auth_hash or auth_hash != stored:
        return None
    return verified_at


def get_state(request: HttpRequest, *, user: AnyUser | None = None) -> VerifiedState | None:
    """Return the session's verification if it belongs to the current user and auth hash, else None.

    Reads only the session (already loaded by authentication); makes no query.
    """
    verified_at = _verified_at(request, user)
    if verified_at is None:
        return None
    raw = request.session[SESSION_KEY]
    return VerifiedState(str(raw["user"]), str(raw["hash"]), str(raw["number"]), verified_at)


async def aget_state(request: HttpRequest) -> VerifiedState | None:
    """Async `get_state`: fetch the user with `request.auser()`, never synchronously."""
    return get_state(request, user=await request.auser())


def is_verified(request: HttpRequest, max_age: int | None = None, *, user: AnyUser | None = None) -> bool:
    """Tell whether the current user verified within `max_age` seconds (default VERIFICATION_MAX_AGE).

    With neither `max_age` nor VERIFICATION_MAX_AGE, a verification lasts as long as the session.
    """
    return verified_within(request, conf.MAX_AGE if max_age is None else max_age, user=user)


def verified_within(request: HttpRequest, max_age: int | None, *, user: AnyUser | None = None) -> bool:
    """Tell whether the current user verified within `max_age` seconds; None: at any time.

    Unlike `is_verified`, no default applies: for callers that have resolved the freshness already,
    such as the middleware with its rules (they save reading the setting on every request).
    """
    verified_at = _verified_at(request, user)
    return verified_at is not None and (max_age is None or time.time() - verified_at <= max_age)


async def ais_verified(request: HttpRequest, max_age: int | None = None) -> bool:
    """Async `is_verified`."""
    return is_verified(request, max_age, user=await request.auser())


def clear(request: HttpRequest) -> None:
    """Forget the session's verification."""
    request.session.pop(SESSION_KEY, None)
