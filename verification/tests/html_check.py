"""A strict reading of a rendered page (Python's HTML parser, building a tree) and the accessibility rules it must meet.

`problems(html)` returns what is wrong, as sentences; an empty list means the page passes:
- the markup is well formed: a `<!doctype html>`, every element closed in order (no end tag left to the
  browser to imply), ids unique;
- `<html lang>` is set, `<title>` has text, there is exactly one `<h1>`;
- every input a person fills in has a label (`<label for>`, a wrapping `<label>`, `aria-label` or
  `aria-labelledby`); every button has a name;
- every `aria-describedby` and `aria-labelledby` names elements that exist; a field marked
  `aria-invalid="true"` is described by its error text; every error text describes a field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)
#: Inputs a person does not fill in.
NOT_FILLED_IN = frozenset({"hidden", "submit", "button", "reset", "image"})
#: The class of a field's error text in the verification templates.
ERROR_CLASS = "verification-error"


@dataclass(eq=False)
class Element:
    tag: str
    attrs: dict[str, str]
    parent: Element | None = None
    children: list[Element] = field(default_factory=list)
    text_parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The element's text, its descendants' included, with white space collapsed."""
        parts = [*self.text_parts, *(child.text for child in self.children)]
        return " ".join(" ".join(parts).split())

    def iter(self) -> list[Element]:
        found = [self]
        for child in self.children:
            found += child.iter()
        return found

    def ancestors(self) -> list[Element]:
        chain, node = [], self.parent
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class TreeBuilder(HTMLParser):
    """Build a tree of Elements, noting every markup error instead of repairing it as a browser would."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.open: list[Element] = [self.root]
        self.errors: list[str] = []
        self.doctype = ""

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs}, parent=self.open[-1])
        self.open[-1].children.append(element)
        if tag not in VOID_ELEMENTS:
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_ELEMENTS:
            self.errors.append(f"<{tag}/> is not a void element: it needs an end tag")
            self.open.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID_ELEMENTS:
            self.errors.append(f"</{tag}>: a void element has no end tag")
            return
        current = self.open[-1]
        if current.tag != tag:
            self.errors.append(f"</{tag}> closes <{current.tag}>: elements must be closed in order")
            return
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.open[-1].text_parts.append(data)

    def close(self) -> None:
        super().close()
        for element in self.open[1:]:
            self.errors.append(f"<{element.tag}> is never closed")


def parse(html: str) -> TreeBuilder:
    """Parse `html` into a tree, keeping the markup errors found."""
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder


def _label_of(element: Element, by_id: dict[str, Element], labels: list[Element]) -> str:
    if element.attrs.get("aria-label", "").strip():
        return element.attrs["aria-label"]
    if element.attrs.get("aria-labelledby"):
        return " ".join(by_id[i].text for i in element.attrs["aria-labelledby"].split() if i in by_id)
    element_id = element.attrs.get("id")
    for label in labels:
        if (element_id and label.attrs.get("for") == element_id) or label in element.ancestors():
            return label.text
    return ""


def problems(html: str) -> list[str]:
    """Return every way the page breaks the rules of the module docstring; [] when it meets them all."""
    builder = parse(html)
    found = list(builder.errors)
    if builder.doctype.lower() != "doctype html":
        found.append(f"the page starts with <!{builder.doctype}>, not <!doctype html>")
    elements = builder.root.iter()[1:]
    by_id: dict[str, Element] = {}
    for element in elements:
        element_id = element.attrs.get("id")
        if element_id is None:
            continue
        if element_id in by_id:
            found.append(f"id {element_id!r} is used twice")
        by_id[element_id] = element
    html_elements = [element for element in elements if element.tag == "html"]
    if len(html_elements) != 1 or not html_elements[0].attrs.get("lang", "").strip():
        found.append("<html> has no lang")
    titles = [element for element in elements if element.tag == "title"]
    if len(titles) != 1 or not titles[0].text:
        found.append("the page has no <title> with text")
    headings = [element for element in elements if element.tag == "h1"]
    if len(headings) != 1:
        found.append(f"the page has {len(headings)} <h1>, not one")
    labels = [element for element in elements if element.tag == "label"]
    for element in elements:
        kind = element.attrs.get("type", "text")
        fillable = element.tag in ("select", "textarea") or (element.tag == "input" and kind not in NOT_FILLED_IN)
        name = element.attrs.get("name") or element.attrs.get("id") or element.tag
        if fillable and not _label_of(element, by_id, labels).strip():
            found.append(f"the field {name!r} has no label")
        if element.tag == "button" and not (element.text or element.attrs.get("aria-label")):
            found.append("a button has no name")
        for attribute in ("aria-describedby", "aria-labelledby"):
            for target in element.attrs.get(attribute, "").split():
                if target not in by_id:
                    found.append(f"{name!r} has {attribute}={target!r}, which no element has as its id")
        if element.attrs.get("aria-invalid") == "true":
            described = [by_id[i].text for i in element.attrs.get("aria-describedby", "").split() if i in by_id]
            if not any(
                ERROR_CLASS in by_id[i].classes for i in element.attrs.get("aria-describedby", "").split() if i in by_id
            ):
                found.append(f"the invalid field {name!r} is not described by its error ({described})")
    described_ids = {i for element in elements for i in element.attrs.get("aria-describedby", "").split()}
    for element in elements:
        if ERROR_CLASS in element.classes and element.attrs.get("id") not in described_ids:
            found.append(f"the error {element.text!r} describes no field (aria-describedby)")
    return found
