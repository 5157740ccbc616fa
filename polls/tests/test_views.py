"""The Pollstr pages: index, detail, vote, results, sign-up, log in and log out."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from polls.models import Choice, Question

pytestmark = pytest.mark.django_db


def test_root_redirects_to_the_polls_index(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("polls:index")


def test_index_is_public_and_lists_the_three_polls_with_their_choices(client: Client, polls_data: None) -> None:
    response = client.get(reverse("polls:index"))
    assert response.status_code == 200
    body = response.content.decode()
    for question in Question.objects.all():
        assert question.question_text.replace("'", "&#x27;") in body
    assert "The Baha Men" in body
    assert body.count('class="card mb-3"') == 3


def test_index_without_polls_says_so(client: Client) -> None:
    response = client.get(reverse("polls:index"))
    assert "No polls are available." in response.content.decode()


def test_index_hides_polls_published_in_the_future(client: Client, polls_data: None) -> None:
    Question.objects.filter(pk=1).update(pub_date="2999-01-01T00:00:00Z")
    response = client.get(reverse("polls:index"))
    assert "What is your favorite kind of dog?" not in response.content.decode()


def test_detail_asks_an_anonymous_user_to_log_in(client: Client, polls_data: None) -> None:
    url = reverse("polls:detail", args=(1,))
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_detail_sends_an_unverified_user_to_the_phone_step(logged_in_client: Client) -> None:
    response = logged_in_client.get(reverse("polls:detail", args=(1,)))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("verification:phone"))


def test_detail_shows_the_vote_form_to_a_verified_user(verified_client: Client) -> None:
    response = verified_client.get(reverse("polls:detail", args=(2,)))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Who let the dogs out?" in body
    assert body.count('type="radio" name="choice"') == 4
    assert f'action="{reverse("polls:vote", args=(2,))}"' in body


def test_detail_of_an_unknown_poll_is_404(verified_client: Client) -> None:
    assert verified_client.get(reverse("polls:detail", args=(999,))).status_code == 404


def test_vote_counts_one_vote_and_redirects_to_results(verified_client: Client) -> None:
    choice = Choice.objects.get(choice_text="The Baha Men")
    response = verified_client.post(reverse("polls:vote", args=(2,)), {"choice": choice.pk})
    assert response.status_code == 302
    assert response["Location"] == reverse("polls:results", args=(2,))
    choice.refresh_from_db()
    assert choice.votes == 1


@pytest.mark.parametrize("data", [{}, {"choice": ""}, {"choice": "abc"}, {"choice": "1"}, {"choice": "99999"}])
def test_vote_without_a_valid_choice_shows_the_form_again_with_an_error(
    verified_client: Client, data: dict[str, Any]
) -> None:
    # Choice 1 belongs to poll 1: posting it to poll 2 is not a valid choice there.
    response = verified_client.post(reverse("polls:vote", args=(2,)), data)
    assert response.status_code == 400
    assert "You didn&#x27;t select a choice." in response.content.decode()
    assert sum(Choice.objects.values_list("votes", flat=True)) == 0


def test_vote_is_post_only(verified_client: Client) -> None:
    assert verified_client.get(reverse("polls:vote", args=(2,))).status_code == 405


def test_results_show_the_votes_and_a_vote_again_link(verified_client: Client) -> None:
    Choice.objects.filter(choice_text="Nothing").update(votes=2)
    response = verified_client.get(reverse("polls:results", args=(3,)))
    body = response.content.decode()
    assert response.status_code == 200
    assert "2 votes: Nothing" in body
    assert "0 votes: I&#x27;m OK!" in body
    assert "Vote again" in body


def test_signup_creates_the_account_and_logs_it_in(client: Client) -> None:
    response = client.post(
        reverse("polls:signup"),
        {"username": "alice", "password1": "a-long-passphrase-42", "password2": "a-long-passphrase-42"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("polls:index")
    assert get_user_model().objects.filter(username="alice").exists()
    assert "Logged in as alice" in client.get(reverse("polls:index")).content.decode()


def test_signup_with_mismatched_passwords_shows_the_error_next_to_the_field(client: Client) -> None:
    response = client.post(
        reverse("polls:signup"), {"username": "bob", "password1": "a-long-passphrase-42", "password2": "other"}
    )
    assert response.status_code == 200
    assert "is-invalid" in response.content.decode()
    assert not get_user_model().objects.filter(username="bob").exists()


def test_login_without_next_lands_on_the_polls_index(client: Client, polls_data: None) -> None:
    response = client.post(reverse("login"), {"username": "test", "password": "test1234"})
    assert response.status_code == 302
    assert response["Location"] == reverse("polls:index")


def test_login_page_renders_its_form(client: Client) -> None:
    body = client.get(reverse("login")).content.decode()
    assert 'name="username"' in body
    assert 'name="password"' in body
    assert 'autocomplete="current-password"' in body


def test_login_with_a_wrong_password_shows_an_error(client: Client, polls_data: None) -> None:
    response = client.post(reverse("login"), {"username": "test", "password": "nope"})
    assert response.status_code == 200
    assert "alert-danger" in response.content.decode()


def test_login_ignores_an_offsite_next(client: Client, polls_data: None) -> None:
    response = client.post(
        reverse("login") + "?next=https://evil.example/", {"username": "test", "password": "test1234"}
    )
    assert response["Location"] == reverse("polls:index")


def test_logout_is_a_post_and_ends_the_session(logged_in_client: Client) -> None:
    assert logged_in_client.get(reverse("logout")).status_code == 405
    response = logged_in_client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in logged_in_client.session


def test_navbar_shows_who_is_logged_in(logged_in_client: Client) -> None:
    body = logged_in_client.get(reverse("polls:index")).content.decode()
    assert "Logged in as test" in body
    assert "Log out" in body


def test_pages_close_their_tags(verified_client: Client) -> None:
    from html.parser import HTMLParser

    class TagBalance(HTMLParser):
        void = {"meta", "link", "input", "br", "img", "hr"}

        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            if tag not in self.void:
                self.stack.append(tag)

        def handle_endtag(self, tag: str) -> None:
            assert self.stack, f"</{tag}> closes nothing"
            assert self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1]}>"
            self.stack.pop()

    for url in [reverse("polls:index"), reverse("polls:detail", args=(1,)), reverse("polls:results", args=(1,))]:
        parser = TagBalance()
        parser.feed(verified_client.get(url).content.decode())
        assert parser.stack == []
