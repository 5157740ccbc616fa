"""The send benchmark: codes sent per second by concurrent senders, with the circuit breakers on and off.

Each send goes through `verification.flow.start_verification` to the locmem backend with a user, a
number and a client address of its own, so the only rows all senders share are the circuit breakers'.
In a run, S threads released together share a fixed number of sends; it is timed from their release to
the last one done. Every round runs each (senders, breakers) pair once, the on/off order alternating
between rounds, so the machine's drift falls on both alike; the table gives the medians over the rounds.
Each thread has a connection of its own, so it needs a server database: on SQLite, every thread would
open an in-memory database of its own, empty.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import override_settings

from verification import flow
from verification._bench.database import throwaway_database
from verification._bench.wsgi import describe_exception
from verification.exceptions import NumberRefused
from verification.phone import parse_number
from verification.testing import LOCMEM_BACKEND, clear_outbox, outbox

__all__ = [
    "DEFAULT_SENDERS",
    "DEFAULT_SENDS",
    "DEFAULT_SEND_ROUNDS",
    "GOAL_RATIO",
    "GOAL_SENDERS",
    "SendPlan",
    "bench_sends",
    "send_table",
]

DEFAULT_SENDERS = (1, 8, 32)
DEFAULT_SENDS = 480
DEFAULT_SEND_ROUNDS = 3
#: The goal: with this many senders, the breakers on send at least this share of what they send off.
GOAL_SENDERS = 8
GOAL_RATIO = 0.9
#: The first send's number, in the UK mobile range 07400; the i-th send's is this plus i.
FIRST_NUMBER = 447400100000
#: RFC 2544's block for benchmarks: 131,072 addresses that are nobody's.
ADDRESSES = ipaddress.IPv4Network("198.18.0.0/15")
MAX_SENDS = 100_000
#: The per-user and per-address budgets: far out of reach, so that only the breakers could matter.
UNREACHABLE_LIMIT = 1_000_000
#: The breakers' limits, in sends of one run: none may trip, since a refused send fails the bench.
BREAKER_HEADROOM = 100
BREAKER_WINDOW = 3600
#: Untimed sends with each breakers setting before the first round: connections, caches, first queries.
WARMUP_SENDS = 8
#: A run whose senders are not all done by then is stuck (a lock never released?).
STALL_SECONDS = 600.0


@dataclass(frozen=True)
class SendPlan:
    """The sizes of a send benchmark: sends per run, the numbers of concurrent senders, the rounds."""

    sends: int
    senders: list[int]
    rounds: int

    def __post_init__(self) -> None:
        if not 1 <= self.sends <= MAX_SENDS or self.rounds < 1:
            raise CommandError(
                f"--send-count must be from 1 to {MAX_SENDS} and --rounds at least 1, not {self.sends} and "
                f"{self.rounds}."
            )
        uneven = [count for count in self.senders if self.sends % count]
        if uneven:
            step = math.lcm(*self.senders)
            raise CommandError(
                f"--send-count {self.sends} cannot be shared evenly among {uneven[0]} senders: use a multiple of "
                f"every --senders count, such as {math.ceil(self.sends / step) * step}."
            )


@dataclass(frozen=True)
class Send:
    """One send's own user, number and client address."""

    user: Any
    number: str
    ip: str


@dataclass(frozen=True)
class SendResults:
    """Sends per second of each round, by (senders, breakers on), and the database server measured."""

    rates: dict[tuple[int, bool], list[float]]
    server: str
    database: str


def bench_sends(plan: SendPlan, progress: Callable[[str], object]) -> SendResults:
    """Time the sends of `plan` in a throwaway database, telling `progress` how far; return sends per second."""
    if connection.vendor == "sqlite":
        raise CommandError(
            "--send-rate needs PostgreSQL (or another server database): set DATABASE_URL. On SQLite, each "
            "sender thread would open an in-memory database of its own."
        )
    progress("Preparing a throwaway database...")
    with throwaway_database(use_current=False) as database, _send_settings(), _quiet_sends():
        server = f"{connection.display_name} {'.'.join(map(str, connection.get_database_version()))}"
        progress(f"Creating {plan.sends} users, each with a number and an address of its own...")
        sends = create_sends(plan.sends)
        for on in (False, True):
            _time_run(sends[:WARMUP_SENDS], 1, on)
        rates = _time_rounds(plan, sends, progress)
    return SendResults(rates, server, database)


