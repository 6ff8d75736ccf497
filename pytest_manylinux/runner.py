"""Running wheels in distro containers: one container per distro per session, reused for every wheel.

A wheel is laid out once (pypa/installer) and archived once; each container gets the archive once
through the API, and so does a portable CPython when a wheel needs one the distro lacks. Distros run
in parallel threads; each (wheel, distro) result is a future the pytest items wait on.
"""

from __future__ import annotations

import contextlib
import io
import json
import tarfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .distros import Distro, PythonConfig
from .engine import Container, Engine, Limits
from .errors import EngineError, ImageError, ManylinuxError, PortableError, ProbeError, WheelError
from .images import ensure_image
from .interpreters import choose, in_order, portable_version
from .observe import (
    Cause,
    DistroFacts,
    Interpreter,
    Observation,
    facts_from_json,
    interpreter_from_json,
    observation_from_check,
    parse_probe_output,
    skipped,
)
from .portable import Provider, put_tree
from .tags import Libc
from .wheel import Role, WheelInfo, lay_out

Progress = Callable[[str], None]

#: where the plugin puts its files inside containers
CONTAINER_ROOT = "/opt/pytest-manylinux"
PROBE_PATH = f"{CONTAINER_ROOT}/probe.py"
_INSTALLED_DIR = {Role.PURELIB: "site", Role.PLATLIB: "site", Role.SCRIPTS: "bin", Role.DATA: "data", Role.HEADERS: "include"}


@dataclass(frozen=True)
class RunConfig:
    """How checks run; one per session."""

    #: seconds one import (or one loader check) may take before it counts as a hang
    timeout: float = 60.0
    #: container limits and the user checks run as
    limits: Limits = Limits()
    #: try pulling images before building them
    pull: bool = True
    #: extra interpreter paths or globs to look for in every image
    pythons: tuple[str, ...] = ()
    #: where interpreters come from (distros.toml's ``[python]``)
    python: PythonConfig = PythonConfig()


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

    @property
    def plan_path(self) -> str:
        return f"{CONTAINER_ROOT}/wheels/{self.key}/plan.json"


def _installed_path(role: str, scheme_path: str) -> str:
    return f"{_INSTALLED_DIR.get(role, 'data')}/{scheme_path}"


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
        path = _installed_path(m.role, m.scheme_path)
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


def prepare(wheel: WheelInfo, workdir: Path) -> Payload:
    """Lay a wheel out and archive it for containers (once per wheel per session)."""
    key = wheel.sha256[:16]
    stage = workdir / key
    lay_out(wheel, stage, interpreter="/usr/bin/env python3")
    root = f"{CONTAINER_ROOT}/wheels/{key}"
    plan = plan_for(wheel, root)
    (stage / "plan.json").write_text(json.dumps(plan, indent=1))
    archive = workdir / f"{key}.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(stage, arcname=root.lstrip("/"), filter=_world_readable)
    return Payload(wheel, key, archive, plan)


def _world_readable(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # Checks run as an unprivileged user: everything must be readable (and dirs searchable) by it.
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mode |= 0o755 if (info.isdir() or info.mode & 0o111) else 0o644
    return info


def _probe_archive() -> bytes:
    source = Path(__file__).with_name("probe.py").read_bytes()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in ("opt", CONTAINER_ROOT.lstrip("/"), f"{CONTAINER_ROOT.lstrip('/')}/wheels"):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        info = tarfile.TarInfo(PROBE_PATH.lstrip("/"))
        info.size = len(source)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(source))
    return buffer.getvalue()


