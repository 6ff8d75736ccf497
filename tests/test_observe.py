"""observe.py: loader and import messages classified by cause; probe output read into observations.

The messages are verbatim from the loaders and interpreters of the default matrix's distros.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_manylinux.core.observe import (
    MARKER,
    Cause,
    DistroFacts,
    Finding,
    Interpreter,
    Observation,
    Outcome,
    classify_import,
    classify_load,
    classify_message,
    facts_from_json,
    observation_from_check,
    parse_probe_documents,
    parse_probe_output,
    skipped,
)
from pytest_manylinux.core.tags import Libc, LibcVersion
from pytest_manylinux.errors import ProbeError

# -- classify_message ---------------------------------------------------------------------------------

_CXX_STRING_REPLACE = "_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE10_M_replaceEmmPKcm"


@pytest.mark.parametrize(
    ("line", "cause", "headline"),
    [
        (
            "./liba.so: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found "
            "(required by ./liba.so)",
            Cause.GLIBC,
            "libc.so.6 lacks GLIBC_2.34 (needed by ./liba.so)",
        ),
        (
            "/lib/x86_64-linux-gnu/libc.so.6: version 'GLIBC_2.38' not found (required by /x/_core.abi3.so)",
            Cause.GLIBC,
            "libc.so.6 lacks GLIBC_2.38 (needed by /x/_core.abi3.so)",
        ),
        (
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.29' not found "
            "(required by /x/_core.abi3.so)",
            Cause.CXX_ABI,
            "libstdc++.so.6 lacks GLIBCXX_3.4.29 (needed by /x/_core.abi3.so)",
        ),
        (
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6: version `CXXABI_1.3.13' not found "
            "(required by /x/_core.abi3.so)",
            Cause.CXX_ABI,
            "libstdc++.so.6 lacks CXXABI_1.3.13 (needed by /x/_core.abi3.so)",
        ),
        (
            "/lib/x86_64-linux-gnu/libgcc_s.so.1: version `GCC_7.0.0' not found "
            "(required by /x/_core.abi3.so)",
            Cause.CXX_ABI,
            "libgcc_s.so.1 lacks GCC_7.0.0 (needed by /x/_core.abi3.so)",
        ),
        (
            "symbol close_range, version GLIBC_2.34 not defined in file libc.so.6 with link time reference"
            "\t(./liba.so)",
            Cause.GLIBC,
            "close_range@GLIBC_2.34 is not in libc.so.6 (needed by ./liba.so)",
        ),
        ("libabsent.so.1 => not found", Cause.MISSING_LIBRARY, "libabsent.so.1 not found"),
        (
            "libgomp.so.1: cannot open shared object file: No such file or directory",
            Cause.MISSING_LIBRARY,
            "libgomp.so.1 not found",
        ),
        (
            "/usr/lib/x86_64-linux-gnu/libcrypto.so.3: version `OPENSSL_3.2.0' not found "
            "(required by /x/a.so)",
            Cause.MISSING_LIBRARY,
            "libcrypto.so.3 lacks OPENSSL_3.2.0 (needed by /x/a.so)",
        ),
        (
            "undefined symbol: pm_nowhere\t(./liba.so)",
            Cause.UNDEFINED_SYMBOL,
            "undefined symbol pm_nowhere in ./liba.so",
        ),
        (
            "/x/_core.abi3.so: undefined symbol: pm_nowhere_defined",
            Cause.UNDEFINED_SYMBOL,
            "undefined symbol pm_nowhere_defined",
        ),
        (
            f"undefined symbol: {_CXX_STRING_REPLACE}",
            Cause.CXX_ABI,
            f"undefined symbol {_CXX_STRING_REPLACE}",
        ),
        (
            "/x/_core.abi3.so: cannot enable executable stack as shared object requires: Invalid argument",
            Cause.ERROR,
            "/x/_core.abi3.so: the loader refuses its executable stack",
        ),
    ],
    ids=[
        "glibc-version",
        "glibc-version-straight-quotes",
        "glibcxx",
        "cxxabi",
        "gcc",
        "symbol-version-not-defined",
        "ldd-not-found",
        "cannot-open",
        "other-library-version",
        "undefined-symbol",
        "undefined-symbol-import",
        "undefined-mangled-cxx",
        "execstack",
    ],
)
def test_classify_message(line: str, cause: Cause, headline: str) -> None:
    assert classify_message(line) == (cause, headline)


@pytest.mark.parametrize(
    "line",
    [
        "No module named 'numpy'",
        "dynamic module does not define module export function (PyInit_x)",
        "",
    ],
    ids=["module-not-found", "no-pyinit", "empty"],
)
def test_classify_message_leaves_other_messages_alone(line: str) -> None:
    assert classify_message(line) is None


def test_classify_load_keeps_unrecognized_lines_as_errors() -> None:
    load = {
        "path": "pm_x/_core.abi3.so",
        "lines": ["libabsent.so.1 => not found", "pm_x/_broken.abi3.so: file too short"],
    }
    findings = classify_load(load)
    assert findings == [
        Finding(
            "load",
            "pm_x/_core.abi3.so",
            Cause.MISSING_LIBRARY,
            "libabsent.so.1 not found",
            "libabsent.so.1 => not found",
        ),
        Finding(
            "load",
            "pm_x/_core.abi3.so",
            Cause.ERROR,
            "pm_x/_broken.abi3.so: file too short",
            "pm_x/_broken.abi3.so: file too short",
        ),
    ]


def test_failure_causes() -> None:
    failures = {c for c in Cause if c.is_failure}
    assert failures == {
        Cause.LIBC_MISMATCH,
        Cause.GLIBC,
        Cause.CXX_ABI,
        Cause.MISSING_LIBRARY,
        Cause.UNDEFINED_SYMBOL,
        Cause.CRASH,
        Cause.TIMEOUT,
        Cause.ERROR,
    }
    assert not Cause.MISSING_DEPENDENCY.is_failure
    assert not Cause.MEMORY.is_failure


# -- classify_import ------------------------------------------------------------------------------------

_WHEEL_MODULES = ("pm_x", "pm_x._core", "pm_x.walrus")


def _failed(module: str, kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"module": module, "ok": False, "type": kind, "message": message, **extra}


def test_classify_import_ok_is_no_finding() -> None:
    assert classify_import({"module": "pm_x", "ok": True}, _WHEEL_MODULES) is None


def test_classify_import_timeout() -> None:
    result = _failed(
        "pm_x._core", "timeout", "import did not finish within 30 seconds", stderr="Thread 0x..."
    )
    finding = classify_import(result, _WHEEL_MODULES)
    assert finding == Finding(
        "import",
        "pm_x._core",
        Cause.TIMEOUT,
        "import pm_x._core: import did not finish within 30 seconds",
        "Thread 0x...",
    )


def test_classify_import_hang_in_python_code_is_compared_like_an_exception() -> None:
    stack = 'Current thread 0x1 (most recent call first):\n  File "pm_x/demo.py", line 9 in main_loop'
    message = (
        'import did not finish within 30 seconds, in Python code (File "pm_x/demo.py", line 9 in main_loop)'
    )
    result = _failed(
        "pm_x.demo", "timeout", message, hang={"where": "python", "frame": "...", "stack": stack}
    )
    assert classify_import(result, _WHEEL_MODULES) == Finding(
        "import", "pm_x.demo", Cause.EXCEPTION, f"import pm_x.demo: hang: {message}", stack
    )


def test_classify_import_hang_in_an_extension_s_initialisation_is_a_timeout() -> None:
    message = "import did not finish within 30 seconds, in an extension module's initialisation"
    result = _failed("pm_x._core", "timeout", message, hang={"where": "extension", "frame": "", "stack": "T"})
    assert classify_import(result, _WHEEL_MODULES) == Finding(
        "import", "pm_x._core", Cause.TIMEOUT, f"import pm_x._core: {message}", "T"
    )


@pytest.mark.parametrize("signal", ["SIGABRT", "SIGSEGV"], ids=["abort", "segv"])
def test_classify_import_signal_is_a_crash_named_by_its_signal(signal: str) -> None:
    result = _failed(
        "pm_x", "signal", f"killed by {signal}", signal=signal, stderr="Fatal Python error: Aborted"
    )
    finding = classify_import(result, _WHEEL_MODULES)
    assert finding is not None
    assert finding.cause is Cause.CRASH
    assert finding.evidence == f"import pm_x killed by {signal}"
    assert finding.detail == "Fatal Python error: Aborted"


def test_classify_import_exit_is_an_exception_of_the_wheel() -> None:
    # os._exit() at import: the wheel's code did it, like raising; compared across distros like any exception.
    finding = classify_import(_failed("pm_x", "exit", "the importer exited with status 3"), _WHEEL_MODULES)
    assert finding is not None
    assert (finding.cause, finding.evidence) == (
        Cause.EXCEPTION,
        "import pm_x: the importer exited with status 3",
    )
    assert not finding.cause.is_failure


def test_module_not_in_the_wheel_is_a_missing_dependency() -> None:
    result = _failed(
        "pm_x",
        "ModuleNotFoundError",
        "No module named 'pm_not_installed_dependency'",
        missing="pm_not_installed_dependency",
        traceback="Traceback ...\nModuleNotFoundError: No module named 'pm_not_installed_dependency'\n",
    )
    finding = classify_import(result, _WHEEL_MODULES)
    assert finding is not None
    assert finding.cause is Cause.MISSING_DEPENDENCY
    assert "pm_not_installed_dependency" in finding.evidence
    assert not finding.cause.is_failure


def test_python35_import_error_of_a_dependency_is_a_missing_dependency() -> None:
    # Python 3.5 has no ModuleNotFoundError; the ImportError carries the name all the same.
    result = _failed("pm_x", "ImportError", "No module named 'numpy'", missing="numpy")
    finding = classify_import(result, _WHEEL_MODULES)
    assert finding is not None
    assert finding.cause is Cause.MISSING_DEPENDENCY


@pytest.mark.parametrize(
    "missing", ["pm_x._core", "pm_x", "pm_x.backend.cffi._cffi"], ids=["submodule", "package", "unshipped"]
)
def test_module_of_the_wheel_not_found_is_an_exception(missing: str) -> None:
    # pyzmq's zmq.backend.cffi without its compiled _cffi; a legacy module importing a sibling the wheel no
    # longer ships: the wheel's own doing, not a dependency and not the platform.
    result = _failed("pm_x", "ModuleNotFoundError", f"No module named '{missing}'", missing=missing)
    finding = classify_import(result, _WHEEL_MODULES)
    assert finding is not None
    assert finding.cause is Cause.EXCEPTION
    assert finding.evidence == f"import pm_x: ModuleNotFoundError: No module named '{missing}'"


def test_chained_missing_dependency_found_in_the_traceback() -> None:
    traceback = (
        "ModuleNotFoundError: No module named 'numpy'\n\n"
        "The above exception was the direct cause of the following exception:\n\n"
        "Traceback (most recent call last):\n"
        "ImportError: initialization failed\n"
    )
    result = _failed(
        "pm_x._core", "ImportError", "initialization failed", missing="pm_x._core", traceback=traceback
    )
    finding = classify_import(result, _WHEEL_MODULES)
    assert finding is not None
    assert finding.cause is Cause.MISSING_DEPENDENCY
    assert "'numpy'" in finding.evidence
    assert finding.detail == traceback


def test_chained_error_naming_a_module_of_the_wheel_is_an_error() -> None:
    traceback = (
        "ModuleNotFoundError: No module named 'pm_x._helpers'\n...\nImportError: initialization failed\n"
    )
    result = _failed("pm_x._core", "ImportError", "initialization failed", traceback=traceback)
    finding = classify_import(result, _WHEEL_MODULES)
    assert finding is not None
    assert finding.cause is Cause.EXCEPTION


def _link(
    kind: str, message: str, name: str | None = None, file: str | None = None, syntax: bool = False
) -> dict[str, Any]:
    """One exception of a chain as the probe's importer describes it."""
    return {"type": kind, "message": message, "name": name, "file": file, "syntax": syntax}


