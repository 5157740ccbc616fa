"""Measure what VerificationRequiredMiddleware costs per request, and how that cost grows with the rules.

Requests go through Django's whole WSGI handler, built twice from Pollstr's MIDDLEWARE: once as it is
and once without VerificationRequiredMiddleware. The two variants are interleaved request by request
(and the rule counts round by round), so the machine's drift falls on both alike; each figure is the
median of many requests, each to a path asked only once, so no cache of decisions can make them.
Everything runs in a throwaway database, never in the site's own.
"""

from __future__ import annotations

import gc
import inspect
import io
import itertools
import json
import math
import os
import random
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.sessions.backends.base import SessionBase
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import resolve_url
from django.template import engines
from django.template.backends.django import Template
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import URLPattern, URLResolver, include, path, resolve

from verification import state
from verification.rules import requirement_for

MIDDLEWARE_PATH = "verification.middleware.VerificationRequiredMiddleware"
AUTHENTICATION_MIDDLEWARE_PATH = "django.contrib.auth.middleware.AuthenticationMiddleware"

UNPROTECTED_ANONYMOUS = "unprotected_anonymous"
PROTECTED_VERIFIED = "protected_verified"
PROTECTED_UNVERIFIED = "protected_unverified"

PUBLIC_PREFIX = "/bench/public/"
PROTECTED_PREFIX = "/bench/protected/"
PROTECTED_URL_NAME = "bench-protected"
# Pollstr's own rules, and the one that protects the page measured.
CASE_RULES: list[str | dict[str, Any]] = ["polls:detail", "polls:results", "polls:vote", PROTECTED_URL_NAME]
DEFAULT_RULE_COUNTS = (1, 10, 100, 1_000, 10_000)

HOST = "testserver"
# A number from Ofcom's range for drama: it can never reach a real phone.
VERIFIED_NUMBER = "+447700900123"
# Requests served, untimed, after the rules change: the first ones may compile them.
WARMUP_REQUESTS = 3
# Requests served, untimed, per case and variant before anything is measured.
SANITY_REQUESTS = 10
BOOTSTRAP_RESAMPLES = 400
BOOTSTRAP_SEED = 7

PAGE_TEMPLATE = """{% extends "base.html" %}{% load i18n %}
{% block title %}{% blocktranslate %}Page {{ number }}{% endblocktranslate %} · Pollstr{% endblock %}
{% block content %}
  <h1 class="h3 mb-4">{% blocktranslate %}Page {{ number }}{% endblocktranslate %}</h1>
  <ul class="list-group mb-4">
    {% for item in items %}
      <li class="list-group-item"><a href="{% url 'polls:detail' item %}">{% translate "Poll" %} {{ item }}</a></li>
    {% endfor %}
  </ul>
  <p class="text-muted">{% translate "A page of a typical size: the site's layout, a list, a few links." %}</p>
{% endblock %}
"""
PAGE_ITEMS = range(1, 6)


# -- the pages measured ---------------------------------------------------------------------------


@cache
def _page_template() -> Template:
    template = engines["django"].from_string(PAGE_TEMPLATE)
    assert isinstance(template, Template)
    return template


def page_view(request: HttpRequest, number: int) -> HttpResponse:
    """Render a Pollstr page: the base layout (user menu, messages) around a list of links."""
    return HttpResponse(_page_template().render({"number": number, "items": PAGE_ITEMS}, request))


def minimal_view(request: HttpRequest, number: int) -> HttpResponse:
    """Return a fixed body, touching neither the user nor the session."""
    return HttpResponse(b"<!doctype html><title>Page</title><p>A page.</p>")


VIEWS: dict[str, Callable[[HttpRequest, int], HttpResponse]] = {"page": page_view, "minimal": minimal_view}
CLOCKS: dict[str, Callable[[], int]] = {"wall": time.perf_counter_ns, "cpu": time.thread_time_ns}


class BenchURLconf:
    """A URLconf held in memory: the bench pages, then the site's own URLs (for login, verification...)."""

    def __init__(self, urlpatterns: list[URLPattern | URLResolver]) -> None:
        self.urlpatterns = urlpatterns


