"""Sliding windows over challenge rows: the rows of a window, and how long until one more send fits (internal)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet

from verification.models import Challenge

__all__ = ["edge_wait", "in_window", "seconds_until"]


def in_window(rows: Q, window: int, now: datetime) -> QuerySet[Challenge]:
    return Challenge.objects.filter(rows, created_at__gt=now - timedelta(seconds=window)).order_by("-created_at")


def edge_wait(newest_first: QuerySet[Challenge], limit: int, window: int, now: datetime) -> int | None:
    # The limit-th most recent send in the window, read by walking the (key, created_at) index
    # backwards from now: no count of the whole window, one row sent back.
    oldest_counted = list(newest_first.values_list("created_at", flat=True)[limit - 1 : limit])
    if not oldest_counted:
        return None
    # That send has to leave the window before another one fits.
    return seconds_until(oldest_counted[0] + timedelta(seconds=window), now)


def seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))
