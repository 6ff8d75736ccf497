"""A distro's container as users' own tests see it (the ``manylinux_env`` fixture): run commands and Python.

The container is the session's one for that distro (no network, limits, an unprivileged user); the
wheels under test are laid out in it and found through ``PATH`` and ``PYTHONPATH``, and ``python3`` /
``python`` name the interpreter chosen for them, so console scripts run with it too.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from .archives import in_memory

if TYPE_CHECKING:  # pragma: no cover
    from ..core.distros import Distro
    from ..core.observe import DistroFacts, Interpreter
    from .docker import Container

Command = Union[str, Sequence[str]]

#: the search path after the environment's own directories
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def shim_archive(directory: str, interpreter: str) -> bytes:
    """A tar of ``DIRECTORY/python3`` and ``DIRECTORY/python``, symlinks to the chosen interpreter.

    Wheel scripts are laid out with ``#!/usr/bin/env python3``; with this directory first on ``PATH``
    they run under the interpreter that judged the wheel, not whatever ``python3`` the distro has.
    """
    return in_memory(links={f"{directory}/{name}": interpreter for name in ("python3", "python")})


@dataclass(frozen=True)
class Environment:
    """One distro's running container with the wheels under test installed."""

    #: the container (owned by the session's runner: it outlives this object)
    container: Container
    #: the distro of the matrix
    distro: Distro
    #: what was measured inside it: libc, libstdc++, interpreters
    facts: DistroFacts
    #: the interpreter the wheels are installed for
    interpreter: Interpreter
    #: file names of the wheels under test installed here
    wheels: tuple[str, ...]
    #: directories put before the system's ``PATH`` (the interpreter shims, then each wheel's scripts)
    path: tuple[str, ...]
    #: each wheel's (and dependency's) site directory, for ``PYTHONPATH``
    pythonpath: tuple[str, ...]
    #: the user commands run as (``None``: the image's default)
    user: str | None = None

    @property
    def name(self) -> str:
        return self.distro.name

    @property
    def python(self) -> str:
        """The interpreter's path in the container."""
        return self.interpreter.path

    @property
    def libc_version(self) -> str | None:
        return str(self.facts.libc_version) if self.facts.libc_version else None

    def environ(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment commands run with."""
        env = {
            "PATH": ":".join((*self.path, _SYSTEM_PATH)),
            "PYTHONPATH": ":".join(self.pythonpath),
            "HOME": "/tmp",
            "LC_ALL": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.update(extra or {})
        return env

    def run(
        self,
        command: Command,
        *,
        timeout: float = 60,
        env: Mapping[str, str] | None = None,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the container: a string goes through ``sh -c``, a list runs as it is.

        Returns what :func:`subprocess.run` would (``returncode``, ``stdout``, ``stderr`` as text); a
        command still running after ``timeout`` seconds is killed (``returncode`` 137). ``check=True``
        raises :class:`subprocess.CalledProcessError` on a non-zero status.
        """
        argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
        result = self.container.exec(argv, user=self.user, env=self.environ(env), timeout=timeout)
        completed = subprocess.CompletedProcess(argv, result.exit_code, result.stdout, result.stderr)
        if check:
            completed.check_returncode()
        return completed

    def python_run(
        self,
        code: str,
        *args: str,
        timeout: float = 60,
        env: Mapping[str, str] | None = None,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run Python ``code`` (``python -c``) with the wheels' interpreter; ``args``: ``sys.argv[1:]``."""
        return self.run([self.python, "-c", code, *args], timeout=timeout, env=env, check=check)

    def __repr__(self) -> str:
        return (
            f"<manylinux env {self.distro.name} ({self.interpreter.describe()}): {shlex.join(self.wheels)}>"
        )
