"""Test-wide fixtures: codes go to the locmem outbox, emptied around every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

LOCMEM_BACKEND = "verification.backends.locmem.LocmemVerifyBackend"


@pytest.fixture(autouse=True)
def _locmem_verify_backend(settings: pytest.FixtureRequest) -> Iterator[None]:
    """Use the locmem Verify backend (the tests' outbox, empty at the start) unless a test overrides it."""
    from verification.backends import locmem

    settings.VERIFICATION_BACKEND = LOCMEM_BACKEND  # type: ignore[attr-defined]
    locmem.outbox.clear()
    yield
    locmem.outbox.clear()