@pytest.mark.parametrize(
    "result",
    [
        _failed("pm_x.walrus", "SyntaxError", "invalid syntax (walrus.py, line 6)", traceback="..."),
        _failed(
            "pm_x.walrus",
            "SyntaxError",
            "invalid syntax (walrus.py, line 6)",
            chain=[
                _link("SyntaxError", "invalid syntax (walrus.py, line 6)", file="pm_x/walrus.py", syntax=True)
            ],
        ),
        # An IndentationError is a SyntaxError too; so is one raised while importing a module imported by it.
        _failed(
            "pm_x",
            "IndentationError",
            "unexpected indent (walrus.py, line 2)",
            chain=[
                _link(
                    "IndentationError",
                    "unexpected indent (walrus.py, line 2)",
                    file="pm_x/walrus.py",
                    syntax=True,
                )
            ],
        ),
    ],
    ids=["syntax", "syntax-chain", "indentation"],
)
def test_code_the_interpreter_cannot_parse_sets_the_module_aside(result: dict[str, Any]) -> None:
    finding = classify_import(result, _WHEEL_MODULES)
    assert finding is not None
    assert finding.cause is Cause.PYTHON
    assert finding.evidence.startswith("this python cannot parse")
    assert "invalid syntax" in finding.evidence or "unexpected indent" in finding.evidence
    assert not finding.cause.is_failure


