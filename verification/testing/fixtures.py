"""pytest fixtures for a site's tests (pytest-django).

Add `pytest_plugins = ["verification.testing.fixtures"]` to the conftest.py at the root of your tests:
- `verification_outbox`: the locmem backend in VERIFICATION_BACKEND, its outbox emptied before and after;
- `verification_user`: the user `verified_client` logs in; override it in your conftest.py when your
  user model needs more than a username to create one;
- `verified_client`: pytest-django's `client`, logged in as `verification_user` and verified (`verify_client`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from verification.backends.base import CodeMessage
from verification.testing import LOCMEM_BACKEND, clear_outbox, outbox, verify_client

__all__ = ["verification_outbox", "verification_user", "verified_client"]


@pytest.fixture
def verification_outbox(settings: Any) -> Iterator[list[CodeMessage]]:
    """Send codes to the locmem backend's outbox (empty at the start) and return it."""
    settings.VERIFICATION_BACKEND = LOCMEM_BACKEND
    clear_outbox()
    yield outbox()
    clear_outbox()


@pytest.fixture
def verification_user(django_user_model: Any, db: Any) -> Any:
    """Return a new user, "verified-user" (by the user model's USERNAME_FIELD)."""
    return django_user_model.objects.create_user(**{django_user_model.USERNAME_FIELD: "verified-user"})


@pytest.fixture
def verified_client(client: Any, verification_user: Any) -> Any:
    """Return the test client, logged in as `verification_user`, whose session is verified."""
    client.force_login(verification_user)
    verify_client(client)
    return client