class DistroRunner:
    """One distro's container for the session: started once, checks every wheel it is given."""

    def __init__(
        self,
        engine: Engine,
        distro: Distro,
        config: RunConfig,
        progress: Progress,
        portables: Provider | None = None,
    ) -> None:
        self.engine = engine
        self.distro = distro
        self.config = config
        self.progress = progress
        self.portables = portables
        #: portable interpreters brought into this container, by X.Y (or why that failed)
        self.brought: dict[str, Interpreter | str] = {}
        self.facts: DistroFacts | None = None
        self.unavailable: Observation | None = None
        self.user: str | None = None
        self._stack = contextlib.ExitStack()
        self._container: Container | None = None
        self._payloads: set[str] = set()

    def open(self) -> None:
        """Get the image, start the container and measure it; failures make every check skip."""
        try:
            ensure_image(self.engine, self.distro, self.progress, pull=self.config.pull)
            self._container = self._stack.enter_context(
                self.engine.container(self.distro.image, self.distro.name, self.config.limits)
            )
            self._container.put_archive("/", _probe_archive())
            self.facts = self._measure(self._container)
            self.user = self._user(self._container)
        except ImageError as e:
            self.unavailable = skipped(self.distro.name, self.distro.image, Cause.IMAGE, str(e))
        except (EngineError, ProbeError) as e:
            self.unavailable = skipped(self.distro.name, self.distro.image, Cause.ENGINE, str(e))

    @property
    def order(self) -> tuple[str, ...]:
        """Where this distro's interpreters come from, in order."""
        return self.distro.interpreters or self.config.python.order

    def _measure(self, container: Container) -> DistroFacts:
        # Paths the order names are looked for too (the probe finds only the usual places itself).
        paths = [e for e in self.order if e.startswith("/")]
        extra = list(dict.fromkeys([*(self.distro.pythons or ()), *paths, *self.config.pythons]))
        for python in ("python3", "/usr/bin/python3", "python"):
            result = container.exec([python, PROBE_PATH, "facts", *extra], timeout=120)
            if result.exit_code == 0:
                return facts_from_json(parse_probe_output(result.stdout, f"distro {self.distro.name!r}"))
        # No python at all: measure nothing more here; the check is skipped with that reason.
        return DistroFacts(None, None, "", None)

    def _user(self, container: Container) -> str | None:
        user = self.config.limits.user
        if not user:
            return None
        result = container.exec(["id", "-u", user], timeout=30)
        return user if result.exit_code == 0 else None

    def observe(self, payload: Payload) -> Observation:
        """Run one wheel's checks here."""
        if self.unavailable is not None:
            return self.unavailable
        assert self.facts is not None and self._container is not None
        facts = self.facts
        claim = payload.wheel.claim
        name, image = self.distro.name, self.distro.image

        def skip(cause: Cause, detail: str) -> Observation:
            return skipped(name, image, cause, detail, facts)

        if claim.arch and facts.machine and claim.arch != facts.machine:
            return skip(Cause.ARCH, f"the wheel is for {claim.arch}; this engine runs {facts.machine}")
        if claim.libc and facts.libc and claim.libc is not facts.libc:
            return skip(Cause.LIBC, f"a {claim.libc.value} wheel cannot run on this {facts.libc.value} distro")
        interpreter, why = self.choose(claim.interpreters, payload.wheel.requires_python)
        if interpreter is None:
            return skip(Cause.PYTHON, why)
        started = time.monotonic()
        result = None
        try:
            if payload.key not in self._payloads:
                with payload.archive.open("rb") as f:
                    self._container.put_archive("/", f)
                self._payloads.add(payload.key)
            budget = 120 + self.config.timeout * 3 + 2 * len(payload.plan["modules"])
            result = self._container.exec(
                [interpreter.path, PROBE_PATH, "check", payload.plan_path, str(self.config.timeout)],
                user=self.user,
                timeout=budget,
            )
            document = parse_probe_output(result.stdout, f"{payload.wheel.filename} on {name}")
        except (EngineError, ProbeError) as e:
            state = self._container.state()
            if state.get("OOMKilled"):
                detail = f"the container was killed for memory (limit {self.config.limits.memory})"
                return skip(Cause.ENGINE, detail)
            tail = f" (exit {result.exit_code}; stderr: {result.stderr[-300:]!r})" if result else ""
            return skip(Cause.ENGINE, f"{e}{tail}")
        return observation_from_check(
            name,
            image,
            facts,
            document,
            payload.wheel.modules,
            interpreter,
            time.monotonic() - started,
            root=payload.plan["root"],
        )

    def choose(self, pairs: frozenset[tuple[str, str]], requires_python: str | None) -> tuple[Interpreter | None, str]:
        """The interpreter that judges a wheel here, in :attr:`order`; a portable one is brought in if need be."""
        assert self.facts is not None
        natives: list[Interpreter] = []
        portable_why = ""
        for entry, group in zip(self.order, in_order(self.order, self.facts.interpreters)):
            if entry == "portable":
                interpreter, portable_why = self._portable_for(pairs, requires_python)
            else:
                natives += group
                interpreter, _ = choose(pairs, requires_python, group)
            if interpreter is not None:
                return interpreter, ""
        none_found = "no python interpreter in the image"
        if not natives and self.facts.interpreters:
            found = ", ".join(i.path for i in self.facts.interpreters)
            none_found = f"the interpreter order {list(self.order)} takes none of {found}"
        _, why = choose(pairs, requires_python, natives, none_found)
        return None, f"{why}; {portable_why}" if portable_why else why

    def _portable_for(self, pairs: frozenset[tuple[str, str]], requires_python: str | None) -> tuple[Interpreter | None, str]:
        assert self.facts is not None
        if self.portables is None or not self.portables.versions:
            return None, "no portable CPython is configured"
        if self.facts.libc is not Libc.GLIBC or self.facts.machine != "x86_64":
            here = f"{self.facts.libc.value if self.facts.libc else 'an unknown libc'} on {self.facts.machine or '?'}"
            return None, f"a portable CPython is for glibc on x86_64, and this distro is {here}"
        ready = {v for v, i in self.brought.items() if isinstance(i, Interpreter)} | self.portables.ready()
        version, why = portable_version(pairs, requires_python, self.portables.versions, ready)
        if version is None:
            return None, why
        brought = self.bring(version)
        if isinstance(brought, str):
            return None, brought
        return choose(pairs, requires_python, [brought])

    def bring(self, version: str) -> Interpreter | str:
        """The portable CPython X.Y in this container (put in and measured once), or why it cannot be."""
        known = self.brought.get(version)
        if known is not None:
            return known
        assert self.portables is not None
        assert self._container is not None
        assert self.facts is not None
        try:
            portable = self.portables.get(version)
            floor, here = portable.glibc, self.facts.libc_version
            if floor is not None and here is not None and here < floor:
                raise PortableError(f"it needs glibc {floor} and {self.distro.name} has {here}")
            started = time.monotonic()
            self._container.put_archive("/", put_tree(portable))
            with portable.archive.open("rb") as f:
                self._container.put_archive(portable.container_dir, f)
            # Measured as the checks run (the unprivileged user), by the interpreter itself: it needs
            # nothing of the image, not even a python3.
            path = portable.container_path
            result = self._container.exec([path, PROBE_PATH, "interpreter", path], user=self.user, timeout=120)
            if result.exit_code != 0:
                raise PortableError(f"it does not start here (exit {result.exit_code}): {result.stderr.strip()[-300:]}")
            data = parse_probe_output(result.stdout, f"the portable CPython {version} on {self.distro.name}")
            if "error" in data:
                raise PortableError(f"it does not run on {self.distro.name}: {data['error']}")
            interpreter: Interpreter | str = interpreter_from_json(data, "portable")
            self.progress(
                f"{self.distro.name}: portable CPython {portable.short} ({portable.detail}) brought in "
                f"in {time.monotonic() - started:.1f}s"
            )
        except (PortableError, EngineError) as e:
            interpreter = f"portable CPython {version}: {e}"
        self.brought[version] = interpreter
        return interpreter

    def close(self) -> None:
        self._stack.close()


