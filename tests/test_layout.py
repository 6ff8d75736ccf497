"""The package's layout holds: what each layer may import, and the in-container scripts' Python 3.5.

The scripts in ``pytest_manylinux/container/`` run inside distro containers under whatever python3 the
distro has, down to 3.5 (Ubuntu 16.04). ``ast.parse(feature_version=...)`` cannot check that: current
Pythons accept nothing below (3, 7) there, and only on a best-effort basis. So the syntax newer than 3.5
is looked for in the tree (and the tokens, for what the tree forgets), together with the programs the
scripts carry as strings (run with ``python -c``), and their imports against the modules 3.5 has.
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pytest_manylinux"
SCRIPTS = sorted((PACKAGE / "container").glob("*.py"))

#: What the in-container scripts may import: modules CPython 3.5 has, on every distro's python3
#: (``ctypes`` is optional there, and the probe imports it inside a ``try``).
STDLIB_35 = frozenset(
    {
        "_thread",
        "ctypes",
        "faulthandler",
        "glob",
        "importlib",
        "importlib.machinery",
        "json",
        "os",
        "pwd",
        "re",
        "select",
        "shutil",
        "signal",
        "struct",
        "subprocess",
        "sys",
        "sysconfig",
        "tempfile",
        "time",
        "traceback",
    }
)

#: Calls the tree cannot date by syntax, but that 3.5 lacks: keyword arguments and functions the
#: scripts would reach for (subprocess.run(capture_output=, text=) are 3.7, encoding= is 3.6).
NEWER_KEYWORDS = {"capture_output": "3.7", "text": "3.7", "encoding": "3.6", "errors": "3.6"}
NEWER_ATTRIBUTES = {
    "fspath": "3.6 (os.fspath)",
    "time_ns": "3.7",
    "monotonic_ns": "3.7",
    "perf_counter_ns": "3.7",
    "removeprefix": "3.9",
    "removesuffix": "3.9",
    "isqrt": "3.8",
    "fromisoformat": "3.7",
    "cached_property": "3.8",
    "nullcontext": "3.7",
}


def newer_syntax(source: str, where: str) -> Iterator[str]:
    """What in ``source`` (Python code) needs a Python newer than 3.5, as "where:line: what"."""
    tree = ast.parse(source)
    lines = source.splitlines()
    for node in ast.walk(tree):
        line = f"{where}:{getattr(node, 'lineno', '?')}"
        found = _newer_node(node)
        if found:
            yield f"{line}: {found}"
        # ``return *a, b`` (3.8): the same tree as ``return (*a, b)``, told apart by the parenthesis.
        if (
            isinstance(node, (ast.Return, ast.Yield))
            and isinstance(node.value, ast.Tuple)
            and any(isinstance(e, ast.Starred) for e in node.value.elts)
            and lines[node.value.lineno - 1][node.value.col_offset] != "("
        ):
            yield f"{line}: unparenthesised unpacking in return or yield (3.8)"
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NUMBER and "_" in token.string:
            yield f"{where}:{token.start[0]}: underscores in a number (3.6)"
    yield from _trailing_comma_after_star(tree, source, where)


def _newer_node(node: ast.AST) -> str | None:
    """One question per kind of syntax newer than 3.5; None when ``node`` is none of them."""
    if isinstance(node, ast.JoinedStr):
        return "an f-string (3.6)"
    if isinstance(node, ast.AnnAssign):
        return "a variable annotation (3.6)"
    if isinstance(node, ast.NamedExpr):
        return "an assignment expression := (3.8)"
    if isinstance(node, ast.arguments) and node.posonlyargs:
        return "positional-only parameters (3.8)"
    if isinstance(node, ast.arg) and node.annotation is not None:
        # 3.5 parses it, but evaluates it when the function is defined (``dict[str, int]`` fails there).
        return "an annotation on a parameter (evaluated at definition in 3.5)"
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
        return "a return annotation (evaluated at definition in 3.5)"
    if isinstance(node, ast.AsyncFunctionDef) and any(
        isinstance(inner, (ast.Yield, ast.YieldFrom)) for inner in ast.walk(node)
    ):
        return "an asynchronous generator (3.6)"
    if isinstance(node, ast.comprehension) and node.is_async:
        return "an asynchronous comprehension (3.6)"
    if isinstance(node, ast.ImportFrom) and node.module == "__future__":
        names = {a.name for a in node.names} - {"absolute_import", "division", "print_function"}
        if names:
            return f"from __future__ import {', '.join(sorted(names))} (newer than 3.5)"
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        for decorator in node.decorator_list:
            if not _dotted_or_call(decorator):
                return "a decorator that is not a dotted name or call (3.9)"
        if getattr(node, "type_params", None):
            return "type parameters (3.12)"
    if isinstance(node, ast.Match):
        return "a match statement (3.10)"
    if sys.version_info >= (3, 11) and isinstance(node, ast.TryStar):
        return "except* (3.11)"
    if sys.version_info >= (3, 12) and isinstance(node, ast.TypeAlias):
        return "a type statement (3.12)"
    if isinstance(node, ast.Subscript) and _has_starred(node.slice):
        return "unpacking in a subscript (3.11)"
    if isinstance(node, ast.keyword) and node.arg in NEWER_KEYWORDS:
        return f"the keyword argument {node.arg}= ({NEWER_KEYWORDS[node.arg]})"
    if isinstance(node, ast.Attribute) and node.attr in NEWER_ATTRIBUTES:
        return f".{node.attr} ({NEWER_ATTRIBUTES[node.attr]})"
    return None


def _dotted_or_call(node: ast.expr) -> bool:
    if isinstance(node, ast.Call):
        node = node.func
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def _has_starred(node: ast.expr) -> bool:
    return isinstance(node, ast.Starred) or (
        isinstance(node, ast.Tuple) and any(isinstance(e, ast.Starred) for e in node.elts)
    )


def _trailing_comma_after_star(tree: ast.AST, source: str, where: str) -> Iterator[str]:
    """``def f(*args, **kwargs,)``: 3.5's grammar has no comma after a ``*`` parameter's part (3.6 has)."""
    tokens = [
        t
        for t in tokenize.generate_tokens(io.StringIO(source).readline)
        if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT)
    ]
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        a = node.args
        if a.vararg is None and a.kwarg is None and not a.kwonlyargs:
            continue
        parts: list[ast.AST] = [*a.kwonlyargs, *(d for d in a.kw_defaults if d is not None)]
        parts += [p for p in (a.vararg, a.kwarg) if p is not None]
        end = max((p.end_lineno or 0, p.end_col_offset or 0) for p in parts)
        following = next((t for t in tokens if t.start >= end), None)
        if following is not None and following.string == ",":
            yield f"{where}:{node.lineno}: a comma after the starred parameters (3.6)"


def imports(source: str) -> Iterator[tuple[int, str, int]]:
    """(line, module, level) of every import in ``source``, at any depth (inside functions too)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, 0
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, node.module or "", node.level


