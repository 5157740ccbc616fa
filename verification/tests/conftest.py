"""Fixtures the app's test modules share."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from verification.models import VerifiedNumber
from verification.testing import TEST_NUMBER


@pytest.fixture
def frozen(time_machine: Any) -> Any:
    """Stop the clock, on a whole second: sessions keep login and verification times in whole seconds."""
    time_machine.move_to(timezone.now().replace(microsecond=0), tick=False)
    return time_machine


@pytest.fixture
def owner(db: Any) -> Any:
    """A user ("alice") whose verified number TEST_NUMBER is on file."""
    user = get_user_model().objects.create_user("alice")
    VerifiedNumber.objects.create(user=user, number=TEST_NUMBER)
    return user