def _time_rounds(
    plan: SendPlan, sends: Sequence[Send], progress: Callable[[str], object]
) -> dict[tuple[int, bool], list[float]]:
    rates: dict[tuple[int, bool], list[float]] = {(count, on): [] for count in plan.senders for on in (False, True)}
    for round_index in range(plan.rounds):
        # Off first in one round, on first in the next: what drifts during a round falls on both alike.
        order = (False, True) if round_index % 2 == 0 else (True, False)
        progress(
            f"Round {round_index + 1} of {plan.rounds}: {plan.sends} sends by "
            f"{', '.join(map(str, plan.senders))} senders, breakers {' then '.join(map(_on_off, order))}..."
        )
        for count in plan.senders:
            for on in order:
                rates[count, on].append(plan.sends / _time_run(sends, count, on))
    return rates


def create_sends(count: int) -> list[Send]:
    """Create `count` users without a usable password; return a send for each, with its number and address."""
    user_model = get_user_model()
    manager = user_model._default_manager
    names = [f"bench-sender-{index}" for index in range(count)]
    users = [user_model(**{user_model.USERNAME_FIELD: name}) for name in names]
    for user in users:
        user.set_unusable_password()
    manager.bulk_create(users)
    # Read back: not every database returns the keys of rows inserted in bulk (MySQL does not).
    created = manager.in_bulk(names, field_name=user_model.USERNAME_FIELD)
    return [Send(created[name], _number(index), str(ADDRESSES[index + 1])) for index, name in enumerate(names)]


def _number(index: int) -> str:
    number = f"+{FIRST_NUMBER + index}"
    try:
        parsed = parse_number(number)
    except NumberRefused as error:
        raise CommandError(
            f"The bench's number {number} is refused ({describe_exception(error)}): the sends need UK mobile numbers."
        ) from error
    if parsed != number:
        raise CommandError(f"The bench's number {number} reads as {parsed}: the sends need numbers in E.164.")
    return number


def delete_sent() -> None:
    """Delete every row of the app's models and empty the outbox, so that later runs count nothing earlier."""
    # Every model of the app, not a list: the breakers' own rows (trips, counters) are theirs to change.
    for model in apps.get_app_config("verification").get_models():
        model._base_manager.all().delete()
    clear_outbox()


def _send_settings() -> override_settings:
    return override_settings(
        # As in production: with DEBUG on, every query is also kept in memory.
        DEBUG=False,
        VERIFICATION_BACKEND=LOCMEM_BACKEND,
        VERIFICATION_SEND_LIMIT=UNREACHABLE_LIMIT,
        VERIFICATION_IP_SEND_LIMIT=UNREACHABLE_LIMIT,
        VERIFICATION_RESEND_COOLDOWN=0,
        VERIFICATION_ALLOWED_COUNTRIES=None,
    )


def _breakers(on: bool, sends: int) -> override_settings:
    if not on:
        return override_settings(VERIFICATION_COUNTRY_SEND_LIMITS={}, VERIFICATION_GLOBAL_SEND_LIMIT=None)
    limit = sends * BREAKER_HEADROOM
    return override_settings(
        VERIFICATION_COUNTRY_SEND_LIMITS={"GB": limit, "*": limit},
        VERIFICATION_COUNTRY_SEND_WINDOW=BREAKER_WINDOW,
        VERIFICATION_GLOBAL_SEND_LIMIT=limit,
        VERIFICATION_GLOBAL_SEND_WINDOW=BREAKER_WINDOW,
    )


@contextmanager
def _quiet_sends() -> Iterator[None]:
    # A line per code sent would bury the table, and a console handler's lock would be one more thing
    # every sender waits on besides the breakers. Warnings (a breaker tripping) still get through.
    logger = logging.getLogger("verification")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _time_run(sends: Sequence[Send], senders: int, breakers_on: bool) -> float:
    """Make every send of `sends` from `senders` threads released together; return the seconds they took.

    Then delete what they made (`delete_sent`), so that the next run starts from the same empty tables.
    """
    with _breakers(breakers_on, len(sends)):
        seconds = _send_together(sends, senders, breakers_on)
    delete_sent()
    return seconds


