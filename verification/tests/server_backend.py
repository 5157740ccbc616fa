"""The console backend, also printing one line per call, so tests count what reached the backend."""

from __future__ import annotations

import re

from verification.backends.console import ConsoleVerifyBackend

#: Printed (with the call and the request id) once per call, by whichever worker makes it.
CALL_MARK = "[verification-test]"
CALL_LINE = re.compile(re.escape(CALL_MARK) + r" (start|check|cancel) ([0-9a-f]+)")


class CountingConsoleVerifyBackend(ConsoleVerifyBackend):
    """Print `[verification-test] <start|check|cancel> <request id>` for every call to the backend."""

    def start(self, number: str, *, channel: str = "sms", locale: str | None = None) -> str:
        request_id = super().start(number, channel=channel, locale=locale)
        self._record("start", request_id)
        return request_id

    def check(self, request_id: str, code: str) -> None:
        self._record("check", request_id)
        super().check(request_id, code)

    def cancel(self, request_id: str) -> None:
        self._record("cancel", request_id)
        super().cancel(request_id)

    def _record(self, call: str, request_id: str) -> None:
        with self._lock:
            self.stream.write(f"{CALL_MARK} {call} {request_id}\n")
            self.stream.flush()
