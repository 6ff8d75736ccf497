"""Running wheels in distro containers: one container per distro per session, reused for every wheel.

A wheel is laid out once (pypa/installer) and archived once. A distro's container gets every wheel it
runs in one copy through the API and checks them all in one exec (per interpreter): the engine calls a
distro costs do not grow with the wheels. Distros run in parallel threads; each (wheel, distro) result
is a future the pytest items wait on.
"""

from __future__ import annotations

import contextlib
import json
import tarfile
import threading
import time
import traceback
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from ..core import musl
from ..core.dependencies import Resolution, resolve
from ..core.distros import Distro, PythonConfig
from ..core.elf import read_elf
from ..core.observe import (
    CANNOT_PARSE,
    Cause,
    DistroFacts,
    Interpreter,
    Observation,
    document_from_progress,
    facts_from_json,
    interpreter_from_json,
    observation_from_check,
    parse_probe_documents,
    parse_probe_output,
    skipped,
)
from ..core.policy import load_policies
from ..core.wheel import Role, WheelInfo, installed_path, lay_out
from ..errors import (
    ElfError,
    EngineError,
    ImageError,
    InternalError,
    ManylinuxError,
    NotRunnable,
    PortableError,
    ProbeError,
    WheelError,
)
from .archives import in_memory, readable_by_all
from .choice import InterpreterChoice
from .docker import Container, Engine, ExecResult, Limits
from .environment import Environment, shim_archive
from .images import ensure_image
from .portable import Portable, Provider
from .sharing import Once

Progress = Callable[[str], None]

#: where the plugin puts its files inside containers
CONTAINER_ROOT = "/opt/pytest-manylinux"
PROBE_PATH = f"{CONTAINER_ROOT}/probe.py"
#: where ``python3`` and ``python`` name the interpreter of the container's environment (``manylinux_env``):
#: wheel scripts are laid out with this shebang, so they run with the interpreter the wheels were chosen for
SHIM_DIR = f"{CONTAINER_ROOT}/bin"


@dataclass(frozen=True)
class RunConfig:
    """How checks run; one per session."""

    #: seconds one import (or one loader check) may take before it counts as a hang
    timeout: float = 60.0
    #: container limits and the user checks run as
    limits: Limits = field(default_factory=Limits)
    #: try pulling images before building them
    pull: bool = True
    #: extra interpreter paths or globs to look for in every image
    pythons: tuple[str, ...] = ()
    #: dependency wheels (``--manylinux-wheelhouse``) put on the import path where a wheel needs them
    wheelhouse: tuple[WheelInfo, ...] = ()
    #: where interpreters come from (distros.toml's ``[python]``)
    python: PythonConfig = field(default_factory=PythonConfig)


@dataclass(frozen=True)
class Payload:
    """A wheel laid out and archived, ready to be put into any container."""

    wheel: WheelInfo
    #: the directory name inside containers (the wheel's hash)
    key: str
    #: the archive, on the host
    archive: Path
    #: what the probe checks: ELF files, modules, library directories
    plan: dict[str, Any]
    #: bytes of the archive before its end-of-archive blocks: archives cut there can be concatenated
    members_end: int = 0

    @property
    def plan_path(self) -> str:
        return f"{CONTAINER_ROOT}/wheels/{self.key}/plan.json"


def plan_for(wheel: WheelInfo, root: str) -> dict[str, Any]:
    """The probe's plan for a wheel (pure): which files the loader resolves, which modules to import."""
    extension_files = set()
    for m in wheel.members:
        if m.is_elf and m.role in (Role.PURELIB, Role.PLATLIB):
            name = m.scheme_path.rsplit("/", 1)[-1].split(".", 1)[0]
            module = ".".join([*m.scheme_path.split("/")[:-1], name])
            if module in wheel.extensions:
                extension_files.add(m.path)
    elf = []
    libdirs = []
    for m in wheel.elf_members:
        path = installed_path(m.role, m.scheme_path, wheel.dist_info)
        kind = "extension" if m.path in extension_files else "library"
        elf.append({"path": path, "kind": kind, "member": m.path})
        if kind == "library":
            libdirs.append(path.rsplit("/", 1)[0])
    return {
        "root": root,
        "elf": elf,
        "modules": list(wheel.modules),
        "libdirs": sorted(set(libdirs)),
    }


