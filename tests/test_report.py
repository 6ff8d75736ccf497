"""report.py: results keyed by wheel hash, the JSON report and its round trip, the terminal table."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import MATRIX

from pytest_manylinux.core.observe import Cause, Finding, Observation, Outcome
from pytest_manylinux.core.tags import Libc, LibcVersion
from pytest_manylinux.core.verdict import Kind, Prediction
from pytest_manylinux.errors import ResultsError
from pytest_manylinux.report import (
    SCHEMA,
    Results,
    dumps,
    markdown,
    run_failed,
    terminal_lines,
    to_json,
    verdict_counts,
)

GLIBC_NEW = "pm_glibc_new-1.0-cp35-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
HONEST = "pm_honest-1.0-cp35-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
PURE = "pm_pure-1.0-py3-none-any.whl"
SHA_A = "a" * 64
SHA_B = "b" * 64
SHA_C = "c" * 64

_GLIBC_234 = "import pm_glibc_new._core: libc.so.6 lacks GLIBC_2.34 (needed by pm_glibc_new/_core.abi3.so)"


def _obs(
    distro: str, glibc: str, outcome: Outcome, cause: Cause | None = None, detail: str = ""
) -> Observation:
    findings = (
        (Finding("import", "pm_glibc_new._core", cause, detail, "tb"),) if cause and cause.is_failure else ()
    )
    return Observation(
        distro,
        distro.replace("-", ":"),
        outcome,
        cause,
        detail,
        libc=Libc.GLIBC,
        libc_version=LibcVersion.parse(glibc),
        findings=findings,
        interpreter="/usr/bin/python3 (3.x, distro)",
        glibcxx="3.4.30",
        seconds=0.5,
    )


def _glibc_new_observations() -> list[Observation]:
    out = []
    for name, glibc in MATRIX:
        if LibcVersion.parse(glibc) < LibcVersion(2, 34):
            out.append(_obs(name, glibc, Outcome.FAIL, Cause.GLIBC, _GLIBC_234))
        else:
            out.append(_obs(name, glibc, Outcome.OK))
    return out


def _results() -> Results:
    """glibc_new (over-claim, with a prediction), honest (one distro skipped), pure (no claim)."""
    results = Results()
    for o in _glibc_new_observations():
        results.add(SHA_A, f"dist/{GLIBC_NEW}", o)
    results.add_prediction(
        SHA_A, GLIBC_NEW, Prediction(LibcVersion(2, 34), reason="needs GLIBC_2.34 (close_range)")
    )
    for name, glibc in MATRIX:
        if name == "ubuntu-16.04":
            results.add(SHA_B, HONEST, _obs(name, glibc, Outcome.SKIPPED, Cause.PYTHON, "no interpreter"))
        else:
            results.add(SHA_B, HONEST, _obs(name, glibc, Outcome.OK))
    results.add(SHA_C, PURE, _obs("debian-12", "2.36", Outcome.OK))
    results.add_error(SHA_C, PURE, "something went wrong once")
    results.add_unreadable("pm_broken-1.0-py3-none-any.whl", "not a valid zip file")
    return results


def _summary(results: Results) -> list[tuple[str, str, Kind, str | None, str]]:
    return [
        (r.sha256, r.file, r.verdict.kind, r.verdict.honest_tag, r.verdict.summary) for r in results.wheels()
    ]


# -- keyed by hash ----------------------------------------------------------------------------------


def test_same_wheel_at_two_paths_is_one_wheel() -> None:
    results = Results()
    results.add(SHA_A, f"job1/{HONEST}", _obs("ubuntu-16.04", "2.23", Outcome.OK))
    results.add(SHA_A, f"job2/{HONEST}", _obs("debian-13", "2.41", Outcome.OK))
    (wheel,) = results.wheels()
    assert wheel.sha256 == SHA_A
    assert wheel.file == f"job1/{HONEST}"  # the first path seen names it
    assert [o.distro for o in wheel.observations] == ["ubuntu-16.04", "debian-13"]
    assert wheel.verdict.kind is Kind.HONEST


def test_same_file_name_with_different_hashes_is_two_wheels() -> None:
    results = Results()
    results.add(SHA_A, HONEST, _obs("ubuntu-16.04", "2.23", Outcome.OK))
    results.add(SHA_B, HONEST, _obs("ubuntu-16.04", "2.23", Outcome.FAIL, Cause.GLIBC, "x"))
    kinds = {r.sha256: r.verdict.kind for r in results.wheels()}
    assert kinds == {SHA_A: Kind.HONEST, SHA_B: Kind.OVER_CLAIM}


def test_a_later_observation_of_a_distro_replaces_the_earlier() -> None:
    results = Results()
    results.add(SHA_A, HONEST, _obs("debian-12", "2.36", Outcome.FAIL, Cause.ERROR, "flaky"))
    results.add(SHA_A, HONEST, _obs("debian-12", "2.36", Outcome.OK))
    (wheel,) = results.wheels()
    assert [o.outcome for o in wheel.observations] == [Outcome.OK]


def test_observations_follow_the_matrix_order() -> None:
    results = Results(order=["debian-13", "ubuntu-16.04"])
    results.add(SHA_A, HONEST, _obs("ubuntu-16.04", "2.23", Outcome.OK))
    results.add(SHA_A, HONEST, _obs("debian-13", "2.41", Outcome.OK))
    results.add(SHA_A, HONEST, _obs("debian-12", "2.36", Outcome.OK))
    (wheel,) = results.wheels()
    assert [o.distro for o in wheel.observations] == ["debian-13", "ubuntu-16.04", "debian-12"]


def test_empty_results_are_falsy() -> None:
    results = Results()
    assert not results
    results.add_unreadable("x.whl", "bad")
    assert results


def test_errors_are_kept_once() -> None:
    results = Results()
    results.add_error(SHA_A, HONEST, "boom")
    results.add_error(SHA_A, HONEST, "boom")
    (wheel,) = results.wheels()
    assert wheel.errors == ("boom",)
    assert wheel.verdict.kind is Kind.UNTESTABLE


def test_verdict_counts() -> None:
    assert verdict_counts(_results().wheels()) == {Kind.OVER_CLAIM: 1, Kind.HONEST: 1, Kind.NO_CLAIM: 1}


# -- JSON out -----------------------------------------------------------------------------------------


def test_to_json_shape() -> None:
    results = _results()
    document = json.loads(dumps(results))
    assert document["schema"] == SCHEMA
    assert document["tool"]["name"] == "pytest-manylinux"
    assert document["unreadable"] == [
        {"file": "pm_broken-1.0-py3-none-any.whl", "errors": ["not a valid zip file"]}
    ]
    wheels = {w["sha256"]: w for w in document["wheels"]}

    glibc_new = wheels[SHA_A]
    assert glibc_new["file"] == f"dist/{GLIBC_NEW}"
    assert glibc_new["claim"]["tag"] == "manylinux2014_x86_64"
    assert glibc_new["claim"]["libc"] == "glibc"
    assert glibc_new["claim"]["version"] == "2.17"
    assert glibc_new["verdict"] == "over-claim"
    assert glibc_new["lowest_working"] == {"distro": "ubuntu-22.04", "libc_version": "2.35"}
    assert glibc_new["honest_tag"] == "manylinux_2_34_x86_64"
    assert glibc_new["predicted"]["floor"] == "2.34"
    assert [d["name"] for d in glibc_new["distros"]] == [name for name, _ in MATRIX]
    first = glibc_new["distros"][0]
    assert first["name"] == "ubuntu-16.04"
    assert first["image"] == "ubuntu:16.04"
    assert first["libc_version"] == "2.23"
    assert first["outcome"] == "fail"
    assert first["cause"] == "glibc"
    assert first["detail"] == _GLIBC_234
    assert glibc_new["distros"][-1]["outcome"] == "ok"
    assert glibc_new["distros"][-1]["cause"] is None

    honest = wheels[SHA_B]
    assert honest["verdict"] == "honest"
    assert honest["distros"][0]["outcome"] == "skipped"
    assert honest["distros"][0]["cause"] == "python"

    pure = wheels[SHA_C]
    assert pure["claim"] == {"tag": "any", "kind": "pure", "libc": None, "version": None, "arch": None}
    assert pure["verdict"] == "no-claim"
    assert pure["errors"] == ["something went wrong once"]

    for wheel in document["wheels"]:
        for distro in wheel["distros"]:
            assert distro["outcome"] in ("ok", "fail", "skipped")
            assert {"name", "image", "libc_version", "outcome", "cause", "detail"} <= set(distro)


def test_lowest_working_is_null_when_nothing_works() -> None:
    results = Results()
    results.add(SHA_A, GLIBC_NEW, _obs("ubuntu-16.04", "2.23", Outcome.FAIL, Cause.GLIBC, _GLIBC_234))
    (wheel,) = to_json(results.wheels())["wheels"]
    assert wheel["lowest_working"] is None
    assert wheel["verdict"] == "over-claim"


# -- JSON in ------------------------------------------------------------------------------------------


def test_load_json_round_trip() -> None:
    original = _results()
    document = json.loads(dumps(original))
    loaded = Results()
    loaded.load_json(document, "results.json")
    assert _summary(loaded) == _summary(original)
    assert [r.observations for r in loaded.wheels()] == [r.observations for r in original.wheels()]
    assert [r.errors for r in loaded.wheels()] == [r.errors for r in original.wheels()]
    assert loaded.unreadable == original.unreadable
    assert json.loads(dumps(loaded))["wheels"] == document["wheels"]


def test_load_json_merges_jobs_by_hash() -> None:
    # Two CI jobs ran halves of the matrix on the same wheel, downloaded to different paths.
    first, second = Results(), Results()
    observations = _glibc_new_observations()
    for o in observations[:4]:
        first.add(SHA_A, f"job1/{GLIBC_NEW}", o)
    for o in observations[4:]:
        second.add(SHA_A, f"job2/{GLIBC_NEW}", o)
    merged = Results()
    merged.load_json(json.loads(dumps(first)), "job1.json")
    merged.load_json(json.loads(dumps(second)), "job2.json")
    (wheel,) = merged.wheels()
    assert len(wheel.observations) == 8
    assert wheel.verdict.kind is Kind.OVER_CLAIM
    assert wheel.verdict.lowest_working is not None
    assert wheel.verdict.lowest_working.distro == "ubuntu-22.04"


def _document(**wheel: Any) -> dict[str, Any]:
    entry = {"file": HONEST, "sha256": SHA_A, "distros": []}
    entry.update(wheel)
    return {"schema": SCHEMA, "wheels": [entry]}


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ([], "not a pytest-manylinux results file"),
        ({"schema": SCHEMA}, "not a pytest-manylinux results file"),
        ({"schema": SCHEMA, "wheels": {}}, "not a pytest-manylinux results file"),
        ({"wheels": []}, "schema None is not 'pytest-manylinux/1'"),
        ({"schema": "pytest-manylinux/0", "wheels": []}, "schema 'pytest-manylinux/0' is not"),
    ],
    ids=["not-an-object", "no-wheels", "wheels-not-a-list", "no-schema", "other-schema"],
)
def test_load_json_wrong_document(document: Any, says: str) -> None:
    with pytest.raises(ResultsError) as excinfo:
        Results().load_json(document, "ci/linux.json")
    assert str(excinfo.value).startswith("ci/linux.json: ")
    assert says in str(excinfo.value)


@pytest.mark.parametrize(
    "document",
    [
        {"schema": SCHEMA, "wheels": [{"file": HONEST}]},
        {"schema": SCHEMA, "wheels": ["pm_x-1.0-py3-none-any.whl"]},
        _document(file="not-a-wheel.zip"),
        _document(distros=[{"image": "x", "outcome": "ok"}]),
        _document(distros=[{"name": "debian-12", "outcome": "maybe"}]),
        _document(distros=[{"name": "debian-12", "outcome": "fail", "cause": "gremlins"}]),
        _document(distros=[{"name": "debian-12", "outcome": "ok", "libc_version": "new"}]),
        _document(distros=[{"name": "debian-12", "outcome": "ok", "findings": [{"check": "load"}]}]),
        _document(distros=["debian-12"]),
        _document(distros=[{"name": "debian-12", "outcome": "ok", "seconds": "fast"}]),
        _document(predicted={"floor": "soon"}),
        _document(predicted="2.17"),
    ],
    ids=[
        "no-sha256",
        "wheel-not-an-object",
        "bad-file-name",
        "distro-without-name",
        "bad-outcome",
        "bad-cause",
        "bad-libc-version",
        "bad-finding",
        "distro-not-an-object",
        "bad-seconds",
        "bad-predicted-floor",
        "predicted-not-an-object",
    ],
)
def test_load_json_malformed_wheel_names_source_and_entry(document: dict[str, Any]) -> None:
    with pytest.raises(ResultsError) as excinfo:
        Results().load_json(document, "ci/linux.json")
    assert str(excinfo.value).startswith("ci/linux.json: wheels[0] is malformed")


@pytest.mark.parametrize(
    "unreadable",
    [
        ["pm_x-1.0-py3-none-any.whl"],
        {"pm_x-1.0-py3-none-any.whl": ["bad"]},
        [{"file": "x.whl", "errors": "bad"}],
    ],
    ids=["entry-not-an-object", "not-a-list", "errors-not-a-list"],
)
def test_load_json_malformed_unreadable_names_source(unreadable: Any) -> None:
    document = {"schema": SCHEMA, "wheels": [], "unreadable": unreadable}
    with pytest.raises(ResultsError) as excinfo:
        Results().load_json(document, "ci/linux.json")
    assert str(excinfo.value).startswith("ci/linux.json: ")
    assert "unreadable" in str(excinfo.value)


# -- terminal -----------------------------------------------------------------------------------------


def test_terminal_lines_verbose_has_a_row_per_distro() -> None:
    results = _results()
    lines = terminal_lines(results.wheels(), unreadable=results.unreadable, verbose=True)
    text = "\n".join(lines)
    assert lines[:2] == ["pm_broken-1.0-py3-none-any.whl  UNREADABLE", "  not a valid zip file"]
    assert f"dist/{GLIBC_NEW}  claims glibc 2.17 (manylinux2014_x86_64)" in lines
    # one row per distro per wheel: glibc_new and honest ran the whole matrix, pure only debian-12
    for name, _ in MATRIX:
        rows = [line for line in lines if line.split()[:1] == [name]]
        assert len(rows) == (3 if name == "debian-12" else 2), name
    glibc_new_rows = lines[lines.index(f"dist/{GLIBC_NEW}  claims glibc 2.17 (manylinux2014_x86_64)") :]
    row_1604 = next(line for line in glibc_new_rows if line.split()[0] == "ubuntu-16.04")
    assert row_1604.split()[:4] == ["ubuntu-16.04", "glibc", "2.23", "FAIL"]
    assert "glibc: import pm_glibc_new._core: libc.so.6 lacks GLIBC_2.34" in row_1604
    row_2204 = next(line for line in glibc_new_rows if line.split()[0] == "ubuntu-22.04")
    assert row_2204.split() == ["ubuntu-22.04", "glibc", "2.35", "ok", "3.x", "distro"]
    assert any(
        line.startswith(
            "  verdict: OVER-CLAIM: manylinux2014_x86_64 promises glibc 2.17 but it fails on ubuntu-16.04"
        )
        for line in lines
    )
    assert "  disagreement: " not in text
    honest_rows = lines[lines.index(f"{HONEST}  claims glibc 2.17 (manylinux2014_x86_64)") :]
    skipped = next(line for line in honest_rows if line.split()[0] == "ubuntu-16.04")
    assert skipped.split()[:7] == ["ubuntu-16.04", "glibc", "2.23", "skip", "3.x", "distro", "python:"]
    assert f"{PURE}  (any: no claim)" in lines
    assert "  ERROR something went wrong once" in lines
    assert "  verdict: NO CLAIM: " + PURE + " is a pure wheel (any): it makes no platform claim" in text


def test_terminal_lines_group_distros_that_fared_alike() -> None:
    results = _results()
    lines = terminal_lines(results.wheels(), unreadable=results.unreadable)
    start = lines.index(f"dist/{GLIBC_NEW}  claims glibc 2.17 (manylinux2014_x86_64)")
    assert lines[start + 1].split() == ["distro", "libc", "outcome", "python", "cause:", "detail"]
    failing, working = lines[start + 2], lines[start + 3]
    assert failing.startswith(
        "  ubuntu-16.04 … debian-11  glibc 2.23–2.31 FAIL    3.x distro glibc: import pm_glibc_new._core"
    )
    assert working.split() == ["ubuntu-22.04", "…", "debian-13", "glibc", "2.35–2.41", "ok", "3.x", "distro"]
    assert lines[start + 4].startswith("  verdict: OVER-CLAIM")
    # a distro that fared differently breaks the run: the honest wheel's skipped ubuntu-16.04 stands alone
    honest = lines[lines.index(f"{HONEST}  claims glibc 2.17 (manylinux2014_x86_64)") :]
    assert honest[2].split()[:7] == ["ubuntu-16.04", "glibc", "2.23", "skip", "3.x", "distro", "python:"]
    assert honest[3].split() == [
        "ubuntu-18.04",
        "…",
        "debian-13",
        "glibc",
        "2.27–2.41",
        "ok",
        "3.x",
        "distro",
    ]


def test_markdown_is_a_matrix_with_the_lowest_working_distro_in_bold() -> None:
    results = _results()
    text = markdown(results.wheels(), results.unreadable)
    lines = text.splitlines()
    assert lines[0] == "### pytest-manylinux"
    header = next(line for line in lines if line.startswith("| wheel"))
    assert header == (
        "| wheel | claim | " + " | ".join(f"{name}<br>{glibc}" for name, glibc in MATRIX) + " | verdict |"
    )
    row = next(line for line in lines if line.startswith(f"| `dist/{GLIBC_NEW}`"))
    cells = [c.strip() for c in row.strip("|").split(" | ")]
    assert cells[1] == "2.17"
    assert cells[2:6] == ["❌ glibc"] * 4
    assert cells[6:10] == ["**✅**", "✅", "✅", "✅"]
    assert cells[10] == "**over-claim**<br>honest: `manylinux_2_34_x86_64`"
    pure = next(line for line in lines if line.startswith(f"| `{PURE}`"))
    assert pure.count("|") == len(header.split(" | ")) + 1  # the same number of columns, blanks where not run
    assert f"<details><summary><code>dist/{GLIBC_NEW}</code>: OVER-CLAIM" in text
    assert (
        "- ubuntu-16.04 (glibc 2.23): fail glibc: import pm_glibc_new._core: libc.so.6 lacks GLIBC_2.34"
        in text
    )
    assert "- `pm_broken-1.0-py3-none-any.whl` **unreadable**: not a valid zip file" in text


def test_markdown_greys_expected_failures_and_escapes_cells() -> None:
    results = Results()
    name = "pm_x-1.0-cp35-abi3-manylinux_2_34_x86_64.whl"
    results.add(SHA_A, name, _obs("ubuntu-16.04", "2.23", Outcome.FAIL, Cause.GLIBC, "a | b <c>"))
    results.add(SHA_A, name, _obs("ubuntu-22.04", "2.35", Outcome.OK))
    text = markdown(results.wheels())
    row = next(line for line in text.splitlines() if line.startswith(f"| `{name}`"))
    assert "| ⚪ glibc | **✅** |" in row
    assert "fail glibc: a \\| b &lt;c>" in text


def test_run_failed_matches_a_pytest_run() -> None:
    results = _results()
    assert run_failed(results.wheels(), {}, strict=False)  # glibc_new over-claims
    honest = Results()
    honest.add(SHA_A, HONEST, _obs("ubuntu-16.04", "2.23", Outcome.OK))
    assert not run_failed(honest.wheels(), {}, strict=False)
    assert run_failed(honest.wheels(), {"x.whl": ["bad"]}, strict=False)
    under = Results()
    under.add(SHA_A, "pm_x-1.0-cp35-abi3-manylinux_2_34_x86_64.whl", _obs("ubuntu-16.04", "2.23", Outcome.OK))
    assert not run_failed(under.wheels(), {}, strict=False)
    assert run_failed(under.wheels(), {}, strict=True)
    broken = Results()
    broken.add(SHA_A, HONEST, _obs("ubuntu-16.04", "2.23", Outcome.SKIPPED, Cause.IMAGE, "cannot build"))
    assert run_failed(broken.wheels(), {}, strict=False)


@pytest.mark.parametrize(
    ("interpreter", "column"),
    [
        ("/usr/bin/python3 (3.5.2, distro)", "3.5.2 distro"),
        (
            "/opt/pytest-manylinux/python/0123456789ab/python/bin/python3.11 (3.11.2, portable)",
            "3.11.2 portable",
        ),
        ("/opt/python/cp313-cp313/bin/python (3.13.1, image)", "3.13.1 image"),
        ("", "-"),
    ],
    ids=["distro", "portable", "image", "none"],
)
def test_terminal_says_which_interpreter_ran_each_check(interpreter: str, column: str) -> None:
    results = Results()
    observation = Observation(
        "debian-12",
        "img",
        Outcome.OK,
        libc=Libc.GLIBC,
        libc_version=LibcVersion(2, 36),
        interpreter=interpreter,
    )
    results.add(SHA_A, HONEST, observation)
    lines = terminal_lines(results.wheels())
    assert lines[1].split()[:5] == ["distro", "libc", "outcome", "python", "cause:"]
    assert lines[2] == f"  debian-12  glibc 2.36  ok      {column}".rstrip()


def test_terminal_marks_failures_below_the_floor() -> None:
    results = Results()
    results.add(
        SHA_A,
        "pm_x-1.0-cp35-abi3-manylinux_2_34_x86_64.whl",
        _obs("ubuntu-16.04", "2.23", Outcome.FAIL, Cause.GLIBC, _GLIBC_234),
    )
    results.add(
        SHA_A, "pm_x-1.0-cp35-abi3-manylinux_2_34_x86_64.whl", _obs("ubuntu-22.04", "2.35", Outcome.OK)
    )
    lines = terminal_lines(results.wheels())
    row = next(line for line in lines if line.split()[:1] == ["ubuntu-16.04"])
    assert row.split()[3] == "FAIL*"
    assert lines[-1] == "  (* below the claimed floor: expected, not a broken promise)"
    assert any(line.startswith("  verdict: HONEST: manylinux_2_34_x86_64 holds") for line in lines)


def test_terminal_shows_disagreements() -> None:
    results = Results()
    results.add(SHA_A, HONEST, _obs("ubuntu-16.04", "2.23", Outcome.OK))
    results.add_prediction(SHA_A, HONEST, Prediction(LibcVersion(2, 34), reason="needs GLIBC_2.34"))
    lines = terminal_lines(results.wheels())
    assert any(
        line.startswith(
            "  disagreement: predicted to need glibc 2.34 (needs GLIBC_2.34) but works on ubuntu-16.04"
        )
        for line in lines
    )
