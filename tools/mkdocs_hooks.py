"""mkdocs hooks for the cyclr site (mkdocs.yml: ``hooks:``).

The Tour page is the README itself, read when the site is built, so the two never drift:
``docs/tour.md`` holds only a marker line, replaced here by README.md with its links into
``docs/`` (``docs/x.png``, ``docs/results.md``, relative to the repository root) made
relative to ``docs/``. Its links to other files of the repository (``CONTRIBUTING.md``,
``LICENSE``) have no page on the site: they become their plain text there.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

MARKER = "<!-- tour: README.md -->"
#: A markdown link (not an image) to a relative path outside docs/: ``[text](CONTRIBUTING.md)``.
OUTSIDE_DOCS = re.compile(r"(?<!!)\[([^\]]+)\]\((?!docs/|[a-z][a-z0-9+.-]*:|#)[^)\s]+\)")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace the Tour page's marker with the README."""
    if MARKER not in markdown:
        return markdown
    readme = Path(config["config_file_path"]).parent / "README.md"
    text = readme.read_text(encoding="utf-8")
    text = OUTSIDE_DOCS.sub(r"\1", text)
    text = re.sub(r"\]\(docs/", "](", text)
    return markdown.replace(MARKER, text)
