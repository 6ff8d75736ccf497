"""The state of one pytest session's manylinux run, registered as a plugin object (as xdist does).

It turns options into wheels and distros, adds the items at collection (no engine calls), starts
the engine and the matrix when the first test is about to run, gathers observations from reports
(its own, or xdist workers'), and writes the summary and the JSON once, on the controller.
"""

from __future__ import annotations

import contextlib
import fnmatch
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

from .core.distros import Distro, DistrosFile, PythonConfig, load_distros_file, select
from .core.observe import Observation
from .core.tags import Claim, read_claim
from .core.verdict import Prediction, Verdict
from .errors import EngineError, ManylinuxError, NotRunnable, WheelError
from .items import PROPERTY, DistroItem, VerdictItem, WheelCollector
from .outputs import append_step_summary, write_atomically
from .report import Results, dumps, markdown, terminal_lines

if TYPE_CHECKING:  # pragma: no cover
    from .core.wheel import WheelInfo
    from .engine.docker import Engine
    from .engine.environment import Environment
    from .engine.runner import Matrix


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
        raise pytest.UsageError(
            f"--manylinux-wheel: two different files are named {dupes[0]!r}; give one of them"
        )
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
    markdown_path: Path | None = None
    timeout: float = 60.0
    #: each distro container's memory limit, in the engine's notation
    memory: str = "2g"
    jobs: int = 2
    #: directories (or files) of dependency wheels
    wheelhouse: tuple[Path, ...] = ()
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
    _environments: dict[str, Environment] = field(default_factory=dict)
    #: the distros each wheel is checked on in this session (its selected distro items)
    _selected: dict[Path, list[Distro]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: pytest.Config, matrix: DistrosFile) -> ManylinuxRun:
        from .engine.portable import with_local_sources

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
        markdown_path = config.getoption("manylinux_markdown")
        option = config.getoption("manylinux_timeout")
        timeout = float(option if option is not None else (config.getini("manylinux_timeout") or 60))
        if timeout <= 0:
            raise pytest.UsageError(f"--manylinux-timeout {timeout!r}: must be a positive number of seconds")
        memory = str(config.getoption("manylinux_memory") or config.getini("manylinux_memory") or "2g")
        from .engine.docker import memory_bytes

        try:
            memory_bytes(memory)
        except ValueError as e:
            raise pytest.UsageError(f"--manylinux-memory: {e}") from e
        jobs = _jobs(config.getoption("manylinux_jobs"), str(config.getini("manylinux_jobs") or ""))
        if jobs < 1:
            raise pytest.UsageError(f"--manylinux-jobs {jobs!r}: must be at least 1")
        wheelhouse = [Path(p) for p in config.getoption("manylinux_wheelhouse") or []]
        wheelhouse += [Path(p) for p in config.getini("manylinux_wheelhouse")]
        for path in wheelhouse:
            if not path.is_dir() and not (path.is_file() and path.suffix == ".whl"):
                raise pytest.UsageError(
                    f"--manylinux-wheelhouse {str(path)!r}: not a directory of wheels (nor a .whl file)"
                )
        return cls(
            wheelhouse=tuple(wheelhouse),
            config=config,
            wheels=wheels,
            distros=distros,
            static_only=bool(config.getoption("manylinux_static_only")),
            strict=bool(config.getoption("manylinux_strict")),
            json_path=Path(json_path) if json_path else None,
            markdown_path=Path(markdown_path) if markdown_path else None,
            timeout=timeout,
            memory=memory,
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
        for item in selected:
            self._selected.setdefault(item.wheel_path, []).append(item.distro)
        if not selected or self.static_only:
            return
        self._start()
        assert self._matrix is not None
        if self.is_worker:
            # An xdist worker is sent its items a few at a time and collected them all: scheduling every
            # collected check here would run the whole matrix on every worker. Its items schedule their
            # own checks as they run (Matrix.observation).
            return
        work = []
        for item in selected:
            try:
                work.append((self.wheel_info(item.wheel_path), item.distro))
            except WheelError:
                continue  # the item reports it
        self._matrix.submit(work)

    def _start(self) -> None:
        from .engine.docker import Engine, Limits
        from .engine.portable import Provider
        from .engine.runner import Matrix, RunConfig

        try:
            engine = Engine.connect()
            engine.reap()
        except EngineError as e:
            raise pytest.UsageError(str(e)) from e
        engine.notify = self._progress  # what the engine cannot do (an init, a limit), said once
        self._engine = engine
        self._workdir = Path(tempfile.mkdtemp(prefix="pytest-manylinux-"))
        config = RunConfig(
            timeout=self.timeout,
            limits=Limits(memory=self.memory),
            wheelhouse=self._read_wheelhouse(),
            python=self.python,
        )
        portables = Provider(self.python, engine, self.build_distro, self._progress)
        self._matrix = Matrix(
            engine, config, self._workdir, self._progress, jobs=self.jobs, portables=portables
        )

    def _read_wheelhouse(self) -> tuple[WheelInfo, ...]:
        from .core.dependencies import read_wheelhouse

        try:
            wheels, errors = read_wheelhouse(self.wheelhouse)
        except WheelError as e:
            raise pytest.UsageError(str(e)) from e
        for error in errors:
            self._progress(f"wheelhouse: skipping an unreadable wheel: {error}")
        return wheels

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        """On the xdist controller: a worker died without its ``finally`` (killed, crashed), so its
        containers are removed now rather than by some later run's start."""
        from .engine.docker import Engine

        if error is None or self.static_only:
            return
        try:
            engine = Engine.connect()
        except EngineError:
            return  # nothing can be removed; the next run that reaches the engine reaps them
        try:
            removed = engine.reap()
        except EngineError:
            removed = 0
        finally:
            engine.close()
        if removed:
            worker = getattr(getattr(node, "gateway", None), "id", "?")
            self._progress(f"removed {removed} container(s) left by crashed worker {worker}")

    def _progress(self, message: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        with self._lock:
            if reporter is None:
                return
            # Progress arrives while an item waits in its call phase, with output captured: shown
            # past the capture, as pytest's live logging does, or an image or CPython build is silent.
            suspended = (
                capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext()
            )
            with suspended:
                reporter.write_line(f"[manylinux] {message}")

    def environment(self, distro: Distro) -> Environment:
        """The distro's container with the wheels under test installed (for ``manylinux_env``)."""
        with self._lock:
            known = self._environments.get(distro.name)
        if known is not None:
            return known
        if self._matrix is None:
            self._start()
        assert self._matrix is not None
        payloads = []
        for path in self.wheels:
            try:
                payloads.append(self._matrix.payload(self.wheel_info(path)))
            except WheelError:
                continue  # its own items report it
        environment = self._matrix.runner(distro).environment(payloads)
        with self._lock:
            self._environments[distro.name] = environment
        return environment

    def wheel_info(self, path: Path) -> WheelInfo:
        """The wheel read and validated once per session (or the error it raised, again)."""
        from .core.wheel import read_wheel

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
        return known

    def observe(self, path: Path, distro: Distro) -> Observation:
        wheel = self.wheel_info(path)
        if self._matrix is None:
            self._start()
        assert self._matrix is not None
        return self._matrix.observation(wheel, distro)

    def _observations(self, path: Path) -> list[Observation]:
        """The wheel's observations on every distro selected for it (waiting for each)."""
        observations = []
        for distro in self._selected.get(path, []):
            try:
                observations.append(self.observe(path, distro))
            except ManylinuxError:
                continue
        return observations

    def judged(self, path: Path, distro: Distro) -> Observation:
        """The distro's observation judged against the wheel's other distros in this process (verdict.assess).

        An xdist worker checks only the items it is sent, so it judges the distro alone (an exception is then
        inconclusive there); the controller's report judges every distro together.
        """
        from .core.verdict import assess

        mine = self.observe(path, distro)
        others = [] if self.is_worker else [o for o in self._observations(path) if o.distro != distro.name]
        return assess([mine, *others]).observations[0]

    def prediction(self, wheel: WheelInfo) -> Prediction | None:
        from .core.static import predict

        return predict(wheel)

    def verdict(self, path: Path, item: VerdictItem) -> Verdict:
        """Judge one wheel from this session's observations of it (every selected distro)."""
        from .core.verdict import judge

        try:
            wheel = self.wheel_info(path)
        except WheelError as e:
            item.user_properties.append(
                (PROPERTY, json.dumps({"error": {"file": path.name, "message": str(e)}}))
            )
            raise
        observations = self._observations(path)
        prediction = self.prediction(wheel)
        payload: dict[str, Any] = {"wheel": {"file": wheel.filename, "sha256": wheel.sha256}}
        if prediction is not None:
            payload["prediction"] = prediction.to_json()
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
            data = json.loads(str(value))
            if "error" in data:
                self.results.add_unreadable(data["error"]["file"], data["error"]["message"])
                continue
            wheel = data.get("wheel") or {}
            sha, file = wheel.get("sha256"), str(wheel.get("file", ""))
            if sha:
                self.results.add_wheel(sha, file)
            if "observation" in data and sha:
                self.results.add(sha, file, Observation.from_json(data["observation"]))
            if "prediction" in data and sha:
                self.results.add_prediction(sha, file, Prediction.from_json(data["prediction"]))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker or not self.results:
            return
        self._order_results()
        terminalreporter.section("manylinux")
        width = getattr(terminalreporter, "_tw", None)
        columns = width.fullwidth if width is not None else 120
        verbose = (self.config.getoption("verbose") or 0) > 0
        for line in terminal_lines(
            self.results.wheels(), width=columns, unreadable=self.results.unreadable, verbose=verbose
        ):
            terminalreporter.write_line(line)

    def _complete_predictions(self) -> None:
        """Static predictions for wheels whose verdict item did not run (``-m ubuntu`` deselects it).

        A CI job that ran a subset of distros must still carry the prediction, so that ``combine`` judges
        the uncovered range as one run would. It is cheap: no container, a few ELF headers.
        """
        for path in self.wheels:
            try:
                wheel = self.wheel_info(path)
            except WheelError:
                continue
            if wheel.sha256 in self.results and not self.results.has_prediction(wheel.sha256):
                prediction = self.prediction(wheel)
                if prediction is not None:
                    self.results.add_prediction(wheel.sha256, wheel.filename, prediction)

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
        if self.is_worker:
            return
        self._order_results()
        self._complete_predictions()
        if self.json_path is not None:
            write_atomically(self.json_path, dumps(self.results))
        if self.markdown_path is not None or os.environ.get("GITHUB_STEP_SUMMARY"):
            text = markdown(self.results.wheels(), self.results.unreadable)
            if self.markdown_path is not None:
                write_atomically(self.markdown_path, text)
            append_step_summary(text)


def environment_params(run: ManylinuxRun | None, definition: pytest.Item) -> list[Any]:
    """``manylinux_env``'s parameters: the run's distros, narrowed by ``manylinux_distros`` markers."""
    if run is None:
        return [pytest.param(None, id="no-wheel")]
    distros = list(run.distros)
    for marker in definition.iter_markers("manylinux_distros"):
        patterns = [str(p) for p in marker.args]
        distros = [d for d in distros if any(fnmatch.fnmatchcase(d.name, p) for p in patterns)]
    return [pytest.param(d, id=d.name, marks=[getattr(pytest.mark, m) for m in d.markers]) for d in distros]


def environment_for(run: ManylinuxRun | None, distro: Distro | None) -> Environment:
    """The fixture's value; a skip when there is no wheel under test or none can run on the distro."""
    if run is None or distro is None:
        pytest.skip("manylinux_env needs wheels under test: pass --manylinux-wheel dist/*.whl")
    if run.static_only:
        pytest.skip("manylinux_env needs containers: --manylinux-static-only runs none")
    try:
        return run.environment(distro)
    except NotRunnable as e:
        pytest.skip(str(e))


def _jobs(option: int | None, ini: str) -> int:
    """Distros run at once: the option, else the ini value, else the CPU count (0 is an error, no default)."""
    if option is not None:
        return option
    if ini.strip():
        try:
            return int(ini)
        except ValueError:
            raise pytest.UsageError(f"manylinux_jobs = {ini!r}: expected a whole number of distros") from None
    return os.cpu_count() or 2


def load_matrix(config: pytest.Config) -> DistrosFile:
    path = config.getoption("manylinux_distros_file") or config.getini("manylinux_distros_file") or None
    if path and not os.path.isabs(str(path)) and not config.getoption("manylinux_distros_file"):
        path = str(Path(str(config.rootpath)) / str(path))
    try:
        return load_distros_file(path)
    except ManylinuxError as e:
        raise pytest.UsageError(str(e)) from e
