"""A Verify backend that keeps each code in `outbox`, a module-level list the tests read."""

from __future__ import annotations

from verification.backends.base import CodeMessage, LocalCodeBackend

__all__ = ["LocmemVerifyBackend", "outbox"]

#: Every CodeMessage "sent" (number, code, channel, request_id, message), oldest first. The test
#: suite's conftest empties it around every test; read the latest code with `verification.testing.latest_code()`.
outbox: list[CodeMessage] = []


class LocmemVerifyBackend(LocalCodeBackend):
    """Append each message to `verification.backends.locmem.outbox` instead of sending it."""

    def deliver(self, message: CodeMessage) -> None:
        outbox.append(message)
