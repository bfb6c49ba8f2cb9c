"""A named piece of code, read from a file of the repository: what the slides show.

A piece is addressed by what it is, not by line numbers, so it moves with the code and a name
that disappears is an error, never a stale copy:

- a Python symbol, found with `ast`: `create_app`, `Class.method`, `celery_init_app.FlaskTask`,
  a module-level assignment (`task_routes`, `app.wsgi_app`), an import by the name it binds
  (`celery_app`), a bare call by what it calls (`app.autodiscover_tasks`), or a run of
  statements from one to another, `task_default_queue..task_routes`; with its decorators and
  the comment lines just above it;
- an INI section (supervisord): `[program:worker1]`;
- a block in braces (Nginx, CSS, JavaScript) by its head: `upstream gunicorn`, `location /`;
- nothing: the whole file.

Inside a Python symbol, a text narrows the piece to the statement whose first line contains it
(`submit` and `for saved in`): an `if` branch, a loop, a `with` block.

    >>> snippet(ROOT / "step01_flask_celery/app/celery_app.py", "celery_init_app").first
    7
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

# The language a code block is highlighted as, by file name, then by suffix.
LANGUAGES = {
    "Procfile": "text",
    "Dockerfile": "dockerfile",
    "nginx.conf": "nginx",
    "nginx-main.conf": "nginx",
    "supervisord.conf": "ini",
    "supervisor.conf": "ini",
}
SUFFIXES = {
    ".py": "python",
    ".ini": "ini",
    ".cfg": "ini",
    ".toml": "toml",
    ".yml": "yaml",
    ".yaml": "yaml",
    ".js": "javascript",
    ".css": "css",
    ".html": "html",
    ".sh": "bash",
    ".lua": "lua",
}


class NotFound(LookupError):
    """The file has no such piece of code; the message says what it has instead."""


@dataclass(frozen=True)
class Snippet:
    code: str
    language: str
    first: int  # line numbers in the file, from 1
    last: int


def language(path: Path) -> str:
    return LANGUAGES.get(path.name) or SUFFIXES.get(path.suffix, "text")


def snippet(path: Path, selector: str | None = None, containing: str | None = None) -> Snippet:
    """The piece of `path` that `selector` names (the whole file without one)."""
    if not path.is_file():
        raise NotFound(f"there is no file {path}")
    lines = path.read_text().splitlines()
    if containing and path.suffix != ".py":
        raise NotFound("a text to narrow a piece down to works in Python files only")
    if not selector:
        first, last = 1, len(lines)
    elif path.suffix == ".py":
        first, last = python_piece(path.read_text(), selector, containing)
    elif selector.startswith("["):
        first, last = ini_section(lines, selector)
    else:
        first, last = braced_block(lines, selector, COMMENTS.get(language(path), ("#",)))
    code = textwrap.dedent("\n".join(lines[first - 1 : last])).strip("\n")
    return Snippet(code, language(path), first, last)


# How a comment line starts, by language (CSS has none that fits on a line: /* */).
COMMENTS = {"javascript": ("//",), "css": (), "ini": ("#", ";")}


def with_comments_above(lines: list[str], first: int, comment: tuple[str, ...] = ("#",)) -> int:
    """Move `first` up over the comment lines just above it (no blank line between)."""
    while first > 1 and comment and lines[first - 2].strip().startswith(comment):
        first -= 1
    return first


# --- Python -----------------------------------------------------------------------------------


def python_piece(source: str, selector: str, containing: str | None) -> tuple[int, int]:
    tree = ast.parse(source)
    lines = source.splitlines()
    if ".." in selector:
        start, _, end = selector.partition("..")
        body, first = statement(tree, start)
        _, last = statement(tree, end)
        if not any(last is node for node in body) or body.index(first) > body.index(last):
            raise NotFound(f"{end!r} does not come after {start!r} in the same block")
        begin, stop = start_line(first, lines), last.end_lineno
    else:
        _, node = statement(tree, selector)
        if containing:
            node = narrowed(node, selector, containing, lines)
        begin, stop = start_line(node, lines), node.end_lineno
    return begin, stop


def names(node: ast.stmt) -> list[str]:
    """What names a statement: a function's or class's name, an assignment's targets, the
    names an import binds, the function a bare call calls (`app.autodiscover_tasks`)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [ast.unparse(target) for target in node.targets]
    if isinstance(node, ast.AnnAssign | ast.AugAssign):
        return [ast.unparse(node.target)]
    if isinstance(node, ast.Import | ast.ImportFrom):
        return [alias.asname or alias.name for alias in node.names]
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        return [ast.unparse(node.value.func)]
    return []


