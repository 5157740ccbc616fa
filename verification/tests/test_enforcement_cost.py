"""What keeps enforcement cheap, and proof that the cheap ways mean exactly what the plain ones do."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
import time_machine
from django.contrib.auth import HASH_SESSION_KEY
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from verification import state
from verification._path_index import PathIndex
from verification.enforcement import VerificationEnforcer
from verification.middleware import VerificationRequiredMiddleware
from verification.rules import Requirement, get_rules
from verification.state import SESSION_KEY, VerifiedState

NUMBER = "+447700900123"
AUTH_HASH = "a" * 64
T0 = 1_750_000_000


def make_user(pk: int = 7) -> User:
    return User(pk=pk, username=f"user{pk}")


def make_request(user: Any) -> Any:
    request = RequestFactory().get("/")
    request.session = SessionStore()
    request.session[HASH_SESSION_KEY] = AUTH_HASH
    request.user = user
    return request


# -- the lazy request.user --------------------------------------------------------------------------


def test_unwrap_user_fetches_a_lazy_user_once_and_returns_the_real_one() -> None:
    user = make_user()
    fetched: list[User] = []

    def fetch() -> User:
        fetched.append(user)
        return user

    lazy = SimpleLazyObject(fetch)
    assert state.unwrap_user(lazy) is user  # type: ignore[arg-type]
    assert state.unwrap_user(lazy) is user  # type: ignore[arg-type]
    assert fetched == [user]
    assert state.unwrap_user(user) is user
    anonymous = AnonymousUser()
    assert state.unwrap_user(anonymous) is anonymous
    assert isinstance(state.unwrap_user(SimpleLazyObject(AnonymousUser)), AnonymousUser)  # type: ignore[arg-type]


def test_the_state_reads_through_a_lazy_request_user() -> None:
    user = make_user()
    request = make_request(SimpleLazyObject(lambda: user))
    state.mark_verified(request, NUMBER)
    assert state.is_verified(request)
    assert state.get_state(request) == VerifiedState("7", AUTH_HASH, NUMBER, request.session[SESSION_KEY]["at"])
    request.user = SimpleLazyObject(lambda: make_user(pk=8))
    assert not state.is_verified(request)
    request.user = SimpleLazyObject(AnonymousUser)
    assert not state.is_verified(request)


def reference_state(raw: Any, user: Any, session_hash: str) -> VerifiedState | None:
    """The state as it was read before the check was made cheap: built, then compared in constant time.

    Since the session registry, only a state marked registered ("reg") counts.
    """
    if not isinstance(raw, dict) or "reg" not in raw or not user.is_authenticated:
        return None
    try:
        found = VerifiedState(str(raw["user"]), str(raw["hash"]), str(raw["number"]), int(raw["at"]))
    except (KeyError, TypeError, ValueError):
        return None
    if found.user_pk != str(user.pk):
        return None
    if not found.auth_hash or not constant_time_compare(found.auth_hash, session_hash):
        return None
    return found


# Values a session might hold, whole or damaged: right and wrong users, hashes, numbers and times.
RAW_VALUES = {
    "user": st.sampled_from(["7", 7, "8", "", None, 7.0, ["7"]]),
    "hash": st.sampled_from([AUTH_HASH, "b" * 64, "", None, 0, AUTH_HASH.upper()]),
    "number": st.sampled_from([NUMBER, "", None, 447700900123]),
    "at": st.sampled_from([1_750_000_000, "1750000000", "yesterday", None, 1.5, [], True]),
    "reg": st.just(1),
}
raw_states: st.SearchStrategy[Any] = st.one_of(
    st.fixed_dictionaries({}, optional=RAW_VALUES),
    st.sampled_from([None, "verified", [], 7]),
)


@hypothesis_settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(raw=raw_states, anonymous=st.booleans(), lazy=st.booleans())
def test_the_cheap_check_decides_as_the_plain_one_did(raw: Any, anonymous: bool, lazy: bool) -> None:
    user: Any = AnonymousUser() if anonymous else make_user()
    request = make_request(SimpleLazyObject(lambda: user) if lazy else user)
    request.session[SESSION_KEY] = raw
    expected = reference_state(raw, user, AUTH_HASH)
    assert state.get_state(request) == expected
    assert state.is_verified(request) is (expected is not None)


# -- compiling the rules ------------------------------------------------------------------------------


@pytest.fixture
def compiled_texts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record what the rules hand to `re.compile`."""
    texts: list[str] = []
    real_compile = re.compile

    def counting_compile(pattern: Any, flags: int = 0) -> re.Pattern[Any]:
        texts.append(pattern)
        return real_compile(pattern, flags)

    monkeypatch.setattr(re, "compile", counting_compile)
    return texts


