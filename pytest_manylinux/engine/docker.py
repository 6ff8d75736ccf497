"""The container engine behind one small interface: the only module that talks to the Docker SDK.

Everything the plugin creates carries the ``pytest-manylinux`` label and the creating process's
host and PID, so it can be removed in ``finally`` and leftovers of interrupted runs reaped later.
Files go in through the API (``put_archive``), never bind mounts, so a remote engine works too.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import resource
import shlex
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable

from ..errors import EngineError, ImageError

if TYPE_CHECKING:  # pragma: no cover
    import docker

LABEL = "pytest-manylinux"
LABEL_SESSION = "pytest-manylinux.session"
LABEL_HOST = "pytest-manylinux.host"
LABEL_PID = "pytest-manylinux.pid"
LABEL_DISTRO = "pytest-manylinux.distro"

#: how long one API call may take before the engine counts as hung (exec runs are bounded in-container)
API_TIMEOUT = 900


#: seconds past an exec's timeout before its watchdog kills what ``timeout`` itself could not
OVERDUE = 15
#: how often the watchdog of an exec with a timeout looks at its processes (stopped ones: ``Container.exec``)
WATCH_EVERY = 5.0

#: the smallest memory limit Docker accepts for a container
MIN_MEMORY = 6 * 1024 * 1024
#: where a check may write (besides /dev/shm, the engine's 64 MiB): size-limited in-memory filesystems
SCRATCH = ("/tmp", "/var/tmp")
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def memory_bytes(text: str) -> int:
    """Bytes of a memory size in the engine's notation (``512m``, ``2g``, ``1073741824``)."""
    match = re.fullmatch(r"\s*(\d+)\s*([kmg]?)b?\s*", text.lower())
    if not match:
        raise ValueError(f"{text!r} is not a size; write a number with an optional unit: 512m, 2g")
    size = int(match[1]) * _UNITS[match[2]]
    if size < MIN_MEMORY:
        raise ValueError(f"{text!r} is below the engine's minimum of 6m")
    return size


@dataclass(frozen=True)
class Limits:
    """Resource limits and isolation for every container the plugin starts."""

    #: memory limit (swap included), in the engine's notation
    memory: str = "2g"
    #: the most a check may write to each place it can write (``/tmp``, ``/var/tmp``): size-limited
    #: in-memory filesystems over a read-only root, so the engine's disk never grows with what an import does
    disk: str = "1g"
    #: most processes a container may have
    pids: int = 512
    #: run checks as this user where the image has it (``None``: as root)
    user: str | None = "nobody"


@dataclass(frozen=True)
class ExecResult:
    """What one command run in a container returned."""

    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    #: the command outlived its timeout (it was stopped, wrapper and all) and the watchdog killed it
    overdue: bool = False


def split_reference(ref: str) -> tuple[str, str]:
    """``host:5000/team/ubuntu:22.04`` -> (``host:5000/team/ubuntu``, ``22.04``); no tag is ``latest``."""
    if "@" in ref:
        repository, digest = ref.split("@", 1)
        return repository.rsplit(":", 1)[0] if ":" in repository.rsplit("/", 1)[-1] else repository, digest
    if ":" in ref.rsplit("/", 1)[-1]:
        repository, tag = ref.rsplit(":", 1)
        return repository, tag
    return ref, "latest"


# The package managers' milestones, shown while a derive runs (the rest stays in the error on failure).
_DERIVE_MILESTONES = ("Fetched ", "Setting up python3", "fetch ", "Installing", "Complete!", "E:", "ERROR")


