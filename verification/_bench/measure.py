"""The bench's measurement: check, count queries, time the cases and rule counts, and sum them up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.handlers.wsgi import WSGIHandler

from verification._bench.pages import PROTECTED_PREFIX, PUBLIC_PREFIX
from verification._bench.stats import median_microseconds, ratio_interval
from verification._bench.timing import (
    CLOCKS,
    PROTECTED_UNVERIFIED,
    PROTECTED_VERIFIED,
    UNPROTECTED_ANONYMOUS,
    Bench,
    Case,
)
from verification._bench.visitors import Visitor
from verification._bench.wsgi import raised_in_views

# The figures printed as JSON: a row per case, a row per rule count.
Report = dict[str, list[dict[str, Any]]]


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


def measure(
    run: Run, handlers: dict[str, WSGIHandler], visitors: dict[str, Visitor], progress: Callable[[str], object]
) -> tuple[Report, Extras]:
    """Check, warm up, count queries, then time the cases and the rule counts, telling `progress` how far.

    Return the report (the JSON) and what only the table shows.
    """
    cases = [
        Case(UNPROTECTED_ANONYMOUS, visitors["anonymous"], PUBLIC_PREFIX, 200, 200),
        Case(PROTECTED_VERIFIED, visitors["verified"], PROTECTED_PREFIX, 200, 200),
        Case(PROTECTED_UNVERIFIED, visitors["unverified"], PROTECTED_PREFIX, 302, 200),
    ]
    counts = run.counts
    with raised_in_views() as raised:
        bench = Bench(handlers, cases, CLOCKS[run.clock_name], raised)
        bench.check()
        queries = {
            (case.name, variant): bench.count_queries(case, variant)
            for case in cases
            for variant in ("with", "without")
        }
        progress(f"Timing {run.requests} requests per case and variant...")
        case_samples = bench.time_cases(run.requests)
        progress(f"Timing {run.requests} requests per rule count ({', '.join(map(str, counts))})...")
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