def statement(tree: ast.Module, selector: str) -> tuple[list[ast.stmt], ast.stmt]:
    """The statement `selector` names, and the block it is in.

    `app.wsgi_app` is first an assignment's target; else `A.B` is B inside A's body.
    """
    for node in tree.body:
        if selector in names(node):
            return tree.body, node
    body, parts = tree.body, selector.split(".")
    for depth, part in enumerate(parts):
        found = [node for node in body if part in names(node)]
        if not found:
            where = ".".join(parts[:depth]) or "the module"
            known = sorted({name for node in body for name in names(node)})
            raise NotFound(
                f"no {part!r} in {where} (it defines: {', '.join(known) or 'nothing named'})"
            )
        node = found[-1]  # the one that counts at run time, as Python reads the file
        if depth < len(parts) - 1:
            if not hasattr(node, "body"):
                raise NotFound(f"{part!r} is not a function or a class: nothing is inside it")
            body = node.body
    return body, node


def start_line(node: ast.stmt, lines: list[str]) -> int:
    decorators = getattr(node, "decorator_list", [])
    first = min([node.lineno, *(decorator.lineno for decorator in decorators)])
    return with_comments_above(lines, first)


def narrowed(node: ast.stmt, selector: str, text: str, lines: list[str]) -> ast.stmt:
    """The statement inside `node` whose first line contains `text` (the outermost one)."""
    found = [
        inner
        for inner in ast.walk(node)
        if isinstance(inner, ast.stmt) and inner is not node and text in lines[inner.lineno - 1]
    ]
    if not found:
        raise NotFound(f"no statement of {selector!r} has a first line containing {text!r}")
    starts = sorted({inner.lineno for inner in found})
    if len(starts) > 1:
        raise NotFound(
            f"{len(starts)} statements of {selector!r} contain {text!r} (lines "
            f"{', '.join(map(str, starts))}): give a text that only one of them has"
        )
    return min(found, key=lambda inner: inner.col_offset)


# --- INI (supervisord) and braced blocks (Nginx, CSS, JavaScript) -----------------------------

SECTION = re.compile(r"^\s*\[[^\]]+\]")


def ini_section(lines: list[str], selector: str) -> tuple[int, int]:
    starts = [number for number, line in enumerate(lines, 1) if line.strip() == selector]
    if len(starts) != 1:
        sections = [line.strip() for line in lines if SECTION.match(line)]
        raise NotFound(f"no section {selector} (the file has: {', '.join(sections)})")
    first = last = starts[0]
    while last < len(lines) and not SECTION.match(lines[last]):
        last += 1
    # What ends the section is the next one's business: its comments, blank lines.
    while last > first and (not lines[last - 1].strip() or lines[last - 1].lstrip()[:1] in "#;"):
        last -= 1
    return with_comments_above(lines, first, COMMENTS["ini"]), last


QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def heads(line: str, selector: str) -> bool:
    """Whether the line opens a block (`head {`) whose head is `selector`, or starts with it
    followed by anything but more of a name: `function draw` opens `function draw(nodes) {`."""
    if not line.rstrip().endswith("{"):
        return False
    head = line.strip()[:-1].strip()
    rest = head[len(selector) :]
    return head.startswith(selector) and (not rest or not re.match(r"[\w./-]", rest))


def braced_block(lines: list[str], selector: str, comment: tuple[str, ...]) -> tuple[int, int]:
    starts = [number for number, line in enumerate(lines, 1) if heads(line, selector)]
    if len(starts) != 1:
        opened = [line.strip()[:-1].strip() for line in lines if line.rstrip().endswith("{")]
        problem = "no block" if not starts else f"{len(starts)} blocks"
        raise NotFound(f"{problem} {selector!r} {{ ... }} (the file opens: {', '.join(opened)})")
    first = last = starts[0]
    depth = 0
    for number in range(first, len(lines) + 1):
        code = QUOTED.sub("", lines[number - 1])  # braces in strings do not count, nor comments
        for start in comment:
            code = code.split(start)[0]
        depth += code.count("{") - code.count("}")
        if depth == 0:
            last = number
            break
    else:
        raise NotFound(f"the block {selector!r} is never closed")
    return with_comments_above(lines, first, comment), last
