"""System checks of the layout the verification pages extend (VERIFICATION_BASE_TEMPLATE).

- E049 a template of the layout's chain cannot be loaded (missing, or a syntax error).
- E050 the layout renders no `content` block: the verification pages would be empty.
- W009 the layout renders no `title` block: the pages' titles would be lost.

The chain is followed as Django renders it: "verification/base.html" (the app's, or a site's override),
then every template it extends, VERIFICATION_BASE_TEMPLATE among them. A block counts only if
rendering reaches it: a block that sits inside another block a child template replaces does not.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.checks import CheckMessage, Error, Tags, register
from django.core.checks import Warning as CheckWarning
from django.template import Context, Engine, Template, TemplateDoesNotExist, TemplateSyntaxError, engines
from django.template.backends.django import DjangoTemplates
from django.template.base import FilterExpression, Node, NodeList, VariableNode
from django.template.loader_tags import BlockNode, ExtendsNode

from verification.conf import conf
from verification.validators import is_non_empty_string

__all__ = ["PAGES_BASE", "PAGE_BLOCK", "TITLE_BLOCK", "check_layout", "layout_chain", "rendered_blocks"]

#: The template every verification page extends; it extends VERIFICATION_BASE_TEMPLATE.
PAGES_BASE = "verification/base.html"
#: The blocks the pages fill: the page itself, and the text of <title>.
PAGE_BLOCK = "content"
TITLE_BLOCK = "title"
#: The context variable that names the layout to "verification/base.html".
LAYOUT_VARIABLE = "verification_base_template"
_LONGEST_CHAIN = 32
#: The variable through which a block renders its parent's definition too.
BLOCK_SUPER = "block.super"


class LayoutProblem(Exception):
    """A template of the chain cannot be loaded: `name`, and why."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(reason)
        self.name = name


def _django_engine() -> Engine | None:
    for backend in engines.all():
        if isinstance(backend, DjangoTemplates):
            return backend.engine
    return None


def _extends_node(template: Template) -> ExtendsNode | None:
    # {% extends %} must come first, so it is the first node that is not plain text.
    for node in template.nodelist:
        if isinstance(node, ExtendsNode):
            return node
    return None


def layout_chain(engine: Engine, layout: str) -> list[Template] | None:
    """Return the templates of the pages' layout, PAGES_BASE first and the root last.

    Raise LayoutProblem for a template that cannot be loaded; return None when the chain cannot be
    followed without a request (a parent named by another variable), so nothing can be said.
    """
    context = Context({LAYOUT_VARIABLE: layout})
    chain: list[Template] = []
    skip: list[Any] = []
    name = PAGES_BASE
    while len(chain) < _LONGEST_CHAIN:
        try:
            template, origin = engine.find_template(name, skip=skip)
        except TemplateDoesNotExist:
            raise LayoutProblem(name, "it does not exist") from None
        except TemplateSyntaxError as error:
            raise LayoutProblem(name, f"it has a syntax error: {error}") from None
        chain.append(template)
        skip.append(origin)
        extends = _extends_node(template)
        if extends is None:
            return chain
        parent_name = extends.parent_name
        if not isinstance(parent_name, FilterExpression):
            return None
        parent = parent_name.resolve(context)
        if not isinstance(parent, str) or not parent:
            return None
        name = parent
    return None


def _top_level_blocks(nodelist: NodeList) -> Iterator[BlockNode]:
    node: Node
    for node in nodelist:
        if isinstance(node, BlockNode):
            yield node
            continue
        for attribute in node.child_nodelists:
            inner = getattr(node, attribute, None)
            if inner:
                yield from _top_level_blocks(inner)


def _uses_block_super(block: BlockNode) -> bool:
    return any(
        isinstance(node, VariableNode) and node.filter_expression.token == BLOCK_SUPER
        for node in block.nodelist.get_nodes_by_type(VariableNode)
    )


def rendered_blocks(chain: list[Template]) -> set[str]:
    """Return the names of the blocks that rendering the root of `chain` reaches, as Django resolves them."""
    # Every definition of each block, the root's first: the last one wins, `{{ block.super }}` reaches the one before.
    definitions: dict[str, list[BlockNode]] = {}
    for template in reversed(chain):
        for block in template.nodelist.get_nodes_by_type(BlockNode):
            if isinstance(block, BlockNode):
                definitions.setdefault(block.name, []).append(block)
    reached: set[str] = set()

    def walk(nodelist: NodeList) -> None:
        for block in _top_level_blocks(nodelist):
            if block.name in reached:
                continue
            reached.add(block.name)
            for definition in reversed(definitions.get(block.name, [block])):
                walk(definition.nodelist)
                if not _uses_block_super(definition):
                    break

    walk(chain[-1].nodelist)
    return reached


def _chain_text(chain: list[Template]) -> str:
    return " -> ".join(repr(template.origin.template_name or template.origin.name) for template in chain)


@register(Tags.templates, "verification")
def check_layout(**kwargs: Any) -> list[CheckMessage]:
    """E049, E050, W009: the verification pages' layout loads and renders their `content` and `title`."""
    layout = conf.BASE_TEMPLATE
    engine = _django_engine()
    if not is_non_empty_string(layout) or engine is None:
        return []  # E048 reports a bad setting; without Django templates the pages cannot render at all.
    try:
        chain = layout_chain(engine, layout)
    except LayoutProblem as problem:
        which = f"VERIFICATION_BASE_TEMPLATE {layout!r}" if problem.name == layout else repr(problem.name)
        return [
            Error(
                f"The verification pages' layout cannot be loaded: {which} cannot be loaded, {problem}.",
                hint="Set VERIFICATION_BASE_TEMPLATE to a template your site has, such as 'base.html', or leave "
                "it out for the app's standalone layout 'verification/layout.html'.",
                id="verification.E049",
            )
        ]
    if chain is None:
        return []
    blocks = rendered_blocks(chain)
    messages: list[CheckMessage] = []
    found = ", ".join(sorted(blocks)) or "none"
    if PAGE_BLOCK not in blocks:
        messages.append(
            Error(
                f"The verification pages' layout ({_chain_text(chain)}) renders no '{PAGE_BLOCK}' block: "
                "every verification page would be empty.",
                hint=f"The layout renders these blocks: {found}. Name a bridge template in VERIFICATION_BASE_TEMPLATE "
                f"that puts '{PAGE_BLOCK}' in yours: "
                '{% extends "base.html" %}{% block main %}{% block content %}{% endblock %}{% endblock %}.',
                id="verification.E050",
            )
        )
    if TITLE_BLOCK not in blocks:
        messages.append(
            CheckWarning(
                f"The verification pages' layout ({_chain_text(chain)}) renders no '{TITLE_BLOCK}' block: "
                "the pages' titles are lost.",
                hint=f"The layout renders these blocks: {found}. In a bridge template, put '{TITLE_BLOCK}' inside "
                "the block of your <title>: {% block head_title %}{% block title %}{% endblock %}{% endblock %}.",
                id="verification.W009",
            )
        )
    return messages