def stage(wheel: WheelInfo, directory: Path, root: str, interpreter: str) -> dict[str, Any]:
    """Lay a wheel out in ``directory`` with the probe's ``plan.json`` for it; the plan names the files
    as they will be at ``root`` (a container's path; the same directory when the probe runs here)."""
    lay_out(wheel, directory, interpreter=interpreter)
    plan = plan_for(wheel, root)
    plan["sonames"] = _sonames(directory, plan["elf"])
    plan["libcs"] = _libcs(directory, plan["elf"])
    (directory / "plan.json").write_text(json.dumps(plan, indent=1))
    return plan


def prepare(wheel: WheelInfo, workdir: Path) -> Payload:
    """Lay a wheel out and archive it for containers (once per wheel per session)."""
    key = wheel.sha256[:16]
    stage_dir = workdir / key
    root = f"{CONTAINER_ROOT}/wheels/{key}"
    plan = stage(wheel, stage_dir, root, interpreter=f"{SHIM_DIR}/python3")
    archive = workdir / f"{key}.tar"
    with tarfile.open(archive, "w") as tar:
        # Named below CONTAINER_ROOT, where the archive goes: the only place of the container the host writes.
        tar.add(stage_dir, arcname=_inside(root), filter=readable_by_all)
        members_end = tar.offset
    return Payload(wheel, key, archive, plan, members_end)


def _libcs(stage: Path, elf: list[dict[str, Any]]) -> dict[str, str]:
    """Installed path -> the C library each ELF file is linked against, where its needs say."""
    found: dict[str, str] = {}
    for entry in elf:
        path = stage / entry["path"]
        try:
            with path.open("rb") as stream:
                facts = read_elf(stream, entry["path"], path.stat().st_size)
        except (OSError, ElfError):
            continue
        if facts is not None and facts.libc is not None:
            found[entry["path"]] = facts.libc.value
    return found


def _sonames(stage: Path, elf: list[dict[str, Any]]) -> dict[str, str]:
    """``DT_SONAME`` -> installed path of the wheel's shared libraries, read from the laid-out files."""
    found: dict[str, str] = {}
    for entry in elf:
        if entry["kind"] != "library":
            continue
        path = stage / entry["path"]
        try:
            with path.open("rb") as stream:
                facts = read_elf(stream, entry["path"], path.stat().st_size)
        except (OSError, ElfError):
            continue  # the loader check reports what is wrong with it
        if facts is not None and facts.soname:
            found.setdefault(facts.soname, entry["path"])
    return found


def concatenated(payloads: Sequence[Payload], head: bytes = b"", chunk: int = 1 << 20) -> Iterator[bytes]:
    """One tar stream: ``head`` (tar members), then the payloads' archives, read from disk as it is sent."""
    if head:
        yield head
    for payload in payloads:
        with payload.archive.open("rb") as f:
            left = payload.members_end
            while left > 0:
                data = f.read(min(chunk, left))
                if not data:
                    raise EngineError(
                        f"the archive of {payload.wheel.filename} ended early: {payload.archive}"
                    )
                left -= len(data)
                yield data
    yield bytes(2 * tarfile.BLOCKSIZE)  # the end-of-archive marker


def _probe_source() -> str:
    return Path(__file__).parent.parent.joinpath("container", "probe.py").read_text(encoding="utf-8")


def _probe_members() -> bytes:
    """The probe and the plugin's directories, as tar members without the end-of-archive blocks."""
    source = _probe_source().encode("utf-8")
    return in_memory(["wheels"], {_inside(PROBE_PATH): source}, end=False)  # put at CONTAINER_ROOT


