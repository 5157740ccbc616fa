"""The quick start's driver for .ci/quickstart: apply the docs' marked code blocks to a project, then walk the flow.

`apply DOCS PROJECT` applies every `<!-- quickstart: ACTION PATH -->` marker of DOCS/*.md to the project directory
PROJECT, the pages in this order: quickstart.md, deployment.md, then the others alphabetically (so a page that gains
markers is proven without touching this script). Within a page, markers apply top to bottom. A marker is an HTML
comment on a line of its own, before the block's fence (blank lines between are allowed); inside a code block, or in
a sentence, the same text is not a marker:

- `settings PATH` then a Python block of assignments and comments only: each `NAME = ...` replaces the top-level
  assignment of NAME in PATH (its exact line range, with the block's comments above it); names PATH does not assign
  are appended at its end, with their comments. Nothing else in PATH changes.
- `file PATH`: the block is the whole file PATH (created or replaced).

Any marker this script cannot apply as written is an error naming the page and line. Standard library only.

`flow URL LOG USERNAME PASSWORD` walks the quick start's "Try it" on a live runserver at URL whose output goes to
LOG: admin login, the redirect to the phone step, the JSON client's 401, the number, the code the console backend
printed, back to the admin. Every response's status is asserted (redirects are never followed).
"""

from __future__ import annotations

import argparse
import ast
import http.cookiejar
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

#: Pages whose markers apply first, in this order; every other page follows alphabetically.
FIRST_PAGES = ("quickstart.md", "deployment.md")
ACTIONS = ("settings", "file")
MARKER = re.compile(r"^\s*<!--\s*quickstart:\s*(?P<action>\S+)\s+(?P<path>\S+)\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")

NUMBER = "+447400123456"
MASKED_NUMBER = "+44 •••• ••3456"
# The console backend's line (verification/backends/console.py, LocalCodeBackend.compose): no brand in development.
CODE_LINE = re.compile(
    r"^\[verification\] sms to (?P<masked>[^:]+): Your verification code is (?P<code>\d+)\. "
    r"It expires in \d+ minutes?\.$",
    re.MULTILINE,
)


class QuickstartError(Exception):
    """The quick start cannot be applied or does not work as the docs say."""


# --- apply ----------------------------------------------------------------------------------------------------


@dataclass
class Block:
    """One marked code block: where its marker is, what to do, and the block's text."""

    page: Path
    line: int
    action: str
    path: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.page.parent.name}/{self.page.name}:{self.line}"


def ordered_pages(docs: Path) -> list[Path]:
    """Return the docs' pages in the order their markers apply."""
    pages = sorted(docs.glob("*.md"), key=lambda page: page.name)
    first = [docs / name for name in FIRST_PAGES if (docs / name).is_file()]
    return first + [page for page in pages if page.name not in FIRST_PAGES]


