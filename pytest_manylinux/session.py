"""The state of one pytest session's manylinux run, registered as a plugin object (as xdist does).

It turns options into wheels and distros, adds the items at collection (no engine calls), starts
the engine and the matrix when the first test is about to run, gathers observations from reports
(its own, or xdist workers'), and writes the summary and the JSON once, on the controller.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .distros import Distro, DistrosFile, PythonConfig, load_distros_file, select
from .errors import EngineError, ManylinuxError, WheelError
from .items import PROPERTY, DistroItem, VerdictItem, WheelCollector
from .observe import Observation
from .report import Results, dumps, terminal_lines
from .tags import Claim, read_claim
from .verdict import Prediction, Verdict

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Engine
    from .runner import Matrix
    from .wheel import WheelInfo


def expand_wheels(patterns: list[str]) -> list[Path]:
    """Paths from --manylinux-wheel values: files, globs, or directories of wheels."""
    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            matches = sorted(str(p) for p in path.glob("*.whl"))
            if not matches:
                raise pytest.UsageError(f"--manylinux-wheel {pattern!r}: the directory has no *.whl files")
        elif glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern))
            if not matches:
                raise pytest.UsageError(f"--manylinux-wheel {pattern!r}: the pattern matches no file")
        elif path.exists():
            matches = [pattern]
        else:
            raise pytest.UsageError(f"--manylinux-wheel {pattern!r}: no such file")
        for m in matches:
            p = Path(m).resolve()
            if p not in found:
                found.append(p)
    names = [p.name for p in found]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise pytest.UsageError(f"--manylinux-wheel: two different files are named {dupes[0]!r}; give one of them")
    return found


@dataclass(eq=False)  # a plugin object: pluggy keeps it in sets, so identity-hashed
class ManylinuxRun:
    """The manylinux side of a pytest session."""

    config: pytest.Config
    wheels: list[Path]
    distros: tuple[Distro, ...]
    static_only: bool = False
    strict: bool = False
    json_path: Path | None = None
    timeout: float = 60.0
    jobs: int = 2
    #: where interpreters come from ([python] of distros.toml, plus --manylinux-python-source)
    python: PythonConfig = field(default_factory=PythonConfig)
    #: where a portable CPython is built from source
    build_distro: Distro | None = None
    results: Results = field(default_factory=Results)
    _infos: dict[Path, Any] = field(default_factory=dict)
    _engine: Engine | None = None
    _matrix: Matrix | None = None
    _workdir: Path | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _engine_error: str | None = None

    @classmethod
    def from_config(cls, config: pytest.Config, matrix: DistrosFile) -> ManylinuxRun:
        from .portable import with_local_sources

        patterns = [p for group in config.getoption("manylinux_wheel") or [] for p in group]
        wheels = expand_wheels(patterns)
        sources = [str(p) for p in config.getini("manylinux_python_sources") or []]
        sources += config.getoption("manylinux_python_source") or []
        try:
            distros = select(matrix.distros, config.getoption("manylinux_distro") or [])
            python = with_local_sources(matrix.python, sources)
        except ManylinuxError as e:
            raise pytest.UsageError(str(e)) from e
        json_path = config.getoption("manylinux_json")
        option = config.getoption("manylinux_timeout")
        timeout = float(option if option is not None else (config.getini("manylinux_timeout") or 60))
        if timeout <= 0:
            raise pytest.UsageError(f"--manylinux-timeout {timeout!r}: must be a positive number of seconds")
        jobs = config.getoption("manylinux_jobs") or int(config.getini("manylinux_jobs") or 0) or (os.cpu_count() or 2)
        if jobs < 1:
            raise pytest.UsageError(f"--manylinux-jobs {jobs!r}: must be at least 1")
        return cls(
            config=config,
            wheels=wheels,
            distros=distros,
            static_only=bool(config.getoption("manylinux_static_only")),
            strict=bool(config.getoption("manylinux_strict")),
            json_path=Path(json_path) if json_path else None,
            timeout=timeout,
            jobs=jobs,
            python=python,
            build_distro=matrix.build_distro,
        )

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    # -- collection ---------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        # tryfirst: the items must be there before -k/-m deselection and --lf filtering see the list.
        for path in self.wheels:
            claim: Claim | None = None
            error = None
            try:
                claim = read_claim(path.name)
            except WheelError as e:
                error = str(e)
            collector = WheelCollector.from_parent(session, name=path.name, nodeid=path.name, path=path)
            collector.run = self
            collector.wheel_path = path
            collector.claim = claim
            collector.error = error
            # Through genitems, as pytest collects its own nodes: the collect report is sent, so the
            # terminal counts these items and --collect-only shows them like any others.
            items.extend(session.genitems(collector))

    # -- running ------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        if session.config.option.collectonly:
            return
        selected = [i for i in session.items if isinstance(i, DistroItem) and i.run is self]
        if not selected or self.static_only:
            return
        self._start()
        assert self._matrix is not None
        work = []
        for item in selected:
            try:
                work.append((self.wheel_info(item.wheel_path), item.distro))
            except WheelError:
                continue  # the item reports it
        self._matrix.submit(work)

    def _start(self) -> None:
        from .engine import Engine
        from .portable import Provider
        from .runner import Matrix, RunConfig

        try:
            engine = Engine.connect()
            engine.reap()
        except EngineError as e:
            raise pytest.UsageError(str(e)) from e
        self._engine = engine
        self._workdir = Path(tempfile.mkdtemp(prefix="pytest-manylinux-"))
        portables = Provider(self.python, engine, self.build_distro, self._progress)
        self._matrix = Matrix(
            engine,
            RunConfig(timeout=self.timeout, python=self.python),
            self._workdir,
            self._progress,
            jobs=self.jobs,
            portables=portables,
        )

    def _progress(self, message: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        with self._lock:
            if reporter is None:
                return
            # Progress arrives while an item waits in its call phase, with output captured: shown
            # past the capture, as pytest's live logging does, or an image or CPython build is silent.
            suspended = capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext()
            with suspended:
                reporter.write_line(f"[manylinux] {message}")

    def wheel_info(self, path: Path) -> WheelInfo:
        """The wheel read and validated once per session (or the error it raised, again)."""
        from .wheel import read_wheel

        with self._lock:
            known = self._infos.get(path)
        if known is None:
            try:
                known = read_wheel(path)
            except WheelError as e:
                known = e
            with self._lock:
                self._infos[path] = known
        if isinstance(known, WheelError):
            raise known
        return known  # type: ignore[no-any-return]

    def observe(self, path: Path, distro: Distro) -> Observation:
        wheel = self.wheel_info(path)
        if self._matrix is None:
            self._start()
        assert self._matrix is not None
        return self._matrix.observation(wheel, distro)

    def prediction(self, wheel: WheelInfo) -> Prediction | None:
        from .static import predict

        return predict(wheel)

    def verdict(self, path: Path, item: VerdictItem) -> Verdict:
        """Judge one wheel from this session's observations of it (every selected distro)."""
        from .verdict import judge

        try:
            wheel = self.wheel_info(path)
        except WheelError as e:
            item.user_properties.append((PROPERTY, json.dumps({"error": {"file": path.name, "message": str(e)}})))
            raise
        observations = []
        for other in item.session.items:
            if isinstance(other, DistroItem) and other.wheel_path == path:
                try:
                    observations.append(self.observe(path, other.distro))
                except ManylinuxError:
                    continue
        prediction = self.prediction(wheel)
        payload: dict[str, Any] = {"wheel": {"file": wheel.filename, "sha256": wheel.sha256}}
        if prediction is not None:
            payload["prediction"] = _prediction_json(prediction)
        item.user_properties.append((PROPERTY, json.dumps(payload)))
        return judge(wheel.claim, observations, prediction)

    # -- gathering results (here, or on the xdist controller) ---------------------------------

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
            return
        for name, value in report.user_properties:
            if name != PROPERTY:
                continue
            data = json.loads(value)
            if "error" in data:
                self.results.add_unreadable(data["error"]["file"], data["error"]["message"])
                continue
            wheel = data.get("wheel") or {}
            sha, file = wheel.get("sha256"), wheel.get("file")
            if sha:
                self.results.add_wheel(sha, file)
            if "observation" in data and sha:
                self.results.add(sha, file, Observation.from_json(data["observation"]))
            if "prediction" in data and sha:
                from .report import prediction_from_json

                self.results.add_prediction(sha, file, prediction_from_json(data["prediction"]))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker or not self.results:
            return
        self._order_results()
        terminalreporter.section("manylinux")
        width = getattr(terminalreporter, "_tw", None)
        columns = width.fullwidth if width is not None else 120
        for line in terminal_lines(self.results.wheels(), width=columns, unreadable=self.results.unreadable):
            terminalreporter.write_line(line)

    def _order_results(self) -> None:
        for d in self.distros:
            if d.name not in self.results.order:
                self.results.order.append(d.name)
        names = [d.name for d in self.distros]
        self.results.order.sort(key=lambda n: names.index(n) if n in names else len(names))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self._matrix is not None:
            self._matrix.close()
        if self._engine is not None:
            self._engine.close()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        if self.is_worker or self.json_path is None:
            return
        self._order_results()
        target = self.json_path
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written to a temporary file and renamed: a reader never sees half a report.
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        tmp.write_text(dumps(self.results))
        tmp.replace(target)


def _prediction_json(p: Prediction) -> dict[str, Any]:
    return {"floor": str(p.floor) if p.floor else None, "reason": p.reason, "weak": list(p.weak), "problems": list(p.problems)}


def load_matrix(config: pytest.Config) -> DistrosFile:
    path = config.getoption("manylinux_distros_file") or config.getini("manylinux_distros_file") or None
    if path and not os.path.isabs(str(path)) and not config.getoption("manylinux_distros_file"):
        path = str(Path(str(config.rootpath)) / str(path))
    try:
        return load_distros_file(path)
    except ManylinuxError as e:
        raise pytest.UsageError(str(e)) from e
