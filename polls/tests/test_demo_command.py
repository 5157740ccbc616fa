"""The `demo` command: migrate, load the fixtures once, then run the development server."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from polls.models import Choice, Question

pytestmark = pytest.mark.django_db


def test_demo_loads_the_tutorial_data_and_says_how_to_log_in() -> None:
    out = StringIO()
    call_command("demo", "--no-server", stdout=out)
    assert Question.objects.count() == 3
    assert Choice.objects.count() == 12
    assert authenticate(username="test", password="test1234") is not None
    assert "test / test1234" in out.getvalue()


def test_demo_twice_leaves_the_data_alone() -> None:
    call_command("demo", "--no-server", stdout=StringIO())
    Choice.objects.filter(pk=1).update(votes=7)
    out = StringIO()
    call_command("demo", "--no-server", stdout=out)
    assert "already present" in out.getvalue()
    assert Choice.objects.get(pk=1).votes == 7
    assert get_user_model().objects.filter(username="test").count() == 1


@pytest.mark.parametrize(("argv", "expected"), [([], "127.0.0.1:8000"), (["0.0.0.0:9000"], "0.0.0.0:9000")])
def test_demo_starts_the_development_server_on_the_given_address(mocker: Any, argv: list[str], expected: str) -> None:
    from polls.management.commands import demo

    real_call_command = demo.call_command
    runserver = mocker.Mock()

    def call_command_except_runserver(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "runserver":
            return runserver(*args, **kwargs)
        return real_call_command(name, *args, **kwargs)

    mocker.patch.object(demo, "call_command", side_effect=call_command_except_runserver)
    call_command("demo", *argv, stdout=StringIO())
    runserver.assert_called_once_with(expected, use_reloader=False)
    assert Question.objects.count() == 3
