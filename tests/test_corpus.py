"""The real-wheel corpus (tests/data/corpus.toml) through the plugin, as a user runs it: every verdict must
be the one the corpus expects, in a full run on the default matrix (the tests that take the ``full_run``
fixture need the engine, and are marked so by conftest) and with ``--manylinux-static-only``.

The wheels are published PyPI wheels pinned by sha256 (tests/realwheels.py fetches them; ``.ci/run`` does
it before the tests). A wrong verdict here is a bug in the rules (core/observe.py, core/verdict.py,
core/static.py), to be fixed there with a factory wheel for the rule, never by changing the expectation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import realwheels
from conftest import start_plugin

from pytest_manylinux.core.distros import load_distros

pytestmark = pytest.mark.corpus

CORPUS = realwheels.load_corpus()
DISTROS = load_distros()
IDS = [w.file.split("-")[0] + "-" + w.version for w in CORPUS.wheels]


@dataclass(frozen=True)
class CorpusRun:
    """One run of the plugin over the whole corpus, with its wheelhouse."""

    returncode: int
    output: str
    document: dict[str, Any]

    def wheel(self, file: str) -> dict[str, Any]:
        for w in self.document["wheels"]:
            if w["file"] == file:
                return w  # type: ignore[no-any-return]
        raise AssertionError(f"{file} is not in the results:\n{self.output[-3000:]}")


def _stage(into: Path, wheels: tuple[realwheels.CorpusWheel, ...] | None = None) -> tuple[Path, Path]:
    """Corpus wheels and their wheelhouse, fetched into the cache (a no-op once there) and staged."""
    try:
        return realwheels.stage(CORPUS, into, wheels=wheels)
    except realwheels.CorpusError as e:
        pytest.fail(f"the corpus cannot be fetched (python tests/realwheels.py): {e}", pytrace=False)


@pytest.fixture(scope="session")
def corpus_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Every corpus wheel and the wheelhouse, staged."""
    return _stage(tmp_path_factory.mktemp("corpus"))


def _run(dirs: tuple[Path, Path], work: Path, *extra: str, env: dict[str, str] | None = None) -> CorpusRun:
    wheels, wheelhouse = dirs
    out = work / "results.json"
    args = [
        f"--manylinux-wheel={wheels}",
        f"--manylinux-wheelhouse={wheelhouse}",
        "--manylinux-json",
        str(out),
    ]
    proc = start_plugin([*args, *extra, "-q", "-rfEs"], cwd=work, env=env)
    # The full run takes minutes on an idle machine, far more on a busy one.
    stdout, stderr = proc.communicate(timeout=3600)
    output = stdout + stderr
    assert out.exists(), f"no JSON written; pytest said:\n{output[-5000:]}"
    return CorpusRun(proc.returncode, output, json.loads(out.read_text()))


@pytest.fixture(scope="session")
def full_run(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> CorpusRun:
    """The full run, as one: the wheels that give a timeout of their own (modules that hang by design)
    run apart with it, the others together with the default; the documents are joined."""
    runs = []
    for timeout, wheels in CORPUS.runs().items():
        work = tmp_path_factory.mktemp("corpus-full")
        # Modules that hang by design wait rather than compute: every distro at once.
        extra = (
            ()
            if timeout is None
            else (f"--manylinux-timeout={timeout:g}", f"--manylinux-jobs={len(DISTROS)}")
        )
        runs.append(_run(_stage(work / "in", wheels), work, *extra))
    document = dict(runs[0].document)
    document["wheels"] = [w for run in runs for w in run.document["wheels"]]
    return CorpusRun(max(run.returncode for run in runs), "\n".join(run.output for run in runs), document)


@pytest.fixture(scope="session")
def static_run(corpus_dirs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> CorpusRun:
    # No engine may be reached: static analysis alone decides.
    env = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    return _run(corpus_dirs, tmp_path_factory.mktemp("corpus-static"), "--manylinux-static-only", env=env)


def _explain(wheel: realwheels.CorpusWheel, expected: str, got: dict[str, Any]) -> str:
    lines = [f"{wheel.file}: expected {expected}, because: {wheel.reason}", f"got: {got['summary']}"]
    lines += [
        f"  {d['name']}: {d['outcome']} {d.get('cause') or ''} {d.get('detail') or ''}"
        for d in got["distros"]
    ]
    return "\n".join(lines)


@pytest.mark.parametrize("wheel", CORPUS.wheels, ids=IDS)
def test_full_run_verdict(full_run: CorpusRun, wheel: realwheels.CorpusWheel) -> None:
    got = full_run.wheel(wheel.file)
    assert got["verdict"] == wheel.verdict, _explain(wheel, wheel.verdict, got)


@pytest.mark.parametrize("wheel", CORPUS.wheels, ids=IDS)
def test_static_only_verdict(static_run: CorpusRun, wheel: realwheels.CorpusWheel) -> None:
    got = static_run.wheel(wheel.file)
    assert got["verdict"] == wheel.static_verdict, _explain(wheel, wheel.static_verdict, got)


def test_full_run_score_and_exit_status(full_run: CorpusRun) -> None:
    score = realwheels.score(CORPUS, full_run.document)
    print(score.describe())
    assert (score.false_alarms, score.missed, score.wrong) == ((), (), ()), score.describe()
    assert score.right == len(CORPUS.wheels)
    # The corpus holds over-claims: the run fails, as it would for a user.
    assert full_run.returncode == pytest.ExitCode.TESTS_FAILED, full_run.output[-3000:]


def test_static_only_score(static_run: CorpusRun) -> None:
    score = realwheels.score(CORPUS, static_run.document, static=True)
    print(score.describe())
    assert score.right == len(CORPUS.wheels), score.describe()
