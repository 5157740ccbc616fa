"""Real servers for the scale-out and deployment tests: a throwaway PostgreSQL database and gunicorn.

Everything here runs outside the test process (subprocesses, real sockets on loopback), so what the
tests prove holds for several processes, not for one test client sharing memory with the app.
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import overload
from urllib.parse import urlencode, urlsplit

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
#: Set by .ci/run for its PostgreSQL + Redis pass: there, a missing service fails the tests instead of skipping them.
SERVICES_REQUIRED = os.environ.get("VERIFICATION_TESTS_REQUIRE_SERVICES") == "1"

#: Settings read from the environment that a server started here must not inherit from the test run.
PROJECT_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "CONN_MAX_AGE",
    "CACHE_URL",
    "SESSION_ENGINE",
    "STATIC_ROOT",
    "STATICFILES_STORAGE",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "USE_X_FORWARDED_PROTO",
    "VERIFICATION_BACKEND",
    "VERIFICATION_MIDDLEWARE",
    "VERIFICATION_CLIENT_IP_HEADER",
    "DJANGO_SETTINGS_MODULE",
)

SERVER_START_TIMEOUT = 60.0
SERVER_STOP_TIMEOUT = 15.0

#: A user for tests to create (`create_users`), whom `Browser.log_in` logs in by default.
TEST_USERNAME = "server-test-user"
TEST_PASSWORD = "server-test-password"


def skip_or_fail(reason: str) -> None:
    """Skip the test, or fail it in the pass that must run it (VERIFICATION_TESTS_REQUIRE_SERVICES=1)."""
    if SERVICES_REQUIRED:
        pytest.fail(f"{reason} (required in this pass)", pytrace=False)
    pytest.skip(reason)


def server_environment(**overrides: str) -> dict[str, str]:
    """Return this process's environment without the project's variables, plus `overrides`."""
    env = {name: value for name, value in os.environ.items() if name not in PROJECT_VARIABLES}
    # A server's stdout is read by the tests (the console backend's codes): write it line by line.
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def run_django_admin(
    *args: str, settings: str, env: Mapping[str, str], timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run `django-admin args --settings=settings` in a subprocess with `env`; return the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "django", *args, f"--settings={settings}"],
        cwd=BASE_DIR,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def django_admin(*args: str, settings: str, env: Mapping[str, str], timeout: float = 180) -> str:
    """Run `django-admin args --settings=settings`; return its output, or fail the test with it."""
    result = run_django_admin(*args, settings=settings, env=env, timeout=timeout)
    if result.returncode != 0:
        pytest.fail(f"django-admin {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result.stdout + result.stderr


def create_users(credentials: Mapping[str, str], *, settings: str, env: Mapping[str, str]) -> None:
    """Create one user per username and password of `credentials`, in the database `settings` and `env` name."""
    code = (
        "from django.contrib.auth import get_user_model\n"
        f"for username, password in {dict(credentials)!r}.items():\n"
        "    get_user_model().objects.create_user(username, password=password)\n"
    )
    django_admin("shell", "--no-imports", "--command", code, settings=settings, env=env)


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """Create an empty database on the PostgreSQL server of `server_url`; yield its URL; drop it."""
    import psycopg

    parts = urlsplit(server_url)
    name = f"verification_mw_{secrets.token_hex(4)}"
    admin_dsn = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Gunicorn:
    """A running gunicorn master: its base URL and everything it and its workers printed."""

    process: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""

    def output(self) -> str:
        """Return everything printed so far (gunicorn's log and the workers' stdout)."""
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> set[int]:
        """Return the process ids of the workers gunicorn has booted."""
        return {int(pid) for pid in BOOTED_PID.findall(self.output())}

    def workers_cpu_seconds(self) -> float | None:
        """Return the CPU time (user + system) the live workers have used so far; None without /proc."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in self.worker_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            except OSError:
                return None
            # Fields 14 and 15 of stat(5) (utime, stime); the split drops the first two.
            total += (int(fields[11]) + int(fields[12])) / ticks
        return total


LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
BOOTED_PID = re.compile(r"Booting worker with pid: (\d+)")


@contextmanager
def gunicorn(
    app: str, *, env: Mapping[str, str], log_path: Path, workers: int = 4, ready_path: str = "/"
) -> Iterator[Gunicorn]:
    """Start gunicorn with `workers` sync workers on a free loopback port; yield it once every worker serves.

    The port is chosen by the kernel (bind to port 0) and read from gunicorn's log, so two runs never race
    for one. `--preload` imports the project once, in the master, so a broken import fails fast.
    """
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        app,
        "--bind",
        "127.0.0.1:0",
        "--workers",
        str(workers),
        "--preload",
        "--timeout",
        "60",
        "--graceful-timeout",
        "5",
        "--log-level",
        "info",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=dict(env), stdout=log, stderr=subprocess.STDOUT)
    server = Gunicorn(process=process, log_path=log_path)
    try:
        _wait_until_serving(server, workers, ready_path)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=SERVER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=SERVER_STOP_TIMEOUT)