@pytest.mark.parametrize("name", ["_curses", "distutils.util", "tkinter", "_ssl"])
def test_a_stdlib_module_the_interpreter_lacks_sets_the_module_aside(name: str) -> None:
    # A portable CPython built without curses; Debian's python3 without python3-distutils or python3-tk.
    result = _failed(
        "pm_x",
        "ModuleNotFoundError",
        f"No module named '{name}'",
        missing=name,
        chain=[_link("ModuleNotFoundError", f"No module named '{name}'", name=name, file="pm_x/__init__.py")],
    )
    finding = classify_import(result, _WHEEL_MODULES)
    assert finding is not None
    assert finding.cause is Cause.PYTHON
    assert f"lacks the standard library module '{name}'" in finding.evidence


@pytest.mark.parametrize(
    ("message", "requirements"),
    [
        # numpy's import_array() in an extension built against another numpy ABI (or without numpy)
        ("numpy._core.multiarray failed to import", ()),
        ("numpy.core.multiarray failed to import", ()),
        # an optional extra that refuses to load without its package
        ("Required package 'torch' not installed", ("torch",)),
        ("Required package 'torch' not installed", ()),
        ("The 'cffi' package is required: pip install cffi", ()),
    ],
    ids=["numpy2-capi", "numpy1-capi", "extra-declared", "extra-undeclared", "pip-install"],
)
def test_dependency_errors_in_other_forms_are_missing_dependencies(
    message: str, requirements: tuple[str, ...]
) -> None:
    result = _failed(
        "pm_x._core", "ImportError", message, chain=[_link("ImportError", message, file="pm_x/__init__.py")]
    )
    finding = classify_import(result, _WHEEL_MODULES, requirements)
    assert finding is not None
    assert finding.cause is Cause.MISSING_DEPENDENCY
    assert message in finding.evidence


