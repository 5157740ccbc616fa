"""Fixtures for the Pollstr tests: the tutorial's data, and clients logged in with or without verification."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from verification.testing import verify_client

DEMO_NUMBER = "+447400123456"


@pytest.fixture
def polls_data(db: Any) -> None:
    """Load fixtures/all.json: three polls, twelve choices, the user test / test1234."""
    call_command("loaddata", str(settings.BASE_DIR / "fixtures" / "all.json"), verbosity=0)


@pytest.fixture
def demo_user(polls_data: None) -> Any:
    return get_user_model().objects.get(username="test")


@pytest.fixture
def logged_in_client(client: Client, demo_user: Any) -> Client:
    """A client logged in as `test`, not verified."""
    client.force_login(demo_user)
    return client


@pytest.fixture
def verified_client(logged_in_client: Client, demo_user: Any) -> Client:
    """A client logged in as `test` whose session holds a fresh verification (no number on file)."""
    verify_client(logged_in_client, DEMO_NUMBER, save_number=False)
    return logged_in_client
