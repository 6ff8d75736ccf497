"""Real services the engine tests start for themselves, each on 127.0.0.1 or a private socket, each
removed afterwards: a container registry (Debian's ``docker-registry``, the CNCF distribution registry),
Podman's Docker-compatible API (rootful, or rootless as an unprivileged user), and an unprivileged user.

Nothing here is mocked: the plugin talks to these as it would to Docker Hub, a team's registry, Podman
on a laptop or a remote engine.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port of 127.0.0.1 nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(ready: Any, what: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if ready():
            return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    raise RuntimeError(f"{what} did not start (exit {proc.poll()}):\n{tail}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _http_ok(port: int, path: str) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
            return s.recv(64).startswith((b"HTTP/1.0 200", b"HTTP/1.1 200"))
        except OSError:
            return False


@dataclass
class Registry:
    """A running distribution registry on 127.0.0.1 with a temporary store."""

    port: int
    root: Path
    proc: subprocess.Popen[bytes]

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: the registry part of image references."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"


@contextlib.contextmanager
def registry(*, read_only: bool = False) -> Iterator[Registry]:
    """A registry on a free port of 127.0.0.1 (the engines trust plain http there); ``read_only`` makes
    it refuse every push, as a registry the user may not write to does."""
    root = Path(tempfile.mkdtemp(prefix="pm-registry-"))
    port = free_port()
    maintenance = "  maintenance:\n    readonly:\n      enabled: true\n" if read_only else ""
    (root / "config.yml").write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'store'}\n  delete:\n    enabled: true\n"
        f"{maintenance}"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = root / "registry.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["docker-registry", "serve", str(root / "config.yml")],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait(lambda: _http_ok(port, "/v2/"), "docker-registry", proc, log)
        yield Registry(port, root, proc)
    finally:
        _stop(proc)
        shutil.rmtree(root, ignore_errors=True)


def seed(client: Any, registry: Registry, refs: Mapping[str, str]) -> None:
    """Push local images to the registry: ``{"ubuntu:16.04": "library/ubuntu:16.04"}`` makes the
    official name pullable through the registry as a mirror (Docker Hub's ``library/`` namespace)."""
    for local, remote in refs.items():
        target = f"{registry.host}/{remote}"
        repository, tag = target.rsplit(":", 1)
        client.api.tag(local, repository, tag)
        try:
            for event in client.api.push(repository, tag=tag, stream=True, decode=True):
                if "error" in event:
                    raise RuntimeError(f"seeding {target}: {event['error']}")
        finally:
            client.api.remove_image(target)  # the tag only; the image stays


# -- an unprivileged user -----------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int
    home: Path
    groups: tuple[int, ...]

    def env(self, **extra: str) -> dict[str, str]:
        """A login-like environment: nothing of root's but PATH and the locale."""
        env = {
            "HOME": str(self.home),
            "USER": self.name,
            "LOGNAME": self.name,
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "XDG_RUNTIME_DIR": str(self.home / "run"),
            "TMPDIR": str(self.home / "tmp"),
        }
        env.update(extra)
        return env

    def run(
        self, argv: list[str], env: Mapping[str, str], cwd: Path, timeout: float = 1800
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            cwd=cwd,
            env=dict(env),
            user=self.uid,
            group=self.gid,
            extra_groups=list(self.groups),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def popen(self, argv: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            return subprocess.Popen(
                argv,
                env=dict(env),
                user=self.uid,
                group=self.gid,
                extra_groups=list(self.groups),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.home,
            )


@contextlib.contextmanager
def unprivileged_user(groups: tuple[str, ...] = ()) -> Iterator[User]:
    """A new user (with subordinate IDs for rootless Podman) in ``groups``, deleted afterwards."""
    name = f"pm{os.getpid() % 100000}{int(time.time()) % 1000}"
    home = Path(tempfile.mkdtemp(prefix=f"pytest-manylinux-user-{name}-", dir="/tmp"))
    argv = ["useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/bin/sh"]
    if groups:
        argv += ["--groups", ",".join(groups)]
    subprocess.run([*argv, name], check=True, capture_output=True)
    try:
        entry = pwd.getpwnam(name)
        for sub in ("/etc/subuid", "/etc/subgid"):  # useradd adds them where login.defs says; make sure
            path = Path(sub)
            text = path.read_text() if path.exists() else ""
            if not any(line.startswith(f"{name}:") for line in text.splitlines()):
                start = 200000 + (entry.pw_uid % 1000) * 65536
                with path.open("a") as f:
                    f.write(f"{name}:{start}:65536\n")
        for sub in ("run", "tmp"):
            (home / sub).mkdir(mode=0o700)
        subprocess.run(["chown", "-R", f"{entry.pw_uid}:{entry.pw_gid}", str(home)], check=True)
        gids = tuple(grp.getgrnam(g).gr_gid for g in groups)
        yield User(name, entry.pw_uid, entry.pw_gid, home, gids)
    finally:
        subprocess.run(["pkill", "-KILL", "-u", name], check=False, capture_output=True)
        time.sleep(0.5)
        subprocess.run(["userdel", name], check=False, capture_output=True)
        for sub in ("/etc/subuid", "/etc/subgid"):
            path = Path(sub)
            if path.exists():
                kept = [line for line in path.read_text().splitlines() if not line.startswith(f"{name}:")]
                path.write_text("".join(f"{line}\n" for line in kept))
        # A rootless Podman's storage holds files of subordinate IDs: removed through its own namespace.
        subprocess.run(["chmod", "-R", "u+rwX", str(home)], check=False, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def user_site(user: User) -> Path:
    """A copy of this project and of every distribution it needs, readable by ``user``: the interpreter
    running the tests may live where that user cannot read (under /root), so the user runs Debian's
    python3 (the same minor version) with this directory on its path."""
    import importlib.metadata

    from packaging.requirements import Requirement

    site = user.home / "site"
    site.mkdir()
    shutil.copytree(ROOT / "pytest_manylinux", site / "pytest_manylinux")
    shutil.copy(ROOT / "distros.toml", site / "distros.toml")  # where a source checkout has it
    wanted, seen = ["pytest-manylinux"], set()
    while wanted:
        name = wanted.pop()
        if name in seen:
            continue
        seen.add(name)
        dist = importlib.metadata.distribution(name)
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                wanted.append(requirement.name)
        if name == "pytest-manylinux":
            continue  # copied above, from the source tree
        for file in dist.files or []:
            source = Path(str(dist.locate_file(file)))
            if ".." in file.parts or not source.is_file():
                continue  # console scripts live outside site-packages
            target = site / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    subprocess.run(["chown", "-R", f"{user.uid}:{user.gid}", str(site)], check=True)
    return site


def debian_python() -> str:
    """Debian's python3 when it is the minor version running the tests (copied modules then load)."""
    python = "/usr/bin/python3"
    probe = subprocess.run(
        [python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
    )
    if probe.returncode != 0 or probe.stdout.strip() != str(sys.version_info[:2]):
        raise RuntimeError(f"{python} is not Python {sys.version_info[:2]}: {probe.stdout or probe.stderr}")
    return python


# -- Podman ---------------------------------------------------------------------------------------------


@dataclass
class Podman:
    """``podman system service`` answering the Docker API on a unix socket."""

    socket: Path
    root: Path
    proc: subprocess.Popen[bytes]

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"


def registries_conf(path: Path, mirror: Registry) -> Path:
    """A registries.conf that pulls Docker Hub names through ``mirror`` (plain http on 127.0.0.1)."""
    path.write_text(
        'unqualified-search-registries = ["docker.io"]\n'
        f'[[registry]]\nlocation = "{mirror.host}"\ninsecure = true\n'
        '[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n'
        f'[[registry.mirror]]\nlocation = "{mirror.host}"\ninsecure = true\n'
    )
    return path


@contextlib.contextmanager
def podman_service(mirror: Registry, user: User | None = None) -> Iterator[Podman]:
    """Podman's API service with storage of its own, rootful or (``user``) rootless, pulling Docker Hub
    names through ``mirror``; every container and image of it removed afterwards."""
    # Short: Podman refuses a runroot of more than 50 characters.
    root = Path(tempfile.mkdtemp(prefix="pmpod-", dir="/tmp"))
    sock = root / "podman.sock"
    conf = registries_conf(root / "registries.conf", mirror)
    env = (user.env() if user is not None else dict(os.environ)) | {"CONTAINERS_REGISTRIES_CONF": str(conf)}
    argv = [
        "podman",
        f"--root={root / 'storage'}",
        f"--runroot={root / 'run'}",
        "--cgroup-manager=cgroupfs",
        "--events-backend=file",
        "system",
        "service",
        "--time=0",
        f"unix://{sock}",
    ]
    log = root / "podman.log"
    if user is not None:
        subprocess.run(["chown", "-R", f"{user.uid}:{user.gid}", str(root)], check=True)
        proc = user.popen(argv, env, log)
    else:
        with log.open("wb") as out:
            proc = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
    try:
        _wait(lambda: _unix_ping(sock), "podman system service", proc, log)
        yield Podman(sock, root, proc)
    finally:
        _stop(proc)
        reset = [a for a in argv[:5]] + ["system", "reset", "--force"]
        if user is not None:
            user.run(reset, env, cwd=user.home, timeout=300)
        else:
            subprocess.run(reset, env=env, capture_output=True, timeout=300)
        # What the reset left mounted (a rootful overlay) would keep its directory from being removed.
        mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
        for mount in sorted((m for m in mounts if m.startswith(f"{root}/")), reverse=True):
            subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _unix_ping(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        try:
            s.connect(str(path))
            s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return s.recv(64).startswith((b"HTTP/1.0 200", b"HTTP/1.1 200"))
        except OSError:
            return False