_OTHERS = "/opt/pytest-manylinux/wheels/"


def test_a_dependency_that_does_not_load_is_the_dependency_s_failure() -> None:
    # numpy from the wheelhouse is not held to the wheel's floor: its loader error is not the wheel's.
    message = (
        "/lib/x86_64-linux-gnu/libm.so.6: version `GLIBC_2.27' not found (required by "
        "/opt/pytest-manylinux/wheels/0123456789abcdef/site/numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so)"
    )
    result = _failed("pm_x", "ImportError", message, chain=[_link("ImportError", message)])
    finding = classify_import(result, _WHEEL_MODULES, (), _OTHERS)
    assert finding is not None
    assert finding.cause is Cause.MISSING_DEPENDENCY
    assert "a dependency does not load here: libm.so.6 lacks GLIBC_2.27" in finding.evidence


def test_an_exception_raised_by_a_dependency_s_code_is_the_dependency_s() -> None:
    file = "/opt/pytest-manylinux/wheels/0123456789abcdef/site/dep/__init__.py"
    result = _failed(
        "pm_x", "RuntimeError", "dep is broken", chain=[_link("RuntimeError", "dep is broken", file=file)]
    )
    finding = classify_import(result, _WHEEL_MODULES, (), _OTHERS)
    assert finding is not None
    assert finding.cause is Cause.MISSING_DEPENDENCY
    assert file in finding.evidence


@pytest.mark.parametrize(
    ("kind", "message", "file"),
    [
        ("ImportError", "cannot import name '_psutil_aix' from 'pm_x' (pm_x/__init__.py)", "pm_x/_psaix.py"),
        ("LookupError", "Could not find doctest", "pm_x/_helper.py"),
        ("ValueError", "the wheel's own bug", "pm_x/__init__.py"),
    ],
    ids=["other-os", "context", "bug"],
)
def test_other_python_exceptions_are_compared_across_distros(kind: str, message: str, file: str) -> None:
    result = _failed("pm_x", kind, message, chain=[_link(kind, message, file=file)])
    finding = classify_import(result, _WHEEL_MODULES, (), _OTHERS)
    assert finding is not None
    assert finding.cause is Cause.EXCEPTION
    assert finding.evidence == f"import pm_x: {kind}: {message}"


def test_a_loader_message_behind_another_exception_is_the_platform_s() -> None:
    loader = "libgomp.so.1: cannot open shared object file: No such file or directory"
    result = _failed(
        "pm_x",
        "RuntimeError",
        "could not load the backend",
        chain=[
            _link("RuntimeError", "could not load the backend", file="pm_x/__init__.py"),
            _link("OSError", loader),
        ],
    )
    finding = classify_import(result, _WHEEL_MODULES, (), _OTHERS)
    assert finding is not None
    assert finding.cause is Cause.MISSING_LIBRARY
    assert finding.evidence == "import pm_x: libgomp.so.1 not found"


def test_import_error_carrying_a_loader_message_is_classified_by_it() -> None:
    message = (
        "/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found "
        "(required by /w/site/pm_x/_core.abi3.so)"
    )
    # An extension's ImportError has ``name`` set to the module: it is not a missing module.
    result = _failed("pm_x._core", "ImportError", message, missing="pm_x._core", traceback="tb")
    finding = classify_import(result, _WHEEL_MODULES)
    assert finding is not None
    assert finding.cause is Cause.GLIBC
    assert (
        finding.evidence
        == "import pm_x._core: libc.so.6 lacks GLIBC_2.34 (needed by /w/site/pm_x/_core.abi3.so)"
    )
    assert finding.detail == f"ImportError: {message}\ntb"


# -- observation_from_check -----------------------------------------------------------------------------

_ROOT = "/pytest-manylinux/wheels/0123456789abcdef"
_FACTS = DistroFacts(
    libc=Libc.GLIBC,
    libc_version=LibcVersion(2, 31),
    machine="x86_64",
    loader="/lib64/ld-linux-x86-64.so.2",
    glibcxx="3.4.28",
    cxxabi="1.3.12",
)
_PYTHON = Interpreter("/usr/bin/python3", (3, 8, 10), abi="cp38")


