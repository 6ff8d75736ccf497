"""Every test wheel on every distro of the default matrix, against the real engine and real images.

What each (wheel, distro) should give is derived from what the wheel's ELF files need (recorded by
wheelfactory.py, checked with readelf there) and what the distro measured in its container.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
import wheelfactory
from conftest import MatrixRun, left_behind

from pytest_manylinux.core.distros import Distro, load_distros
from pytest_manylinux.core.observe import Cause, Outcome
from pytest_manylinux.core.tags import Libc
from pytest_manylinux.core.wheel import read_wheel
from pytest_manylinux.engine.docker import ExecResult
from pytest_manylinux.engine.runner import (
    LOST_OUTPUT_RETRIES,
    DistroRunner,
    Matrix,
    RunConfig,
    _probe_exec,
    prepare,
)
from pytest_manylinux.errors import InternalError

# The glibc distros: the factory's manylinux wheels are judged there (the musl ones in test_musl.py).
DISTROS = [d.name for d in load_distros() if d.libc is Libc.GLIBC]

# FIELD-NOTES.md, measured in the minbase images: (glibc, python3, GLIBCXX). The plugin must
# measure the same inside each container (it never reads these from distros.toml).
FIELD_NOTES = {
    "ubuntu-16.04": ("2.23", "3.5", "3.4.21"),
    "ubuntu-18.04": ("2.27", "3.6", "3.4.25"),
    "ubuntu-20.04": ("2.31", "3.8", "3.4.28"),
    "debian-11": ("2.31", "3.9", "3.4.28"),
    "ubuntu-22.04": ("2.35", "3.10", "3.4.30"),
    "debian-12": ("2.36", "3.11", "3.4.30"),
    "ubuntu-24.04": ("2.39", "3.12", "3.4.33"),
    "debian-13": ("2.41", "3.13", "3.4.33"),
}


def _v(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("."))


def interpreter_origin(case: wheelfactory.Case, distro: str) -> str:
    """Which interpreter judges the case: the distro's own where it can, else a portable CPython."""
    _glibc, python, _glibcxx = FIELD_NOTES[distro]
    if case.python_tag == "cp311" and python != "3.11":
        return "portable"
    if case.requires_python and _v(python) < _v(case.requires_python.lstrip(">=")):
        return "portable"
    if case.needs_python and _v(python) < _v(case.needs_python):
        return "portable"  # the distro's python raised SyntaxError: a newer one judged the wheel
    return "distro"


def expected(case: wheelfactory.Case, distro: str) -> tuple[str, str | None]:
    """(outcome, cause) the case must give on the distro, from its needs and the distro's facts.

    No case is skipped for its Python tag any more: where the distro's python cannot load it (cp311
    below Debian 12, Requires-Python >=3.8 on 16.04 and 18.04) a portable CPython judges it.
    """
    glibc, _python, glibcxx = FIELD_NOTES[distro]
    if case.name == "aarch64":
        return "skipped", "arch"
    if case.libc == "musl":
        return "skipped", "libc"  # judged on the Alpine distros: test_musl.py
    if case.cause_always:
        return "fail", case.cause_always
    if case.needs_glibc and _v(case.needs_glibc) > _v(glibc):
        return "fail", "glibc"
    if case.needs_glibcxx and _v(case.needs_glibcxx) > _v(glibcxx):
        return "fail", "cxx-abi"
    if case.refused_from_glibc and _v(glibc) >= _v(case.refused_from_glibc):
        return "fail", "error"
    if case.raises_below_glibc and _v(glibc) < _v(case.raises_below_glibc):
        return "fail", "error"  # a Python exception the platform explains: counted
    if case.hangs_below_glibc and _v(glibc) < _v(case.hangs_below_glibc):
        return "fail", "timeout"  # a hang in Python code the platform explains: counted
    # Set-aside modules and the wheel's own exceptions leave the distro judged on the rest: ok.
    return "ok", None


PAIRS = [(c, d) for c in wheelfactory.CASES if c != "pure" for d in DISTROS]


@pytest.mark.parametrize(("case", "distro"), PAIRS, ids=[f"{c}-{d}" for c, d in PAIRS])
def test_outcome_and_cause(matrix_run: MatrixRun, case: str, distro: str) -> None:
    result = matrix_run.distro(case, distro)
    want = expected(wheelfactory.CASES[case], distro)
    assert (result["outcome"], result["cause"]) == want, result["detail"]
    if want[0] == "fail":
        assert result["detail"], "a failure must carry its evidence line"