def test_each_regular_expression_is_compiled_once(compiled_texts: list[str]) -> None:
    patterns = [rf"^/shop/{i}/(?:[0-9]+/)?$" for i in range(200)] + [r"^/(?P<name>\w+)/(?P=name)/"]
    index = PathIndex([(pattern, None) for pattern in patterns])
    # Each in a folder of its own ("/shop/17/"): each text compiled once, and nothing compiled twice.
    assert sorted(compiled_texts) == sorted(patterns)
    assert index.match("/shop/17/42/") == math.inf
    assert index.match("/shop/17/x/") is None
    assert index.match("/bob/bob/") == math.inf


def test_a_plain_prefix_rule_is_not_compiled(compiled_texts: list[str]) -> None:
    index = PathIndex([(f"^/section-{i}/", None) for i in range(200)] + [("/archive/", 60), ("^/a b~c/", 5)])
    assert compiled_texts == []
    assert index.match("/section-199/page/") == math.inf
    assert index.match("/archive/2024/") == 60
    assert index.match("/a b~c/") == 5
    assert index.match("/section-200/") is None


def test_patterns_sharing_a_folder_are_joined_into_one_alternation(compiled_texts: list[str]) -> None:
    index = PathIndex([(rf"^/polls/\d+/x{i}/", None) for i in range(30)])
    assert len(compiled_texts) == 1  # the joined text, once
    assert index.match("/polls/3/x29/") == math.inf
    assert index.match("/polls/3/x30/") is None


# -- compiled before the first request ------------------------------------------------------------------


def test_the_middleware_compiles_the_rules_when_it_is_created(settings: Any) -> None:
    settings.VERIFICATION_REQUIRED_URLS = ["^/account/", r"^/shop/\d+/"]
    get_rules.cache_clear()
    VerificationRequiredMiddleware(lambda request: HttpResponse())
    assert get_rules.cache_info().currsize == 1
    compiled = get_rules()
    assert compiled.has_path_rules
    VerificationRequiredMiddleware(lambda request: HttpResponse())
    assert get_rules() is compiled


def test_a_bad_rule_stops_the_middleware_from_starting(settings: Any) -> None:
    settings.VERIFICATION_REQUIRED_URLS = ["^/(oops/"]
    with pytest.raises(ImproperlyConfigured, match=r"verification\.E005"):
        VerificationRequiredMiddleware(lambda request: HttpResponse())


# -- the freshness, resolved once -----------------------------------------------------------------------


def test_verified_within_applies_no_default_and_is_verified_does(settings: Any) -> None:
    request = make_request(make_user())
    with time_machine.travel(T0, tick=False) as traveller:
        state.mark_verified(request, NUMBER)
        traveller.shift(120)
        settings.VERIFICATION_MAX_AGE = 60
        assert state.verified_within(request, None)
        assert state.verified_within(request, 120)
        assert not state.verified_within(request, 119)
        assert not state.is_verified(request)
        assert state.is_verified(request, 120)


def test_check_applies_the_default_and_check_requirement_takes_it_as_given(settings: Any, db: Any) -> None:
    request = make_request(make_user())
    enforcer = VerificationEnforcer()
    with time_machine.travel(T0, tick=False) as traveller:
        state.mark_verified(request, NUMBER)
        traveller.shift(120)
        settings.VERIFICATION_MAX_AGE = 60
        assert enforcer.check(request) is not None  # too old for the default
        assert enforcer.check(request, 300) is None
        # The rules resolved the freshness already: Requirement(None) is any age.
        assert enforcer.check_requirement(request, Requirement(None)) is None
        response = enforcer.check_requirement(request, Requirement(119))
        assert response is not None
        assert response.status_code == 302
