"""What gunicorn serves in the scale-out tests: the app's test site, each response naming the worker that made it.

The header exists only in this test wrapper; a site's own WSGI application adds nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "verification.tests.server_settings")

WORKER_HEADER = "X-Worker-Pid"

django_application = get_wsgi_application()


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Serve the request with the test site and add the worker's process id to the response headers."""

    def start_naming_worker(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, [*headers, (WORKER_HEADER, str(os.getpid()))], exc_info)

    return django_application(environ, start_naming_worker)
