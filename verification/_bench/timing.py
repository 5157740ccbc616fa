"""The bench's timing: the cases, and serving, checking and timing their requests, rules and rule lookups."""

from __future__ import annotations

import gc
import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.core.management.base import CommandError
from django.db import connection
from django.http import HttpResponseBase
from django.shortcuts import resolve_url
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import resolve

from verification._bench.pages import rule_set
from verification._bench.visitors import Visitor
from verification._bench.wsgi import describe_exception, describe_response, make_environ, serve
from verification.rules import requirement_for

UNPROTECTED_ANONYMOUS = "unprotected_anonymous"
PROTECTED_VERIFIED = "protected_verified"
PROTECTED_UNVERIFIED = "protected_unverified"

CLOCKS: dict[str, Callable[[], int]] = {"wall": time.perf_counter_ns, "cpu": time.thread_time_ns}
# Requests served, untimed, after the rules change: the first ones may compile them.
WARMUP_REQUESTS = 3
# Requests served, untimed, per case and variant before anything is measured.
SANITY_REQUESTS = 10


@dataclass(frozen=True)
class Case:
    """Who asks for which kind of page, and the status each variant must answer."""

    name: str
    visitor: Visitor
    prefix: str
    status_with: int
    status_without: int


@dataclass(frozen=True)
class RuleSamples:
    """Nanoseconds per rule count: the timed requests, the first request after each change of the
    rules (which may pay for compiling them), and the rules' answer alone."""

    requests: dict[int, list[int]]
    first_requests: dict[int, list[int]]
    lookups: dict[int, list[int]]


def wrong_answer(
    case: Case, variant: str, path_info: str, response: HttpResponseBase, expected: int, cause: BaseException | None
) -> str:
    """Say which request answered what instead of `expected`, what it raised if it did, and what to do."""
    said = (
        f"{case.name}, {variant} the middleware: GET {path_info} answered {describe_response(response)}, not {expected}"
    )
    if cause is not None:
        return (
            f"{said}, because the view or a middleware raised {describe_exception(cause)}. Fix that error; "
            "run again with --traceback to see where it was raised."
        )
    if case.name == PROTECTED_UNVERIFIED and variant == "with":
        return f"{said}. VerificationRequiredMiddleware must redirect an unverified user from a protected page."
    if response.status_code == 404:
        return (
            f"{said}. The bench's URLconf serves that path: a middleware of MIDDLEWARE must have answered "
            "instead of the bench's view, or changed the path."
        )
    if 300 <= response.status_code < 400:
        return (
            f"{said}. A middleware of MIDDLEWARE redirected it instead of letting the bench's view answer (the "
            "bench asks over HTTPS, for the host 'testserver'), so the benchmark would not measure what it claims to."
        )
    return f"{said}. The benchmark would not measure what it claims to."


