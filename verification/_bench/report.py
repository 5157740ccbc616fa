"""The bench's report: the human-readable table, or the JSON object."""

from __future__ import annotations

import json

from django.conf import settings

from verification._bench.measure import Extras, Report, Run


def as_json(report: Report) -> str:
    """Format the report as one indented JSON object."""
    return json.dumps(report, indent=2)


def table(run: Run, report: Report, extras: Extras, database: str) -> str:
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
        interval = _interval(extras.case_intervals[row["name"]])
        lines.append(
            f"{row['name']:<24}{row['without_us']:>14.1f}{row['with_us']:>12.1f}{row['ratio']:>9.3f}"
            f"{interval:>16}{row['queries_without']:>18}{row['queries_with']:>15}"
        )
    first = report["rules"][0]["count"]
    lines += [
        "",
        "Protected page, verified user, with the middleware:",
        f"{'rules':>8}{'µs/request':>14}{f'ratio to {first}':>16}{'interval':>16}"
        f"{'rule lookup (µs)':>18}{'first request after a change (ms)':>36}",
    ]
    for row in report["rules"]:
        count = row["count"]
        lines.append(
            f"{count:>8}{row['us']:>14.1f}{row['ratio_to_one']:>16.3f}{_interval(extras.rule_intervals[count]):>16}"
            f"{extras.lookup_us[count]:>18.2f}{extras.first_request_ms[count]:>36.1f}"
        )
    return "\n".join(lines)


def _interval(bounds: tuple[float, float]) -> str:
    low, high = bounds
    return f"{low:.3f}-{high:.3f}"