class _Transfer:
    """Layers and megabytes of a pull or push as the engine reports them, told every few seconds."""

    def __init__(self, what: str, verb: str, progress: Callable[[str], None] | None) -> None:
        self.what = what
        self.verb = verb  # "Download" or "Push": the engine's status word while bytes move
        self.progress = progress
        self.layers: dict[str, tuple[int, int]] = {}  # id -> (bytes done, bytes total)
        self.finished: set[str] = set()
        self.last = 0.0
        self.said = ""
        self.started = time.monotonic()

    def update(self, event: Mapping[str, Any]) -> None:
        layer, status = str(event.get("id", "")), str(event.get("status", ""))
        # Events about the image rather than a layer carry its tag as their id ("Pulling from ...").
        if not layer or status.startswith(("Pulling from", "Digest:", "Status:", "The push refers")):
            return
        detail = event.get("progressDetail") or {}
        if status.startswith(self.verb) and detail.get("total"):
            self.layers[layer] = (int(detail.get("current", 0)), int(detail["total"]))
        elif status.endswith(("complete", "exists", "Pushed")) or status.startswith("Mounted from"):
            done, total = self.layers.get(layer, (0, 0))
            self.layers[layer] = (total or done, total or done)
            self.finished.add(layer)
        else:
            self.layers.setdefault(layer, (0, 0))
        now = time.monotonic()
        if self.progress is not None and now - self.last >= 2 and self.line() != self.said:
            self.last, self.said = now, self.line()
            self.progress(self.said)

    def line(self) -> str:
        done = sum(d for d, _ in self.layers.values()) / 1e6
        total = sum(t for _, t in self.layers.values()) / 1e6
        return f"{self.what}: {len(self.finished)}/{len(self.layers)} layers, {done:.1f} of {total:.1f} MB"

    def done(self) -> None:
        if self.progress is not None:
            self.progress(f"{self.line()} in {time.monotonic() - self.started:.1f}s")


