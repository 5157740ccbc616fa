"""The flow's notices: carried to the next page once, in order, bounded, and never trusted blindly."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.test import RequestFactory
from django.utils import timezone

from verification import notices


@pytest.fixture
def request_with_session():
    request = RequestFactory().get("/")
    request.session = SessionStore()
    return request


def test_a_notice_is_shown_once_in_order(request_with_session):
    notices.add(request_with_session, notices.SUCCESS, "A new code was sent.")
    notices.add(request_with_session, notices.INFO, "Now enter your new phone number.")

    shown = notices.pop(request_with_session)

    assert [(notice.level, notice.text) for notice in shown] == [
        ("success", "A new code was sent."),
        ("info", "Now enter your new phone number."),
    ]
    assert [notice.is_alert for notice in shown] == [False, False]
    assert notices.pop(request_with_session) == []


def test_errors_and_warnings_are_alerts(request_with_session):
    notices.add(request_with_session, notices.ERROR, "No.")
    notices.add(request_with_session, notices.WARNING, "Careful.")

    assert [notice.is_alert for notice in notices.pop(request_with_session)] == [True, True]


def test_at_most_a_few_wait(request_with_session):
    for number in range(notices.MAX_WAITING + 3):
        notices.add(request_with_session, notices.INFO, f"notice {number}")

    shown = [notice.text for notice in notices.pop(request_with_session)]

    assert shown == [f"notice {number}" for number in range(3, notices.MAX_WAITING + 3)]


def test_a_notice_left_by_an_abandoned_flow_is_not_shown_later(request_with_session, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    notices.add(request_with_session, notices.INFO, "The code was cancelled.")
    time_machine.shift(timedelta(seconds=notices.MAX_AGE + 1))

    assert notices.pop(request_with_session) == []


@pytest.mark.parametrize(
    "stored", ["text", ["info"], [["info", "no time"]], [["shout", "x", 0]], [["info", 5, 0]], [None], {"a": 1}]
)
def test_whatever_the_session_holds_is_never_an_error(request_with_session, stored):
    request_with_session.session[notices.SESSION_KEY] = stored

    assert notices.pop(request_with_session) == []
    notices.add(request_with_session, notices.INFO, "fine")
    assert [notice.text for notice in notices.pop(request_with_session)] == ["fine"]


def test_an_unknown_level_is_a_programming_error(request_with_session):
    with pytest.raises(ValueError, match="Unknown notice level"):
        notices.add(request_with_session, "shout", "x")