@dataclass
class Matrix:
    """The session's runs: distros in parallel, wheels in order within each distro."""

    engine: Engine
    config: RunConfig
    workdir: Path
    progress: Progress
    jobs: int = 2
    #: the session's portable CPythons (``None``: only the interpreters images have)
    portables: Provider | None = None
    _futures: dict[tuple[str, str], Future[Observation]] = field(default_factory=dict)
    _payloads: dict[str, Future[Payload]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _runners: list[DistroRunner] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _pool: ThreadPoolExecutor | None = None

    def payload(self, wheel: WheelInfo) -> Payload:
        """The wheel's payload, prepared by the first thread that needs it."""
        with self._lock:
            future = self._payloads.get(wheel.sha256)
            owner = future is None
            if owner:
                future = self._payloads[wheel.sha256] = Future()
        assert future is not None
        if owner:
            try:
                future.set_result(prepare(wheel, self.workdir))
            except BaseException as e:
                future.set_exception(e)
        return future.result()

    def submit(self, work: Iterable[tuple[WheelInfo, Distro]]) -> None:
        """Schedule (wheel, distro) checks; each distro's checks run in one thread, in order."""
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

    def _run_distro(self, distro: Distro, wheels: list[WheelInfo]) -> None:
        runner = DistroRunner(self.engine, distro, self.config, self.progress, self.portables)
        with self._lock:
            self._runners.append(runner)
        try:
            if not self._stopping.is_set():
                runner.open()
            for wheel in wheels:
                future = self._futures[(wheel.sha256, distro.name)]
                if self._stopping.is_set():
                    future.set_exception(EngineError("the run was stopped before this check"))
                    continue
                try:
                    observation = runner.observe(self.payload(wheel))
                except WheelError as e:
                    future.set_exception(e)
                    continue
                except ManylinuxError as e:
                    observation = skipped(distro.name, distro.image, Cause.ENGINE, str(e), runner.facts)
                except Exception as e:  # an engine hiccup must not hang the items waiting on it
                    observation = skipped(distro.name, distro.image, Cause.ENGINE, f"{type(e).__name__}: {e}", runner.facts)
                future.set_result(observation)
        finally:
            runner.close()
            for wheel in wheels:
                future = self._futures[(wheel.sha256, distro.name)]
                if not future.done():
                    future.set_exception(EngineError(f"distro {distro.name!r} stopped before checking {wheel.filename}"))

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
            runners = list(self._runners)
        for runner in runners:
            runner.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
