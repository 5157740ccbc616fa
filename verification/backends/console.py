"""A Verify backend that prints each code to standard output: for the demo and local development."""

from __future__ import annotations

import sys
import threading
from typing import Any, TextIO

from verification.backends.base import CodeMessage, LocalCodeBackend
from verification.phone import mask_number

__all__ = ["ConsoleVerifyBackend"]


class ConsoleVerifyBackend(LocalCodeBackend):
    """Print the message a person would receive, code included, to a stream (default: standard output)."""

    def __init__(self, *, stream: TextIO | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def deliver(self, message: CodeMessage) -> None:
        line = f"[verification] {message.channel} to {mask_number(message.number)}: {message.message}\n"
        # One write and a flush per message, so lines from concurrent requests never interleave and a
        # person watching the terminal sees the code at once.
        with self._lock:
            self.stream.write(line)
            self.stream.flush()
