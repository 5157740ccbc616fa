"""The bench's database: a throwaway one for the run, and a connection kept open between requests."""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection, transaction


@contextmanager
def throwaway_database(use_current: bool) -> Iterator[str]:
    """Give the run a database nobody else uses; yield how it was obtained.

    By default a test database of the configured engine is created and destroyed afterwards (in
    memory for SQLite). With `use_current`, the run happens in a transaction that is rolled back.
    """
    if use_current:
        with transaction.atomic():
            yield "the current database, in a transaction rolled back at the end"
            transaction.set_rollback(True)
        return
    test_settings = connection.settings_dict.setdefault("TEST", {})
    old_test_name = test_settings.get("NAME")
    # A name of our own: another process may be running the test suite against `test_<name>`.
    test_settings["NAME"] = ":memory:" if connection.vendor == "sqlite" else f"test_bench_verification_{os.getpid()}"
    old_name = connection.settings_dict["NAME"]
    try:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, **_no_serialization())
        try:
            yield f"a throwaway {connection.vendor} database, destroyed at the end"
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    finally:
        test_settings["NAME"] = old_test_name


def _no_serialization() -> dict[str, bool]:
    # Django 5.2 copies the new database into memory unless told not to; 6.x no longer does and
    # deprecates the argument.
    parameter = inspect.signature(connection.creation.create_test_db).parameters["serialize"]
    return {"serialize": False} if parameter.default is True else {}


@contextmanager
def persistent_connections() -> Iterator[None]:
    """Keep the database connection open between requests, as a production site configures it.

    Without this, CONN_MAX_AGE=0 reconnects on every request, which dwarfs what is measured.
    """
    started = request_started.disconnect(close_old_connections)
    finished = request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        if started:
            request_started.connect(close_old_connections)
        if finished:
            request_finished.connect(close_old_connections)
