"""Helpers for a site's own tests: a test client marked verified, the local backend's outbox.

```python
from verification.testing import LOCMEM_BACKEND, latest_code, verify_client

@override_settings(VERIFICATION_BACKEND=LOCMEM_BACKEND)
def test_the_account_page(client, user):
    client.force_login(user)
    verify_client(client)                   # as if the user had just confirmed a code
    assert client.get("/account/").status_code == 200
```

pytest fixtures (`verification_outbox`, `verification_user`, `verified_client`) are in
`verification.testing.fixtures`: add `pytest_plugins = ["verification.testing.fixtures"]` to the
conftest.py at the root of your tests (pytest accepts `pytest_plugins` there only). Nothing here
imports pytest, and nothing of the app imports this package at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user
from django.test import RequestFactory

from verification import state
from verification.backends import locmem

if TYPE_CHECKING:
    from django.test import AsyncClient, Client

    from verification.backends.base import CodeMessage

__all__ = [
    "LOCMEM_BACKEND",
    "TEST_NUMBER",
    "averify_client",
    "clear_outbox",
    "latest_code",
    "outbox",
    "verify_client",
]

#: The backend for tests: codes go to `outbox()`, nothing is sent.
LOCMEM_BACKEND = "verification.backends.locmem.LocmemVerifyBackend"
#: A valid UK mobile number, for tests that need one.
TEST_NUMBER = "+447400123456"


def verify_client(client: Client | AsyncClient, number: str = TEST_NUMBER, *, save_number: bool = True) -> None:
    """Mark the logged-in test client's session verified for `number`, now, as confirming a code does.

    Log the client in first (`client.force_login(user)`); like `force_login`, this writes the session
    directly, without a request, and registers it (`verification.sessions`) as a verification does.
    With `save_number`, `number` also becomes the user's number on file (the `VerifiedNumber` the flow
    offers to send codes to).
    """
    from verification import sessions
    from verification.models import VerifiedNumber

    session = client.session
    request: Any = RequestFactory().get("/")
    request.session = session
    user = get_user(request)
    if not user.is_authenticated:
        raise ValueError("verify_client() needs a logged-in client: call client.force_login(user) first.")
    request.user = user
    state.mark_verified(request, number)
    # As the flow leaves it: the session is in the registry (`verification.sessions`), so it can be ended.
    sessions.register(request)
    session.save()
    if save_number:
        VerifiedNumber.objects.update_or_create(user=user, defaults={"number": number})


async def averify_client(client: Client | AsyncClient, number: str = TEST_NUMBER, *, save_number: bool = True) -> None:
    """Async `verify_client`, for `async def` tests (it reads the user and saves the session in a thread)."""
    await sync_to_async(verify_client)(client, number, save_number=save_number)


def outbox() -> list[CodeMessage]:
    """Return the messages the locmem backend "sent", oldest first (`number`, `code`, `channel`, `message`)."""
    return locmem.outbox


def clear_outbox() -> None:
    """Forget every message of the locmem backend."""
    locmem.outbox.clear()


def latest_code(number: str | None = None) -> str:
    """Return the code of the newest message (to `number`, when given); raise LookupError if there is none."""
    for message in reversed(locmem.outbox):
        if number is None or message.number == number:
            return message.code
    raise LookupError(f"No code was sent{f' to {number}' if number else ''}: is VERIFICATION_BACKEND the locmem one?")