def marked_blocks(page: Path) -> list[Block]:
    """Return the marked blocks of `page`, top to bottom; raise QuickstartError for a marker without its block."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    where = f"{page.parent.name}/{page.name}"
    index = 0
    while index < len(lines):
        line = lines[index]
        fence = FENCE.match(line)
        if fence:
            # A fence that is not after a marker: skip it whole, so a page may show a marker as an example.
            index = _fence_end(lines, index, fence, where) + 1
            continue
        # A marker is an HTML comment on a line of its own; prose may name the syntax inline (`<!-- quickstart: -->`).
        if not line.lstrip().startswith("<!--") or "quickstart:" not in line:
            index += 1
            continue
        marker = MARKER.match(line)
        number = index + 1
        if not marker:
            raise QuickstartError(f"{where}:{number}: a quickstart marker must read <!-- quickstart: ACTION PATH -->.")
        action, path = marker["action"], marker["path"]
        if action not in ACTIONS:
            raise QuickstartError(
                f"{where}:{number}: unknown quickstart action {action!r} (known: {', '.join(ACTIONS)})."
            )
        index += 1
        while index < len(lines) and not lines[index].strip():
            index += 1
        fence = FENCE.match(lines[index]) if index < len(lines) else None
        if not fence:
            raise QuickstartError(f"{where}:{number}: the marker's next non-blank line is not a code fence.")
        if action == "settings" and fence["info"].strip().split()[:1] not in (["python"], ["py"]):
            raise QuickstartError(f"{where}:{number}: a settings block must be a ```python block.")
        end = _fence_end(lines, index, fence, where)
        # A fence indented by n spaces takes up to n spaces off each of its lines (CommonMark).
        outdent = re.compile(rf"^ {{0,{len(fence['indent'])}}}")
        body = [outdent.sub("", text, count=1) for text in lines[index + 1 : end]]
        blocks.append(Block(page, number, action, path, "\n".join(body) + "\n"))
        index = end + 1
    return blocks


def _fence_end(lines: list[str], start: int, fence: re.Match[str], where: str) -> int:
    mark = fence["fence"]
    closing = re.compile(rf"^ {{0,3}}{re.escape(mark[0])}{{{len(mark)},}}\s*$")
    for index in range(start + 1, len(lines)):
        if closing.match(lines[index]):
            return index
    raise QuickstartError(f"{where}:{start + 1}: this code fence is never closed.")


def target(project: Path, block: Block) -> Path:
    """Return the file `block` writes, inside `project`; raise QuickstartError for a path that leaves it."""
    relative = PurePosixPath(block.path)
    if relative.is_absolute() or ".." in relative.parts or "\\" in block.path or not relative.parts:
        raise QuickstartError(f"{block.where}: {block.path!r} must be a relative path inside the project directory.")
    path = project.joinpath(*relative.parts)
    if not path.resolve().is_relative_to(project.resolve()):
        raise QuickstartError(f"{block.where}: {block.path!r} leads out of the project directory.")
    return path


@dataclass
class Assignment:
    """A top-level `NAME = ...` of a settings block: its name, and its source lines with the comments above it."""

    name: str
    lines: list[str]
    after_blank: bool = False


def _assigned_name(node: ast.stmt) -> str | None:
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        return node.target.id
    return None


def block_assignments(block: Block) -> list[Assignment]:
    """Split a settings block into its assignments; raise QuickstartError for anything but assignments and comments."""
    try:
        tree = ast.parse(block.text)
    except SyntaxError as exc:
        raise QuickstartError(f"{block.where}: the settings block is not valid Python: {exc}.") from None
    lines = block.text.splitlines()
    assignments: list[Assignment] = []
    previous_end = 0
    for node in tree.body:
        name = _assigned_name(node)
        if name is None:
            raise QuickstartError(
                f"{block.where}: block line {node.lineno}: a settings block may hold only `NAME = ...` assignments "
                f"and comments, not {ast.unparse(node).splitlines()[0]!r}."
            )
        if node.lineno <= previous_end or node.col_offset:
            raise QuickstartError(f"{block.where}: block line {node.lineno}: one assignment per line, please.")
        if any(assignment.name == name for assignment in assignments):
            raise QuickstartError(f"{block.where}: block line {node.lineno}: {name} is assigned twice in the block.")
        # The comments since the previous assignment belong to this one, without the blank lines before them.
        between = lines[previous_end : node.lineno - 1]
        leading_blanks = next((count for count, text in enumerate(between) if text.strip()), len(between))
        comments = between[leading_blanks:]
        source = lines[node.lineno - 1 : node.end_lineno]
        assignments.append(Assignment(name, comments + source, after_blank=leading_blanks > 0))
        previous_end = node.end_lineno or node.lineno
    if any(text.strip() for text in lines[previous_end:]):
        raise QuickstartError(f"{block.where}: the settings block has comments after its last assignment.")
    if not assignments:
        raise QuickstartError(f"{block.where}: the settings block assigns nothing.")
    return assignments


def apply_settings(path: Path, block: Block) -> str:
    """Merge the assignments of `block` into the settings file `path`; return what changed."""
    if not path.is_file():
        raise QuickstartError(f"{block.where}: {block.path} does not exist, so its settings cannot be replaced.")
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    ranges: dict[str, tuple[int, int]] = {}
    for node in ast.parse(source).body:
        name = _assigned_name(node)
        if name is None:
            continue
        if name in ranges:
            raise QuickstartError(f"{block.where}: {block.path} assigns {name} twice: which one to replace?")
        ranges[name] = (node.lineno - 1, node.end_lineno or node.lineno)
    assignments = block_assignments(block)
    replaced = [assignment for assignment in assignments if assignment.name in ranges]
    appended = [assignment for assignment in assignments if assignment.name not in ranges]
    # Bottom up, so the line numbers of the assignments above stay right.
    for assignment in sorted(replaced, key=lambda item: ranges[item.name][0], reverse=True):
        start, end = ranges[assignment.name]
        lines[start:end] = assignment.lines
    for position, assignment in enumerate(appended):
        if position == 0 or assignment.after_blank:
            lines.append("")
        lines.extend(assignment.lines)
    merged = "\n".join(lines) + "\n"
    _assert_assigned_as_block(merged, assignments, block)
    path.write_text(merged, encoding="utf-8")
    parts = []
    if replaced:
        parts.append("replaced " + ", ".join(assignment.name for assignment in replaced))
    if appended:
        parts.append("appended " + ", ".join(assignment.name for assignment in appended))
    return "; ".join(parts)


def _assert_assigned_as_block(merged: str, assignments: list[Assignment], block: Block) -> None:
    values = {_assigned_name(node): ast.dump(node) for node in ast.parse(merged).body if _assigned_name(node)}
    for assignment in assignments:
        expected = ast.dump(ast.parse("\n".join(assignment.lines)).body[0])
        if values.get(assignment.name) != expected:
            raise QuickstartError(f"{block.where}: {assignment.name} is not in {block.path} as the block gives it.")


def apply_file(path: Path, block: Block) -> str:
    """Write `block` as the whole file `path`; return what changed."""
    existed = path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(block.text, encoding="utf-8")
    return f"{'replaced' if existed else 'created'} ({len(block.text.splitlines())} lines)"


def apply(docs: Path, project: Path) -> None:
    """Apply every marked block of the docs to `project`, in order; print one line per block."""
    if not (docs / FIRST_PAGES[0]).is_file():
        raise QuickstartError(f"{docs / FIRST_PAGES[0]} does not exist.")
    blocks = [block for page in ordered_pages(docs) for block in marked_blocks(page)]
    if not any(block.page.name == FIRST_PAGES[0] for block in blocks):
        raise QuickstartError(f"{docs.name}/{FIRST_PAGES[0]} has no quickstart marker: there is nothing to prove.")
    # Every path is checked before anything is written, so a bad marker leaves the project as it was.
    targets = [target(project, block) for block in blocks]
    for block, path in zip(blocks, targets, strict=True):
        done = apply_settings(path, block) if block.action == "settings" else apply_file(path, block)
        print(f"  {block.where}  {block.action} {block.path}: {done}")


# --- flow -----------------------------------------------------------------------------------------------------


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """Hand every redirect back to the caller, whose status and Location the flow asserts."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


