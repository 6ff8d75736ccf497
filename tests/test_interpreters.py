"""interpreters.py: which distro python can judge a wheel (its Python tag, its Requires-Python)."""

from __future__ import annotations

import pytest
from wheelfactory import CASES

from pytest_manylinux.core.distros import DEFAULT_PORTABLE_VERSIONS
from pytest_manylinux.core.interpreters import (
    choose,
    in_order,
    matches,
    portable_abi,
    portable_version,
    requires_python_allows,
    supported_pairs,
)
from pytest_manylinux.core.observe import Interpreter
from pytest_manylinux.core.tags import read_claim

# The distro pythons of the default matrix (FIELD-NOTES.md), with the ABI tag of their SOABI.
DISTRO_PYTHONS = {
    "ubuntu-16.04": Interpreter("/usr/bin/python3", (3, 5, 2), abi="cp35m"),
    "ubuntu-18.04": Interpreter("/usr/bin/python3", (3, 6, 9), abi="cp36m"),
    "ubuntu-20.04": Interpreter("/usr/bin/python3", (3, 8, 10), abi="cp38"),
    "debian-11": Interpreter("/usr/bin/python3", (3, 9, 2), abi="cp39"),
    "ubuntu-22.04": Interpreter("/usr/bin/python3", (3, 10, 12), abi="cp310"),
    "debian-12": Interpreter("/usr/bin/python3", (3, 11, 2), abi="cp311"),
    "ubuntu-24.04": Interpreter("/usr/bin/python3", (3, 12, 3), abi="cp312"),
    "debian-13": Interpreter("/usr/bin/python3", (3, 13, 5), abi="cp313"),
}
DISTROS = list(DISTRO_PYTHONS)


def _pairs(case: str) -> frozenset[tuple[str, str]]:
    return read_claim(CASES[case].filename).interpreters


@pytest.mark.parametrize("distro", DISTROS, ids=DISTROS)
def test_abi3_cp35_wheel_loads_on_every_distro_python(distro: str) -> None:
    python = DISTRO_PYTHONS[distro]
    assert ("cp35", "abi3") in supported_pairs(python)
    assert choose(_pairs("honest"), None, [python]) == (python, "")


@pytest.mark.parametrize("distro", DISTROS, ids=DISTROS)
def test_pure_py3_wheel_loads_everywhere(distro: str) -> None:
    python = DISTRO_PYTHONS[distro]
    assert choose(_pairs("pure"), None, [python]) == (python, "")


@pytest.mark.parametrize("distro", DISTROS, ids=DISTROS)
def test_cp311_wheel_loads_only_on_311(distro: str) -> None:
    python = DISTRO_PYTHONS[distro]
    chosen, reason = choose(_pairs("cp311"), None, [python])
    if distro == "debian-12":
        assert (chosen, reason) == (python, "")
    else:
        assert chosen is None
        short = f"cpython-{python.version[0]}.{python.version[1]}"
        assert (
            reason == f"no interpreter here can load cp311-cp311: /usr/bin/python3 is {short} ({python.abi})"
        )


@pytest.mark.parametrize(
    ("distro", "allowed"),
    [("ubuntu-16.04", False), ("ubuntu-18.04", False), ("ubuntu-20.04", True), ("debian-13", True)],
    ids=["3.5", "3.6", "3.8", "3.13"],
)
def test_requires_python_excludes(distro: str, allowed: bool) -> None:
    python = DISTRO_PYTHONS[distro]
    assert requires_python_allows(">=3.8", python) is allowed
    chosen, reason = choose(_pairs("requires_py38"), ">=3.8", [python])
    if allowed:
        assert chosen is python
    else:
        assert chosen is None
        assert "outside Requires-Python >=3.8" in reason
        assert "/usr/bin/python3 is cpython-3." in reason


@pytest.mark.parametrize(
    ("requires_python", "allowed"),
    [(None, True), ("", True), (">=3.6,<3.12", True), ("<3.11", False), ("not a specifier", True)],
    ids=["none", "empty", "range", "upper-bound", "malformed-is-not-ours-to-judge"],
)
def test_requires_python_allows(requires_python: str | None, allowed: bool) -> None:
    assert requires_python_allows(requires_python, DISTRO_PYTHONS["debian-12"]) is allowed


def test_choose_takes_the_first_candidate_that_can_judge() -> None:
    old = Interpreter("/usr/bin/python3", (3, 5, 2), abi="cp35m")
    portable = Interpreter("/opt/portable/bin/python3.11", (3, 11, 2), abi="cp311", origin="portable")
    newer = Interpreter("/usr/local/bin/python3.12", (3, 12, 1), abi="cp312")
    assert choose(_pairs("cp311"), None, [old, portable, newer]) == (portable, "")
    assert choose(_pairs("honest"), None, [old, portable, newer]) == (old, "")


def test_skip_reason_names_every_interpreter_found() -> None:
    candidates = [
        Interpreter("/usr/bin/python3", (3, 5, 2), abi="cp35m"),
        Interpreter("/usr/bin/python3.6", (3, 6, 9), abi="cp36m"),
        Interpreter("/opt/pypy/bin/pypy3", (3, 10, 14), implementation="pypy", abi="pp73"),
    ]
    chosen, reason = choose(_pairs("cp311"), None, candidates)
    assert chosen is None
    assert reason == (
        "no interpreter here can load cp311-cp311: /usr/bin/python3 is cpython-3.5 (cp35m); "
        "/usr/bin/python3.6 is cpython-3.6 (cp36m); /opt/pypy/bin/pypy3 is pypy-3.10 (pp73)"
    )


