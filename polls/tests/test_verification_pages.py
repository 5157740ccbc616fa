"""The verification pages as Pollstr has them: in its layout, in front of its polls, with its settings.

The app's own tests (verification/tests/) prove the flow on a site of their own; these prove what only
the demo has: `base.html` as the flow's layout, the polls as the protected pages, Pollstr's defaults.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from polls.models import Question
from verification.testing import latest_code, outbox
from verification.tests import test_layout
from verification.tests.test_layout import MASKED, NUMBER, Layout, layout_check_ids, notice_count

pytestmark = pytest.mark.django_db

POLLSTR = Layout("pollstr", {"VERIFICATION_BASE_TEMPLATE": "base.html"}, ("main", "id", "content"))

# The layout tests' fixtures: `user` (alice) and `alice` (a client logged in as her).
user = test_layout.user
alice = test_layout.alice


def test_the_whole_flow_renders_inside_pollstrs_layout(alice: Client, settings: Any, user: Any) -> None:
    test_layout.test_the_whole_flow_renders_inside_the_layout(alice, settings, user, POLLSTR)


def test_the_saved_number_page_renders_inside_pollstrs_layout(alice: Client, settings: Any, user: Any) -> None:
    test_layout.test_the_saved_number_page_renders_inside_the_layout(alice, settings, user, POLLSTR)


def test_pollstrs_layout_passes_the_layout_checks(settings: Any) -> None:
    assert settings.VERIFICATION_BASE_TEMPLATE == "base.html"
    assert layout_check_ids() == []


def test_pollstr_shows_the_verified_message_once_on_the_page_asked_for(alice: Client) -> None:
    Question.objects.create(pk=1, question_text="Dogs?", pub_date=timezone.now())
    alice.post(reverse("verification:send"), {"number": NUMBER, "next": "/polls/1/"})

    done = alice.post(reverse("verification:confirm"), {"code": latest_code(), "next": "/polls/1/"}, follow=True)

    assert done.redirect_chain[-1][0] == "/polls/1/"
    assert notice_count(done, f"your phone number {MASKED} is verified") == 1


def test_an_unsafe_next_lands_on_the_polls_index(alice: Client) -> None:
    """LOGIN_REDIRECT_URL is a URL name ("polls:index"): it is resolved, not used as a path."""
    alice.post(reverse("verification:send"), {"number": NUMBER, "next": "https://evil.example/"})

    done = alice.post(reverse("verification:confirm"), {"code": latest_code(), "next": "https://evil.example/"})

    assert done.status_code == 302
    assert done["Location"] == reverse("polls:index")


def test_codes_are_sent_in_pollstrs_name(alice: Client) -> None:
    alice.post(reverse("verification:send"), {"number": NUMBER})

    [sent] = outbox()
    assert sent.message.startswith(f"Your Pollstr code is {sent.code}.")


def test_pollstr_sets_both_breakers(settings: Any) -> None:
    """Pollstr's own defaults (from pollstr/settings.py, not the test fixtures) pass every deploy check of ours."""
    assert settings.VERIFICATION_COUNTRY_SEND_LIMITS == {"GB": 60, "*": 5}
    assert settings.VERIFICATION_GLOBAL_SEND_LIMIT == 80
    assert settings.VERIFICATION_BREAKER_RESERVE == 0.2
    settings.DEBUG = False
    ids = {message.id for message in run_checks(tags=["verification"], include_deployment_checks=True)}
    assert "verification.W007" not in ids


def test_a_pumping_run_abroad_stops_itself_and_spares_pollstrs_users(settings: Any) -> None:
    """Pollstr's breakers: pumping French numbers stops at 4 an hour; known French users and Britons get codes."""
    from django.contrib.auth import get_user_model

    from verification import flow
    from verification.exceptions import SendLimitExceeded
    from verification.models import VerifiedNumber

    settings.VERIFICATION_IP_SEND_LIMIT = 1000
    users = get_user_model().objects
    for i in range(4):
        flow.start_verification(users.create_user(f"pump{i}"), f"+336123456{i:02d}", ip=f"198.51.100.{i + 1}")
    for i in range(4, 10):
        with pytest.raises(SendLimitExceeded) as refused:
            flow.start_verification(users.create_user(f"pump{i}"), f"+336123456{i:02d}", ip=f"198.51.100.{i + 1}")
        assert refused.value.scope == "region"

    traveller = users.create_user("traveller")
    VerifiedNumber.objects.create(user=traveller, number="+33612345699")
    flow.start_verification(traveller, "+33612345699", ip="192.0.2.10")
    flow.start_verification(users.create_user("briton"), NUMBER, ip="192.0.2.11")
    assert sorted(message.number for message in outbox()[-2:]) == sorted(["+33612345699", NUMBER])


def test_pollstrs_settings_pass_every_verification_check(settings: Any) -> None:
    from django.core.checks import run_checks

    settings.DEBUG = True
    assert [message.id for message in run_checks(tags=["verification"])] == []
