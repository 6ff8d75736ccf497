"""The state of one pytest session's manylinux run, registered as a plugin object (as xdist does).

From the :class:`Settings` it adds the items at collection (no engine calls), starts the engine and
the matrix when the first test is about to run, gives items their wheels and observations (the
:class:`items.Run` interface), gathers results from reports (its own, or xdist workers'), and writes
the summary and the JSON once, on the controller.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .core.distros import Distro
from .core.observe import Observation
from .core.tags import Claim, read_claim
from .core.verdict import Prediction
from .engine.sharing import Once
from .errors import EngineError, NotRunnable, WheelError
from .items import PROPERTY, DistroItem, VerdictItem, WheelCollector
from .outputs import append_step_summary, write_atomically
from .report import Results, dumps, markdown, terminal_lines
from .settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from .core.wheel import WheelInfo
    from .engine.docker import Engine
    from .engine.environment import Environment
    from .engine.runner import Matrix


@dataclass(eq=False)  # a plugin object: pluggy keeps it in sets, so identity-hashed
class ManylinuxRun:
    """The manylinux side of a pytest session."""

    config: pytest.Config
    settings: Settings
    results: Results = field(default_factory=Results)
    _infos: Once[Path, WheelInfo] = field(default_factory=Once)
    _engine: Engine | None = None
    _matrix: Matrix | None = None
    _workdir: Path | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _environments: dict[str, Environment] = field(default_factory=dict)

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    # -- collection ---------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        # tryfirst: the items must be there before -k/-m deselection and --lf filtering see the list.
        for path in self.settings.wheels:
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
        if not self.is_worker:
            # Every wheel the items will ask for, read and analysed at once on every core (an xdist worker
            # reads only the wheels of the items it is sent, as they come).
            items = session.items
            mine = [i.wheel_path for i in items if isinstance(i, (DistroItem, VerdictItem)) and i.run is self]
            self._analyse(list(dict.fromkeys(mine)))
        if not selected or self.settings.static_only:
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
            timeout=self.settings.timeout,
            limits=Limits(memory=self.settings.memory, disk=self.settings.disk),
            wheelhouse=self._read_wheelhouse(),
            python=self.settings.python,
        )
        portables = Provider(
            self.settings.python,
            engine,
            self.settings.build_distro,
            self._progress,
            musl_build_distro=self.settings.musl_build_distro,
        )
        self._matrix = Matrix(
            engine, config, self._workdir, self._progress, jobs=self.settings.jobs, portables=portables
        )

    def _read_wheelhouse(self) -> tuple[WheelInfo, ...]:
        from .core.dependencies import read_wheelhouse

        try:
            wheels, errors = read_wheelhouse(self.settings.wheelhouse)
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

        if error is None or self.settings.static_only:
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
        for path in self.settings.wheels:
            try:
                payloads.append(self._matrix.payload(self.wheel_info(path)))
            except WheelError:
                continue  # its own items report it
        environment = self._matrix.runner(distro).environment(payloads)
        with self._lock:
            self._environments[distro.name] = environment
        return environment

    def _analyse(self, paths: list[Path]) -> None:
        """Read ``paths`` on every core (:class:`core.static.Analyzer`), once: each WheelInfo carries its
        ELF facts, so the runner, the distro items and the verdict's prediction share what was read."""
        from .core.static import Analysis, Analyzer

        def result(analysis: Analysis) -> WheelInfo:
            if analysis.wheel is None:
                assert analysis.error is not None
                raise analysis.error
            return analysis.wheel

        for analysis in Analyzer().run(p for p in paths if p not in self._infos.done()):
            with contextlib.suppress(WheelError):  # kept in _infos: its items report it
                self._infos.get(analysis.path, lambda a=analysis: result(a))  # type: ignore[misc]

    def wheel_info(self, path: Path) -> WheelInfo:
        """The wheel read and validated once per session (or the error it raised, again)."""
        from .core.wheel import read_wheel

        return self._infos.get(path, lambda: read_wheel(path))

    def observe(self, path: Path, distro: Distro) -> Observation:
        """The wheel's observation on the distro: scheduled now if need be, waited for."""
        wheel = self.wheel_info(path)
        if self._matrix is None:
            self._start()
        assert self._matrix is not None
        return self._matrix.observation(wheel, distro)

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
        from .core.static import predict

        for path in self.settings.wheels:
            try:
                wheel = self.wheel_info(path)
            except WheelError:
                continue
            if wheel.sha256 in self.results and not self.results.has_prediction(wheel.sha256):
                self.results.add_prediction(wheel.sha256, wheel.filename, predict(wheel))

    def _order_results(self) -> None:
        for d in self.settings.distros:
            if d.name not in self.results.order:
                self.results.order.append(d.name)
        names = [d.name for d in self.settings.distros]
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
        if self.settings.json_path is not None:
            write_atomically(self.settings.json_path, dumps(self.results))
        if self.settings.markdown_path is not None or os.environ.get("GITHUB_STEP_SUMMARY"):
            text = markdown(self.results.wheels(), self.results.unreadable)
            if self.settings.markdown_path is not None:
                write_atomically(self.settings.markdown_path, text)
            append_step_summary(text)


def environment_params(run: ManylinuxRun | None, definition: pytest.Item) -> list[Any]:
    """``manylinux_env``'s parameters: the run's distros, narrowed by ``manylinux_distros`` markers."""
    if run is None:
        return [pytest.param(None, id="no-wheel")]
    distros = list(run.settings.distros)
    for marker in definition.iter_markers("manylinux_distros"):
        patterns = [str(p) for p in marker.args]
        distros = [d for d in distros if any(fnmatch.fnmatchcase(d.name, p) for p in patterns)]
    return [pytest.param(d, id=d.name, marks=[getattr(pytest.mark, m) for m in d.markers]) for d in distros]


def environment_for(run: ManylinuxRun | None, distro: Distro | None) -> Environment:
    """The fixture's value; a skip when there is no wheel under test or none can run on the distro."""
    if run is None or distro is None:
        pytest.skip("manylinux_env needs wheels under test: pass --manylinux-wheel dist/*.whl")
    if run.settings.static_only:
        pytest.skip("manylinux_env needs containers: --manylinux-static-only runs none")
    try:
        return run.environment(distro)
    except NotRunnable as e:
        pytest.skip(str(e))