def test_skip_reason_without_any_interpreter() -> None:
    chosen, reason = choose(_pairs("honest"), None, [])
    assert chosen is None
    assert reason == "no interpreter here can load cp35-abi3: no python interpreter in the image"


def test_free_threaded_python_cannot_load_abi3() -> None:
    # The stable ABI does not exist for free-threaded builds (PEP 703).
    threaded = Interpreter("/opt/python/cp313-cp313t/bin/python", (3, 13, 1), abi="cp313t", origin="image")
    assert ("cp35", "abi3") not in supported_pairs(threaded)
    assert ("cp313", "cp313t") in supported_pairs(threaded)


def test_pypy_loads_only_pure_wheels() -> None:
    pypy = Interpreter("/usr/bin/pypy3", (3, 10, 14), implementation="pypy", abi="pp73")
    assert choose(_pairs("pure"), None, [pypy])[0] is pypy
    assert choose(_pairs("honest"), None, [pypy])[0] is None


# -- the order of origins, and which portable CPython to bring in ---------------------------------

_OWN = Interpreter("/usr/bin/python3", (3, 5, 2), abi="cp35m")
_OWN_311 = Interpreter("/usr/bin/python3.11", (3, 11, 4), abi="cp311")
_IMAGE = Interpreter("/opt/python/cp311-cp311/bin/python", (3, 11, 9), abi="cp311", origin="image")


def test_in_order_groups_by_origin_and_path() -> None:
    found = [_OWN, _IMAGE, _OWN_311]
    assert in_order(("distro", "image", "portable"), found) == [[_OWN, _OWN_311], [_IMAGE], []]
    assert in_order(("image", "distro"), found) == [[_IMAGE], [_OWN, _OWN_311]]
    # A path entry takes its interpreter first; a later origin entry does not list it again.
    assert in_order(("/usr/bin/python3.1*", "distro"), found) == [[_OWN_311], [_OWN]]
    # A pin names one interpreter: the others are not candidates at all.
    assert in_order(("/usr/bin/python3.11",), found) == [[_OWN_311]]


@pytest.mark.parametrize(
    ("entry", "interpreter", "expected"),
    [
        ("distro", _OWN, True),
        ("image", _OWN, False),
        ("image", _IMAGE, True),
        ("/opt/python/*/bin/python", _IMAGE, True),
        ("/usr/bin/python3", _OWN_311, False),
        (
            "portable",
            Interpreter(
                "/opt/pytest-manylinux/python/x/python/bin/python3.11", (3, 11, 2), origin="portable"
            ),
            True,
        ),
    ],
    ids=["distro", "image-not-distro", "image", "glob", "exact-path-only", "portable"],
)
def test_matches(entry: str, interpreter: Interpreter, expected: bool) -> None:
    assert matches(entry, interpreter) is expected


def test_portable_version_for_a_one_version_wheel() -> None:
    assert portable_version(_pairs("cp311"), None, DEFAULT_PORTABLE_VERSIONS) == ("3.11", "")
    # Ready versions do not matter when only one version can load it.
    assert portable_version(_pairs("cp311"), None, DEFAULT_PORTABLE_VERSIONS, ready={"3.12"}) == ("3.11", "")


def test_a_free_threaded_wheel_gets_a_free_threaded_portable() -> None:
    cp313t = frozenset({("cp313", "cp313t")})
    assert portable_version(cp313t, None, DEFAULT_PORTABLE_VERSIONS) == ("3.13t", "")
    assert portable_version(frozenset({("cp313", "cp313")}), None, DEFAULT_PORTABLE_VERSIONS) == ("3.13", "")
    # abi3 is not for free-threaded interpreters: an abi3 wheel never gets one
    abi3 = frozenset({("cp38", "abi3")})
    assert portable_version(abi3, None, ("3.13t", "3.14t")) == (
        None,
        "no portable CPython can load cp38-abi3 (versions configured: 3.13t, 3.14t)",
    )
    assert portable_abi("3.14t") == (3, 14, "cp314t")
    assert portable_abi("3.9") == (3, 9, "cp39")


def test_portable_version_for_abi3_prefers_one_ready_then_the_configured_order() -> None:
    pairs = _pairs("honest")  # cp35-abi3: every CPython 3.5+ loads it
    assert portable_version(pairs, None, ("3.12", "3.8")) == ("3.12", "")
    assert portable_version(pairs, None, DEFAULT_PORTABLE_VERSIONS) == ("3.8", "")
    assert portable_version(pairs, None, DEFAULT_PORTABLE_VERSIONS, ready={"3.11", "3.13"}) == ("3.11", "")


def test_portable_version_respects_requires_python() -> None:
    pairs = _pairs("requires_py38")
    assert portable_version(pairs, ">=3.10", ("3.8", "3.9", "3.11")) == ("3.11", "")
    # The micro version is unknown before the interpreter is had: 3.11 may be 3.11.4 or later.
    assert portable_version(pairs, ">=3.11.4", ("3.11",)) == ("3.11", "")
    version, reason = portable_version(pairs, ">=3.13", ("3.8", "3.11"))
    assert version is None
    assert reason == (
        "no portable CPython can load cp35-abi3 within Requires-Python >=3.13 "
        "(versions configured: 3.8, 3.11)"
    )


def test_no_portable_version_for_another_implementation_or_none_configured() -> None:
    pypy_only = frozenset({("pp310", "pypy310_pp73")})
    assert portable_version(pypy_only, None, DEFAULT_PORTABLE_VERSIONS)[0] is None
    version, reason = portable_version(_pairs("cp311"), None, ())
    assert version is None
    assert reason.endswith("(versions configured: none)")