def build_urlconf(view_name: str, max_rules: int) -> BenchURLconf:
    """Return the bench URLconf: one public and one protected page, the named filler pages, the site."""
    view = VIEWS[view_name]
    # The same view behind both: the protected one asks for a login, as a protected page would.
    patterns: list[URLPattern | URLResolver] = [
        path(f"{PUBLIC_PREFIX.strip('/')}/<int:number>/", view, name="bench-public"),
        path(f"{PROTECTED_PREFIX.strip('/')}/<int:number>/", login_required(view), name=PROTECTED_URL_NAME),
    ]
    # Name rules name real URLs, as on a real site; the pages measured come first, so these extra
    # patterns cost nothing to resolve them.
    patterns += [
        path(f"section-{i}/", minimal_view, kwargs={"number": i}, name=f"section-{i}") for i in range(max_rules)
    ]
    patterns.append(path("", include(settings.ROOT_URLCONF)))
    return BenchURLconf(patterns)


def filler_rule(index: int) -> str | dict[str, Any]:
    """Return the `index`th rule that protects none of the pages measured: a mix of every rule form."""
    kind = index % 8
    if kind in (0, 4):
        return f"^/section-{index}/"
    if kind in (1, 5):
        return f"section-{index}"
    if kind == 2:
        return f"/archive/{index}/"
    if kind == 3:
        return {"path": f"^/reports/{index}/", "max_age": 3600}
    if kind == 6:
        return f"^/shop/{index}/(?:[0-9]+/)?$"
    return {"name": f"section-{index}", "max_age": 900}


def rule_set(count: int) -> list[str | dict[str, Any]]:
    """Return `count` rules of which only the last one protects the page measured."""
    return [filler_rule(i) for i in range(count - 1)] + [PROTECTED_URL_NAME]


# -- serving requests -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Visitor:
    """Someone who asks for pages: the cookie their browser sends."""

    cookie: str


@dataclass(frozen=True)
class Case:
    """Who asks for which kind of page, and the status each variant must answer."""

    name: str
    visitor: Visitor
    prefix: str
    status_with: int
    status_without: int


def make_environ(path_info: str, visitor: Visitor) -> dict[str, Any]:
    """Return the WSGI environ of a browser's GET of `path_info` over HTTPS."""
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path_info,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": HOST,
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "HTTP_HOST": HOST,
        "HTTP_COOKIE": visitor.cookie,
        "HTTP_ACCEPT": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.8",
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
    return _discard


def _discard(data: bytes) -> None:
    pass


def serve(
    handler: WSGIHandler, environ: dict[str, Any], clock: Callable[[], int] = time.perf_counter_ns
) -> tuple[HttpResponseBase, int]:
    """Serve one request as a WSGI server would (body read, response closed); return it and its nanoseconds."""
    start = clock()
    response = handler(environ, _start_response)
    try:
        for _chunk in response:
            pass
    finally:
        response.close()
    return response, clock() - start


def build_handler(middleware: Sequence[str]) -> WSGIHandler:
    """Return a WSGI handler with this middleware list (and the current settings otherwise)."""
    with override_settings(MIDDLEWARE=list(middleware)), warnings.catch_warnings():
        # WhiteNoise warns when STATIC_ROOT has not been collected yet; it does not matter here.
        warnings.filterwarnings("ignore", message="No directory at")
        return WSGIHandler()


def middleware_variants() -> tuple[list[str], list[str]]:
    """Return the site's MIDDLEWARE with VerificationRequiredMiddleware, and the same without it."""
    without_us = [name for name in settings.MIDDLEWARE if name != MIDDLEWARE_PATH]
    if MIDDLEWARE_PATH in settings.MIDDLEWARE:
        return list(settings.MIDDLEWARE), without_us
    if AUTHENTICATION_MIDDLEWARE_PATH not in without_us:
        raise CommandError(f"MIDDLEWARE lacks {AUTHENTICATION_MIDDLEWARE_PATH}: there is nothing to measure.")
    with_us = list(without_us)
    with_us.insert(with_us.index(AUTHENTICATION_MIDDLEWARE_PATH) + 1, MIDDLEWARE_PATH)
    return with_us, without_us


# -- the environment of a run ---------------------------------------------------------------------


@contextmanager
def throwaway_database(use_current: bool) -> Iterator[str]:
    """Give the run a database nobody else uses; yield how it was obtained.

    By default a test database of the configured engine is created and destroyed afterwards (in
    memory for SQLite). With `use_current`, the run happens in a transaction that is rolled back.
    """
    if use_current:
        with transaction.atomic():
            yield "the current database, in a transaction rolled back at the end"
            transaction.set_rollback(True)
        return
    test_settings = connection.settings_dict.setdefault("TEST", {})
    old_test_name = test_settings.get("NAME")
    # A name of our own: another process may be running the test suite against `test_<name>`.
    test_settings["NAME"] = ":memory:" if connection.vendor == "sqlite" else f"test_bench_verification_{os.getpid()}"
    old_name = connection.settings_dict["NAME"]
    try:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, **_no_serialization())
        try:
            yield f"a throwaway {connection.vendor} database, destroyed at the end"
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    finally:
        test_settings["NAME"] = old_test_name