def _observe(
    document: dict[str, Any],
    modules: tuple[str, ...] = _WHEEL_MODULES,
    expected: frozenset[str] = frozenset(),
) -> Observation:
    return observation_from_check(
        "ubuntu-20.04", "img:20.04", _FACTS, document, modules, _PYTHON, 1.5, root=_ROOT, expected=expected
    )


def test_all_ok_is_ok() -> None:
    document = {
        "loads": [{"path": "site/pm_x/_core.abi3.so", "kind": "extension", "lines": [], "static": False}],
        "imports": [{"module": m, "ok": True} for m in _WHEEL_MODULES],
    }
    observation = _observe(document)
    assert observation.outcome is Outcome.OK
    assert observation.cause is None
    assert observation.detail == ""
    assert observation.findings == ()
    assert observation.libc is Libc.GLIBC
    assert observation.libc_version == LibcVersion(2, 31)
    assert observation.glibcxx == "3.4.28"
    assert observation.interpreter == "/usr/bin/python3 (3.8.10, distro)"
    assert observation.seconds == 1.5


def test_glibc_beats_undefined_symbol_when_a_missing_version_causes_both() -> None:
    vendored = f"{_ROOT}/site/pm_x.libs/libpm_vendored.so.1"
    document = {
        "loads": [
            {
                "path": "site/pm_x.libs/libpm_vendored.so.1",
                "kind": "library",
                "lines": [
                    f"undefined symbol: close_range\t({vendored})",
                    f"{vendored}: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found "
                    f"(required by {vendored})",
                ],
            }
        ],
        "imports": [
            _failed(
                "pm_x._core",
                "ImportError",
                f"/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found (required by {vendored})",
                missing="pm_x._core",
            ),
            {"module": "pm_x", "ok": True},
        ],
    }
    observation = _observe(document)
    assert observation.outcome is Outcome.FAIL
    assert observation.cause is Cause.GLIBC
    # the import finding speaks first among equals; the rest are counted
    assert (
        observation.detail
        == "import pm_x._core: libc.so.6 lacks GLIBC_2.34 (needed by pm_x.libs/libpm_vendored.so.1) (+2 more)"
    )
    assert [f.cause for f in observation.findings] == [Cause.UNDEFINED_SYMBOL, Cause.GLIBC, Cause.GLIBC]


def test_failure_beats_missing_dependency() -> None:
    document = {
        "loads": [{"path": "site/pm_x/_core.abi3.so", "lines": ["libabsent.so.1 => not found"]}],
        "imports": [_failed("pm_x", "ModuleNotFoundError", "No module named 'numpy'", missing="numpy")],
    }
    observation = _observe(document)
    assert observation.outcome is Outcome.FAIL
    assert observation.cause is Cause.MISSING_LIBRARY
    assert observation.detail.endswith("_core.abi3.so: libabsent.so.1 not found")
    assert [f.cause for f in observation.findings] == [Cause.MISSING_LIBRARY, Cause.MISSING_DEPENDENCY]


def test_a_missing_dependency_sets_its_module_aside_and_the_rest_is_judged() -> None:
    document = {
        "loads": [{"path": "site/pm_x/_core.abi3.so", "lines": []}],
        "imports": [
            _failed(
                "pm_x",
                "ModuleNotFoundError",
                "No module named 'pm_not_installed_dependency'",
                missing="pm_not_installed_dependency",
            ),
            {"module": "pm_x._core", "ok": True},
        ],
    }
    observation = _observe(document)
    assert (observation.outcome, observation.cause, observation.detail) == (Outcome.OK, None, "")
    [note] = observation.notes
    assert note.startswith(
        "set aside: pm_x: ModuleNotFoundError: No module named 'pm_not_installed_dependency'"
    )
    assert "supply it with --manylinux-wheelhouse DIR" in note


def test_a_distro_where_nothing_could_be_judged_is_skipped() -> None:
    # No ELF file, and the only module needs what is missing: nothing of the wheel was judged here.
    document = {
        "imports": [
            _failed(
                "pm_x",
                "ModuleNotFoundError",
                "No module named 'pm_not_installed_dependency'",
                missing="pm_not_installed_dependency",
            ),
        ],
    }
    observation = _observe(document)
    assert observation.outcome is Outcome.SKIPPED
    assert observation.cause is Cause.MISSING_DEPENDENCY
    assert "pm_not_installed_dependency" in observation.detail
    assert "supply it with --manylinux-wheelhouse DIR" in observation.detail


def test_a_distro_whose_python_cannot_run_any_module_is_skipped_for_python() -> None:
    document = {
        "imports": [_failed("pm_x", "SyntaxError", "invalid syntax (__init__.py, line 3)")],
    }
    observation = _observe(document)
    assert (observation.outcome, observation.cause) == (Outcome.SKIPPED, Cause.PYTHON)
    assert observation.detail.startswith("this python cannot parse")