@dataclass
class Form:
    method: str
    action: str
    inputs: dict[str, str] = field(default_factory=dict)


class FormParser(HTMLParser):
    """Collect a page's forms with their inputs, and its stylesheets."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.stylesheets: list[str] = []
        self._form: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._form = Form(attributes.get("method", "get").lower(), attributes.get("action", ""))
            self.forms.append(self._form)
        elif tag in ("input", "textarea", "select") and self._form is not None and "name" in attributes:
            kind = attributes.get("type", "text").lower()
            # What a browser submits: a radio or a checkbox only when checked (the first channel, preselected).
            if kind not in ("radio", "checkbox") or "checked" in attributes:
                self._form.inputs[attributes["name"]] = attributes.get("value", "")
            else:
                self._form.inputs.setdefault(attributes["name"], "")
        elif tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheets.append(attributes.get("href", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def parse_page(body: str) -> FormParser:
    parser = FormParser()
    parser.feed(body)
    return parser


def form_posting_to(response: Response, action_path: str, *, needs: str, what: str) -> Form:
    """Return the page's POST form whose action is `action_path` and that has an input `needs`."""
    for form in parse_page(response.body).forms:
        if form.method == "post" and urllib.parse.urlsplit(form.action).path == action_path and needs in form.inputs:
            return form
    raise QuickstartError(
        f"{what}: no <form method=post> to {action_path} with an input {needs!r}. The page:\n{response.body[:1500]}"
    )


