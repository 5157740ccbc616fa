"""The scale-out stack: the app's test site on gunicorn with 4 workers, PostgreSQL and Redis, over loopback.

What only shows with several processes: limits that hold when requests for one challenge or one
user land on different workers at once, a verification that every worker honours, and the cost of
the middleware under load. Runs when DATABASE_URL is PostgreSQL and CACHE_URL is Redis (CI's second
pass); elsewhere it skips, except in that pass
(VERIFICATION_TESTS_REQUIRE_SERVICES=1), where it fails. `pytest -s` shows the load figures.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

import pytest

from verification.tests.server_app import WORKER_HEADER
from verification.tests.server_backend import CALL_LINE
from verification.tests.servers import (
    TEST_PASSWORD,
    TEST_USERNAME,
    Browser,
    Gunicorn,
    Response,
    create_users,
    django_admin,
    gunicorn,
    postgres_database,
    request,
    server_environment,
    skip_or_fail,
)

pytestmark = pytest.mark.multiworker

SETTINGS = "verification.tests.server_settings"
WORKERS = 4
#: A page that needs a verified phone (`shop:detail`), and what it shows once verified.
PROTECTED_PATH = "/shop/1/"
PROTECTED_TEXT = "item 1"
#: The load run's page: protected too, and reading the logged-in user, as a signed-in site's pages do
#: (the demo's did, through their layout). A page that never touched the user would spare the server
#: without the middleware the session and the user altogether, and the run would measure those.
LOAD_PATH = "/account/"
PHONE_PATH = "/verify/"
SEND_PATH = "/verify/send/"
CONFIRM_PATH = "/verify/confirm/"
#: The settings' defaults, which the servers run with.
MAX_ATTEMPTS = 5
SEND_LIMIT = 3
LOAD_ROUNDS = 8
LOAD_PER_ROUND = 256
LOAD_CONCURRENCY = 8
#: Every request of these tests is bounded: a stuck worker fails the test instead of hanging it.
REQUEST_TIMEOUT = 30.0
CODE_LINE = re.compile(r"\[verification\] \w+ to (.+?): .*?\b(\d{6})\b")

T = TypeVar("T")


@dataclass
class Stack:
    """Two gunicorns on one PostgreSQL database and one Redis cache: with and without the middleware."""

    enforcing: Gunicorn
    not_enforcing: Gunicorn
    #: The servers' environment, for management commands on their database.
    env: dict[str, str]

    def calls(self, kind: str) -> list[str]:
        """Return the request ids of every backend call of `kind` printed so far, by any worker."""
        return [match.group(2) for match in CALL_LINE.finditer(self.enforcing.output()) if match.group(1) == kind]

    def codes(self) -> list[tuple[str, str]]:
        """Return (masked number, code) for every code the console backend printed, oldest first."""
        return [(match.group(1), match.group(2)) for match in CODE_LINE.finditer(self.enforcing.output())]

    def latest_code(self, number: str) -> str:
        masked_tail = number[-4:]
        codes = [code for masked, code in self.codes() if masked.endswith(masked_tail)]
        assert codes, f"no code printed for …{masked_tail}:\n{self.enforcing.output()[-3000:]}"
        return codes[-1]


def services_or_skip() -> tuple[str, str]:
    """Return (DATABASE_URL, CACHE_URL) if they are PostgreSQL and Redis; else skip (fail in CI's services pass)."""
    database_url = os.environ.get("DATABASE_URL", "")
    cache_url = os.environ.get("CACHE_URL", "")
    if urlsplit(database_url).scheme not in {"postgres", "postgresql", "pgsql"}:
        skip_or_fail("multi-worker tests need DATABASE_URL=postgres://... and CACHE_URL=redis://...")
    if urlsplit(cache_url).scheme not in {"redis", "rediss"}:
        skip_or_fail("multi-worker tests need CACHE_URL=redis://... (and DATABASE_URL=postgres://...)")
    return database_url, cache_url


def with_key_prefix(cache_url: str, prefix: str) -> str:
    """Return `cache_url` with a key prefix, so the servers' keys never meet another run's."""
    separator = "&" if "?" in cache_url else "?"
    return f"{cache_url}{separator}key_prefix={prefix}"


def forget_cache_keys(cache_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(cache_url.split("?", 1)[0])
    keys = list(client.scan_iter(f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Create and migrate a database, then start both gunicorns with 4 workers each."""
    database_url, cache_url = services_or_skip()
    tmp = tmp_path_factory.mktemp("multiworker")
    prefix = f"verification-mw-{secrets.token_hex(4)}"
    with postgres_database(database_url) as url:
        # Everything else the servers run with is in their settings module, not in the environment.
        env = server_environment(
            DJANGO_SETTINGS_MODULE=SETTINGS, DATABASE_URL=url, CACHE_URL=with_key_prefix(cache_url, prefix)
        )
        django_admin("migrate", "--no-input", settings=SETTINGS, env=env)
        create_users({TEST_USERNAME: TEST_PASSWORD}, settings=SETTINGS, env=env)
        try:
            with (
                gunicorn(
                    "verification.tests.server_app:application",
                    env=env,
                    log_path=tmp / "enforcing.log",
                    workers=WORKERS,
                ) as enforcing,
                gunicorn(
                    "verification.tests.server_app:application",
                    env={**env, "VERIFICATION_MIDDLEWARE": "off"},
                    log_path=tmp / "not-enforcing.log",
                    workers=WORKERS,
                ) as not_enforcing,
            ):
                yield Stack(enforcing, not_enforcing, env)
        finally:
            forget_cache_keys(cache_url, prefix)


def run_concurrently(count: int, task: Callable[[int], T], *, threads: int | None = None) -> list[T]:
    """Run `task(i)` for i in range(count) on `threads` threads (default: all at once), released together."""
    threads = threads or count
    barrier = threading.Barrier(min(threads, count), timeout=REQUEST_TIMEOUT)

    def released(index: int) -> T:
        if index < threads:
            barrier.wait()
        return task(index)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(released, range(count), timeout=REQUEST_TIMEOUT * 4))


def new_users(stack: Stack, client_ips: list[str]) -> list[Browser]:
    """Create a fresh user (its own send budget) per address; return their clients, logged in on `stack.enforcing`."""
    credentials = {f"user-{secrets.token_hex(4)}": secrets.token_urlsafe(16) for _ in client_ips}
    create_users(credentials, settings=SETTINGS, env=stack.env)
    users = []
    for client_ip, (username, password) in zip(client_ips, credentials.items(), strict=True):
        user = Browser(stack.enforcing.url, client_ip=client_ip)
        user.log_in(username, password)
        users.append(user)
    return users


def new_user(stack: Stack, client_ip: str) -> Browser:
    """Create a fresh user (its own send budget); return its client, logged in on the enforcing server."""
    return new_users(stack, [client_ip])[0]


def send_code(stack: Stack, user: Browser, number: str) -> Response:
    """Ask for a code to `number` as the phone page's form does."""
    response = user.post_form(
        f"{PHONE_PATH}?next={PROTECTED_PATH}", {"number": number, "next": PROTECTED_PATH}, SEND_PATH
    )
    assert response.status == 302, response.text[:2000]
    assert urlsplit(response.location).path == CONFIRM_PATH
    return response


def verify(stack: Stack, user: Browser, number: str) -> None:
    """Take `user` through the whole flow to `number` and check the protected page opens."""
    confirm = send_code(stack, user, number).location
    response = user.post_form(confirm, {"code": stack.latest_code(number), "next": PROTECTED_PATH})
    assert response.status == 302, response.text[:2000]
    assert response.location == PROTECTED_PATH
    assert user.get(PROTECTED_PATH).status == 200


def test_an_unverified_user_is_sent_to_verification(stack: Stack) -> None:
    user = Browser(stack.enforcing.url, client_ip="203.0.113.1")
    user.log_in()

    response = user.get(PROTECTED_PATH)

    assert response.status == 302
    assert urlsplit(response.location).path == PHONE_PATH


def test_fifty_concurrent_wrong_codes_reach_the_backend_at_most_five_times(stack: Stack) -> None:
    user = new_user(stack, client_ip="203.0.113.2")
    number = "+447911120201"
    confirm = send_code(stack, user, number).location
    right_code = stack.latest_code(number)
    wrong_code = f"{(int(right_code) + 1) % 10**6:06d}"
    token = user.csrf_token(user.get(confirm))
    headers = user.headers()
    checks_before = len(stack.calls("check"))

    def post_wrong_code(_: int) -> Response:
        return request(
            stack.enforcing.url,
            "POST",
            confirm,
            headers=headers,
            data={"csrfmiddlewaretoken": token, "code": wrong_code, "next": PROTECTED_PATH},
            timeout=REQUEST_TIMEOUT,
        )

    responses = run_concurrently(50, post_wrong_code)
    checks = len(stack.calls("check")) - checks_before

    statuses = Counter(response.status for response in responses)
    assert all(status < 500 for status in statuses), statuses
    # At most 5; and since all 50 posts found the challenge pending, exactly 5 were let through.
    assert checks == MAX_ATTEMPTS, f"the backend was asked {checks} times"
    workers = {response.header(WORKER_HEADER) for response in responses}
    assert len(workers) > 1, "the posts did not spread over several workers"
    # The challenge is dead now, even for the right code.
    late = user.post(confirm, {"code": right_code, "next": PROTECTED_PATH}, token)
    assert late.status == 302
    assert urlsplit(late.location).path == PHONE_PATH
    assert len(stack.calls("check")) - checks_before == MAX_ATTEMPTS
    assert user.get(PROTECTED_PATH).status == 302


def post_sends(stack: Stack, senders: list[tuple[Browser, str]]) -> tuple[Counter[int], int]:
    """Post every (user, number) send at once; return the statuses and how many codes the backend sent."""
    prepared = []
    for user, number in senders:
        token = user.csrf_token(user.get(f"{PHONE_PATH}?next={PROTECTED_PATH}"))
        prepared.append((user.headers(), {"csrfmiddlewaretoken": token, "number": number, "next": PROTECTED_PATH}))
    starts_before = len(stack.calls("start"))

    def post_send(index: int) -> Response:
        headers, data = prepared[index]
        return request(stack.enforcing.url, "POST", SEND_PATH, headers=headers, data=data, timeout=REQUEST_TIMEOUT)

    responses = run_concurrently(len(prepared), post_send)
    return Counter(response.status for response in responses), len(stack.calls("start")) - starts_before


def test_concurrent_sends_for_one_user_and_one_number_send_one_code(stack: Stack) -> None:
    user = new_user(stack, client_ip="203.0.113.3")

    statuses, starts = post_sends(stack, [(user, "+447911120302")] * 12)

    # The resend cooldown holds first: one code. The other clicks land on the code form, or, while the
    # first send is still with the backend, on the phone form saying a code was sent a moment ago.
    assert starts == 1, f"{starts} codes were sent"
    assert set(statuses) <= {302, 429}, statuses
    assert statuses[302] >= 1


def test_concurrent_sends_for_one_user_hold_the_user_budget_exactly(stack: Stack) -> None:
    user = new_user(stack, client_ip="203.0.113.6")
    numbers = [f"+4479111206{index:02d}" for index in range(12)]

    statuses, starts = post_sends(stack, [(user, number) for number in numbers])

    assert starts == SEND_LIMIT, f"{starts} codes were sent"
    assert statuses == Counter({302: SEND_LIMIT, 429: 12 - SEND_LIMIT})


def test_concurrent_sends_to_one_number_hold_the_number_budget_exactly(stack: Stack) -> None:
    users = new_users(stack, [f"203.0.113.{70 + index}" for index in range(SEND_LIMIT + 2)])

    statuses, starts = post_sends(stack, [(user, "+447911120501") for user in users])

    assert starts == SEND_LIMIT, f"{starts} codes were sent"
    assert statuses == Counter({302: SEND_LIMIT, 429: 2})


@pytest.fixture(scope="module")
def verified_user(stack: Stack) -> Browser:
    user = new_user(stack, client_ip="203.0.113.4")
    verify(stack, user, "+447911120404")
    return user


def test_a_verified_session_is_honoured_by_every_worker(stack: Stack, verified_user: Browser) -> None:
    headers = verified_user.headers()

    def open_page(_: int) -> Response:
        return request(stack.enforcing.url, "GET", PROTECTED_PATH, headers=headers, timeout=REQUEST_TIMEOUT)

    responses = run_concurrently(80, open_page, threads=8)

    assert [response.status for response in responses] == [200] * len(responses)
    assert all(PROTECTED_TEXT in response.text for response in responses)
    workers = {response.header(WORKER_HEADER) for response in responses}
    assert {int(pid) for pid in workers if pid} <= stack.enforcing.worker_pids()
    assert len(workers) == WORKERS


def test_a_number_change_logs_the_users_other_sessions_out_on_every_worker(stack: Stack) -> None:
    """Revocation across processes: the other session's row and its cached copy are gone for every worker."""
    username, password = f"user-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    create_users({username: password}, settings=SETTINGS, env=stack.env)
    phone = Browser(stack.enforcing.url, client_ip="203.0.113.7")
    phone.log_in(username, password)
    other = Browser(stack.enforcing.url, client_ip="203.0.113.8")
    other.log_in(username, password)

    def pages(user: Browser) -> list[Response]:
        headers = user.headers()
        return run_concurrently(
            80,
            lambda _: request(stack.enforcing.url, "GET", PROTECTED_PATH, headers=headers, timeout=REQUEST_TIMEOUT),
            threads=8,
        )

    def targets(responses: list[Response]) -> set[str]:
        return {
            urlsplit(response.location).path if response.status == 302 else str(response.status)
            for response in responses
        }

    # Logged in on every worker (sent to verify, not to log in), before the change.
    before = pages(other)
    assert targets(before) == {PHONE_PATH}
    assert len({response.header(WORKER_HEADER) for response in before}) == WORKERS

    verify(stack, phone, "+447911120707")
    response = phone.post_form(
        f"{PHONE_PATH}?other=1&next={PROTECTED_PATH}", {"number": "+447911120708", "next": PROTECTED_PATH}, SEND_PATH
    )
    assert response.status == 302, response.text[:2000]
    response = phone.post_form(response.location, {"code": stack.latest_code("+447911120708"), "next": PROTECTED_PATH})
    assert response.status == 302, response.text[:2000]
    assert response.location == PROTECTED_PATH

    after = pages(other)
    assert targets(after) == {"/login/"}, [(r.status, r.location) for r in after[:5]]
    assert len({response.header(WORKER_HEADER) for response in after}) == WORKERS
    # The session that made the change goes on, on every worker.
    kept = pages(phone)
    assert [response.status for response in kept] == [200] * len(kept)


@dataclass
class LoadResult:
    """One server's share of the load run, summed over its rounds."""

    requests: int = 0
    seconds: float = 0.0
    errors: int = 0
    cpu_seconds: float | None = 0.0
    round_rates: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_request(self) -> float | None:
        if self.cpu_seconds is None or not self.requests:
            return None
        return 1000 * self.cpu_seconds / self.requests

    def add_round(self, requests: int, seconds: float, errors: int, cpu_seconds: float | None) -> None:
        self.requests += requests
        self.seconds += seconds
        self.errors += errors
        self.round_rates.append(requests / seconds)
        self.cpu_seconds = None if cpu_seconds is None or self.cpu_seconds is None else self.cpu_seconds + cpu_seconds


def load_round(
    server: Gunicorn, headers: dict[str, str], text: str, total: int, concurrency: int, into: LoadResult
) -> None:
    """GET the load page `total` times from `concurrency` threads; add time, errors and workers' CPU to `into`.

    An error is a failed request, a status other than 200, or a page without `text`.
    """
    per_thread = total // concurrency

    def client(_: int) -> int:
        errors = 0
        for _request in range(per_thread):
            try:
                response = request(server.url, "GET", LOAD_PATH, headers=headers, timeout=REQUEST_TIMEOUT)
            except OSError:
                errors += 1
                continue
            if response.status != 200 or text not in response.text:
                errors += 1
        return errors

    cpu_before = server.workers_cpu_seconds()
    started = time.perf_counter()
    errors = sum(run_concurrently(concurrency, client))
    seconds = time.perf_counter() - started
    cpu_after = server.workers_cpu_seconds()
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    into.add_round(per_thread * concurrency, seconds, errors, cpu)


def test_load_on_a_protected_page_with_and_without_the_middleware(
    stack: Stack, verified_user: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    headers = verified_user.headers()
    text = f"account of {verified_user.username}"
    # Without the middleware an unverified user gets the page; with it, the verification step: the two
    # servers differ in exactly that.
    unverified = new_user(stack, client_ip="203.0.113.5")
    assert unverified.get(LOAD_PATH).status == 302
    assert request(stack.not_enforcing.url, "GET", LOAD_PATH, headers=unverified.headers()).status == 200
    servers = {"with middleware": stack.enforcing, "without middleware": stack.not_enforcing}
    results = {name: LoadResult() for name in servers}

    # Short rounds, alternating, so both servers share the same machine load (other jobs, warm caches).
    for _round in range(LOAD_ROUNDS):
        for name, server in servers.items():
            load_round(server, headers, text, LOAD_PER_ROUND, LOAD_CONCURRENCY, results[name])

    with capsys.disabled():
        print(
            f"\n\nLoad on {LOAD_PATH} for a verified user: gunicorn, {WORKERS} sync workers, PostgreSQL + Redis, "
            f"concurrency {LOAD_CONCURRENCY}, {LOAD_ROUNDS} interleaved rounds"
        )
        for name, result in results.items():
            cpu = result.cpu_ms_per_request
            rounds = ", ".join(f"{rate:.0f}" for rate in result.round_rates)
            print(
                f"  {name:<19} {result.requests} requests in {result.seconds:5.1f} s: "
                f"{result.per_second:6.1f} requests/s (rounds: {rounds}), "
                + (f"{cpu:.2f} ms CPU per request in the workers, " if cpu is not None else "")
                + f"{result.errors} errors"
            )
        ratio = results["with middleware"].per_second / results["without middleware"].per_second
        print(f"  requests/s with the middleware / without: {ratio:.1%}\n")
    for result in results.values():
        assert result.requests >= 2000
        assert result.errors == 0
