"""Measure what VerificationRequiredMiddleware costs per request, and how that cost grows with the rules.

Requests go through Django's whole WSGI handler, built twice from the site's MIDDLEWARE: once as it is
and once without VerificationRequiredMiddleware. The pages measured are the bench's own, in a URLconf
of its own that then includes the site's (for its login and verification URLs), so the command runs on
any site. The two variants are interleaved request by request (and the rule counts round by round), so
the machine's drift falls on both alike; each figure is the median of many requests, each to a path
asked only once, so no cache of decisions can make them. Everything runs in a throwaway database, never
in the site's own. Whatever stops the run says why: a request that answers wrongly names its path, its
status and what it raised.

With --send-rate, it measures instead how many codes `verification.flow.start_verification` sends per
second with 1, 8 and 32 concurrent senders, the toll-fraud circuit breakers on and off
(`verification._bench.sends`), on PostgreSQL or another server database, never SQLite.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test.utils import override_settings

from verification._bench.database import persistent_connections, throwaway_database
from verification._bench.measure import Run, measure
from verification._bench.pages import CASE_RULES, VIEWS, build_urlconf
from verification._bench.report import as_json, table
from verification._bench.sends import (
    DEFAULT_SEND_ROUNDS,
    DEFAULT_SENDERS,
    DEFAULT_SENDS,
    SendPlan,
    bench_sends,
    send_table,
)
from verification._bench.timing import CLOCKS
from verification._bench.visitors import create_visitors, delete_sessions
from verification._bench.wsgi import HOST, MIDDLEWARE_PATH, build_handler, describe_exception, middleware_variants

__all__ = ["Command"]

DEFAULT_RULE_COUNTS = (1, 10, 100, 1_000, 10_000)
DEFAULT_PAGE_ROUNDS = 8


def parse_counts(value: str, option: str = "--rules") -> list[int]:
    """Parse "1,10,100" into [1, 10, 100]: positive, distinct, in increasing order; errors name `option`."""
    try:
        counts = sorted({int(part) for part in value.split(",") if part.strip()})
    except ValueError as error:
        raise CommandError(
            f"{option} takes whole numbers separated by commas, such as 1,10,100, not {value!r} "
            f"({describe_exception(error)})."
        ) from error
    if not counts or counts[0] < 1:
        raise CommandError(f"{option} takes counts of at least 1, such as 1,10,100, not {value!r}.")
    return counts


class Command(BaseCommand):
    help = (
        "Measure what VerificationRequiredMiddleware costs per request (with and without it, through "
        "Django's whole handler) and how the cost grows with the number of rules; with --send-rate, how many codes "
        "are sent per second by concurrent senders, the circuit breakers on and off. Uses a throwaway database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--requests",
            type=int,
            default=700,
            help="Requests timed per case and variant, and per rule count (default 700).",
        )
        parser.add_argument(
            "--rules",
            default=",".join(str(count) for count in DEFAULT_RULE_COUNTS),
            help="Rule counts to compare, separated by commas (default 1,10,100,1000,10000).",
        )
        parser.add_argument(
            "--rounds",
            type=int,
            default=None,
            help=(
                f"Turns the rule counts take, each timing requests/rounds requests (default {DEFAULT_PAGE_ROUNDS}); "
                f"with --send-rate, rounds of every senders count, breakers on and off (default {DEFAULT_SEND_ROUNDS})."
            ),
        )
        parser.add_argument(
            "--view",
            choices=sorted(VIEWS),
            default="page",
            help=(
                "page: a complete HTML page of the bench's own, with a list of links and who is logged in "
                "(default); minimal: a fixed body that touches neither user nor session, where the middleware's "
                "share is the largest."
            ),
        )
        parser.add_argument(
            "--clock",
            choices=sorted(CLOCKS),
            default="cpu",
            help=(
                "cpu: this thread's CPU time (default), steady on a busy machine, but blind to time spent "
                "waiting on a database or cache server; wall: elapsed time, for an otherwise idle machine."
            ),
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of the table.")
        parser.add_argument(
            "--use-current-database",
            action="store_true",
            help=(
                "Run in the current database inside a transaction rolled back at the end, instead of creating a "
                "throwaway one (for tests, whose database is a throwaway already)."
            ),
        )
        parser.add_argument(
            "--send-rate",
            action="store_true",
            help=(
                "Measure codes sent per second instead, by concurrent senders with the circuit breakers on and off "
                "(needs PostgreSQL or another server database)."
            ),
        )
        parser.add_argument(
            "--send-count",
            type=int,
            default=DEFAULT_SENDS,
            help=f"With --send-rate: sends per run, shared evenly among the senders (default {DEFAULT_SENDS}).",
        )
        parser.add_argument(
            "--senders",
            default=",".join(map(str, DEFAULT_SENDERS)),
            help="With --send-rate: numbers of concurrent senders, separated by commas (default 1,8,32).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["send_rate"]:
            self.handle_send_rate(options)
            return
        rounds = DEFAULT_PAGE_ROUNDS if options["rounds"] is None else options["rounds"]
        if options["requests"] < 1 or rounds < 1:
            raise CommandError(f"--requests and --rounds must be at least 1, not {options['requests']} and {rounds}.")
        run = Run(
            requests=options["requests"],
            rounds=rounds,
            counts=parse_counts(options["rules"]),
            view_name=options["view"],
            clock_name=options["clock"],
        )
        # Read here, at run time: the middleware measured is this module's to name (a test swaps it).
        with_us, without_us = middleware_variants(MIDDLEWARE_PATH)

        self.stderr.write("Preparing a throwaway database...")
        with throwaway_database(options["use_current_database"]) as database:
            bench_settings = override_settings(
                # DEBUG off, as in production: with it on, every query is also logged.
                DEBUG=False,
                ALLOWED_HOSTS=[HOST],
                # CommonMiddleware would send every request to www.testserver.
                PREPEND_WWW=False,
                ROOT_URLCONF=build_urlconf(run.view_name, max(run.counts)),
                VERIFICATION_REQUIRED_URLS=CASE_RULES,
                VERIFICATION_EXEMPT_URLS=[],
                VERIFICATION_MAX_AGE=None,
            )
            with bench_settings, persistent_connections():
                visitors, session_keys = create_visitors()
                try:
                    handlers = {"with": build_handler(with_us), "without": build_handler(without_us)}
                    report, extras = measure(run, handlers, visitors, self.stderr.write)
                finally:
                    delete_sessions(session_keys)

        if options["json"]:
            self.stdout.write(as_json(report))
        else:
            self.stdout.write(table(run, report, extras, database))

    def handle_send_rate(self, options: dict[str, Any]) -> None:
        """Measure codes sent per second (--send-rate) and print the table."""
        if options["json"] or options["use_current_database"]:
            raise CommandError(
                "--send-rate prints a table (no --json) and needs a database of its own, committed, that its sender "
                "threads can all see (no --use-current-database)."
            )
        rounds = DEFAULT_SEND_ROUNDS if options["rounds"] is None else options["rounds"]
        plan = SendPlan(options["send_count"], parse_counts(options["senders"], "--senders"), rounds)
        self.stdout.write(send_table(plan, bench_sends(plan, self.stderr.write)))