class Client:
    """A browser without JavaScript: cookies kept, redirects returned, never followed."""

    def __init__(self, base_url: str) -> None:
        if urllib.parse.urlsplit(base_url).scheme != "http":
            raise QuickstartError(f"The server's URL must be http://, not {base_url!r}.")
        self.base_url = base_url.rstrip("/")
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), NoRedirects())

    def request(
        self, method: str, path: str, *, data: dict[str, str] | None = None, accept: str = "text/html"
    ) -> Response:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        url = self.base_url + path  # always http:// (checked above)
        request = urllib.request.Request(url, data=body, method=method, headers={"Accept": accept})  # noqa: S310
        try:
            with self.opener.open(request, timeout=10) as response:
                status, headers, raw = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:  # 3xx (not followed), 4xx, 5xx: a response all the same
            status, headers, raw = error.code, error.headers, error.read()
        return Response(status, {key.lower(): value for key, value in headers.items()}, raw.decode("utf-8", "replace"))

    def get(self, path: str, *, accept: str = "text/html") -> Response:
        return self.request("GET", path, accept=accept)

    def post(self, path: str, form: Form, **fields: str) -> Response:
        """POST `form`'s inputs (its CSRF token among them) with `fields` to `path`."""
        return self.request("POST", path, data={**form.inputs, **fields})

    def cookie(self, name: str) -> str | None:
        return next((cookie.value for cookie in self.cookies if cookie.name == name), None)


def expect(response: Response, status: int, what: str, *, location: str | None = None) -> Response:
    """Assert `response`'s status (and the path and query its Location leads to); return it."""
    if response.status != status:
        raise QuickstartError(f"{what}: expected {status}, got {response.status}.\n{response.body[:1500]}")
    if location is not None:
        parts = urllib.parse.urlsplit(response.location)
        found = parts.path + (f"?{parts.query}" if parts.query else "")
        if found != location:
            raise QuickstartError(f"{what}: expected a redirect to {location}, got Location: {response.location!r}.")
    return response


def wait_until_up(client: Client, log: Path, timeout: float = 20) -> float:
    """Poll the server until it answers; return the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            client.get("/admin/login/")
            return time.monotonic() - started
        except OSError:
            time.sleep(0.2)
    raise QuickstartError(f"runserver did not answer within {timeout:.0f} s. Its output:\n{read_log(log)}")


def read_log(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""


def code_from_log(log: Path, timeout: float = 10) -> tuple[str, str]:
    """Return the masked number and the code of the console backend's line in `log`, waiting for it up to `timeout`."""
    started = time.monotonic()
    while True:
        lines = list(CODE_LINE.finditer(read_log(log)))
        if lines:
            if len(lines) != 1:
                raise QuickstartError(f"The console backend printed {len(lines)} codes, one was expected.")
            return str(lines[0]["masked"]), str(lines[0]["code"])
        if time.monotonic() - started > timeout:
            raise QuickstartError(f"No code line from the console backend in the server's output:\n{read_log(log)}")
        time.sleep(0.1)


