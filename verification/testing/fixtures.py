"""pytest fixtures for a site's tests (pytest-django): `pytest_plugins = ["verification.testing.fixtures"]`.

- `verification_outbox`: the locmem backend in VERIFICATION_BACKEND, its outbox emptied before and after;
- `verified_client`: pytest-django's `client`, logged in as a new user and verified (`verify_client`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from verification.backends.base import CodeMessage
from verification.testing import LOCMEM_BACKEND, clear_outbox, outbox, verify_client

__all__ = ["verification_outbox", "verified_client"]


@pytest.fixture
def verification_outbox(settings: Any) -> Iterator[list[CodeMessage]]:
    """Send codes to the locmem backend's outbox (empty at the start) and return it."""
    settings.VERIFICATION_BACKEND = LOCMEM_BACKEND
    clear_outbox()
    yield outbox()
    clear_outbox()


@pytest.fixture
def verified_client(client: Any, django_user_model: Any, db: Any) -> Any:
    """Return the test client, logged in as a new user ("verified-user") whose session is verified."""
    user = django_user_model.objects.create_user("verified-user")
    client.force_login(user)
    verify_client(client)
    return client
