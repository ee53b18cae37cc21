"""A griffe extension for the cyclr API reference (mkdocs.yml: mkdocstrings ``extensions``).

cyclr's docstrings are written to be read in a terminal and run by doctest; the site shows
them through Markdown. Two habits of theirs need a translation, done here on the docstring
text before griffe parses it (the source is not changed):

- Doctest examples written as plain paragraphs (``>>> ...`` at the docstring's left margin,
  outside a fenced block) become fenced ``pycon`` code blocks. Left as they are, Markdown runs
  their lines together and reads outputs such as ``[1.0, 2.0]`` as reference links.
- Sphinx roles (``:class:`~cyclr.RangeTestResult```, ``:func:`deserialize```) become inline
  code (``RangeTestResult``, ``deserialize``); Markdown has no roles, and the role's colon
  would confuse the Google-style section parser.
- reST's literal-block marker (``formula::``) becomes a plain colon; the indented block after
  it is a code block in Markdown too.
- An ``Args:`` entry that documents several parameters at once (``base_lr, max_lr: the
  bounds``, the name list possibly wrapped after a comma) becomes one entry per parameter with
  the same description. Google style wants one entry each (ruff's D417 asks for it in
  functions); until every docstring has one, this keeps each name checked against the
  signature instead of griffe reporting ``'base_lr, max_lr'`` as an unknown parameter.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const):`(~?)([^`]+)`")


def _role_to_code(match: re.Match[str]) -> str:
    tilde, target = match.group(1), match.group(2).strip()
    if tilde:
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def _is_prompt(line: str) -> bool:
    return line == ">>>" or line.startswith(">>> ")


def fence_doctests(text: str) -> str:
    """Wrap each doctest block that starts at the left margin in a ``pycon`` fence."""
    lines = text.splitlines()
    out: list[str] = []
    in_fence = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        if in_fence or not _is_prompt(line):
            out.append(line)
            i += 1
            continue
        block = []
        while i < len(lines) and lines[i].strip():
            block.append(lines[i])
            i += 1
        if out and out[-1].strip():
            out.append("")
        out.extend(["```pycon", *block, "```"])  # the blank line after it comes next turn
    return "\n".join(out)


_ARGS_HEADER = re.compile(r"^(\s*)(Args|Arguments|Parameters|Other Parameters):\s*$")
_NAME_LIST = r"\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*"
_GROUP_ITEM = re.compile(rf"^(\s+)({_NAME_LIST}\s*,\s*\*{{0,2}}\w+)\s*:(.*)$")
_WRAPPED_NAMES = re.compile(rf"^\s+{_NAME_LIST}\s*,\s*$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def split_grouped_args(text: str) -> str:
    """Give each parameter of an ``a, b: description`` entry its own entry."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    section_indent: int | None = None
    while i < len(lines):
        line = lines[i]
        header = _ARGS_HEADER.match(line)
        if header:
            section_indent = len(header.group(1))
            out.append(line)
            i += 1
            continue
        if section_indent is not None and line.strip() and _indent(line) <= section_indent:
            section_indent = None
        if section_indent is None or not line.strip():
            out.append(line)
            i += 1
            continue
        # a name list wrapped after a comma (the rest at the same or a hanging indent): join
        # it with the line that carries the colon
        while (
            _WRAPPED_NAMES.match(line)
            and i + 1 < len(lines)
            and _indent(lines[i + 1]) >= _indent(line)
            and re.match(rf"^\s*{_NAME_LIST}\s*(,\s*$|:)", lines[i + 1])
        ):
            i += 1
            line = f"{line.rstrip()} {lines[i].strip()}"
        item = _GROUP_ITEM.match(line)
        i += 1
        if not item:
            out.append(line)
            continue
        pad, names, first = item.group(1), item.group(2), item.group(3)
        more = []
        while i < len(lines) and lines[i].strip() and _indent(lines[i]) > len(pad):
            more.append(lines[i])
            i += 1
        for name in (n.strip() for n in names.split(",")):
            out.extend([f"{pad}{name}:{first}", *more])
    return "\n".join(out)


def literal_markers(text: str) -> str:
    """reST's ``text::`` before an indented block is ``text:`` (a lone ``::`` goes)."""
    lines = [re.sub(r"(\S)::$", r"\1:", line) for line in text.splitlines()]
    return "\n".join(line for line in lines if line.strip() != "::")


def translate(text: str) -> str:
    """The docstring text as the site renders it."""
    text = _ROLE.sub(_role_to_code, text)
    return split_grouped_args(fence_doctests(literal_markers(text)))


class CyclrDocstrings(Extension):
    """Apply :func:`translate` to every docstring, before griffe parses it."""

    def on_instance(self, *, obj: Object, **kwargs: Any) -> None:
        """Translate the docstring of each object as it is created."""
        if obj.docstring is not None:
            obj.docstring.value = translate(obj.docstring.value)