def _no_serialization() -> dict[str, bool]:
    # Django 5.2 copies the new database into memory unless told not to; 6.x no longer does and
    # deprecates the argument.
    parameter = inspect.signature(connection.creation.create_test_db).parameters["serialize"]
    return {"serialize": False} if parameter.default is True else {}


@contextmanager
def persistent_connections() -> Iterator[None]:
    """Keep the database connection open between requests, as a production site configures it.

    Without this, CONN_MAX_AGE=0 reconnects on every request, which dwarfs what is measured.
    """
    started = request_started.disconnect(close_old_connections)
    finished = request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        if started:
            request_started.connect(close_old_connections)
        if finished:
            request_finished.connect(close_old_connections)


def session_store_class() -> type[SessionBase]:
    """Return the configured session engine's SessionStore."""
    store: type[SessionBase] = import_module(settings.SESSION_ENGINE).SessionStore
    return store


def log_in(username: str) -> tuple[Any, str]:
    """Create a user without a usable password and log them in; return the user and the session key."""
    user_model = get_user_model()
    user = user_model._default_manager.create(**{user_model.USERNAME_FIELD: username})
    user.set_unusable_password()
    user.save()
    client = Client()
    client.force_login(user)
    return user, client.cookies[settings.SESSION_COOKIE_NAME].value


def create_visitors() -> tuple[dict[str, Visitor], list[str]]:
    """Create the anonymous, verified and unverified visitors; return them and their session keys."""
    store_class = session_store_class()
    # An anonymous visitor who has a session (as after reading a flash message): a session load
    # added on a page that does not need one shows up as a query.
    anonymous = store_class()
    anonymous["bench_visitor"] = "anonymous"
    anonymous.save()
    assert anonymous.session_key is not None

    verified_user, verified_key = log_in("bench-verified")
    request = HttpRequest()
    request.session = store_class(session_key=verified_key)
    request.user = verified_user
    state.mark_verified(request, VERIFIED_NUMBER)
    request.session.save()

    _unverified_user, unverified_key = log_in("bench-unverified")

    name = settings.SESSION_COOKIE_NAME
    visitors = {
        "anonymous": Visitor(f"{name}={anonymous.session_key}"),
        "verified": Visitor(f"{name}={verified_key}"),
        "unverified": Visitor(f"{name}={unverified_key}"),
    }
    return visitors, [anonymous.session_key, verified_key, unverified_key]


def delete_sessions(keys: Iterable[str]) -> None:
    """Delete the run's sessions, from the cache too when the engine keeps them there."""
    store_class = session_store_class()
    for key in keys:
        store_class(session_key=key).delete()


# -- measuring ------------------------------------------------------------------------------------


def median_microseconds(samples: Sequence[int]) -> float:
    """Return the median of nanosecond samples, in microseconds."""
    return statistics.median(samples) / 1000


def ratio_interval(numerator: Sequence[int], denominator: Sequence[int]) -> tuple[float, float]:
    """Return a 95% bootstrap interval of median(numerator) / median(denominator): how far noise moves it."""
    # A fixed seed: the same samples always give the same interval.
    generator = random.Random(BOOTSTRAP_SEED)  # noqa: S311 (statistics, not secrets)
    ratios = sorted(
        statistics.median(generator.choices(numerator, k=len(numerator)))
        / statistics.median(generator.choices(denominator, k=len(denominator)))
        for _ in range(BOOTSTRAP_RESAMPLES)
    )
    return ratios[int(0.025 * len(ratios))], ratios[int(0.975 * len(ratios)) - 1]


def describe(response: HttpResponseBase) -> str:
    """Describe a response for an error message: its status and where it redirects, if it does."""
    location = response.get("Location")
    return f"{response.status_code}" + (f" to {location}" if location else "")