PORTABLE_PAIRS = [(c, d) for c in ("cp311", "requires_py38", "modern_syntax") for d in DISTROS]


@pytest.mark.parametrize(("case", "distro"), PORTABLE_PAIRS, ids=[f"{c}-{d}" for c, d in PORTABLE_PAIRS])
def test_the_report_says_which_interpreter_ran_the_check(
    matrix_run: MatrixRun, case: str, distro: str
) -> None:
    result = matrix_run.distro(case, distro)
    origin = interpreter_origin(wheelfactory.CASES[case], distro)
    assert result["interpreter"].endswith(f", {origin})"), result["interpreter"]
    if origin == "portable":
        assert result["interpreter"].startswith("/opt/pytest-manylinux/python/")
    if case == "cp311":
        # The full-API cp311 extension imports on every distro, Ubuntu 16.04 included.
        assert "(3.11." in result["interpreter"], result
        assert result["outcome"] == "ok", result


def test_the_terminal_table_shows_the_portable_interpreter(matrix_run: MatrixRun) -> None:
    table = matrix_run.stdout[matrix_run.stdout.index(wheelfactory.CASES["cp311"].filename + "  claims") :]
    rows = [line.split() for line in table.splitlines()[2:5]]
    # the distro's own 3.11 on debian-12 breaks the run of portable ones: three rows
    assert rows[0][:3] == ["ubuntu-16.04", "…", "ubuntu-22.04"], rows
    assert rows[0][5:8] == ["ok", "3.11.2", "portable"], rows
    assert rows[1][0] == "debian-12", rows
    assert rows[1][3:6] == ["ok", "3.11.2", "distro"], rows
    assert rows[2][:3] == ["ubuntu-24.04", "…", "debian-13"], rows
    assert rows[2][5:8] == ["ok", "3.11.2", "portable"], rows


@pytest.mark.parametrize("distro", DISTROS, ids=DISTROS)
def test_libc_is_measured_in_the_container(matrix_run: MatrixRun, distro: str) -> None:
    glibc, python, glibcxx = FIELD_NOTES[distro]
    result = matrix_run.distro("honest", distro)
    assert (result["libc"], result["libc_version"], result["glibcxx"]) == ("glibc", glibc, glibcxx)
    assert f"({python}." in result["interpreter"]
    assert "distro" in result["interpreter"]


def test_glibc_failure_names_the_version_and_file(matrix_run: MatrixRun) -> None:
    detail = matrix_run.distro("glibc_new", "ubuntu-16.04")["detail"]
    assert "GLIBC_2.34" in detail
    assert "pm_glibc_new/_core.abi3.so" in detail


def test_cxx_failure_names_glibcxx(matrix_run: MatrixRun) -> None:
    detail = matrix_run.distro("cxx_new", "ubuntu-20.04")["detail"]
    assert "GLIBCXX_3.4.29" in detail


def test_crash_is_reported_as_sigabrt_with_traceback(matrix_run: MatrixRun) -> None:
    # PID 1 would swallow a self-raised SIGABRT; the probe runs the import below an init.
    for distro in DISTROS:
        result = matrix_run.distro("crash", distro)
        assert "SIGABRT" in result["detail"], (distro, result["detail"])
        crash = next(f for f in result["findings"] if f["cause"] == "crash")
        assert "Fatal Python error: Aborted" in crash["detail"]


def test_hang_is_a_timeout(matrix_run: MatrixRun) -> None:
    result = matrix_run.distro("hang", "debian-12")
    assert result["cause"] == "timeout"
    assert "4.0 seconds" in result["detail"]


def test_executable_is_checked_by_the_loader_not_run(matrix_run: MatrixRun) -> None:
    # The extension imports fine on 16.04; only the bundled executable needs GLIBC_2.34.
    result = matrix_run.distro("executable", "ubuntu-16.04")
    loads = [f for f in result["findings"] if f["check"] == "load"]
    assert loads
    assert all(f["target"] == "bin/pm-tool" for f in loads)
    assert not [f for f in result["findings"] if f["check"] == "import"]


