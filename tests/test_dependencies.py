"""The wheelhouse: choosing dependency wheels per interpreter, and the plugin using them on real distros."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import wheelfactory
from conftest import run_plugin

from pytest_manylinux.core.dependencies import marker_environment, read_wheelhouse, resolve
from pytest_manylinux.core.observe import Interpreter
from pytest_manylinux.core.wheel import WheelInfo, read_wheel
from pytest_manylinux.errors import WheelError

PY35 = Interpreter("/usr/bin/python3", (3, 5, 2), abi="cp35m")
PY311 = Interpreter("/usr/bin/python3", (3, 11, 2), abi="cp311")


def _wheel(tmp_path: Path, project: str, **kwargs: object) -> WheelInfo:
    return read_wheel(wheelfactory.dependency_wheel(tmp_path, project, **kwargs))  # type: ignore[arg-type]


def _names(wheels: tuple[WheelInfo, ...]) -> list[str]:
    return [w.filename for w in wheels]


def test_a_requirement_is_met_by_a_pure_wheel(tmp_path: Path) -> None:
    app = _wheel(tmp_path / "app", "app", requires_dist=["dep>=1"])
    dep = _wheel(tmp_path / "house", "dep")
    resolution = resolve(app, [dep], PY35, "x86_64")
    assert _names(resolution.wheels) == ["dep-1.0-py3-none-any.whl"]
    assert resolution.unsatisfied == ()


def test_the_newest_wheel_the_interpreter_can_load_is_chosen(tmp_path: Path) -> None:
    app = _wheel(tmp_path / "app", "app", requires_dist=["dep"])
    house = [
        _wheel(tmp_path, "dep", version="1.0"),
        _wheel(tmp_path, "dep", version="2.0", tag="cp311-cp311-manylinux_2_17_x86_64"),
        _wheel(tmp_path, "dep", version="3.0", tag="cp311-cp311-manylinux_2_17_aarch64"),
    ]
    assert _names(resolve(app, house, PY311, "x86_64").wheels) == [
        "dep-2.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    ]
    assert _names(resolve(app, house, PY35, "x86_64").wheels) == ["dep-1.0-py3-none-any.whl"]


def test_a_binary_wheel_is_preferred_to_a_pure_one_of_the_same_version(tmp_path: Path) -> None:
    app = _wheel(tmp_path / "app", "app", requires_dist=["dep"])
    house = [_wheel(tmp_path, "dep"), _wheel(tmp_path, "dep", tag="cp35-abi3-manylinux1_x86_64")]
    assert _names(resolve(app, house, PY311, "x86_64").wheels) == ["dep-1.0-cp35-abi3-manylinux1_x86_64.whl"]


def test_specifier_and_tags_that_nothing_meets_are_explained(tmp_path: Path) -> None:
    app = _wheel(tmp_path / "app", "app", requires_dist=["dep>=2", "other"])
    house = [_wheel(tmp_path, "dep", version="2.0", tag="cp311-cp311-manylinux_2_17_x86_64")]
    resolution = resolve(app, house, PY35, "x86_64")
    assert resolution.wheels == ()
    assert resolution.unsatisfied == (
        "dep>=2: none of dep-2.0-cp311-cp311-manylinux_2_17_x86_64.whl fits cpython-3.5 (cp35m)",
        "other: no other wheel in the wheelhouse",
    )


def test_markers_are_evaluated_for_the_interpreter_that_judges(tmp_path: Path) -> None:
    app = _wheel(
        tmp_path / "app",
        "app",
        requires_dist=['backport; python_version < "3.7"', 'winonly; sys_platform == "win32"'],
    )
    house = [_wheel(tmp_path, "backport")]
    assert _names(resolve(app, house, PY35).wheels) == ["backport-1.0-py3-none-any.whl"]
    assert resolve(app, house, PY311).wheels == ()
    assert resolve(app, house, PY311).unsatisfied == ()


def test_dependencies_of_dependencies_and_extras_are_followed(tmp_path: Path) -> None:
    app = _wheel(tmp_path / "app", "app", requires_dist=["dep[fast]"])
    house = [
        _wheel(tmp_path, "dep", requires_dist=["leaf", 'speedup; extra == "fast"', 'slow; extra == "slow"']),
        _wheel(tmp_path, "leaf"),
        _wheel(tmp_path, "speedup", requires_dist=["app"]),  # a cycle back to the wheel under test
    ]
    resolution = resolve(app, house, PY311)
    assert sorted(_names(resolution.wheels)) == [
        "dep-1.0-py3-none-any.whl",
        "leaf-1.0-py3-none-any.whl",
        "speedup-1.0-py3-none-any.whl",
    ]
    assert resolution.unsatisfied == ()


def test_names_are_compared_normalized(tmp_path: Path) -> None:
    app = _wheel(tmp_path / "app", "app", requires_dist=["My.Dep"])
    house = [_wheel(tmp_path, "my_dep")]
    assert _names(resolve(app, house, PY311).wheels) == ["my_dep-1.0-py3-none-any.whl"]


def test_marker_environment_is_the_interpreters() -> None:
    environment = marker_environment(PY35, "aarch64")
    assert environment["python_version"] == "3.5"
    assert environment["python_full_version"] == "3.5.2"
    assert environment["platform_machine"] == "aarch64"
    assert environment["sys_platform"] == "linux"


def test_read_wheelhouse_reads_directories_and_reports_unreadable_wheels(tmp_path: Path) -> None:
    good = wheelfactory.dependency_wheel(tmp_path, "dep")
    wheelfactory.not_a_zip(tmp_path)
    wheels, errors = read_wheelhouse([tmp_path, good])
    assert _names(wheels) == ["dep-1.0-py3-none-any.whl", "dep-1.0-py3-none-any.whl"]
    assert len(errors) == 1
    assert "pm_not_a_zip-1.0-py3-none-any.whl" in errors[0]


def test_a_missing_wheelhouse_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(WheelError, match=r"wheelhouse '.*nowhere' is neither a directory nor a \.whl file"):
        read_wheelhouse([tmp_path / "nowhere"])


def test_the_option_rejects_a_missing_directory(pytester: pytest.Pytester, wheels: dict[str, Path]) -> None:
    result = pytester.runpytest(
        f"--manylinux-wheel={wheels['missing_dep']}", "--manylinux-wheelhouse=nowhere"
    )
    result.stderr.fnmatch_lines(["*--manylinux-wheelhouse 'nowhere': not a directory of wheels*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


# -- on the real engine ---------------------------------------------------------------------------

_DISTROS = ["--manylinux-distro=ubuntu-16.04", "--manylinux-distro=debian-12"]
_DEPENDENCY = "pm_not_installed_dependency"


def _run(tmp_path: Path, wheel: Path, house: Path) -> dict[str, dict[str, object]]:
    out = tmp_path / "results.json"
    proc = run_plugin(
        [
            f"--manylinux-wheel={wheel}",
            f"--manylinux-wheelhouse={house}",
            f"--manylinux-json={out}",
            *_DISTROS,
            "-q",
        ],
        cwd=tmp_path,
    )
    assert out.exists(), proc.stdout + proc.stderr
    (result,) = json.loads(out.read_text())["wheels"]
    assert result["file"] == wheel.name
    return {d["name"]: d for d in result["distros"]}


def test_a_wheelhouse_supplies_the_missing_dependency(
    engine: object, wheels: dict[str, Path], tmp_path: Path
) -> None:
    house = tmp_path / "house"
    wheelfactory.dependency_wheel(house, _DEPENDENCY)
    distros = _run(tmp_path, wheels["missing_dep"], house)
    for name in ("ubuntu-16.04", "debian-12"):
        assert (distros[name]["outcome"], distros[name]["cause"]) == ("ok", None), distros[name]
        assert distros[name]["notes"] == [
            f"dependencies from the wheelhouse: {_DEPENDENCY}-1.0-py3-none-any.whl"
        ]


def test_a_dependency_only_some_interpreters_can_load(
    engine: object, wheels: dict[str, Path], tmp_path: Path
) -> None:
    house = tmp_path / "house"
    wheelfactory.dependency_wheel(house, _DEPENDENCY, tag="cp311-cp311-linux_x86_64")
    distros = _run(tmp_path, wheels["missing_dep"], house)
    old, new = distros["ubuntu-16.04"], distros["debian-12"]
    # Its modules are set aside there; the loader still judged the extension: the distro is judged.
    assert (old["outcome"], old["cause"]) == ("ok", None)
    [note] = [n for n in old["notes"] if n.startswith("set aside: ")]
    assert note.endswith(
        f"the wheelhouse cannot satisfy pm-not-installed-dependency: none of "
        f"{_DEPENDENCY}-1.0-cp311-cp311-linux_x86_64.whl fits cpython-3.5 (cp35m)"
    )
    assert (new["outcome"], new["cause"]) == ("ok", None), new


def test_a_dependency_that_does_not_load_is_no_evidence_against_the_wheel(
    engine: object, wheels: dict[str, Path], tmp_path: Path
) -> None:
    # The dependency (compiled, needing GLIBC_2.34) is not held to the wheel's floor: on Ubuntu 16.04 its
    # loader error sets the wheel's modules aside; it is never the wheel's over-claim.
    house = tmp_path / "house"
    wheelfactory.build(wheelfactory.variant("glibc_new", "not_installed_dependency"), house)
    out = tmp_path / "results.json"
    proc = run_plugin(
        [
            f"--manylinux-wheel={wheels['missing_dep']}",
            f"--manylinux-wheelhouse={house}",
            f"--manylinux-json={out}",
            *_DISTROS,
            "-q",
        ],
        cwd=tmp_path,
    )
    assert out.exists(), proc.stdout + proc.stderr
    (result,) = json.loads(out.read_text())["wheels"]
    distros = {d["name"]: d for d in result["distros"]}
    old = distros["ubuntu-16.04"]
    assert (old["outcome"], old["cause"]) == ("ok", None), old
    [note] = [n for n in old["notes"] if n.startswith("set aside: ")]
    assert "a dependency does not load here: libc.so.6 lacks GLIBC_2.34" in note
    assert distros["debian-12"]["outcome"] == "ok"
    assert not [n for n in distros["debian-12"]["notes"] if n.startswith("set aside: ")]
    assert result["verdict"] == "honest", result["summary"]
    assert proc.returncode == 0, proc.stdout
