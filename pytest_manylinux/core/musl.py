"""musl distros measured without a python: the loader's own answer, read into :class:`DistroFacts`.

An Alpine image has no interpreter until a portable one is brought in, yet its libc must be known first
(to choose that interpreter, or to skip a glibc wheel there). musl's loader prints its version when run
with no argument; the shell command below asks it, and :func:`musl_facts` reads the answer.
"""

from __future__ import annotations

import re

from .observe import DistroFacts
from .tags import Libc, LibcVersion

#: Run with ``/bin/sh -c`` in a container that has no python: each musl loader with its banner, then
#: the machine. (``ld-musl-x86_64.so.1`` with no argument prints "musl libc (x86_64)" and "Version X.Y.Z"
#: to stderr and exits 1.)
SHELL_PROBE = (
    'for l in /lib/ld-musl-*.so.1; do [ -e "$l" ] || continue; echo "loader: $l"; "$l" 2>&1; done; '
    'echo "machine: $(uname -m)"'
)
_LOADER = re.compile(r"^loader: (?P<path>/\S+)$", re.MULTILINE)
_VERSION = re.compile(r"^Version (?P<version>\d+\.\d+(?:\.\d+)?)\s*$", re.MULTILINE)
_MACHINE = re.compile(r"^machine: (?P<machine>\S+)$", re.MULTILINE)


def musl_facts(output: str) -> DistroFacts | None:
    """The facts :data:`SHELL_PROBE` printed, or None when the image has no musl loader."""
    loader = _LOADER.search(output)
    if loader is None:
        return None
    version = _VERSION.search(output, loader.end())
    machine = _MACHINE.search(output)
    return DistroFacts(
        libc=Libc.MUSL,
        libc_version=LibcVersion.parse(version["version"]) if version else None,
        machine=machine["machine"] if machine else "",
        loader=loader["path"],
    )
