"""The page checker itself: each rule catches the fault it is for, and a good page passes."""

from __future__ import annotations

import pytest

from verification.tests.html_check import problems

GOOD = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Code</title></head><body><main>
<h1>Enter your code</h1>
<p class="verification-help" id="id_code_helptext">Six digits.</p>
<label for="id_code">Code</label>
<input type="text" id="id_code" name="code" aria-invalid="true" aria-describedby="id_code_helptext id_code_error">
<p class="verification-error" id="id_code_error">That code is not right.</p>
<input type="hidden" name="next" value="/">
<label><input type="radio" name="channel" value="sms"> Text message</label>
<button type="submit">Verify</button>
</main></body></html>"""


def test_a_good_page_passes() -> None:
    assert problems(GOOD) == []


@pytest.mark.parametrize(
    ("fault", "change"),
    [
        ("not <!doctype html>", ("<!doctype html>", "")),
        ("no lang", (' lang="en"', "")),
        ("no <title>", ("<title>Code</title>", "")),
        ("2 <h1>", ("</main>", "<h1>Again</h1></main>")),
        ("'code' has no label", ('<label for="id_code">Code</label>', "")),
        (
            "'channel' has no label",
            (
                '<label><input type="radio" name="channel" value="sms"> Text message</label>',
                '<input type="radio" name="channel" value="sms"> Text message',
            ),
        ),
        ("a button has no name", (">Verify<", "><")),
        ("which no element has as its id", ("id_code_helptext id_code_error", "id_code_helptext id_gone")),
        ("is not described by its error", (' aria-describedby="id_code_helptext id_code_error"', "")),
        ("used twice", ('id="id_code_error"', 'id="id_code"')),
        ("closed in order", ("</main></body>", "</body>")),
        ("never closed", ("</html>", "<div>")),
    ],
)
def test_each_rule_catches_its_fault(fault: str, change: tuple[str, str]) -> None:
    old, new = change
    assert old in GOOD
    found = problems(GOOD.replace(old, new, 1))
    assert any(fault in problem for problem in found), found