def _inside(path: str) -> str:
    """A container path below CONTAINER_ROOT, relative to it: how archives put there name it. A check
    container's root is read-only; only CONTAINER_ROOT (its volume) takes files from the host."""
    if not path.startswith(CONTAINER_ROOT + "/"):
        raise ValueError(f"{path!r} is not below {CONTAINER_ROOT}")
    return path[len(CONTAINER_ROOT) + 1 :]


#: how many times an exec of the probe whose output the engine lost is run again
LOST_OUTPUT_RETRIES = 2


def _probe_exec(container: Container, argv: list[str], **options: Any) -> ExecResult:
    """Run the probe: it always prints (a progress line, a document), so an exit status of 0 with no
    output at all is output the engine lost between the exec and its stream (docker/docker-py#2042; seen
    here once, a whole distro of a matrix run skipped). Its commands can run again (``check --sandboxed``
    first removes what an earlier run left), so it is run again, at most :data:`LOST_OUTPUT_RETRIES` times.
    """
    result = container.exec(argv, **options)
    for _ in range(LOST_OUTPUT_RETRIES):
        if result.exit_code != 0 or result.stdout.strip():
            break
        result = container.exec(argv, **options)
    return result


class DistroRunner:
    """One distro's container for the session: started once, checks every wheel it is given."""

    def __init__(
        self,
        engine: Engine,
        distro: Distro,
        config: RunConfig,
        progress: Progress,
        prepare: Callable[[WheelInfo], Payload],
        portables: Provider | None = None,
    ) -> None:
        self.engine = engine
        self.prepare = prepare
        self.portables = portables
        #: which interpreter judges a wheel here (made once the distro is measured)
        self.choice: InterpreterChoice | None = None
        self.distro = distro
        self.config = config
        self.progress = progress
        self.facts: DistroFacts | None = None
        self.unavailable: Observation | None = None
        self.user: str | None = None
        self._stack = contextlib.ExitStack()
        self._container: Container | None = None
        self._payloads: set[str] = set()
        self._opened = False
        self._lock = threading.Lock()
        self._closing = threading.Lock()
        self._closed = False

    def open(self) -> None:
        """Get the image, start the container and measure it, once; failures make every check skip."""
        with self._lock:
            if not self._opened:
                self._opened = True
                self._open()

    def _open(self) -> None:
        try:
            image = ensure_image(self.engine, self.distro, self.progress, pull=self.config.pull)
            container = self._stack.enter_context(
                self.engine.container(image.ref, self.distro.name, self.config.limits, files=CONTAINER_ROOT)
            )
            with self._closing:
                if self._closed:  # closed while the image was made or the container started
                    self._stack.close()
                    raise EngineError(f"the run was stopped while distro {self.distro.name!r} started")
                self._container = container
            self.facts = self._measure(self._container)
            self.choice = InterpreterChoice(self.distro, self.order, self.facts, self.portables, self._bring)
        except ImageError as e:
            self.unavailable = skipped(self.distro.name, self.distro.image, Cause.IMAGE, str(e))
        except (EngineError, ProbeError) as e:
            self.unavailable = skipped(self.distro.name, self.distro.image, Cause.ENGINE, str(e))

    @property
    def order(self) -> tuple[str, ...]:
        """Where this distro's interpreters come from, in order."""
        return self.distro.interpreters or self.config.python.order

    def _measure(self, container: Container) -> DistroFacts:
        # The probe's source goes in as ``-c``: its file is copied in with the first wheels (one
        # copy less per distro). It also says whether the user checks run as exists (one exec less).
        ask = ["--user", self.config.limits.user] if self.config.limits.user else []
        # Paths the interpreter order names are looked for too (the probe finds only the usual places).
        paths = [e for e in self.order if e.startswith("/")]
        extra = list(dict.fromkeys([*(self.distro.pythons or ()), *paths, *self.config.pythons]))
        source = _probe_source()
        for python in ("python3", "/usr/bin/python3", "python"):
            argv = [python, "-I", "-c", source, "facts", *ask, *extra]
            result = _probe_exec(container, argv, timeout=120)
            if result.exit_code == 0:
                document = parse_probe_output(result.stdout, f"distro {self.distro.name!r}")
                user = document.get("user")
                self.user = user if isinstance(user, str) else None
                return facts_from_json(document)
        # No python: a musl distro (Alpine) still says its libc through its loader, and a portable
        # CPython for musl may be brought in; elsewhere the check is skipped with that reason.
        result = container.exec(["/bin/sh", "-c", musl.SHELL_PROBE], timeout=60)
        return musl.musl_facts(result.stdout) or DistroFacts(None, None, "", None)

    def observe_all(self, payloads: Sequence[Payload]) -> list[Observation]:
        """Run these wheels' checks here: their files copied in at once, one exec per interpreter.

        The probe still checks each wheel apart (its own loader runs, its own import child), so one
        wheel's crash or hang touches no other wheel's result.
        """
        if self.unavailable is not None:
            return [self.unavailable] * len(payloads)
        results: dict[int, Observation] = {}
        batches: dict[str, tuple[Interpreter, list[tuple[int, Payload]]]] = {}
        for i, payload in enumerate(payloads):
            screened = self._screen(payload)
            if isinstance(screened, Observation):
                results[i] = screened
            else:
                batches.setdefault(screened.path, (screened, []))[1].append((i, payload))
        needs = {
            i: self._dependencies(payload, interpreter)
            for interpreter, batch in batches.values()
            for i, payload in batch
        }
        try:
            wheels = [payload for _, batch in batches.values() for _, payload in batch]
            self._put(wheels + [d for _, laid_out in needs.values() for d in laid_out])
        except EngineError as e:
            failure = self._failure(e, None)
            return [results.get(i, failure) for i in range(len(payloads))]
        for interpreter, batch in batches.values():
            checked = self._check(interpreter, batch, needs)
            for i, payload in batch:
                checked[i] = self._another_interpreter(payload, checked[i], interpreter)
            results.update(checked)
        return [results[i] for i in range(len(payloads))]

    def _another_interpreter(
        self, payload: Payload, observation: Observation, interpreter: Interpreter
    ) -> Observation:
        """The wheel checked again where ``interpreter`` could not run some of its code.

        A ``SyntaxError`` means the code needs a newer Python; a missing stdlib module, another build (a
        portable CPython has distutils where Debian's python3 may not). Either says nothing about the
        platform: the next interpreter that loads the wheel's tags judges it, and what no interpreter here can
        run stays set aside (observe.py), never blamed on the tag.
        """
        tried = [interpreter]
        while True:
            unable = [f for f in observation.findings if f.cause is Cause.PYTHON]
            if not unable or (not observation.checked and observation.cause is not Cause.PYTHON):
                return observation
            current = tried[-1]
            syntax = any(f.evidence.startswith(CANNOT_PARSE) for f in unable)
            newer = current.version[:2] if syntax else None
            paths = {t.path for t in tried}

            def excluded(
                c: Interpreter, paths: set[str] = paths, newer: tuple[int, int] | None = newer
            ) -> bool:
                return c.path in paths or (newer is not None and c.version[:2] <= newer)

            assert self.choice is not None
            following, _why = self.choice.choose(
                payload.wheel.claim.interpreters,
                payload.wheel.requires_python,
                exclude=excluded,
                newer_than=newer,
            )
            what = (
                f"{len(unable)} module{'s' if len(unable) != 1 else ''} of the wheel ({unable[0].evidence})"
            )
            if following is None:
                note = f"{current.describe()} cannot run {what}; no other interpreter here can"
                return replace(observation, notes=(*observation.notes, note))
            needs = {0: self._dependencies(payload, following)}
            try:
                self._put(needs[0][1])
            except EngineError:
                return observation
            again = self._check(following, [(0, payload)], needs)[0]
            tried.append(following)
            fewer = len([f for f in again.findings if f.cause is Cause.PYTHON]) < len(unable)
            if not fewer or (not again.checked and again.cause is not Cause.PYTHON):
                note = f"{current.describe()} cannot run {what}; {following.describe()} did no better"
                return replace(observation, notes=(*observation.notes, note))
            note = f"{current.describe()} cannot run {what}; judged with {following.describe()}"
            observation = replace(again, notes=(*again.notes, note))

    def _skip(self, cause: Cause, detail: str) -> Observation:
        return skipped(self.distro.name, self.distro.image, cause, detail, self.facts)

    def _screen(self, payload: Payload) -> Interpreter | Observation:
        """The interpreter to check the wheel with here, or why it cannot run here at all."""
        assert self.choice is not None
        interpreter, cause, why = self.choice.fit(payload.wheel)
        if interpreter is None:
            assert cause is not None
            return self._skip(cause, why)
        return interpreter

    def _dependencies(self, payload: Payload, interpreter: Interpreter) -> tuple[Resolution, list[Payload]]:
        """The wheelhouse wheels ``payload`` needs under ``interpreter``, laid out (once per session)."""
        assert self.facts is not None
        resolution = resolve(payload.wheel, self.config.wheelhouse, interpreter, self.facts.machine)
        return resolution, [self.prepare(w) for w in resolution.wheels]

    def _put(self, payloads: Sequence[Payload]) -> None:
        """Copy the wheels not yet in the container into it, in one call (the probe with the first)."""
        assert self._container is not None
        new = list({p.key: p for p in payloads if p.key not in self._payloads}.values())
        if not new:
            return
        self._container.put_archive(
            CONTAINER_ROOT, concatenated(new, b"" if self._payloads else _probe_members())
        )
        self._payloads.update(p.key for p in new)

    def _budget(self, payload: Payload) -> float:
        # A slow import may go on for 5 timeouts while it loads modules (the probe's _SLOW_IMPORT_LIMIT),
        # and one more may hang.
        return 120 + self.config.timeout * 6 + 2 * len(payload.plan["modules"])

    def _check(
        self,
        interpreter: Interpreter,
        batch: list[tuple[int, Payload]],
        needs: dict[int, tuple[Resolution, list[Payload]]],
    ) -> dict[int, Observation]:
        """Check wheels in one exec; if the probe dies, the wheel it was on fails and the rest go on."""
        assert self._container is not None
        assert self.facts is not None
        results: dict[int, Observation] = {}
        pending = list(batch)
        while pending:
            # PLAN.json, or PLAN.json=SITE:SITE when the wheelhouse supplies dependencies
            plans = []
            for i, payload in pending:
                sites = ":".join(f"{d.plan['root']}/site" for d in needs[i][1])
                plans.append(f"{payload.plan_path}={sites}" if sites else payload.plan_path)
            result = None
            budget = sum(self._budget(payload) for _, payload in pending)
            try:
                result = _probe_exec(
                    self._container,
                    # --sandboxed: the container is the check's own, what an import leaves there goes
                    [interpreter.path, PROBE_PATH, "check", "--sandboxed", str(self.config.timeout), *plans],
                    user=self.user,
                    timeout=budget,
                )
            except EngineError as e:
                failure = self._failure(e, None)
                results.update((i, failure) for i, _ in pending)
                return results
            # The probe prints one document per wheel, in order: the first wheel without one is the
            # one it was checking when it stopped.
            documents = {d.get("plan"): d for d in parse_probe_documents(result.stdout)}
            done = 0
            for i, payload in pending:
                document = documents.get(payload.plan_path)
                if document is None:
                    break
                results[i] = self._observed(interpreter, payload, needs[i][0], document)
                done += 1
            if done == len(pending):
                break
            i, payload = pending[done]
            results[i] = self._died(interpreter, payload, needs[i][0], result, budget)
            pending = pending[done + 1 :]
        return results

    def _observed(
        self, interpreter: Interpreter, payload: Payload, resolution: Resolution, document: dict[str, Any]
    ) -> Observation:
        assert self.facts is not None
        seconds = sum(float(v) for v in (document.get("seconds") or {}).values())
        return observation_from_check(
            self.distro.name,
            self.distro.image,
            self.facts,
            document,
            payload.wheel.modules,
            interpreter,
            seconds,
            root=payload.plan["root"],
            supplied=tuple(w.filename for w in resolution.wheels),
            unsatisfied=resolution.unsatisfied if self.config.wheelhouse else None,
            requirements=payload.wheel.requirement_names,
            expected=load_policies().expected_libraries(payload.wheel.claim),
            linked=payload.plan.get("libcs"),
        )

    def _died(
        self,
        interpreter: Interpreter,
        payload: Payload,
        resolution: Resolution,
        result: ExecResult,
        budget: float,
    ) -> Observation:
        """The wheel the probe was on when it died: what its import did, when one was under way, else the
        engine's or memory's doing (:meth:`_failure`)."""
        what = f"{payload.wheel.filename} on {self.distro.name}"
        error = ProbeError(
            f"the probe printed no result for {what}; its output ended with: {result.stdout[-500:]!r}"
        )
        stopped = result.seconds if result.overdue else None
        modules = payload.plan["modules"]
        partial = document_from_progress(result.stdout, payload.plan_path, modules, result.exit_code, stopped)
        if partial is None or (result.seconds >= budget and not result.overdue):
            return self._failure(error, result)
        failure = self._failure(error, result)
        if failure.cause is Cause.MEMORY:
            return failure
        observation = self._observed(interpreter, payload, resolution, partial)
        tried = {r.get("module") for r in partial["imports"]}
        untried = [m for m in modules if m not in tried]
        if untried:
            note = f"{len(untried)} module{'s' if len(untried) != 1 else ''} not tried after the probe died"
            observation = replace(observation, notes=(*observation.notes, note))
        return observation

    def _failure(self, error: ManylinuxError, result: ExecResult | None) -> Observation:
        """A check that could not run: the container ran out of memory, or the engine or probe failed."""
        assert self._container is not None
        try:
            state = self._container.state()
        except EngineError:
            state = {}  # the engine itself is gone: the first error says what happened
        if state.get("OOMKilled"):
            limit = self.config.limits.memory
            return self._skip(
                Cause.MEMORY, f"the container was killed for memory (limit {limit}); raise --manylinux-memory"
            )
        tail = f" (exit {result.exit_code}; stderr: {result.stderr[-300:]!r})" if result else ""
        return self._skip(Cause.ENGINE, f"{error}{tail}")

    def _bring(self, portable: Portable) -> Interpreter:
        """Put a portable CPython into this container and measure it there (for :attr:`choice`)."""
        assert self._container is not None
        started = time.monotonic()
        # put_archive needs the interpreter's directory to exist
        self._container.put_archive(CONTAINER_ROOT, in_memory([_inside(portable.container_dir)]))
        with portable.archive.open("rb") as f:
            self._container.put_archive(portable.container_dir, f)
        # Measured as the checks run (the unprivileged user), by the interpreter itself: it needs
        # nothing of the image, not even a python3. The probe goes in as -c: its file may not be
        # in the container yet (it comes with the first wheels).
        path = portable.container_path
        result = _probe_exec(
            self._container, [path, "-c", _probe_source(), "interpreter", path], user=self.user, timeout=120
        )
        if result.exit_code != 0:
            raise PortableError(
                f"it does not start here (exit {result.exit_code}): {result.stderr.strip()[-300:]}"
            )
        what = f"the portable CPython {portable.version[0]}.{portable.version[1]} on {self.distro.name}"
        data = parse_probe_output(result.stdout, what)
        if "error" in data:
            raise PortableError(f"it does not run on {self.distro.name}: {data['error']}")
        self.progress(
            f"{self.distro.name}: portable CPython {portable.short} ({portable.detail}) brought in "
            f"in {time.monotonic() - started:.1f}s"
        )
        return interpreter_from_json(data, "portable")

    def bring(self, version: str) -> Interpreter | str:
        """The portable CPython X.Y in this container (put in once), or why it cannot be."""
        assert self.choice is not None
        return self.choice.bring(version)

    def environment(self, payloads: Iterable[Payload]) -> Environment:
        """This distro's container, for users' own tests, with the wheels under test it can load installed.

        The interpreter is the one that loads the most of them (the first such, on a tie); one wheel per
        project, the first given; their wheelhouse dependencies come along. Raises :class:`NotRunnable`
        when no wheel can be loaded here, :class:`EngineError` when the distro itself is unavailable.
        """
        self.open()
        if self.unavailable is not None:
            raise EngineError(f"distro {self.distro.name!r} is unavailable: {self.unavailable.detail}")
        assert self.facts is not None
        assert self._container is not None
        groups: dict[Interpreter, list[Payload]] = {}
        reasons = []
        for payload in payloads:
            assert self.choice is not None
            interpreter, _cause, why = self.choice.fit(payload.wheel)
            if interpreter is None:
                reasons.append(f"{payload.wheel.filename}: {why}")
                continue
            group = groups.setdefault(interpreter, [])
            if all(p.wheel.claim.name != payload.wheel.claim.name for p in group):
                group.append(payload)
        if not groups:
            raise NotRunnable(f"no wheel under test can run on {self.distro.name}: " + "; ".join(reasons))
        interpreter, chosen = max(groups.items(), key=lambda item: len(item[1]))
        installed: list[Payload] = []
        for payload in chosen:
            for laid_out in (payload, *self._dependencies(payload, interpreter)[1]):
                if laid_out not in installed:
                    installed.append(laid_out)
        self._put(installed)
        sites = [f"{p.plan['root']}/site" for p in installed]
        bins = [f"{p.plan['root']}/bin" for p in installed]
        self._container.put_archive(CONTAINER_ROOT, shim_archive(_inside(SHIM_DIR), interpreter.path))
        return Environment(
            container=self._container,
            distro=self.distro,
            facts=self.facts,
            interpreter=interpreter,
            wheels=tuple(p.wheel.filename for p in chosen),
            path=(SHIM_DIR, *bins),
            pythonpath=tuple(sites),
            user=self.user,
        )

    def close(self) -> None:
        """Remove the container; safe to call more than once, from any thread, even while it opens."""
        with self._closing:
            self._closed = True
            self._stack.close()