def embedded_programs(source: str) -> Iterator[tuple[str, str]]:
    """Module-level strings that are Python programs with imports (run with ``python -c``)."""
    for node in ast.parse(source).body:
        if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Constant):
            continue
        text = node.value.value
        if not isinstance(text, str) or "\n" not in text:
            continue
        try:
            program = ast.parse(text)
        except SyntaxError:
            continue
        if any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(program)):
            name = node.targets[0].id if isinstance(node.targets[0], ast.Name) else "?"
            yield name, text


def _script_ids() -> list[str]:
    return [p.name for p in SCRIPTS]


@pytest.mark.parametrize("script", SCRIPTS, ids=_script_ids())
def test_container_script_is_python_35(script: Path) -> None:
    source = script.read_text(encoding="utf-8")
    found = list(newer_syntax(source, script.name))
    for name, program in embedded_programs(source):
        found += newer_syntax(program, f"{script.name}:{name}")
    assert found == []


@pytest.mark.parametrize("script", SCRIPTS, ids=_script_ids())
def test_container_script_imports_only_stdlib_of_35(script: Path) -> None:
    source = script.read_text(encoding="utf-8")
    programs = [(script.name, source), *((f"{script.name}:{n}", p) for n, p in embedded_programs(source))]
    found = [
        f"{where}:{line}: {'.' * level}{module}"
        for where, text in programs
        for line, module, level in imports(text)
        if level or module not in STDLIB_35
    ]
    assert found == []