def test_vendored_library_is_found_through_runpath(matrix_run: MatrixRun) -> None:
    # On new distros the vendored lib is found via $ORIGIN (no missing-library anywhere);
    # on old ones its own GLIBC_2.34 need is what fails.
    assert matrix_run.distro("vendored", "debian-13")["outcome"] == "ok"
    old = matrix_run.distro("vendored", "ubuntu-18.04")
    assert old["cause"] == "glibc"
    assert not [f for f in old["findings"] if f["cause"] == "missing-library"]


def test_interpreter_symbols_are_not_undefined(matrix_run: MatrixRun) -> None:
    # Py*/_Py* symbols and libm/libpthread symbols come from the interpreter process.
    for distro in DISTROS:
        findings = matrix_run.distro("honest", distro)["findings"]
        assert findings == [], (distro, findings)


def test_execstack_fails_only_where_glibc_refuses_it(matrix_run: MatrixRun) -> None:
    result = matrix_run.distro("execstack", "debian-13")
    assert "executable stack" in result["detail"]


def test_missing_dependency_is_not_a_failure(matrix_run: MatrixRun) -> None:
    result = matrix_run.distro("missing_dep", "debian-12")
    assert (result["outcome"], result["cause"]) == ("ok", None)
    [note] = [n for n in result["notes"] if n.startswith("set aside: ")]
    assert "pm_not_installed_dependency" in note
    assert "a dependency, not part of the wheel" in note
    assert "supply it with --manylinux-wheelhouse DIR" in note


VERDICTS = {
    "honest": "honest",
    "underclaim": "under-claim",
    "glibc_new": "over-claim",
    "cxx_new": "over-claim",
    "crash": "over-claim",
    "hang": "over-claim",
    "missing_lib": "over-claim",
    "undefined": "over-claim",
    "vendored": "over-claim",
    "executable": "over-claim",
    "execstack": "over-claim",
    "nonpolicy": "over-claim",
    "weak": "over-claim",
    "corrupt_elf": "over-claim",
    "linux_tag": "no-claim",
    "pure": "no-claim",
    "cp311": "honest",
    "requires_py38": "honest",
    "modern_syntax": "honest",
    "own_exception": "honest",
    "platform_exception": "over-claim",
    "python_hang": "honest",
    "platform_hang": "over-claim",
    "dependency_forms": "honest",
    "thread_atexit": "over-claim",
    "policy_library": "honest",
    "soname_sibling": "honest",
}


@pytest.mark.parametrize(("case", "verdict"), sorted(VERDICTS.items()), ids=sorted(VERDICTS))
def test_verdict(matrix_run: MatrixRun, case: str, verdict: str) -> None:
    assert matrix_run.wheel(case)["verdict"] == verdict, matrix_run.wheel(case)["summary"]


def test_over_claim_names_lowest_working_and_honest_tag(matrix_run: MatrixRun) -> None:
    wheel = matrix_run.wheel("cxx_new")
    assert wheel["lowest_working"] == {"distro": "ubuntu-22.04", "libc_version": "2.35"}
    assert wheel["uncovered"] == "glibc 2.17–2.22"
    assert wheel["claim"] == {
        "tag": "manylinux2014_x86_64",
        "kind": "manylinux",
        "libc": "glibc",
        "version": "2.17",
        "arch": "x86_64",
    }


def test_under_claim_implies_a_lower_tag(matrix_run: MatrixRun) -> None:
    wheel = matrix_run.wheel("underclaim")
    assert wheel["lowest_working"]["distro"] == "ubuntu-16.04"
    # Observed down to 2.23, and static analysis finds only GLIBC_2.2.5: the x86_64 floor, manylinux_2_5.
    assert wheel["honest_tag"] == "manylinux_2_5_x86_64"


def test_a_wheel_whose_imports_are_all_set_aside_is_still_judged_by_the_loader(matrix_run: MatrixRun) -> None:
    # Every module needs the missing dependency, but the loader resolved the extension on every distro.
    wheel = matrix_run.wheel("missing_dep")
    assert wheel["lowest_working"] == {"distro": "ubuntu-16.04", "libc_version": "2.23"}
    assert wheel["verdict"] == "honest"


def test_exit_status_is_failure_when_a_wheel_over_claims(matrix_run: MatrixRun) -> None:
    assert matrix_run.returncode == 1


def test_summary_table_in_terminal(matrix_run: MatrixRun) -> None:
    out = matrix_run.stdout
    assert "manylinux" in out
    assert (
        "pm_glibc_new-1.0-cp35-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl  claims glibc 2.17" in out
    )
    assert "verdict: OVER-CLAIM" in out
    assert "verdict: HONEST" in out
    assert "verdict: UNDER-CLAIM" in out