def _session_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass
class Engine:
    """A connection to a Docker-API engine (Docker, or Podman's compatible socket)."""

    client: docker.DockerClient
    #: labels every object created in this session carries
    session: str = field(default_factory=_session_id)
    #: run containers with an init as PID 1 (turned off, once and said, where the engine has none)
    init: bool = True
    #: where notes about the engine go (a limit it cannot apply, a missing init): said once each
    notify: Callable[[str], None] = field(default=lambda line: None, repr=False)
    _said: set[str] = field(default_factory=set, repr=False)

    def note(self, text: str) -> None:
        """Say ``text`` once per engine connection."""
        if text not in self._said:
            self._said.add(text)
            self.notify(f"note: {text}")

    def _run_options(self) -> dict[str, Any]:
        """Options every container gets: limits the caller may set. Podman starts containers with the
        limits of its service process and refuses its defaults (open files 1048576, processes) above
        them, so its limits are kept modest: 65536 open files (or the caller's limit), 4096 processes
        per user (containers have a pids limit of their own anyway). dockerd takes any; it is given only
        the open-files one (a process limit counts every process of that host user)."""
        import docker.types

        limits = [("nofile", resource.RLIMIT_NOFILE, 65536)]
        if self.is_podman:
            limits.append(("nproc", resource.RLIMIT_NPROC, 4096))
        ulimits = []
        for name, which, most in limits:
            _soft, hard = resource.getrlimit(which)
            value = most if hard == resource.RLIM_INFINITY else min(most, hard)
            ulimits.append(docker.types.Ulimit(name=name, soft=value, hard=value))
        return {"ulimits": ulimits}

    def _say_limitations(self) -> None:
        """Say once what the engine will not do of what the plugin asks (rootless Podman on cgroup v1
        ignores memory and process limits)."""
        if not self.is_podman:
            return
        info = self._call("read the engine's info", self.client.info)
        # Podman says "Rootless": true; Docker lists "name=rootless" among its security options.
        rootless = info.get("Rootless") is True or any(
            "rootless" in str(o) for o in info.get("SecurityOptions") or []
        )
        if rootless and str(info.get("CgroupVersion", "")) == "1":
            self.note(
                "rootless Podman on cgroup v1 ignores container limits: --manylinux-memory and the pids "
                "limit do not hold, so an import that exhausts memory is not reported as 'memory'"
            )

    @functools.cached_property
    def is_podman(self) -> bool:
        """Whether the engine is Podman (its Docker-compatible API names itself in its version)."""
        version = self._call("read the engine's version", self.client.version)
        return any("podman" in str(c.get("Name", "")).lower() for c in version.get("Components") or [])

    @classmethod
    def connect(cls) -> Engine:
        """Connect through ``DOCKER_HOST`` (or the default socket) and check the engine answers."""
        import docker
        import docker.errors

        where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        try:
            if where.startswith("unix://"):
                # Tried first with a socket of our own: a Docker client that cannot connect while it
                # is being made leaks its socket (a ResourceWarning later, wherever the GC runs).
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    probe.settimeout(30)
                    probe.connect(where[len("unix://") :])
            client = docker.from_env(timeout=API_TIMEOUT)
        except (docker.errors.DockerException, OSError) as e:
            raise EngineError(
                f"cannot reach the container engine at {where} ({e}). Start the Docker engine "
                "(e.g. `dockerd &`) or point DOCKER_HOST at a running one, or use "
                "--manylinux-static-only to judge wheels without containers."
            ) from e
        return cls(client)

    def close(self) -> None:
        """Close the connection (its sockets); the engine's objects are not touched."""
        self.client.close()

    @property
    def labels(self) -> dict[str, str]:
        return {
            LABEL: "1",
            LABEL_SESSION: self.session,
            LABEL_HOST: socket.gethostname(),
            LABEL_PID: str(os.getpid()),
        }

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        import docker.errors
        import requests.exceptions

        try:
            return fn(*args, **kwargs)
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as e:
            raise EngineError(f"the container engine failed to {what}: {e}") from e

    # -- images -------------------------------------------------------------------------------

    def image_id(self, ref: str) -> str | None:
        """The ID of a local image, or None when the engine does not have it."""
        import docker.errors

        try:
            return str(self.client.images.get(ref).id)
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as e:
            if e.status_code == 404:
                return None
            raise EngineError(f"the container engine failed to look up image {ref!r}: {e}") from e

    def pull(self, ref: str, progress: Callable[[str], None] | None = None) -> str:
        """Pull an image, telling ``progress`` the layers and megabytes as they arrive; raise
        :class:`ImageError` with the engine's reason when it cannot."""
        import docker.errors
        import requests.exceptions

        repository, tag = split_reference(ref)
        meter = _Transfer(f"pulling {ref}", "Download", progress)
        try:
            for event in self.client.api.pull(repository, tag=tag, stream=True, decode=True):
                if "error" in event:
                    raise ImageError(f"cannot pull {ref!r}: {event['error']}")
                meter.update(event)
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as e:
            raise ImageError(f"cannot pull {ref!r}: {e}") from e
        meter.done()
        image_id = self.image_id(ref)
        if image_id is None:
            raise ImageError(f"pulling {ref!r} reported success but the engine has no such image")
        return image_id

    def push(self, ref: str, progress: Callable[[str], None] | None = None) -> str:
        """Push a local image to its registry; return the digest the registry gave it."""
        import docker.errors
        import requests.exceptions

        repository, tag = split_reference(ref)
        meter = _Transfer(f"pushing {ref}", "Push", progress)
        digest = ""
        try:
            for event in self.client.api.push(repository, tag=tag, stream=True, decode=True):
                if "error" in event:
                    raise ImageError(f"cannot push {ref!r}: {event['error']}")
                digest = str((event.get("aux") or {}).get("Digest") or digest)
                meter.update(event)
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as e:
            raise ImageError(f"cannot push {ref!r}: {e}") from e
        meter.done()
        return digest

    def tag(self, image: str, ref: str) -> None:
        """Give a local image another reference."""
        repository, tag = split_reference(ref)
        done = self._call(f"tag {image!r} as {ref!r}", self.client.api.tag, image, repository, tag)
        if not done:
            raise ImageError(f"the engine refused to tag {image!r} as {ref!r}")

    def image_config(self, ref: str) -> dict[str, Any]:
        """The ``Config`` part of a local image's description (``Cmd``, ``Env``, ``Labels``, ...)."""
        attrs = self._call(f"inspect image {ref!r}", self.client.api.inspect_image, ref)
        return dict(attrs.get("Config") or {})

    def commit_run(
        self,
        base: str,
        script: str,
        ref: str,
        *,
        labels: Mapping[str, str],
        what: str,
        progress: Callable[[str], None] | None = None,
    ) -> str:
        """Run ``sh -c script`` as root in a container of ``base`` that has the network, and commit the
        result as ``ref`` (with ``labels`` and the base's command); return the new image's ID. A script
        that fails raises :class:`ImageError` naming ``what`` and the last lines of its output."""
        import docker.errors

        config = self.image_config(base)
        name = f"pytest-manylinux-{self.session}-derive-{uuid.uuid4().hex[:6]}"
        try:
            raw = self.client.containers.run(
                base,
                ["sh", "-c", script],
                name=name,
                detach=True,
                labels=self.labels,
                # The engine host's network: the package archive is reachable wherever the host reaches it,
                # with or without a bridge (rootless engines have none).
                network_mode="host",
                user="0",
                entrypoint=[],
                **self._run_options(),
            )
        except (docker.errors.DockerException, OSError) as e:
            raise EngineError(f"{what}: cannot start a container of {base!r}: {e}") from e
        try:
            log: list[str] = []
            for chunk in raw.logs(stream=True, follow=True):
                for line in bytes(chunk).decode("utf-8", "replace").splitlines():
                    log.append(line)
                    if progress is not None and line.startswith(_DERIVE_MILESTONES):
                        progress(f"  {line.strip()[:150]}")
            code = int(self._call(f"wait for {what}", raw.wait).get("StatusCode", -1))
            if code != 0:
                tail = "\n".join(log[-15:])
                raise ImageError(f"{what} failed (exit {code}) running:\n  {script}\nlast lines:\n{tail}")
            repository, tag = split_reference(ref)
            changes = [f"LABEL {key}={value}" for key, value in labels.items()]
            changes.append("CMD " + json.dumps(config.get("Cmd") or ["/bin/sh"]))
            self._call(f"commit the result of {what}", raw.commit, repository, tag, changes=changes)
        finally:
            with contextlib.suppress(docker.errors.DockerException, OSError):
                raw.remove(force=True)
        image_id = self.image_id(ref)
        if image_id is None:
            raise ImageError(f"committing {ref!r} reported success but the engine has no such image")
        return image_id

    def remove_image(self, ref: str) -> None:
        """Remove one local image reference (images this process made; never others')."""
        import docker.errors

        with contextlib.suppress(docker.errors.NotFound):
            self._call(f"remove image {ref!r}", self.client.images.remove, ref, force=True)

    def import_image(self, stream: IO[bytes], ref: str, changes: list[str]) -> str:
        """Import a root filesystem tar stream as image ``ref``."""
        repository, tag = split_reference(ref)
        self._call(
            f"import image {ref!r}",
            self.client.api.import_image_from_stream,
            stream,
            repository=repository,
            tag=tag,
            changes=changes,
        )
        image_id = self.image_id(ref)
        if image_id is None:
            raise ImageError(f"importing {ref!r} reported success but the engine has no such image")
        return image_id

    # -- containers ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def container(
        self,
        image: str,
        distro: str,
        limits: Limits = Limits(),
        *,
        network: bool = False,
        build: bool = False,
        files: str | None = None,
    ) -> Iterator[Container]:
        """A running container of ``image``, removed on exit whatever happened.

        Checks run without network and without capabilities. A ``build`` container (a portable CPython
        built from source) keeps root's capabilities for the package manager and shares the engine
        host's network, which works where the engine's bridge is missing too.

        Any other container has a read-only root: a check may only write to ``/tmp`` and ``/var/tmp``,
        in-memory filesystems of ``limits.disk`` each (their pages count against the memory limit too),
        so what an import writes never reaches the engine's disk. ``files`` names the directory the host
        copies files into (an anonymous volume, removed with the container): only there may
        :meth:`Container.put_archive` write.
        """
        import docker.errors
        import docker.types

        labels = dict(self.labels, **{LABEL_DISTRO: distro})
        name = f"pytest-manylinux-{self.session}-{distro}".replace(":", "-").replace("/", "-")
        isolation: dict[str, Any] = (
            {"network_mode": "host"}
            if build
            else {
                "network_mode": "bridge" if network else "none",
                "cap_drop": ["ALL"],
                "security_opt": ["no-new-privileges"],
                "read_only": True,
                # exec: a module may load code it wrote there, as on an ordinary machine
                "tmpfs": {
                    place: f"rw,exec,nosuid,nodev,size={memory_bytes(limits.disk)},mode=1777"
                    for place in SCRATCH
                },
                # the volume carries the container's labels: a leftover is found like the container
                "mounts": [docker.types.Mount(files, None, type="volume", labels=labels)] if files else [],
            }
        )
        options: dict[str, Any] = dict(
            name=name[:120],
            detach=True,
            labels=labels,
            mem_limit=limits.memory,
            memswap_limit=limits.memory,
            pids_limit=limits.pids,
            stop_signal="SIGKILL",
            **isolation,
            **self._run_options(),
        )
        self._say_limitations()
        try:
            try:
                # PID 1 of a container ignores the signals it raises itself: an init is PID 1 and
                # every check runs in an exec'd process below it, so a crash is reported truly.
                raw = self.client.containers.run(image, ["sleep", "infinity"], init=self.init, **options)
            except docker.errors.APIError as e:
                if not (self.init and _NO_INIT.search(str(e))):
                    raise
                self.init = False
                self.note(
                    "the engine has no init binary (Podman: apt-get install catatonit), so containers run "
                    "without one; checks are exec'd processes and are reported as before"
                )
                with contextlib.suppress(docker.errors.DockerException):
                    self.client.containers.get(options["name"]).remove(force=True, v=True)
                raw = self.client.containers.run(image, ["sleep", "infinity"], init=False, **options)
        except docker.errors.ImageNotFound as e:
            raise ImageError(f"image {image!r} for distro {distro!r} is not on the engine: {e}") from e
        except (docker.errors.DockerException, OSError) as e:
            raise EngineError(f"cannot start a container of {image!r} for distro {distro!r}: {e}") from e
        container = Container(self, raw, distro, limits)
        try:
            yield container
        finally:
            container.remove()

    def _labelled(self, label: str) -> list[Any]:
        """Containers carrying ``label`` (``key`` or ``key=value``), as the engine's list shows them.

        Sparse: the SDK's full listing inspects each container after listing them all, and fails
        when another session removes one of its own in between (xdist workers, parallel runs).
        """
        listing = self.client.containers.list
        return list(self._call("list containers", listing, all=True, filters={"label": label}, sparse=True))

    def leftovers(self, *, all_hosts: bool = False) -> list[Any]:
        """Containers created by pytest-manylinux whose creating process is gone."""
        found = self._labelled(LABEL)
        host = socket.gethostname()
        stale = []
        for c in found:
            labels = c.attrs.get("Labels") or {}
            if labels.get(LABEL_HOST) != host and not all_hosts:
                continue
            if labels.get(LABEL_SESSION) == self.session:
                continue
            pid = labels.get(LABEL_PID, "")
            if pid.isdigit() and _alive(int(pid)) and not all_hosts:
                continue
            stale.append(c)
        return stale

    def reap(self) -> int:
        """Remove leftovers of earlier interrupted runs on this host; return how many."""
        import docker.errors

        count = 0
        for c in self.leftovers():
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                c.remove(force=True, v=True)  # v: its volume (the files it was given) goes too
                count += 1
        # A check container's volume whose container was removed some other way (without its volumes)
        host = socket.gethostname()
        volumes = self._call("list volumes", self.client.volumes.list, filters={"label": LABEL})
        for v in volumes:
            labels = v.attrs.get("Labels") or {}
            pid = labels.get(LABEL_PID, "")
            if labels.get(LABEL_HOST) != host or labels.get(LABEL_SESSION) == self.session:
                continue
            if pid.isdigit() and _alive(int(pid)):
                continue
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                v.remove()  # refused while a container still uses it
                count += 1
        return count