class Bench:
    """The two handlers, the cases and a supply of paths never asked before."""

    def __init__(self, handlers: dict[str, WSGIHandler], cases: Sequence[Case], clock: Callable[[], int]) -> None:
        self.handlers = handlers
        self.clock = clock
        self.cases = cases
        self._numbers = itertools.count(1)
        self.login_url = resolve_url(settings.LOGIN_URL)

    def next_path(self, case: Case) -> str:
        """Return a path of the case's kind that no request has asked for yet."""
        return f"{case.prefix}{next(self._numbers)}/"

    def serve_checked(self, case: Case, variant: str, path_info: str) -> int:
        """Serve one request of `case`; raise CommandError unless it answers as it must; return its ns."""
        response, elapsed = serve(self.handlers[variant], make_environ(path_info, case.visitor), self.clock)
        expected = case.status_with if variant == "with" else case.status_without
        if response.status_code != expected:
            raise CommandError(
                f"{case.name}, {variant} the middleware: {path_info} answered {describe(response)}, not {expected}. "
                + (
                    "VerificationRequiredMiddleware must redirect an unverified user from a protected page."
                    if case.name == PROTECTED_UNVERIFIED and variant == "with"
                    else "The benchmark would not measure what it claims to."
                )
            )
        if case.name == PROTECTED_UNVERIFIED and variant == "with" and self.login_url in response.get("Location", ""):
            raise CommandError(
                f"{case.name}: {path_info} sent the logged-in user to log in ({describe(response)}): "
                "their session was not recognised, so the benchmark would not measure what it claims to."
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


@dataclass(frozen=True)
class RuleSamples:
    """Nanoseconds per rule count: the timed requests, the first request after each change of the
    rules (which may pay for compiling them), and the rules' answer alone."""

    requests: dict[int, list[int]]
    first_requests: dict[int, list[int]]
    lookups: dict[int, list[int]]


@dataclass(frozen=True)
class Run:
    """The sizes and choices of one run."""

    requests: int
    rounds: int
    counts: list[int]
    view_name: str
    clock_name: str


@dataclass(frozen=True)
class Extras:
    """What the table shows beyond the JSON: noise intervals, the compile cost, the rules' answer alone."""

    case_intervals: dict[str, tuple[float, float]]
    rule_intervals: dict[int, tuple[float, float]]
    first_request_ms: dict[int, float]
    lookup_us: dict[int, float]


def parse_counts(value: str) -> list[int]:
    """Parse "1,10,100" into [1, 10, 100]: positive, distinct, in increasing order."""
    try:
        counts = sorted({int(part) for part in value.split(",") if part.strip()})
    except ValueError as error:
        raise CommandError(f"--rules takes counts separated by commas, such as 1,10,100 (not {value!r}).") from error
    if not counts or counts[0] < 1:
        raise CommandError(f"--rules takes counts of at least 1 (not {value!r}).")
    return counts


class Command(BaseCommand):
    help = (
        "Measure what VerificationRequiredMiddleware costs per request (with and without it, through "
        "Django's whole handler) and how the cost grows with the number of rules. Uses a throwaway database."
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
            default=8,
            help="Turns the rule counts take, each timing requests/rounds requests (default 8).",
        )
        parser.add_argument(
            "--view",
            choices=sorted(VIEWS),
            default="page",
            help=(
                "page: a Pollstr page rendered with its layout (default); minimal: a fixed body that touches "
                "neither user nor session, where the middleware's share is the largest."
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

    def handle(self, *args: Any, **options: Any) -> None:
        if options["requests"] < 1 or options["rounds"] < 1:
            raise CommandError("--requests and --rounds must be at least 1.")
        run = Run(
            requests=options["requests"],
            rounds=options["rounds"],
            counts=parse_counts(options["rules"]),
            view_name=options["view"],
            clock_name=options["clock"],
        )
        with_us, without_us = middleware_variants()

        self.stderr.write("Preparing a throwaway database...")
        with throwaway_database(options["use_current_database"]) as database:
            bench_settings = override_settings(
                # DEBUG off, as in production: with it on, every query is also logged.
                DEBUG=False,
                ALLOWED_HOSTS=[HOST],
                ROOT_URLCONF=build_urlconf(run.view_name, max(run.counts)),
                VERIFICATION_REQUIRED_URLS=CASE_RULES,
                VERIFICATION_EXEMPT_URLS=[],
                VERIFICATION_MAX_AGE=None,
                # The page's {% static %} must not need a collected manifest.
                STORAGES={
                    **settings.STORAGES,
                    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
                },
            )
            with bench_settings, persistent_connections():
                visitors, session_keys = create_visitors()
                try:
                    handlers = {"with": build_handler(with_us), "without": build_handler(without_us)}
                    report, extras = self.measure(run, handlers, visitors)
                finally:
                    delete_sessions(session_keys)

        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self.stdout.write(self.table(run, report, extras, database))

    def measure(
        self, run: Run, handlers: dict[str, WSGIHandler], visitors: dict[str, Visitor]
    ) -> tuple[dict[str, list[dict[str, Any]]], Extras]:
        """Check, warm up, count queries, then time the cases and the rule counts.

        Return the report (the JSON) and what only the table shows.
        """
        cases = [
            Case(UNPROTECTED_ANONYMOUS, visitors["anonymous"], PUBLIC_PREFIX, 200, 200),
            Case(PROTECTED_VERIFIED, visitors["verified"], PROTECTED_PREFIX, 200, 200),
            Case(PROTECTED_UNVERIFIED, visitors["unverified"], PROTECTED_PREFIX, 302, 200),
        ]
        bench = Bench(handlers, cases, CLOCKS[run.clock_name])
        bench.check()
        queries = {
            (case.name, variant): bench.count_queries(case, variant)
            for case in cases
            for variant in ("with", "without")
        }

        counts = run.counts
        self.stderr.write(f"Timing {run.requests} requests per case and variant...")
        case_samples = bench.time_cases(run.requests)
        self.stderr.write(f"Timing {run.requests} requests per rule count ({', '.join(map(str, counts))})...")
        sweep = bench.time_rules(cases[1], cases[2], counts, run.requests, run.rounds)
        rule_samples = sweep.requests
        extras = Extras(
            case_intervals={
                case.name: ratio_interval(case_samples[case.name, "with"], case_samples[case.name, "without"])
                for case in cases
            },
            rule_intervals={count: ratio_interval(rule_samples[count], rule_samples[counts[0]]) for count in counts},
            first_request_ms={count: median_microseconds(sweep.first_requests[count]) / 1000 for count in counts},
            lookup_us={count: median_microseconds(sweep.lookups[count]) for count in counts},
        )

        case_rows = []
        for case in cases:
            with_time = median_microseconds(case_samples[case.name, "with"])
            without_time = median_microseconds(case_samples[case.name, "without"])
            case_rows.append(
                {
                    "name": case.name,
                    "with_us": round(with_time, 2),
                    "without_us": round(without_time, 2),
                    "ratio": round(with_time / without_time, 4),
                    "queries_with": queries[case.name, "with"],
                    "queries_without": queries[case.name, "without"],
                }
            )
        baseline = median_microseconds(rule_samples[counts[0]])
        rule_rows = []
        for count in counts:
            time_per_request = median_microseconds(rule_samples[count])
            rule_rows.append(
                {
                    "count": count,
                    "us": round(time_per_request, 2),
                    "ratio_to_one": round(time_per_request / baseline, 4),
                }
            )
        return {"cases": case_rows, "rules": rule_rows}, extras

    def table(self, run: Run, report: dict[str, list[dict[str, Any]]], extras: Extras, database: str) -> str:
        """Format the report as the human-readable table."""
        lines = [
            f"Median {run.clock_name} time per request through Django's handler, {run.requests} requests per "
            "figure, interleaved.",
            f"View: {run.view_name}. Database: {database}. Sessions: {settings.SESSION_ENGINE}.",
            "One run on a possibly busy machine: read the ratios, not the microseconds. The interval is where",
            "95% of resampled ratios fall: a difference inside it is noise.",
            "",
            f"{'case':<24}{'without (µs)':>14}{'with (µs)':>12}{'ratio':>9}{'interval':>16}"
            f"{'queries without':>18}{'queries with':>15}",
        ]
        for row in report["cases"]:
            low, high = extras.case_intervals[row["name"]]
            lines.append(
                f"{row['name']:<24}{row['without_us']:>14.1f}{row['with_us']:>12.1f}{row['ratio']:>9.3f}"
                f"{f'{low:.3f}-{high:.3f}':>16}{row['queries_without']:>18}{row['queries_with']:>15}"
            )
        first = report["rules"][0]["count"]
        lines += [
            "",
            "Protected page, verified user, with the middleware:",
            f"{'rules':>8}{'µs/request':>14}{f'ratio to {first}':>16}{'interval':>16}"
            f"{'rule lookup (µs)':>18}{'first request after a change (ms)':>36}",
        ]
        for row in report["rules"]:
            low, high = extras.rule_intervals[row["count"]]
            lines.append(
                f"{row['count']:>8}{row['us']:>14.1f}{row['ratio_to_one']:>16.3f}{f'{low:.3f}-{high:.3f}':>16}"
                f"{extras.lookup_us[row['count']]:>18.2f}{extras.first_request_ms[row['count']]:>36.1f}"
            )
        return "\n".join(lines)
