"""Read what the flow told the user in a response: its page's notices, those waiting for the next page, messages."""

from __future__ import annotations

from typing import Any

from django.contrib.messages import get_messages

from verification import notices


def feedback(response: Any) -> list[str]:
    """Return every text the response showed or left for the next page: messages (the oldest), then notices."""
    request = response.wsgi_request
    texts = [str(message) for message in get_messages(request)]
    context = getattr(response, "context", None)
    if context is not None and "notices" in context:
        texts += [notice.text for notice in context["notices"]]
    waiting = request.session.get(notices.SESSION_KEY) or []
    texts += [text for _level, text, _at in waiting]
    return texts