def flow(base_url: str, log: Path, username: str, password: str) -> None:
    """Walk the quick start's "Try it" on a live server; print one line per step."""
    client = Client(base_url)
    print(f"  runserver answered after {wait_until_up(client, log):.1f} s")

    expect(client.get("/admin/"), 302, "GET /admin/ anonymous", location="/admin/login/?next=/admin/")
    login_page = expect(client.get("/admin/login/?next=/admin/"), 200, "GET the admin login")
    login = form_posting_to(login_page, "/admin/login/", needs="csrfmiddlewaretoken", what="the admin login")
    if not client.cookie("csrftoken"):
        raise QuickstartError("The admin login page set no csrftoken cookie.")
    logged_in = client.post("/admin/login/", login, username=username, password=password, next="/admin/")
    expect(logged_in, 302, "POST the admin login", location="/admin/")
    print("  /admin/ anonymous: 302 to the admin login; the login form: 302 to /admin/")

    expect(client.get("/admin/"), 302, "GET /admin/ logged in, unverified", location="/verify/?next=/admin/")
    refused = expect(client.get("/admin/", accept="application/json"), 401, "GET /admin/ as a JSON client")
    try:
        payload = json.loads(refused.body)
    except ValueError:
        raise QuickstartError(f"The JSON client's 401 is not JSON: {refused.body[:500]!r}") from None
    if payload.get("error") != "verification_required" or not str(payload.get("url", "")).startswith("/verify/"):
        raise QuickstartError(f"The JSON client's 401 says {payload!r}.")
    print(f"  /admin/ logged in: 302 to /verify/?next=/admin/; as JSON: 401 {json.dumps(payload)}")

    phone_page = expect(client.get("/verify/?next=/admin/"), 200, "GET the phone step")
    phone = form_posting_to(phone_page, "/verify/send/", needs="number", what="the phone step")
    stylesheets = parse_page(phone_page.body).stylesheets
    if not stylesheets:
        raise QuickstartError("The phone step links no stylesheet: is it the app's standalone layout?")
    for href in stylesheets:
        expect(client.get(urllib.parse.urlsplit(href).path, accept="text/css"), 200, f"GET the stylesheet {href}")
    sent = client.post("/verify/send/", phone, number=NUMBER, next="/admin/")
    expect(sent, 302, "POST the number to /verify/send/")
    confirm_path = urllib.parse.urlsplit(sent.location).path
    if confirm_path != "/verify/confirm/":
        raise QuickstartError(f"POST /verify/send/ led to {sent.location!r}, not to /verify/confirm/.")
    print(
        f"  the phone step: a form to /verify/send/ with `number` (stylesheet {', '.join(stylesheets)} served); "
        f"sent: 302 to {sent.location}"
    )

    masked, code = code_from_log(log)
    if masked != MASKED_NUMBER:
        raise QuickstartError(f"The console backend masked the number as {masked!r}, not {MASKED_NUMBER!r}.")
    if NUMBER in read_log(log) or NUMBER[3:] in read_log(log):
        raise QuickstartError("The server's output carries the full phone number.")
    confirm_page = expect(client.get(sent.location), 200, f"GET {sent.location}")
    confirm = form_posting_to(confirm_page, "/verify/confirm/", needs="code", what="the code step")
    confirmed = client.post("/verify/confirm/", confirm, code=code, next="/admin/")
    expect(confirmed, 302, "POST the code to /verify/confirm/", location="/admin/")
    print(f"  the console backend printed a code for {masked}; the code step's form: 302 to /admin/")

    admin = expect(client.get("/admin/"), 200, "GET /admin/ verified")
    if "Site administration" not in admin.body:
        raise QuickstartError(f"/admin/ once verified does not say 'Site administration':\n{admin.body[:1500]}")
    print("  /admin/ verified: 200, Site administration")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    apply_command = commands.add_parser("apply", help="apply the docs' marked blocks to a project")
    apply_command.add_argument("docs", type=Path)
    apply_command.add_argument("project", type=Path)
    flow_command = commands.add_parser("flow", help="walk the flow on a live server")
    flow_command.add_argument("url")
    flow_command.add_argument("log", type=Path)
    flow_command.add_argument("username")
    flow_command.add_argument("password")
    arguments = parser.parse_args()
    try:
        if arguments.command == "apply":
            apply(arguments.docs, arguments.project)
        else:
            flow(arguments.url, arguments.log, arguments.username, arguments.password)
    except QuickstartError as error:
        print(f"quickstart: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