#: how an engine without an init binary refuses ``init=True`` (Podman without catatonit)
_NO_INIT = re.compile(r"catatonit|init binary|container-init|docker-init", re.IGNORECASE)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` of this host runs. A zombie does not: it died, and only waits for its
    parent to collect it (a killed xdist worker stays one until its controller ends)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[-1].split()[:1]
    except OSError:
        return True  # no procfs: the signal said it exists
    return state != ["Z"]


class Container:
    """A running container; run commands in it and put files into it."""

    def __init__(self, engine: Engine, raw: Any, distro: str, limits: Limits) -> None:
        self.engine = engine
        self.raw = raw
        self.distro = distro
        self.limits = limits
        self.removed = False

    @property
    def id(self) -> str:
        return str(self.raw.id)

    def put_archive(self, path: str, data: bytes | IO[bytes] | Iterable[bytes]) -> None:
        """Extract a tar archive at ``path``; an iterable of chunks is streamed as it is produced."""
        ok = self.engine._call(f"copy files into {self.distro}", self.raw.put_archive, path, data)
        if not ok:
            raise EngineError(f"the engine refused to copy files into {path!r} of distro {self.distro!r}")

    def save_archive(self, path: str, dest: Path) -> Path:
        """Write the tar stream of ``path`` in the container (:meth:`get_archive`) to ``dest``."""
        with dest.open("wb") as out:
            for chunk in self.get_archive(path):
                out.write(chunk)
        return dest

    def get_archive(self, path: str) -> Iterator[bytes]:
        """A tar stream of ``path`` in the container (its last component is the archive's top)."""
        bits, _stat = self.engine._call(f"copy {path!r} out of {self.distro}", self.raw.get_archive, path)
        try:
            yield from bits
        except Exception as e:  # the stream breaks when the engine does
            raise EngineError(f"copying {path!r} out of {self.distro} broke off: {e}") from e

    def cpu_seconds(self) -> float | None:
        """The CPU time every process of the container used so far (its cgroup's), or None if unknown."""
        try:
            stats = self.engine._call(f"read the statistics of {self.distro}", self.raw.stats, stream=False)
            return float(stats["cpu_stats"]["cpu_usage"]["total_usage"]) / 1e9
        except (EngineError, KeyError, TypeError, ValueError):
            return None

    def commit(self, ref: str, changes: list[str]) -> str:
        """Save the container's file system as image ``ref`` (Dockerfile ``changes`` applied); its ID."""
        repository, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
        image = self.engine._call(
            f"save {self.distro} as image {ref!r}", self.raw.commit, repository, tag, changes=changes
        )
        return str(image.id)

    def exec(
        self,
        argv: list[str],
        *,
        user: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> ExecResult:
        """Run ``argv`` in the container; ``timeout`` kills it (SIGKILL) from inside after that long.

        The ``timeout`` wrapper runs as ``user`` too, so what ``argv`` starts may stop it along with
        everything else of that user (``kill(-1, SIGSTOP)``): a watchdog then kills every process of
        ``user`` a little after the limit, and the result says so (:attr:`ExecResult.overdue`).
        """
        watchdog: threading.Thread | None = None
        done, fired = threading.Event(), threading.Event()
        started = time.monotonic()
        if timeout is not None:
            argv = ["timeout", "-s", "KILL", str(int(timeout) + 1), *argv]
            if user and user != "root":  # as root it would kill the container's own process too
                args = (user, started + timeout + OVERDUE, done, fired)
                watchdog = threading.Thread(target=self._watch, args=args, daemon=True)
        api = self.engine.client.api
        try:
            if watchdog is not None:
                watchdog.start()
            out, err, code = self._run(api, argv, user, env)
        finally:
            done.set()
        return ExecResult(
            code,
            (out or b"").decode("utf-8", "replace"),
            (err or b"").decode("utf-8", "replace"),
            time.monotonic() - started,
            overdue=fired.is_set(),
        )

    def _watch(self, user: str, deadline: float, done: threading.Event, fired: threading.Event) -> None:
        """Until ``done``: kill every process of ``user`` here once each of them has been seen stopped
        twice in a row (the engine's ``top``, every :data:`WATCH_EVERY` seconds), or at ``deadline``.

        A running check always has a process that is not stopped (the probe waits in ``select``): all of
        them stopped is something the wheel's code did, and nothing will continue them.
        """
        stopped_before = False
        while not done.wait(WATCH_EVERY):
            stopped = self._all_stopped(user)
            if (stopped and stopped_before) or time.monotonic() >= deadline:
                break
            stopped_before = stopped
        else:
            return
        fired.set()
        with contextlib.suppress(EngineError):
            # kill -1 spares the caller: every other process of the user goes
            self._run(self.engine.client.api, ["sh", "-c", "kill -s KILL -- -1"], user, None)

    def _all_stopped(self, user: str) -> bool:
        """Whether every process of ``user`` in the container is stopped (False when unknown)."""
        try:
            listing = self.raw.top(ps_args="-o pid,user,stat")  # Docker needs the pid column
        except Exception:  # an engine without ps arguments for top (Podman): the deadline still holds
            return False
        states = [row[2] for row in listing.get("Processes") or [] if len(row) >= 3 and row[1] == user]
        live = [state for state in states if not state.startswith("Z")]  # a zombie waits for a stopped parent
        return bool(live) and all(state.startswith("T") for state in live)

    def _run(
        self, api: Any, argv: list[str], user: str | None, env: Mapping[str, str] | None
    ) -> tuple[bytes | None, bytes | None, int]:
        exec_id = self.engine._call(
            f"run {shlex.join(argv)[:80]!r} in {self.distro}",
            api.exec_create,
            self.raw.id,
            argv,
            user=user or "",
            environment=dict(env or {}),
            stdout=True,
            stderr=True,
        )
        out, err = self.engine._call(f"run a command in {self.distro}", api.exec_start, exec_id, demux=True)
        info = self.engine._call(f"inspect a command in {self.distro}", api.exec_inspect, exec_id)
        code = info.get("ExitCode")
        if code is None:
            raise EngineError(f"the engine lost the command {argv[:3]!r} in distro {self.distro!r}")
        return out, err, int(code)

    def state(self) -> dict[str, Any]:
        """The engine's view of the container (``OOMKilled``, ``Running``, ...)."""
        import docker.errors
        import requests.exceptions

        try:
            self.raw.reload()
        except docker.errors.NotFound:
            return {"Running": False, "Gone": True}
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as e:
            what = f"inspect the container of {self.distro}"
            raise EngineError(f"the container engine failed to {what}: {e}") from e
        return dict(self.raw.attrs.get("State", {}))

    def remove(self) -> None:
        """Remove the container (once; later calls do nothing)."""
        import docker.errors
        import requests.exceptions

        if self.removed:
            return
        self.removed = True
        # NotFound: already gone. The others: the engine may be gone; the leftover is reaped by the
        # next run's start.
        with contextlib.suppress(
            docker.errors.NotFound,
            docker.errors.APIError,
            requests.exceptions.RequestException,
            OSError,
        ):
            self.raw.remove(force=True, v=True)  # v: its volume goes too
