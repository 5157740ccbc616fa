"""What the flow has to say to the user, carried in the session to its next page and shown there.

The flow redirects after every POST. What one step has to say (a new code was sent, the code was
cancelled, why a step failed) waits here and is shown inside the next verification page, whatever the
site's layout does with `django.contrib.messages`, which the flow does not need. Each notice is plain
text in the user's language; numbers in it are masked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.http import HttpRequest
    from django_stubs_ext import StrOrPromise

__all__ = ["ERROR", "INFO", "LEVELS", "SESSION_KEY", "SUCCESS", "WARNING", "Notice", "add", "pop"]

#: The session key of the notices waiting to be shown.
SESSION_KEY = "_verification_notices"
ERROR = "error"
WARNING = "warning"
INFO = "info"
SUCCESS = "success"
LEVELS = frozenset({ERROR, WARNING, INFO, SUCCESS})
#: Notices kept at most: a page never has more to say than this, whatever a client replays.
MAX_WAITING = 5
#: Seconds a notice waits for its page: one left by an abandoned flow is not shown days later.
MAX_AGE = 600


@dataclass(frozen=True)
class Notice:
    """One thing to tell the user: its `level` (error, warning, info, success) and its `text`."""

    level: str
    text: str

    @property
    def is_alert(self) -> bool:
        """Tell whether assistive technology should announce it at once (role "alert") or politely ("status")."""
        return self.level in (ERROR, WARNING)


def add(request: HttpRequest, level: str, text: StrOrPromise) -> None:
    """Keep `text` at `level` for the next verification page this session shows."""
    if level not in LEVELS:
        raise ValueError(f"Unknown notice level {level!r}.")
    waiting = request.session.get(SESSION_KEY)
    waiting = list(waiting) if isinstance(waiting, list) else []
    waiting.append([level, str(text), int(time.time())])
    request.session[SESSION_KEY] = waiting[-MAX_WAITING:]


def pop(request: HttpRequest) -> list[Notice]:
    """Return the notices waiting for this session, and forget them."""
    session = request.session
    if SESSION_KEY not in session:
        return []
    waiting = session.pop(SESSION_KEY)
    if not isinstance(waiting, list):
        return []
    oldest = time.time() - MAX_AGE
    return [
        Notice(item[0], item[1])
        for item in waiting
        if isinstance(item, list)
        and len(item) == 3
        and item[0] in LEVELS
        and isinstance(item[1], str)
        and isinstance(item[2], int)
        and item[2] >= oldest
    ]
