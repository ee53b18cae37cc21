"""mkdocs hooks for the cyclr site (mkdocs.yml: ``hooks:``).

The Tour page is the README itself, read when the site is built, so the two never drift:
``docs/tour.md`` holds only a marker line, replaced here by README.md with its image links
(``docs/x.png``, relative to the repository root) made relative to ``docs/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

MARKER = "<!-- tour: README.md -->"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace the Tour page's marker with the README."""
    if MARKER not in markdown:
        return markdown
    readme = Path(config["config_file_path"]).parent / "README.md"
    text = readme.read_text(encoding="utf-8")
    text = re.sub(r"\]\(docs/", "](", text)
    return markdown.replace(MARKER, text)