def _bug_report(error: Exception) -> str:
    """An exception none of the plugin's own errors stands for, said as what it is (a failure of
    pytest-manylinux, not of a distro or a wheel) with its type, message and traceback."""
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__)).rstrip()
    return (
        f"pytest-manylinux failed with {type(error).__name__}: {error}, an exception it does not expect "
        "here: a bug of the plugin (or a failure of the host), not a problem of the distro or the wheel; "
        f"please report it with its traceback\n{trace}"
    )


@dataclass
class Matrix:
    """The session's runs: distros in parallel, each distro's wheels checked together."""

    engine: Engine
    config: RunConfig
    workdir: Path
    progress: Progress
    jobs: int = 2
    #: the session's portable CPythons (``None``: only the interpreters images have)
    portables: Provider | None = None
    _futures: dict[tuple[str, str], Future[Observation]] = field(default_factory=dict)
    _payloads: Once[str, Payload] = field(default_factory=Once)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _runners: dict[str, DistroRunner] = field(default_factory=dict)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _pool: ThreadPoolExecutor | None = None

    def payload(self, wheel: WheelInfo) -> Payload:
        """The wheel's payload, prepared by the first thread that needs it."""
        return self._payloads.get(wheel.sha256, lambda: prepare(wheel, self.workdir))

    def submit(self, work: Iterable[tuple[WheelInfo, Distro]]) -> None:
        """Schedule (wheel, distro) checks; each distro's checks run in one thread, as one batch."""
        by_distro: dict[str, tuple[Distro, list[WheelInfo]]] = {}
        for wheel, distro in work:
            key = (wheel.sha256, distro.name)
            if key in self._futures:
                continue
            self._futures[key] = Future()
            by_distro.setdefault(distro.name, (distro, []))[1].append(wheel)
        if not by_distro:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=max(1, self.jobs), thread_name_prefix="manylinux")
        for distro, wheels in by_distro.values():
            self._pool.submit(self._run_distro, distro, wheels)

    def runner(self, distro: Distro) -> DistroRunner:
        """The distro's runner, its container started by the first caller; it lives until :meth:`close`."""
        with self._lock:
            if self._stopping.is_set():
                raise EngineError(f"the run was stopped before distro {distro.name!r} started")
            runner = self._runners.get(distro.name)
            if runner is None:
                runner = self._runners[distro.name] = DistroRunner(
                    self.engine, distro, self.config, self.progress, self.payload, self.portables
                )
        runner.open()
        return runner

    def _run_distro(self, distro: Distro, wheels: list[WheelInfo]) -> None:
        bug: Exception | None = None
        try:
            runner = self.runner(distro)
            ready: list[tuple[Future[Observation], Payload]] = []
            for wheel in wheels:
                future = self._futures[(wheel.sha256, distro.name)]
                try:
                    ready.append((future, self.payload(wheel)))
                except WheelError as e:
                    future.set_exception(e)
            if self._stopping.is_set():
                for future, _ in ready:
                    future.set_exception(EngineError("the run was stopped before this check"))
                return
            try:
                observations = runner.observe_all([payload for _, payload in ready])
            except Exception as e:  # nothing raised here may hang the items waiting on it
                detail = str(e) if isinstance(e, ManylinuxError) else _bug_report(e)
                failure = skipped(distro.name, distro.image, Cause.ENGINE, detail, runner.facts)
                observations = [failure] * len(ready)
            for (future, _), observation in zip(ready, observations):
                future.set_result(observation)
        except ManylinuxError:
            pass  # stopped: the futures are failed below
        except Exception as e:  # a bug of the plugin: said as one on every check it left, not as a stop
            bug = e
        finally:
            for wheel in wheels:
                future = self._futures[(wheel.sha256, distro.name)]
                if future.done():
                    continue
                error: ManylinuxError
                if bug is not None:
                    error = InternalError(
                        f"distro {distro.name!r} could not check {wheel.filename}: {_bug_report(bug)}"
                    )
                    error.__cause__ = bug
                else:
                    error = EngineError(f"distro {distro.name!r} stopped before checking {wheel.filename}")
                future.set_exception(error)

    def observation(self, wheel: WheelInfo, distro: Distro) -> Observation:
        """Wait for one check's result (scheduling it first if nobody did)."""
        key = (wheel.sha256, distro.name)
        if key not in self._futures:
            self.submit([(wheel, distro)])
        return self._futures[key].result()

    def close(self) -> None:
        """Stop scheduling, remove every container; safe to call more than once."""
        self._stopping.set()
        with self._lock:
            runners = list(self._runners.values())
        # Containers live until here (users' tests may still use them through manylinux_env). They are
        # removed in parallel, a removal being about as slow as a start; checks still running in them
        # then fail fast, and a runner still starting its container removes it itself.
        if runners:
            with ThreadPoolExecutor(
                max_workers=min(8, len(runners)), thread_name_prefix="manylinux-rm"
            ) as removals:
                for runner in runners:
                    removals.submit(runner.close)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
