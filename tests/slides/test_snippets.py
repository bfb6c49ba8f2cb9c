"""The pieces of code a slide can name: what each selector finds, and the message when it
finds nothing (workshop/tools/snippets.py). Pure logic on small files: no Node, no browser."""

from __future__ import annotations

import textwrap

import pytest

from workshop.tools.snippets import NotFound, snippet

PYTHON = '''\
"""A module."""

import os
from os import path as joined

LIMIT = 3
# Why the routes look like this.
ROUTES = {"a": 1}


# A comment that belongs to the decorated function.
@decorator(name="x")
def handler(request):
    """Answer it."""
    if request:
        # The branch that matters.
        for item in request:
            print(item)
    return None


class Worker:
    class Nested:
        pass

    def run(self):
        return 1


os.environ.setdefault("A", "b")
'''


@pytest.fixture
def module(tmp_path):
    path = tmp_path / "module.py"
    path.write_text(PYTHON)
    return path


def code(path, selector=None, containing=None) -> str:
    return snippet(path, selector, containing).code


def test_a_function_comes_with_its_decorator_and_the_comment_above(module):
    found = snippet(module, "handler")
    assert found.code.splitlines()[:2] == [
        "# A comment that belongs to the decorated function.",
        '@decorator(name="x")',
    ]
    assert found.code.endswith("return None")
    assert (found.first, found.last, found.language) == (11, 19, "python")


def test_methods_nested_classes_assignments_imports_and_calls_by_name(module):
    assert code(module, "Worker.run") == "def run(self):\n    return 1"  # dedented
    assert code(module, "Worker.Nested") == "class Nested:\n    pass"
    assert code(module, "ROUTES") == '# Why the routes look like this.\nROUTES = {"a": 1}'
    assert code(module, "joined") == "from os import path as joined"
    assert code(module, "os.environ.setdefault") == 'os.environ.setdefault("A", "b")'


def test_a_run_of_statements_from_one_name_to_another(module):
    assert code(module, "LIMIT..ROUTES") == textwrap.dedent("""\
        LIMIT = 3
        # Why the routes look like this.
        ROUTES = {"a": 1}""")
    with pytest.raises(NotFound, match="does not come after"):
        snippet(module, "ROUTES..LIMIT")


def test_a_text_narrows_a_symbol_to_one_statement(module):
    assert code(module, "handler", "for item in") == textwrap.dedent("""\
        # The branch that matters.
        for item in request:
            print(item)""")
    with pytest.raises(NotFound, match="2 statements of 'handler' contain 'item'"):
        snippet(module, "handler", "item")


def test_a_missing_name_says_what_the_file_has(module):
    with pytest.raises(NotFound) as missing:
        snippet(module, "handlr")
    assert "no 'handlr' in the module" in str(missing.value)
    assert "handler" in str(missing.value) and "Worker" in str(missing.value)
    with pytest.raises(NotFound, match="no 'stop' in Worker"):
        snippet(module, "Worker.stop")
    with pytest.raises(NotFound, match="there is no file"):
        snippet(module.with_name("gone.py"), "handler")


def test_ini_sections_and_braced_blocks(tmp_path):
    ini = tmp_path / "supervisord.conf"
    ini.write_text(
        "; top\n\n[program:web]\ncommand=a\n\n; about the worker\n[program:worker]\ncommand=b\n"
    )
    assert code(ini, "[program:web]") == "[program:web]\ncommand=a"
    assert code(ini, "[program:worker]") == "; about the worker\n[program:worker]\ncommand=b"
    assert snippet(ini, "[program:web]").language == "ini"
    with pytest.raises(NotFound, match=r"the file has: \[program:web\], \[program:worker\]"):
        snippet(ini, "[program:beat]")

    nginx = tmp_path / "nginx.conf"
    nginx.write_text(
        "upstream app {\n    server x;\n}\n\nserver {\n    # the API\n    location / {\n"
        "        return 200 '{\"ok\": true}';\n    }\n    location /_errors {\n    }\n}\n"
    )
    assert code(nginx, "upstream app") == "upstream app {\n    server x;\n}"
    # `location /` is not `location /_errors`, and the braces in a string do not count.
    assert code(nginx, "location /").splitlines() == [
        "# the API",
        "location / {",
        "    return 200 '{\"ok\": true}';",
        "}",
    ]
    with pytest.raises(NotFound, match="no block 'location /api'"):
        snippet(nginx, "location /api")


def test_a_whole_file(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("web: flask run\nworker: celery worker\n")
    found = snippet(procfile)
    assert (found.code, found.first, found.last, found.language) == (
        "web: flask run\nworker: celery worker",
        1,
        2,
        "text",
    )