def _wait_until_serving(server: Gunicorn, workers: int, ready_path: str) -> None:
    # Waiting for another process to come up is the one place that polls the clock: there is no
    # event to wait on, and the deadline bounds it.
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.process.returncode}:\n{server.output()}")
        log = server.output()
        listening = LISTENING.search(log)
        if listening and len(BOOTED_PID.findall(log)) >= workers:
            server.url = f"http://127.0.0.1:{listening.group(1)}"
            try:
                status = request(server.url, "GET", ready_path).status
            except OSError:
                status = 0
            if 0 < status < 500:
                return
        time.sleep(0.1)
    pytest.fail(f"gunicorn did not serve within {SERVER_START_TIMEOUT:.0f} s:\n{server.output()}")


@dataclass
class Response:
    """What a test needs from an HTTP response: status, headers (repeated ones kept) and body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @overload
    def header(self, name: str) -> str | None: ...
    @overload
    def header(self, name: str, default: str) -> str: ...
    def header(self, name: str, default: str | None = None) -> str | None:
        """Return the first header called `name` (any case), or `default`."""
        return next((value for key, value in self.headers if key.lower() == name.lower()), default)

    def header_list(self, name: str) -> list[str]:
        """Return every header called `name` (any case), e.g. each Set-Cookie."""
        return [value for key, value in self.headers if key.lower() == name.lower()]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def location(self) -> str:
        return self.header("Location") or ""


def request(
    base_url: str,
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
    timeout: float = 30,
) -> Response:
    """Send one request on a new connection (gunicorn's sync workers close it after each response)."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        all_headers = dict(headers or {})
        body = None
        if data is not None:
            body = urlencode(data)
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        return Response(response.status, response.getheaders(), response.read())
    finally:
        connection.close()


CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Browser:
    """A minimal cookie-keeping HTTP client for one user against a server started here.

    Cookies are kept by name regardless of their Secure flag: the servers run plain HTTP on loopback,
    standing for a TLS-terminating proxy (`X-Forwarded-Proto: https` when `https` is set).
    """

    base_url: str
    client_ip: str = "203.0.113.10"
    https: bool = False
    host: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)
    #: Whom `log_in` logged in, if anyone.
    username: str | None = None

    def headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"X-Forwarded-For": self.client_ip}
        if self.host:
            headers["Host"] = self.host
        if self.https:
            headers["X-Forwarded-Proto"] = "https"
            headers["Origin"] = f"https://{self.host or urlsplit(self.base_url).netloc}"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        headers.update(extra or {})
        return headers

    def send(self, method: str, path: str, data: Mapping[str, str] | None = None, **kwargs: object) -> Response:
        """Send a request with this user's cookies and keep the cookies it sets."""
        response = request(self.base_url, method, path, headers=self.headers(), data=data, **kwargs)  # type: ignore[arg-type]
        self.keep_cookies(response)
        return response

    def keep_cookies(self, response: Response) -> None:
        for header in response.header_list("Set-Cookie"):
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                if morsel.value and morsel["max-age"] != "0":
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)

    def get(self, path: str) -> Response:
        return self.send("GET", path)

    def post_form(self, page: str, data: Mapping[str, str], action: str | None = None) -> Response:
        """GET `page` for its CSRF token, then POST `data` (with the token) to `action` or back to `page`."""
        token = self.csrf_token(self.get(page))
        return self.send("POST", action or page, {"csrfmiddlewaretoken": token, **data})

    def post(self, path: str, data: Mapping[str, str], token: str) -> Response:
        """POST `data` with a CSRF token fetched earlier (for concurrent posts of one session)."""
        return self.send("POST", path, {"csrfmiddlewaretoken": token, **data})

    @staticmethod
    def csrf_token(response: Response) -> str:
        match = CSRF_INPUT.search(response.text)
        assert match, f"no CSRF token in the page (status {response.status}):\n{response.text[:2000]}"
        return match.group(1)

    def log_in(self, username: str = TEST_USERNAME, password: str = TEST_PASSWORD) -> None:
        """Log in through Django's login view at /login/, as a person would (default: the test user)."""
        credentials = {"username": username, "password": password}
        response = self.post_form("/login/", credentials)
        assert response.status == 302, f"login failed with {response.status}:\n{response.text[:2000]}"
        assert "sessionid" in self.cookies
        self.username = username
