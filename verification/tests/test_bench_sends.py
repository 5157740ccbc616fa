"""The send benchmark (bench_verification --send-rate): its refusals, its table and its goal, never its timings."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection

from verification._bench.sends import (
    ADDRESSES,
    FIRST_NUMBER,
    MAX_SENDS,
    SendPlan,
    SendResults,
    send_table,
)
from verification.backends.locmem import LocmemVerifyBackend
from verification.models import Challenge, ThrottleLock
from verification.phone import destination_region, parse_number
from verification.tests.servers import skip_or_fail

TINY = ["--send-rate", "--senders", "1,8", "--send-count", "16", "--rounds", "1"]
ROW = re.compile(r"^\s*(\d+)\s+(on|off)\s+(\d+\.\d)\s+\S+\s+(\d+\.\d{3})", re.MULTILINE)
GOAL = "Goal: with 8 senders, breakers on >= 0.9 of off:"


def run_sends(*args: str) -> tuple[str, str]:
    stdout, stderr = StringIO(), StringIO()
    call_command("bench_verification", *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


@pytest.fixture
def postgresql() -> None:
    if connection.vendor != "postgresql":
        skip_or_fail("this test needs DATABASE_URL=postgres://...")


def test_sqlite_is_refused_with_what_to_set():
    if connection.vendor != "sqlite":
        pytest.skip("this test needs SQLite, the tests' default database")
    with pytest.raises(CommandError, match=r"needs PostgreSQL \(or another server database\): set DATABASE_URL"):
        run_sends(*TINY)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--send-count", "20"], "cannot be shared evenly among 8 senders: .* such as 24"),
        (["--send-count", "0"], f"--send-count must be from 1 to {MAX_SENDS}"),
        (["--rounds", "0"], "--rounds at least 1"),
        (["--senders", "1,x"], r"--senders takes whole numbers .* not '1,x' \(ValueError"),
        (["--senders", "0"], "--senders takes counts of at least 1"),
        (["--json"], "no --json"),
        (["--use-current-database"], "no --use-current-database"),
    ],
)
def test_bad_options_are_refused_before_any_database_is_made(args, message):
    with pytest.raises(CommandError, match=message):
        run_sends("--send-rate", "--senders", "1,8", "--send-count", "16", *args)


def test_the_numbers_are_valid_uk_mobiles_and_the_addresses_nobodys_for_the_most_sends():
    for index in [*range(0, MAX_SENDS, 197), MAX_SENDS - 1]:
        number = f"+{FIRST_NUMBER + index}"
        assert parse_number(number) == number
        assert destination_region(number) == "GB"
    assert ADDRESSES.is_private
    assert ADDRESSES.num_addresses - 2 >= MAX_SENDS


def results(off: float, on: float) -> SendResults:
    rates = {(1, False): [100.0, 110.0, 90.0], (1, True): [99.0, 100.0, 90.0]}
    rates |= {(8, False): [off, off, off], (8, True): [on, on * 2, on / 2]}
    return SendResults(rates, "PostgreSQL 15.2", "a throwaway postgresql database, destroyed at the end")


@pytest.mark.parametrize(
    ("on", "verdict"), [(95.0, "PASS (0.9500)"), (90.0, "PASS (0.9000)"), (89.98, "FAIL (0.8998)")]
)
def test_the_goal_is_the_median_of_the_rounds_ratios_at_8_senders(on, verdict):
    table = send_table(SendPlan(16, [1, 8], 3), results(100.0, on))
    assert table.splitlines()[-1] == f"{GOAL} {verdict}."


def test_the_table_gives_medians_and_spreads_over_the_rounds():
    rows = {
        (int(count), state): (float(rate), float(ratio))
        for count, state, rate, ratio in ROW.findall(send_table(SendPlan(16, [1, 8], 3), results(100.0, 95.0)))
    }
    assert rows[1, "off"] == (100.0, 1.0)
    # The rounds' ratios are 0.99, 100/110 and 1.0: their median, not the ratio of the medians.
    assert rows[1, "on"] == (99.0, 0.99)
    assert rows[8, "on"] == (95.0, 0.95)
    assert "90.0-110.0" in send_table(SendPlan(16, [1, 8], 3), results(100.0, 95.0))


def test_a_goal_not_measured_says_so():
    rates = {(1, False): [100.0], (1, True): [95.0]}
    table = send_table(SendPlan(16, [1], 1), SendResults(rates, "PostgreSQL 15.2", "a throwaway database"))
    assert table.splitlines()[-1] == f"{GOAL} not measured (--senders lacks 8)."


@pytest.mark.multiworker
def test_the_table_has_a_row_per_senders_and_breakers_with_a_rate_and_a_ratio(postgresql, transactional_db):
    stdout, stderr = run_sends(*TINY)
    rows = ROW.findall(stdout)
    assert [(count, state) for count, state, _rate, _ratio in rows] == [
        ("1", "off"),
        ("1", "on"),
        ("8", "off"),
        ("8", "on"),
    ]
    for _count, state, rate, ratio in rows:
        assert float(rate) > 0
        assert float(ratio) > 0
        assert state == "on" or float(ratio) == 1.0
    assert re.search(r"Database: PostgreSQL \d+", stdout)
    assert re.search(rf"^{re.escape(GOAL)} (PASS|FAIL) \(\d\.\d{{4}}\)\.$", stdout, re.MULTILINE)
    assert "Round 1 of 1" in stderr
    # Everything happened in the throwaway database: the tests' own holds nothing of the run.
    assert not get_user_model().objects.exists()
    assert not Challenge.objects.exists()
    assert not ThrottleLock.objects.exists()


@pytest.mark.multiworker
def test_a_send_that_fails_in_a_sender_thread_stops_the_run_with_its_exception(postgresql, transactional_db, mocker):
    mocker.patch.object(LocmemVerifyBackend, "deliver", side_effect=RuntimeError("the outbox broke"))
    failed = r"A send failed with ProviderUnavailable: .* \(1 senders, breakers off\)"
    with pytest.raises(CommandError, match=failed) as excinfo:
        run_sends(*TINY)
    assert "--traceback" in str(excinfo.value)
    # Chained, so --traceback shows the send that raised it, down to the backend.
    causes = []
    cause = excinfo.value.__cause__
    while cause is not None:
        causes.append(cause)
        cause = cause.__cause__
    assert any(isinstance(cause, RuntimeError) and str(cause) == "the outbox broke" for cause in causes)