def test_the_probe_carries_its_programs() -> None:
    """The embedded programs are found (a check of nothing would pass too)."""
    names = [name for name, _ in embedded_programs((PACKAGE / "container" / "probe.py").read_text())]
    assert names == ["_INTERPRETER_SNIPPET", "_IMPORTER"]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('x = f"{1}"', "f-string"),
        ("x: int = 1", "variable annotation"),
        ("if (n := 1): pass", ":="),
        ("def f(a, /): pass", "positional-only"),
        ("async def f():\n    yield 1", "asynchronous generator"),
        ("async def f():\n    return [x async for x in y]", "asynchronous comprehension"),
        ("from __future__ import annotations", "annotations"),
        ("@a[0]\ndef f(): pass", "decorator"),
        ("match x:\n    case 1: pass", "match"),
        ("x = 1_000", "underscores"),
        ("def f(*args,): pass", "comma after"),
        ("def f(*, a=1,\n      ): pass", "comma after"),
        ("def f(a: int): pass", "annotation on a parameter"),
        ("def f(a):\n    return *a, 1", "unparenthesised unpacking"),
        ("subprocess.run(['x'], capture_output=True)", "capture_output"),
        ("os.fspath(p)", "fspath"),
    ],
    ids=[
        "fstring",
        "annotation",
        "walrus",
        "posonly",
        "async-generator",
        "async-comprehension",
        "future-annotations",
        "decorator",
        "match",
        "underscore",
        "star-comma",
        "kwonly-comma",
        "param-annotation",
        "return-unpacking",
        "capture-output",
        "fspath",
    ],
)
def test_newer_syntax_is_found(source: str, expected: str) -> None:
    found = list(newer_syntax(source, "x.py"))
    assert len(found) == 1, found
    assert expected in found[0]


def test_python_35_syntax_passes() -> None:
    source = (
        "import os\n"
        "def f(a, *args, b=1, **kwargs):\n"
        "    return [x for x in args], {**kwargs}, (*args, a)\n"
        "async def g():\n"
        "    await h()\n"
        "@functools.lru_cache(maxsize=None)\n"
        "def k(): pass\n"
        "x = '{}'.format(1) + r'%s' % 2\n"
    )
    assert list(newer_syntax(source, "x.py")) == []


def _host_modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[1] == "container":
            continue
        yield ".".join(p for p in parts if p != "__init__"), path


def _absolute(module: str, level: int, importer: str, is_package: bool) -> str:
    if not level:
        return module
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _imported(name: str, path: Path) -> list[str]:
    return [
        _absolute(module, level, name, path.name == "__init__.py")
        for _, module, level in imports(path.read_text(encoding="utf-8"))
    ]


def _layer(name: str) -> str:
    """core, engine, container, or the faces (the top-level modules; errors.py is shared by all)."""
    parts = name.split(".")
    if len(parts) > 1 and parts[1] in ("core", "engine", "container", "errors"):
        return parts[1]
    return "faces"


def _offending(layer: str, allowed: set[str], foreign: tuple[str, ...]) -> list[str]:
    """Imports by modules of ``layer`` of a foreign distribution or a package layer not ``allowed``."""
    return [
        f"{name} imports {imported}"
        for name, path in _host_modules()
        if _layer(name) == layer
        for imported in _imported(name, path)
        if imported.split(".")[0] in foreign
        or (imported.split(".")[0] == "pytest_manylinux" and _layer(imported) not in allowed)
    ]


def test_core_imports_neither_docker_nor_pytest_nor_the_engine() -> None:
    foreign = ("docker", "requests", "pytest", "_pytest", "pluggy", "xdist")
    assert _offending("core", {"core", "container", "errors"}, foreign) == []


def test_engine_never_imports_the_faces() -> None:
    foreign = ("pytest", "_pytest", "pluggy", "xdist")
    assert _offending("engine", {"core", "engine", "container", "errors"}, foreign) == []


def test_the_layers_are_what_the_checks_read() -> None:
    """The import checks see the modules they are about (they would pass on an empty list too)."""
    layers = {_layer(name) for name, _ in _host_modules()}
    assert layers == {"core", "engine", "errors", "faces"}
    assert _absolute("tags", 1, "pytest_manylinux.core.wheel", False) == "pytest_manylinux.core.tags"
    assert _absolute("errors", 2, "pytest_manylinux.core.wheel", False) == "pytest_manylinux.errors"
    assert _absolute("docker", 1, "pytest_manylinux.engine", True) == "pytest_manylinux.engine.docker"
    assert _offending("faces", {"errors"}, ("pytest",)) != []


def test_items_talk_to_the_run_through_an_interface() -> None:
    """items.py never imports session.py (the run imports the items, not the other way round)."""
    path = PACKAGE / "items.py"
    assert "pytest_manylinux.session" not in _imported("pytest_manylinux.items", path)
    assert "pytest_manylinux.items" in _imported("pytest_manylinux.session", PACKAGE / "session.py")


def _constant(path: Path, name: str) -> object:
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path.name} defines no {name}")


def test_one_result_marker() -> None:
    """relocate.py runs alone in its container, so it repeats the probe's marker: the same string."""
    from pytest_manylinux.core.observe import MARKER

    container = PACKAGE / "container"
    assert (
        _constant(container / "relocate.py", "MARKER")
        == _constant(container / "probe.py", "MARKER")
        == MARKER
    )
