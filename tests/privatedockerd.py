"""A private Docker engine for tests that kill the engine: its own socket, data-root and exec-root.

The shared engine at /var/run/docker.sock is never touched, nor its docker0 bridge: the private
engine gets a bridge of its own (``--bridge=none`` would make dockerd delete docker0, the shared
engine's, as it starts), no iptables rules and its own cgroup parent. dockerd runs below a supervisor
that is a child subreaper: when the test kills dockerd with SIGKILL, its containerd (which dies with
it) and the container shims are reaped there instead of lingering as zombies whose PIDs make a
restarted dockerd believe the old one still runs.

  python privatedockerd.py supervise DOCKERD_ARGS...   (what :class:`PrivateDockerd` starts)
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_PR_SET_CHILD_SUBREAPER = 36


def supervise(argv: list[str]) -> int:
    """Run ``argv`` (dockerd), adopt every orphan below it, reap them all; exit when none is left."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    main = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    status = 0
    while True:
        try:
            pid, code = os.wait()
        except ChildProcessError:
            return status
        if pid == main.pid:
            status = os.waitstatus_to_exitcode(code)


class PrivateDockerd:
    """One private dockerd: started, killed for real, restarted on the same data-root, removed."""

    def __init__(self, config: dict[str, Any] | None = None, hosts: tuple[str, ...] = ()) -> None:
        #: daemon.json's settings (``registry-mirrors``, ...); hosts it listens on besides its socket
        self.config = dict(config or {})
        self.hosts = hosts
        # Short paths: containerd's sockets live under the exec-root and a unix socket path has
        # at most 107 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="pm-dockerd-", dir="/tmp"))
        self.socket = self.root / "docker.sock"
        self.pidfile = self.root / "dockerd.pid"
        self.log = self.root / "dockerd.log"
        self.host = f"unix://{self.socket}"
        #: a bridge of its own (an interface name has at most 15 bytes)
        self.bridge = f"pmbr-{self.root.name[-8:]}"
        self._supervisors: list[subprocess.Popen[bytes]] = []

    @property
    def argv(self) -> list[str]:
        return [
            "dockerd",
            f"--host={self.host}",
            *(f"--host={host}" for host in self.hosts),
            f"--data-root={self.root / 'data'}",
            f"--exec-root={self.root / 'exec'}",
            f"--pidfile={self.pidfile}",
            f"--config-file={self.root / 'daemon.json'}",
            # Its own bridge, no iptables rules: the host's network stays the shared engine's. Not
            # --bridge=none: with it dockerd deletes the host's docker0, the shared engine's bridge.
            f"--bridge={self.bridge}",
            "--iptables=false",
            "--ip-masq=false",
            f"--cgroup-parent={self.cgroup}",
        ]

    @property
    def cgroup(self) -> str:
        """The cgroup parent of this engine's containers: its own, so strays can be found."""
        return f"pytest-manylinux-{self.root.name}"

    def start(self, timeout: float = 60) -> Any:
        """Start dockerd and return a Docker client connected to it once it answers."""
        import docker

        if not (self.root / "daemon.json").exists():
            # not the host's /etc/docker/daemon.json
            (self.root / "daemon.json").write_text(json.dumps(self.config) + "\n")
            subprocess.run(["ip", "link", "add", "name", self.bridge, "type", "bridge"], check=True)
        with self.log.open("ab") as log:
            supervisor = subprocess.Popen(
                [sys.executable, __file__, "supervise", *self.argv],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C of the test run is not dockerd's
            )
        self._supervisors.append(supervisor)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if supervisor.poll() is not None:
                break
            # Asked before a client is made: a client that cannot reach the engine as it is made
            # leaks its socket.
            if self.answers():
                return docker.DockerClient(base_url=self.host, timeout=120)
            time.sleep(0.3)
        raise RuntimeError(f"the private dockerd did not start:\n{self.tail()}")

    def answers(self) -> bool:
        """The engine answers its ping on the socket."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            try:
                s.connect(str(self.socket))
                s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
                return s.recv(4096).startswith(b"HTTP/1.0 200")
            except OSError:
                return False

    @property
    def pid(self) -> int:
        return int(self.pidfile.read_text().strip())

    def kill(self) -> None:
        """SIGKILL dockerd, as a crash or the OOM killer would; its containerd dies with it."""
        pid = self.pid
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while _exists(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        with contextlib.suppress(FileNotFoundError):
            self.pidfile.unlink()  # a killed dockerd leaves it; the next start would refuse to run

    def stop(self) -> None:
        """Stop dockerd cleanly (SIGTERM) and wait for it to exit."""
        try:
            pid = self.pid
            os.kill(pid, signal.SIGTERM)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return
        deadline = time.monotonic() + 60
        while _exists(pid) and time.monotonic() < deadline:
            time.sleep(0.2)

    def running(self) -> bool:
        try:
            return _exists(self.pid)
        except (FileNotFoundError, ValueError):
            return False

    def remove(self) -> None:
        """Remove every container of this engine (restarting it if it was killed), stop it, end any
        process of it still running, unmount what it left, and delete its files."""
        import docker

        with contextlib.suppress(Exception):
            client = docker.DockerClient(base_url=self.host, timeout=60) if self.running() else self.start()
            for c in client.containers.list(all=True):
                c.remove(force=True)
            client.close()
        self.stop()
        self._end_strays()
        for supervisor in self._supervisors:  # they exit once everything below them has
            try:
                supervisor.wait(timeout=30)
            except subprocess.TimeoutExpired:
                supervisor.kill()
                supervisor.wait(timeout=30)
        subprocess.run(["ip", "link", "delete", self.bridge], check=False, capture_output=True)
        mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
        for mount in sorted((m for m in mounts if m.startswith(str(self.root) + "/")), reverse=True):
            subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def _end_strays(self) -> None:
        """SIGKILL what this engine started that outlived it: container processes (by their cgroup)
        and shims (by the exec-root in their command line, a path only this engine has)."""
        cgroups = [
            *Path("/sys/fs/cgroup").glob(f"*/{self.cgroup}"),
            *Path("/sys/fs/cgroup").glob(self.cgroup),
        ]
        for parent in cgroups:
            for procs in parent.glob("**/cgroup.procs"):
                for pid in procs.read_text().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            with contextlib.suppress(OSError, ProcessLookupError):
                if str(self.root).encode() in cmdline.read_bytes():
                    os.kill(int(cmdline.parent.name), signal.SIGKILL)
        time.sleep(0.5)
        for parent in cgroups:
            for directory in sorted(parent.glob("**/"), key=lambda d: len(d.parts), reverse=True):
                with contextlib.suppress(OSError):
                    directory.rmdir()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def _exists(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "supervise":
        sys.exit(supervise(sys.argv[2:]))
    sys.exit(f"usage: {sys.argv[0]} supervise DOCKERD_ARGS...")