class Bench:
    """The two handlers, the cases and a supply of paths never asked before.

    `raised` is where the exceptions raised inside the views are collected (`raised_in_views`), so
    that a request that fails can say why.
    """

    def __init__(
        self,
        handlers: dict[str, WSGIHandler],
        cases: Sequence[Case],
        clock: Callable[[], int],
        raised: list[BaseException],
    ) -> None:
        self.handlers = handlers
        self.clock = clock
        self.cases = cases
        self.raised = raised
        self._numbers = itertools.count(1)
        self.login_url = resolve_url(settings.LOGIN_URL)

    def next_path(self, case: Case) -> str:
        """Return a path of the case's kind that no request has asked for yet."""
        return f"{case.prefix}{next(self._numbers)}/"

    def serve_checked(self, case: Case, variant: str, path_info: str) -> int:
        """Serve one request of `case`; raise CommandError unless it answers as it must; return its ns."""
        # Outside the clock: afterwards `raised` holds what this request raised, and only that.
        self.raised.clear()
        response, elapsed = serve(self.handlers[variant], make_environ(path_info, case.visitor), self.clock)
        expected = case.status_with if variant == "with" else case.status_without
        if response.status_code != expected:
            cause = self.raised[-1] if self.raised else None
            raise CommandError(wrong_answer(case, variant, path_info, response, expected, cause)) from cause
        if case.name == PROTECTED_UNVERIFIED and variant == "with" and self.login_url in response.get("Location", ""):
            raise CommandError(
                f"{case.name}: GET {path_info} sent the logged-in user to log in ({describe_response(response)}): "
                "their session was not recognised, so the benchmark would not measure what it claims to. The "
                f"bench logs its users in through SESSION_ENGINE ({settings.SESSION_ENGINE}) and sends their "
                f"{settings.SESSION_COOKIE_NAME} cookie: look for a middleware that replaces sessions or users."
            )
        return elapsed

    def check(self) -> None:
        """Serve every case a few times, untimed: it checks the answers and warms every cache."""
        for case in self.cases:
            for variant in self.handlers:
                for _ in range(SANITY_REQUESTS):
                    self.serve_checked(case, variant, self.next_path(case))

    def count_queries(self, case: Case, variant: str, samples: int = 5) -> int:
        """Return the most queries one request of `case` made, over a few requests."""
        most = 0
        for _ in range(samples):
            with CaptureQueriesContext(connection) as queries:
                self.serve_checked(case, variant, self.next_path(case))
            most = max(most, len(queries))
        return most

    def time_cases(self, requests: int) -> dict[tuple[str, str], list[int]]:
        """Time `requests` requests per case and variant, the variants alternating request by request."""
        samples: dict[tuple[str, str], list[int]] = {(c.name, v): [] for c in self.cases for v in self.handlers}
        variants = list(self.handlers)
        gc.collect()
        for i in range(requests):
            for case in self.cases:
                path_info = self.next_path(case)
                # Who goes first alternates too, so neither variant always follows the other.
                for variant in variants if i % 2 == 0 else reversed(variants):
                    samples[case.name, variant].append(self.serve_checked(case, variant, path_info))
        return samples

    def time_rules(
        self, case: Case, unverified: Case, counts: Sequence[int], requests: int, rounds: int
    ) -> RuleSamples:
        """Time `case` with each rule count, the counts taking turns round by round."""
        rule_sets = {count: rule_set(count) for count in counts}
        per_round = max(1, math.ceil(requests / rounds))
        result = RuleSamples({count: [] for count in counts}, {count: [] for count in counts}, {c: [] for c in counts})
        for round_number in range(rounds):
            shift = round_number % len(counts)
            for count in [*counts[shift:], *counts[:shift]]:
                with override_settings(VERIFICATION_REQUIRED_URLS=rule_sets[count]):
                    result.first_requests[count].append(self.serve_checked(case, "with", self.next_path(case)))
                    for _ in range(WARMUP_REQUESTS - 1):
                        self.serve_checked(case, "with", self.next_path(case))
                    if round_number == 0:
                        # The last rule, and it alone, protects the page: an unverified user is sent away.
                        self.serve_checked(unverified, "with", self.next_path(unverified))
                    # Compiling many rules leaves garbage behind: collect it now, not during the block.
                    gc.collect()
                    for _ in range(per_round):
                        result.requests[count].append(self.serve_checked(case, "with", self.next_path(case)))
                    for _ in range(per_round):
                        result.lookups[count].append(self.time_lookup(case))
        return result

    def time_lookup(self, case: Case) -> int:
        """Time the rules' answer alone (`requirement_for`) for a new path of `case`, in nanoseconds."""
        request = WSGIRequest(make_environ(self.next_path(case), case.visitor))
        match = resolve(request.path_info)
        request.resolver_match = match
        # A wall clock: the CPU clock's own cost is of the order of what is measured here.
        start = time.perf_counter_ns()
        requirement_for(request, match.func)
        return time.perf_counter_ns() - start
