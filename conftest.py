"""Test-wide fixtures: codes go to the locmem outbox, emptied around every test (verification.testing)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from verification.testing import LOCMEM_BACKEND, clear_outbox


@pytest.fixture(autouse=True)
def _locmem_verify_backend(settings: Any) -> Iterator[None]:
    """Use the locmem Verify backend (the tests' outbox, empty at the start) unless a test overrides it."""
    settings.VERIFICATION_BACKEND = LOCMEM_BACKEND
    clear_outbox()
    yield
    clear_outbox()