def test_exceptions_alone_leave_the_distro_ok_with_the_exception_kept() -> None:
    document = {
        "loads": [{"path": "site/pm_x/_core.abi3.so", "lines": []}],
        "imports": [
            {"module": "pm_x", "ok": True},
            _failed("pm_x._aix", "ImportError", "cannot import name '_aix'"),
        ],
    }
    observation = _observe(document)
    assert (observation.outcome, observation.cause) == (Outcome.OK, None)
    assert [(f.target, f.cause) for f in observation.findings] == [("pm_x._aix", Cause.EXCEPTION)]


def _missing_numpy(**kwargs: object) -> Observation:
    document = {
        "imports": [
            _failed("pm_x", "ModuleNotFoundError", "No module named 'numpy'", missing="numpy"),
        ],
    }
    return observation_from_check("debian-12", "img", _FACTS, document, ["pm_x"], _PYTHON, 0.1, **kwargs)  # type: ignore[arg-type]


def test_missing_dependency_names_what_the_wheelhouse_lacks() -> None:
    observation = _missing_numpy(unsatisfied=("numpy>=2: no numpy wheel in the wheelhouse",))
    assert observation.cause is Cause.MISSING_DEPENDENCY
    assert observation.detail.endswith(
        "the wheelhouse cannot satisfy numpy>=2: no numpy wheel in the wheelhouse"
    )


def test_missing_dependency_not_declared_says_so_when_a_wheelhouse_was_given() -> None:
    observation = _missing_numpy(unsatisfied=())
    assert "not declared in Requires-Dist" in observation.detail


def test_supplied_dependencies_are_noted() -> None:
    document = {"imports": [{"module": "pm_x", "ok": True}]}
    observation = observation_from_check(
        "debian-12",
        "img",
        _FACTS,
        document,
        ["pm_x"],
        _PYTHON,
        0.1,
        supplied=("numpy-2.0-cp311-cp311-manylinux_2_17_x86_64.whl",),
    )
    assert observation.outcome is Outcome.OK
    assert observation.notes == (
        "dependencies from the wheelhouse: numpy-2.0-cp311-cp311-manylinux_2_17_x86_64.whl",
    )


_KILLED_FOR_MEMORY = (
    "killed for memory: the kernel's out-of-memory killer ended it at the container's limit of 256 MiB"
)


def test_classify_import_killed_for_memory() -> None:
    finding = classify_import(_failed("pm_x", "memory", _KILLED_FOR_MEMORY, limit=256 << 20), _WHEEL_MODULES)
    assert finding == Finding("import", "pm_x", Cause.MEMORY, f"import pm_x was {_KILLED_FOR_MEMORY}", "")


def test_memory_kill_only_is_skipped_saying_how_to_judge() -> None:
    # The run's limit, not the distro, stopped the import: no verdict either way from this distro.
    imports = [_failed("pm_x", "memory", _KILLED_FOR_MEMORY), {"module": "pm_x.walrus", "ok": True}]
    document = {"loads": [], "imports": imports}
    observation = _observe(document)
    assert (observation.outcome, observation.cause) == (Outcome.SKIPPED, Cause.MEMORY)
    assert observation.detail == (
        f"import pm_x was {_KILLED_FOR_MEMORY}; raise --manylinux-memory to judge this distro"
    )


def test_failure_beats_memory_kill() -> None:
    crash = _failed("pm_x._core", "signal", "killed by SIGSEGV")
    observation = _observe({"loads": [], "imports": [_failed("pm_x", "memory", _KILLED_FOR_MEMORY), crash]})
    assert (observation.outcome, observation.cause) == (Outcome.FAIL, Cause.CRASH)


def test_container_paths_are_shown_wheel_relative() -> None:
    document = {
        "loads": [
            {
                "path": f"{_ROOT}/site/pm_x/_core.abi3.so",
                "lines": [
                    f"{_ROOT}/site/pm_x/_core.abi3.so: cannot enable executable stack as shared object "
                    "requires: Invalid argument"
                ],
            },
            {"path": f"{_ROOT}/bin/pm-tool", "kind": "executable", "lines": [], "static": True},
        ],
        "imports": [],
    }
    observation = _observe(document)
    assert observation.cause is Cause.ERROR
    assert observation.detail == "pm_x/_core.abi3.so: the loader refuses its executable stack"
    assert observation.findings[0].target == "pm_x/_core.abi3.so"
    assert _ROOT not in json.dumps(observation.to_json())
    assert observation.notes == ("bin/pm-tool is statically linked: nothing for the loader to resolve",)


