"""Collect what a signal is sent with, for the tests that assert a signal fired (and how often)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.dispatch import Signal


@contextmanager
def receiving(signal: Signal) -> Iterator[list[dict[str, Any]]]:
    """Collect the keyword arguments (no sender, no signal) of every `signal` sent inside the block."""
    received: list[dict[str, Any]] = []

    def receiver(sender: Any, signal: Any = None, **kwargs: Any) -> None:
        received.append(kwargs)

    uid = f"receiving-{id(received)}"
    signal.connect(receiver, weak=False, dispatch_uid=uid)
    try:
        yield received
    finally:
        signal.disconnect(dispatch_uid=uid)