def test_junit_has_one_testcase_per_wheel_and_distro(matrix_run: MatrixRun) -> None:
    names = {(tc.get("classname"), tc.get("name")) for tc in matrix_run.junit.iter("testcase")}
    filename = wheelfactory.CASES["glibc_new"].filename
    for distro in [*DISTROS, "verdict"]:
        assert any(name == distro and filename.replace(".whl", "") in (cls or "") for cls, name in names), (
            distro
        )


def test_nothing_left_on_the_engine(matrix_run: MatrixRun, engine: Any) -> None:
    # By the run's PID: other sessions may be using the engine at the same time.
    assert left_behind(engine.client, [matrix_run.pid]) == []


def _json_shape(w: dict[str, Any]) -> None:
    assert set(w) >= {"file", "claim", "verdict", "lowest_working", "distros"}
    for d in w["distros"]:
        assert set(d) >= {"name", "image", "libc_version", "outcome", "cause", "detail"}
        assert d["outcome"] in ("ok", "fail", "skipped")


def test_json_schema(matrix_run: MatrixRun) -> None:
    assert matrix_run.document["schema"] == "pytest-manylinux/1"
    for w in matrix_run.document["wheels"]:
        _json_shape(w)


# -- one distro, several wheels ---------------------------------------------------------------------


