"""Pages that must open without a network (the built decks, the notebooks' HTML copies): what in
them would make a browser load something from another host."""

from __future__ import annotations

import re

# A reference the browser would follow to another host: src=, href=, url(...), @import.
REMOTE = re.compile(
    r"""(?:\b(?:src|href|xlink:href)\s*=\s*["']?|url\(\s*["']?|@import\s+["'])\s*(?:https?:)?//""",
    re.IGNORECASE,
)


def remote_references(text: str) -> list[str]:
    """What in an HTML or SVG file would make a browser load something from another host."""
    return [text[m.start() : m.end() + 60].split("\n")[0] for m in REMOTE.finditer(text)]
