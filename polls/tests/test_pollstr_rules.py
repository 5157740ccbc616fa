"""Pollstr's own rules: the pages the original tutorial protected need a verified phone; the index does not."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from polls.models import Question
from verification.tests.helpers_enforcement import make_user, mark_client_verified, without_our_middleware
from verification.tests.test_middleware import _queries, next_of, target_of


@pytest.fixture
def question(db: Any) -> Question:
    question = Question.objects.create(question_text="What's up?", pub_date=timezone.now())
    question.choices.create(choice_text="Not much")
    return question


def test_pollstr_protects_detail_results_and_vote_but_not_the_index(
    client: Client, settings: Any, question: Question, django_assert_num_queries: Any
) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    assert settings.VERIFICATION_REQUIRED_URLS[:3] == ["polls:detail", "polls:results", "polls:vote"]
    pk = question.pk
    user = make_user()
    client.force_login(user)
    for path in (f"/polls/{pk}/", f"/polls/{pk}/results/"):
        response = client.get(path)
        assert target_of(response) == "/verify/"
        assert next_of(response) == path
    response = client.post(f"/polls/{pk}/vote/", {"choice": 1}, headers={"Referer": f"http://testserver/polls/{pk}/"})
    assert target_of(response) == "/verify/"
    assert next_of(response) == f"/polls/{pk}/"
    full = list(settings.MIDDLEWARE)
    settings.MIDDLEWARE = without_our_middleware(full)
    baseline = _queries(client, "/polls/")
    settings.MIDDLEWARE = full
    with django_assert_num_queries(baseline):
        assert client.get("/polls/").status_code == 200
    mark_client_verified(client, user)
    assert client.get(f"/polls/{pk}/").status_code == 200
    assert client.get(f"/polls/{pk}/results/").status_code == 200