def test_a_distro_gets_its_wheels_in_one_copy_and_checks_them_in_one_exec(
    engine: Any, wheels: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    distro = next(d for d in load_distros() if d.name == "debian-12")
    payloads = [prepare(read_wheel(wheels[case]), tmp_path) for case in ("honest", "glibc_new", "crash")]
    runner = DistroRunner(
        engine, distro, RunConfig(timeout=10), lambda _: None, lambda w: prepare(w, tmp_path)
    )
    calls: list[str] = []

    def counted(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return call(*args, **kwargs)

        return wrapper

    try:
        runner.open()
        container = runner._container
        assert container is not None
        monkeypatch.setattr(container, "put_archive", counted("put_archive", container.put_archive))
        monkeypatch.setattr(container, "exec", counted("exec", container.exec))
        first = runner.observe_all(payloads)
        assert [(o.outcome, o.cause) for o in first] == [
            (Outcome.OK, None),
            (Outcome.OK, None),
            (Outcome.FAIL, Cause.CRASH),
        ]
        assert calls == ["put_archive", "exec"]
        assert all(o.seconds > 0 for o in first)

        # The probe dies on the second wheel (its plan is gone): that wheel cannot be judged, the
        # crash of the third is still observed, in a second exec, and nothing is copied again.
        container.exec(["rm", payloads[1].plan_path])
        calls.clear()
        again = runner.observe_all(payloads)
        assert [o.outcome for o in again] == [Outcome.OK, Outcome.SKIPPED, Outcome.FAIL]
        assert again[1].cause is Cause.ENGINE
        assert f"printed no result for {payloads[1].wheel.filename} on debian-12" in again[1].detail
        assert again[2].cause is Cause.CRASH
        assert calls == ["exec", "exec"]
    finally:
        runner.close()


# -- what counts as evidence (issue #11) --------------------------------------------------------------------


def test_the_wheel_s_own_exceptions_are_reported_and_never_held_against_its_tag(
    matrix_run: MatrixRun,
) -> None:
    case = wheelfactory.CASES["own_exception"]
    wheel = matrix_run.wheel("own_exception")
    assert wheel["verdict"] == "honest", wheel["summary"]
    assert sorted(e["module"] for e in wheel["exceptions"]) == sorted(case.own_exceptions)
    for e in wheel["exceptions"]:
        assert (e["distros"], e["assessment"]) == (DISTROS, "own"), e
    by_module = {e["module"]: e["exception"] for e in wheel["exceptions"]}
    assert by_module["pm_own_exception._context"] == (
        "LookupError: Could not find the test runner: import this module from inside it"
    )
    assert "cannot import name '_pm_aix'" in by_module["pm_own_exception._aix"]
    # the terminal report has its own section for them
    table = matrix_run.stdout[matrix_run.stdout.index(case.filename + "  claims") :]
    assert "the wheel's own exceptions (not about its tag):" in table.split("\n\n")[0]


def test_a_hang_in_the_wheel_s_own_python_code_is_its_own_behaviour(matrix_run: MatrixRun) -> None:
    wheel = matrix_run.wheel("python_hang")
    assert wheel["verdict"] == "honest", wheel["summary"]
    [own] = wheel["exceptions"]
    assert (own["module"], own["distros"], own["assessment"]) == ("pm_python_hang.demo", DISTROS, "own")
    # where it hung, from the stack faulthandler wrote before the import was killed
    assert own["exception"].startswith(
        'hang: import did not finish within 4.0 seconds, in Python code (File "pm_python_hang/demo.py", line '
    ), own
    assert own["exception"].endswith(" in main_loop)"), own


def test_a_hang_in_python_code_the_platform_explains_counts_as_a_timeout(matrix_run: MatrixRun) -> None:
    wheel = matrix_run.wheel("platform_hang")
    assert wheel["verdict"] == "over-claim", wheel["summary"]
    assert wheel["honest_tag"] == "manylinux_2_31_x86_64"
    assert wheel["exceptions"] == []
    for distro in ("ubuntu-16.04", "ubuntu-18.04"):
        result = matrix_run.distro("platform_hang", distro)
        assert result["cause"] == "timeout", result
        assert [c["module"] for c in result["counted"]] == ["pm_platform_hang.backend"]
        assert "in Python code" in result["detail"]
        assert "with the same Python" in result["detail"]


def test_a_hang_in_an_extension_s_initialisation_says_where(matrix_run: MatrixRun) -> None:
    for distro in DISTROS:
        detail = matrix_run.distro("hang", distro)["detail"]
        assert "in an extension module's initialisation" in detail, (distro, detail)


def test_an_exception_the_platform_explains_counts_against_the_tag(matrix_run: MatrixRun) -> None:
    wheel = matrix_run.wheel("platform_exception")
    assert wheel["verdict"] == "over-claim", wheel["summary"]
    assert wheel["honest_tag"] == "manylinux_2_31_x86_64"
    assert wheel["exceptions"] == []
    for distro in ("ubuntu-16.04", "ubuntu-18.04"):
        result = matrix_run.distro("platform_exception", distro)
        assert [c["module"] for c in result["counted"]] == ["pm_platform_exception.backend"]
        assert "RuntimeError: this backend needs glibc 2.28 or newer" in result["detail"]
        assert "with the same Python" in result["detail"]


@pytest.mark.parametrize("case", ["missing_dep", "dependency_forms"], ids=["missing-module", "forms"])
def test_dependency_errors_set_their_modules_aside_and_the_rest_is_judged(
    matrix_run: MatrixRun, case: str
) -> None:
    wheel = matrix_run.wheel(case)
    assert wheel["verdict"] == "honest", wheel["summary"]
    aside = sorted(m for group in wheel["set_aside"] for m in group["modules"])
    assert aside == sorted(wheelfactory.CASES[case].set_aside)
    for group in wheel["set_aside"]:
        assert group["distros"] == DISTROS
    for distro in DISTROS:
        notes = matrix_run.distro(case, distro)["notes"]
        assert any(n.startswith("set aside: ") for n in notes), notes


def test_a_python_that_cannot_parse_the_wheel_hands_it_to_a_newer_one(matrix_run: MatrixRun) -> None:
    for distro in ("ubuntu-16.04", "ubuntu-18.04"):
        result = matrix_run.distro("modern_syntax", distro)
        assert result["outcome"] == "ok", result
        assert any(
            "cannot parse" in n and "judged with /opt/pytest-manylinux/python/" in n for n in result["notes"]
        )
    assert matrix_run.wheel("modern_syntax")["verdict"] == "honest"


def test_a_need_below_the_matrix_is_predicted_and_named(matrix_run: MatrixRun) -> None:
    wheel = matrix_run.wheel("thread_atexit")
    assert [d["outcome"] for d in wheel["distros"] if d["name"] in DISTROS] == ["ok"] * len(DISTROS)
    assert (wheel["verdict"], wheel["decided_by"]) == ("over-claim", "predicted")
    assert "__cxa_thread_atexit_impl" in wheel["summary"]
    assert "GLIBC_2.18" in wheel["summary"]
    assert wheel["predicted"]["floor"] == "2.18"


def test_a_library_the_policy_allows_but_the_image_lacks_is_not_held_against_the_tag(
    matrix_run: MatrixRun,
) -> None:
    wheel = matrix_run.wheel("policy_library")
    assert wheel["verdict"] == "honest", wheel["summary"]
    [group] = [g for g in wheel["set_aside"] if "libGL.so.1" in g["reason"]]
    assert group["distros"] == DISTROS
    assert "the claimed tag lets a wheel expect it from the system" in group["reason"]


def test_a_vendored_library_is_found_by_its_soname_as_the_package_loads_it(matrix_run: MatrixRun) -> None:
    for distro in DISTROS:
        result = matrix_run.distro("soname_sibling", distro)
        assert (result["outcome"], result["findings"]) == ("ok", []), result


# -- a bug of the plugin inside a distro's run (pure: fakes stand for the runner, no engine) -----------


class _BuggyRunner:
    """Stands for a DistroRunner whose checks meet a bug of the plugin."""

    facts = None

    def observe_all(self, payloads: Any) -> list[Any]:
        raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")


class _Matrix(Matrix):
    """A Matrix whose distro runner is a fake: ``bug`` breaks starting the run, else the checks break."""

    bug: Exception | None = None

    def runner(self, distro: Distro) -> Any:
        if self.bug is not None:
            raise self.bug
        return _BuggyRunner()


def _matrix(tmp_path: Path, bug: Exception | None) -> _Matrix:
    matrix = _Matrix(engine=None, config=RunConfig(), workdir=tmp_path, progress=lambda line: None)  # type: ignore[arg-type]
    matrix.bug = bug
    return matrix


def test_a_bug_starting_a_distro_s_run_is_said_with_its_type_and_traceback(
    wheels: dict[str, Path], tmp_path: Path
) -> None:
    wheel = read_wheel(wheels["honest"])
    distro = load_distros()[0]
    matrix = _matrix(tmp_path, KeyError("python"))
    try:
        with pytest.raises(InternalError) as caught:
            matrix.observation(wheel, distro)
    finally:
        matrix.close()
    message = str(caught.value)
    assert message.startswith(
        f"distro {distro.name!r} could not check {wheel.filename}: "
        "pytest-manylinux failed with KeyError: 'python', an exception it does not expect here: a bug"
    )
    assert "stopped before" not in message
    assert "Traceback (most recent call last):" in message
    assert "in runner\n    raise self.bug\nKeyError: 'python'" in message
    assert isinstance(caught.value.__cause__, KeyError)


def test_a_bug_in_a_distro_s_checks_is_said_with_its_type_and_traceback(
    wheels: dict[str, Path], tmp_path: Path
) -> None:
    wheel = read_wheel(wheels["honest"])
    distro = load_distros()[0]
    matrix = _matrix(tmp_path, None)
    try:
        observation = matrix.observation(wheel, distro)
    finally:
        matrix.close()
    assert (observation.outcome, observation.cause) == (Outcome.SKIPPED, Cause.ENGINE)
    assert observation.detail.startswith(
        "pytest-manylinux failed with TypeError: unsupported operand type(s) for +: 'int' and 'str', "
        "an exception it does not expect here: a bug"
    )
    assert "in observe_all\n    raise TypeError(" in observation.detail


class _LosingContainer:
    """A fake container (pure logic) whose engine loses the output of the first ``lost`` execs."""

    def __init__(self, lost: int, exit_code: int = 0) -> None:
        self.lost, self.exit_code, self.calls = lost, exit_code, 0

    def exec(self, argv: list[str], **options: Any) -> ExecResult:
        self.calls += 1
        out = "" if self.calls <= self.lost else "@@pytest-manylinux-result@@\n{}\n"
        return ExecResult(self.exit_code, out, "", 0.1)


@pytest.mark.parametrize(
    ("lost", "calls", "printed"), [(0, 1, True), (1, 2, True), (2, 3, True), (5, 3, False)]
)
def test_an_exec_of_the_probe_whose_output_the_engine_lost_is_run_again(
    lost: int, calls: int, printed: bool
) -> None:
    container = _LosingContainer(lost)
    result = _probe_exec(container, ["python3", "probe.py"], timeout=5)  # type: ignore[arg-type]
    assert container.calls == calls == min(lost, LOST_OUTPUT_RETRIES) + 1
    assert bool(result.stdout) is printed


def test_a_probe_that_failed_without_output_is_not_run_again() -> None:
    container = _LosingContainer(lost=5, exit_code=137)
    result = _probe_exec(container, ["python3", "probe.py"])  # type: ignore[arg-type]
    assert (container.calls, result.exit_code) == (1, 137)
