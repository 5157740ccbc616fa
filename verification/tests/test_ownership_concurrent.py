"""Numbers belong to their owner under load: other accounts racing the owner for one number, threads on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from verification import flow
from verification.exceptions import NoPendingVerification, SendLimitExceeded
from verification.models import Challenge, VerifiedNumber
from verification.testing import TEST_NUMBER, outbox
from verification.tests.racing import race
from verification.tests.servers import skip_or_fail

pytestmark = pytest.mark.multiworker

NUMBER = TEST_NUMBER
#: The owner, and the other accounts sending to the owner's number at the same moment.
THREADS = 16
#: The other accounts come from this many client addresses.
ADDRESSES = 4
FOREIGN_LIMIT = 3


@pytest.fixture
def postgresql() -> None:
    if connection.vendor != "postgresql":
        skip_or_fail("this test needs DATABASE_URL=postgres://...")


@pytest.fixture
def foreign_budget_only(settings: Any) -> Any:
    """Per-user, per-number and per-address budgets out of the way: only the foreign budget can refuse."""
    settings.VERIFICATION_SEND_LIMIT = 1000
    settings.VERIFICATION_IP_SEND_LIMIT = 1000
    settings.VERIFICATION_FOREIGN_SEND_LIMIT = FOREIGN_LIMIT
    return settings


def owner_races_others() -> tuple[Challenge, Any, list[Any]]:
    """The owner and THREADS - 1 other accounts send to the owner's number at once; return what each got."""
    owner = get_user_model().objects.create_user("owner")
    VerifiedNumber.objects.create(user=owner, number=NUMBER)
    others = [get_user_model().objects.create_user(f"rival{i}") for i in range(1, THREADS)]

    def send(i: int) -> Any:
        if i == 0:
            return flow.start_verification(owner, NUMBER, ip="192.0.2.1")
        return flow.start_verification(others[i - 1], NUMBER, ip=f"198.51.100.{i % ADDRESSES + 1}")

    results = race(THREADS, send)
    return results[0], owner, results[1:]


def refused_for_another_reason(results: list[Any]) -> list[Any]:
    """The other accounts' answers that are neither a code, nor the foreign budget, nor replaced by the owner's send."""
    return [
        result
        for result in results
        if not isinstance(result, Challenge | NoPendingVerification)
        and not (isinstance(result, SendLimitExceeded) and result.scope == "foreign")
    ]


def test_with_sharing_on_the_owner_gets_a_code_and_others_no_more_than_the_foreign_budget(
    postgresql, transactional_db, foreign_budget_only
):
    foreign_budget_only.VERIFICATION_NUMBER_SHARING = True

    mine, owner, others = owner_races_others()

    assert isinstance(mine, Challenge), mine
    to_number = [message.request_id for message in outbox() if message.number == NUMBER]
    assert mine.request_id in to_number
    assert len(to_number) - 1 <= FOREIGN_LIMIT
    assert not refused_for_another_reason(others), others
    # The budget is counted under the number's lock: exactly the limit's worth of sends got a slot.
    assert Challenge.objects.filter(number=NUMBER, known_number=False).count() == FOREIGN_LIMIT
    assert sum(isinstance(result, SendLimitExceeded) for result in others) == THREADS - 1 - FOREIGN_LIMIT
    assert Challenge.objects.get(user=owner).known_number


def test_with_sharing_off_no_code_reaches_the_number_but_the_owners(postgresql, transactional_db, foreign_budget_only):
    mine, owner, others = owner_races_others()

    assert isinstance(mine, Challenge), mine
    assert [message.request_id for message in outbox() if message.number == NUMBER] == [mine.request_id]
    assert not refused_for_another_reason(others), others
    assert not Challenge.objects.filter(number=NUMBER, known_number=False, withheld=False).exists()
    assert Challenge.objects.filter(number=NUMBER, withheld=True).count() == FOREIGN_LIMIT
    assert Challenge.objects.get(user=owner).status == Challenge.Status.PENDING