def test_load_paths_from_the_plan_are_shown_wheel_relative() -> None:
    # The probe reports each load under the path the plan gave it (runner.plan_for: relative to the
    # plan root, "site/pm_x/_core.abi3.so"), while the loader's own lines carry the absolute path.
    # Both must come out as the file's path in the wheel, so the report names it one way.
    core = f"{_ROOT}/site/pm_x/_core.abi3.so"
    document = {
        "loads": [
            {
                "path": "site/pm_x/_core.abi3.so",
                "kind": "extension",
                "lines": [
                    f"{core}: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found "
                    f"(required by {core})"
                ],
                "static": False,
            }
        ],
        "imports": [],
    }
    observation = _observe(document)
    assert observation.cause is Cause.GLIBC
    assert observation.findings[0].target == "pm_x/_core.abi3.so"
    assert observation.detail == "libc.so.6 lacks GLIBC_2.34 (needed by pm_x/_core.abi3.so)"


def test_crash_of_one_module_fails_the_distro() -> None:
    document = {"imports": [_failed("pm_x._core", "signal", "killed by SIGABRT", signal="SIGABRT")]}
    observation = _observe(document)
    assert (observation.outcome, observation.cause) == (Outcome.FAIL, Cause.CRASH)
    assert observation.detail == "import pm_x._core killed by SIGABRT"


def test_skipped_observation_carries_the_facts() -> None:
    observation = skipped(
        "ubuntu-16.04", "img:16.04", Cause.PYTHON, "no interpreter here can load cp311", _FACTS
    )
    assert observation.outcome is Outcome.SKIPPED
    assert observation.cause is Cause.PYTHON
    assert observation.libc_version == LibcVersion(2, 31)
    assert skipped("x", "img", Cause.IMAGE, "pull failed").libc_version is None


# -- reading the probe ----------------------------------------------------------------------------------


def test_parse_probe_output_reads_the_document_after_the_last_marker() -> None:
    stdout = f'noise\n{MARKER}\n{{"old": 1}}\nmore noise\n{MARKER}\n{{"libc": "glibc"}}\ntrailing\n'
    assert parse_probe_output(stdout, "ubuntu-16.04") == {"libc": "glibc"}


@pytest.mark.parametrize(
    ("stdout", "says"),
    [
        ("Traceback (most recent call last):\n  SyntaxError: invalid syntax\n", "printed no result"),
        (f"{MARKER}\n", "is not JSON"),
        (f"{MARKER}\n{{truncated\n", "is not JSON"),
        (f"{MARKER}\n[1, 2]\n", "is not a JSON object"),
    ],
    ids=["no-marker", "nothing-after-marker", "broken-json", "not-an-object"],
)
def test_parse_probe_output_errors(stdout: str, says: str) -> None:
    with pytest.raises(ProbeError) as excinfo:
        parse_probe_output(stdout, "debian-13 facts")
    message = str(excinfo.value)
    assert "debian-13 facts" in message
    assert says in message


def test_parse_probe_documents_reads_each_wheel_in_order_up_to_a_cut() -> None:
    # A batched check prints one document per wheel; a document cut short (the probe was killed
    # while printing it) and anything after it are not results.
    stdout = f'{MARKER}\n{{"plan": "a"}}\nnoise\n{MARKER}\n{{"plan": "b"}}\n{MARKER}\n{{"plan": "c", "lo'
    assert parse_probe_documents(stdout) == [{"plan": "a"}, {"plan": "b"}]
    assert parse_probe_documents("Traceback (most recent call last):\n") == []


def test_probe_error_quotes_the_end_of_the_output() -> None:
    with pytest.raises(ProbeError, match="SyntaxError: invalid syntax"):
        parse_probe_output("x" * 2000 + "SyntaxError: invalid syntax", "ubuntu-16.04")


def test_facts_from_json() -> None:
    document = {
        "libc": "glibc",
        "libc_version": "2.23",
        "loader": "/lib64/ld-linux-x86-64.so.2",
        "machine": "x86_64",
        "libstdcxx": {
            "path": "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.21",
            "glibcxx": "3.4.21",
            "cxxabi": "1.3.9",
        },
        "interpreters": [
            {
                "path": "/usr/bin/python3",
                "version": [3, 5, 2],
                "implementation": "cpython",
                "soabi": "cpython-35m-x86_64-linux-gnu",
                "ctypes": True,
            },
            {
                "path": "/opt/python/cp313-cp313t/bin/python",
                "version": [3, 13, 1, "final", 0],
                "soabi": "cpython-313t-x86_64-linux-gnu",
                "ctypes": False,
            },
            {"path": "/usr/local/bin/python3.9", "version": [3, 9, 2], "soabi": ""},
            {"path": "/usr/bin/python3.4", "error": "Segmentation fault"},
        ],
        "uid": 1000,
    }
    facts = facts_from_json(document)
    assert facts.libc is Libc.GLIBC
    assert facts.libc_version == LibcVersion(2, 23)
    assert facts.machine == "x86_64"
    assert facts.loader == "/lib64/ld-linux-x86-64.so.2"
    assert (facts.glibcxx, facts.cxxabi) == ("3.4.21", "1.3.9")
    assert facts.interpreters == (
        Interpreter("/usr/bin/python3", (3, 5, 2), "cpython", "cp35m", "distro", True),
        Interpreter("/opt/python/cp313-cp313t/bin/python", (3, 13, 1), "cpython", "cp313t", "image", False),
        Interpreter("/usr/local/bin/python3.9", (3, 9, 2), "cpython", "cp39", "distro", True),
    )
    assert facts.broken == (("/usr/bin/python3.4", "Segmentation fault"),)