def _send_together(sends: Sequence[Send], senders: int, breakers_on: bool) -> float:
    share = len(sends) // senders
    started: list[float] = []
    finished: list[float] = []
    failures: list[Exception] = []
    stop = threading.Event()
    barrier = threading.Barrier(senders, action=lambda: started.append(time.perf_counter()))

    def send_share(mine: Sequence[Send]) -> None:
        try:
            # Connected before the barrier: the run times sends, not connecting.
            connection.ensure_connection()
            barrier.wait(timeout=STALL_SECONDS)
            for send in mine:
                if stop.is_set():
                    return
                flow.start_verification(send.user, send.number, ip=send.ip)
            finished.append(time.perf_counter())
        except Exception as error:
            failures.append(error)
            stop.set()
            barrier.abort()
        finally:
            connection.close()

    threads = [
        threading.Thread(target=send_share, args=(sends[index * share : (index + 1) * share],), daemon=True)
        for index in range(senders)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + STALL_SECONDS
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = sum(thread.is_alive() for thread in threads)
    if stuck:
        raise CommandError(f"{stuck} of {senders} senders were still sending after {STALL_SECONDS:.0f} s: stuck.")
    if failures:
        # The first failure is the cause; the others are the barrier it broke, or later sends.
        raise CommandError(
            f"A send failed with {describe_exception(failures[0])} ({senders} senders, breakers "
            f"{_on_off(breakers_on)}). No send may fail or be refused in this benchmark; run again with --traceback "
            "to see where it was raised."
        ) from failures[0]
    if len(outbox()) != len(sends):
        raise CommandError(
            f"{len(sends)} sends by {senders} senders, breakers {_on_off(breakers_on)}, put {len(outbox())} codes "
            "in the outbox: every send must reach the backend."
        )
    return max(finished) - started[0]


def _on_off(on: bool) -> str:
    return "on" if on else "off"


def send_table(plan: SendPlan, results: SendResults) -> str:
    """Format the results as the human-readable table, with whether the goal was met."""
    lines = [
        f"Codes sent per second through start_verification, {plan.sends} sends per run, median of "
        f"{plan.rounds} rounds interleaved.",
        f"Database: {results.server}, {results.database}. Backend: locmem.",
        "Every send has a user, a number and an address of its own: only the breakers' rows are shared. Breakers on:",
        f"{plan.sends * BREAKER_HEADROOM} sends per {BREAKER_WINDOW} s per region and site-wide. The ratio is the "
        "median of the rounds' on/off.",
        "",
        f"{'senders':>8}{'breakers':>10}{'sends/s':>10}{'rounds min-max':>18}{'ratio to off':>14}{'min-max':>14}",
    ]
    for count in plan.senders:
        ratios = _ratios(results, count)
        for on in (False, True):
            rates = results.rates[count, on]
            spread = f"{min(rates):.1f}-{max(rates):.1f}"
            ratio, ratio_spread = (statistics.median(ratios), f"{min(ratios):.3f}-{max(ratios):.3f}") if on else (1, "")
            lines.append(
                f"{count:>8}{_on_off(on):>10}{statistics.median(rates):>10.1f}{spread:>18}{ratio:>14.3f}"
                f"{ratio_spread:>14}"
            )
    lines += ["", _goal(plan, results)]
    return "\n".join(line.rstrip() for line in lines)


def _ratios(results: SendResults, count: int) -> list[float]:
    return [on / off for on, off in zip(results.rates[count, True], results.rates[count, False], strict=True)]


def _goal(plan: SendPlan, results: SendResults) -> str:
    goal = f"Goal: with {GOAL_SENDERS} senders, breakers on >= {GOAL_RATIO} of off:"
    if GOAL_SENDERS not in plan.senders:
        return f"{goal} not measured (--senders lacks {GOAL_SENDERS})."
    ratio = statistics.median(_ratios(results, GOAL_SENDERS))
    # One more digit than the table: a ratio the table rounds to 0.900 may still be short of it.
    return f"{goal} {'PASS' if ratio >= GOAL_RATIO else 'FAIL'} ({ratio:.4f})."