def test_facts_from_json_without_libc_or_libstdcxx() -> None:
    facts = facts_from_json({"libc": None, "libc_version": None, "machine": "x86_64", "libstdcxx": None})
    assert facts.libc is None
    assert facts.libc_version is None
    assert facts.glibcxx is None
    assert facts.interpreters == ()


def test_facts_from_json_musl() -> None:
    facts = facts_from_json({"libc": "musl", "libc_version": "1.2.4", "machine": "x86_64", "loader": None})
    assert (facts.libc, facts.libc_version) == (Libc.MUSL, LibcVersion(1, 2))


# -- JSON round trip ----------------------------------------------------------------------------------


def test_observation_json_round_trip() -> None:
    observation = Observation(
        distro="ubuntu-16.04",
        image="pytest-manylinux/ubuntu:16.04",
        outcome=Outcome.FAIL,
        cause=Cause.GLIBC,
        detail="import pm_x._core: libc.so.6 lacks GLIBC_2.34",
        libc=Libc.GLIBC,
        libc_version=LibcVersion(2, 23),
        findings=(
            Finding(
                "import", "pm_x._core", Cause.GLIBC, "import pm_x._core: libc.so.6 lacks GLIBC_2.34", "tb"
            ),
            Finding("load", "pm_x/_core.abi3.so", Cause.UNDEFINED_SYMBOL, "undefined symbol close_range"),
        ),
        interpreter="/usr/bin/python3 (3.5.2, distro)",
        glibcxx="3.4.21",
        seconds=1.25,
        notes=("bin/pm-tool is statically linked",),
    )
    data = observation.to_json()
    assert json.loads(json.dumps(data)) == data  # plain JSON
    assert data["name"] == "ubuntu-16.04"
    assert data["outcome"] == "fail"
    assert data["cause"] == "glibc"
    assert data["libc_version"] == "2.23"
    assert Observation.from_json(json.loads(json.dumps(data))) == observation


def test_skipped_observation_json_round_trip() -> None:
    observation = skipped("debian-13", "img", Cause.MISSING_DEPENDENCY, "needs numpy")
    data = observation.to_json()
    assert (data["outcome"], data["cause"], data["libc_version"]) == ("skipped", "missing-dependency", None)
    assert Observation.from_json(data) == observation


def test_sigill_is_the_cpu_s_not_the_platform_s() -> None:
    # faiss's AVX-512 variant imported directly on a CPU without AVX-512: identical on every distro.
    result = _failed(
        "pm_x._avx512", "signal", "killed by SIGILL", signal="SIGILL", stderr="Fatal Python error"
    )
    finding = classify_import(result, _WHEEL_MODULES)
    assert finding is not None
    assert finding.cause is Cause.CPU
    assert "instructions this machine's CPU lacks" in finding.evidence
    assert not finding.cause.is_failure


def test_a_dependency_s_changed_abi_is_a_dependency_error() -> None:
    # pandas built against numpy 1.x, given numpy 2.x: Cython's size check of numpy's types.
    message = (
        "numpy.dtype size changed, may indicate binary incompatibility. "
        "Expected 96 from C header, got 88 from PyObject"
    )
    result = _failed(
        "pm_x", "ValueError", message, chain=[_link("ValueError", message, file="pm_x/__init__.py")]
    )
    finding = classify_import(result, _WHEEL_MODULES)
    assert finding is not None
    assert finding.cause is Cause.MISSING_DEPENDENCY


def test_a_library_the_claim_lets_the_wheel_expect_is_the_image_s_lack() -> None:
    # libGL.so.1 is on the manylinux allow-list; a minimal image lacks it: nothing about the tag.
    document = {
        "loads": [{"path": "site/pm_x/_core.abi3.so", "lines": ["libGL.so.1 => not found"]}],
        "imports": [
            _failed(
                "pm_x", "ImportError", "libGL.so.1: cannot open shared object file: No such file or directory"
            ),
        ],
    }
    observation = _observe(document, expected=frozenset({"libGL.so.1", "libX11.so.6"}))
    assert (observation.outcome, observation.cause) == (Outcome.OK, None)
    assert {f.cause for f in observation.findings} == {Cause.SYSTEM_LIBRARY}
    assert any(
        "libGL.so.1 is not in this image, though the claimed tag lets a wheel expect it" in n
        for n in observation.notes
    )
    # the same line for a library the policy does not allow stays a failure
    failing = _observe(document, expected=frozenset({"libX11.so.6"}))
    assert (failing.outcome, failing.cause) == (Outcome.FAIL, Cause.MISSING_LIBRARY)
