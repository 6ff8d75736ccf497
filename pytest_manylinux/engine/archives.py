"""Tar archives for a container's ``put_archive``: built in memory, owned by root, readable by all.

The engine creates no parent directory for what an archive holds, so each archive carries the whole
directory chain of its paths; the checks run as an unprivileged user, so everything is readable by it.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable, Mapping


def readable_by_all(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """A tar filter: root's, readable (and directories searchable) by everyone, writable by root only."""
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mode = (info.mode & 0o755) | (0o755 if (info.isdir() or info.mode & 0o111) else 0o644)
    return info


def in_memory(
    directories: Iterable[str] = (),
    files: Mapping[str, bytes] = {},
    links: Mapping[str, str] = {},
    *,
    end: bool = True,
) -> bytes:
    """A tar of ``directories`` (each with its parents), ``files`` (path -> bytes) and symbolic ``links``
    (path -> target), paths absolute or not. ``end=False`` leaves out the end-of-archive blocks, so the
    archive can be followed by others in one stream."""
    buffer = io.BytesIO()
    made: set[str] = set()
    with tarfile.open(fileobj=buffer, mode="w") as tar:

        def chain(path: str) -> None:
            parts = path.strip("/").split("/")
            for i in range(1, len(parts) + 1):
                name = "/".join(parts[:i])
                if name not in made:
                    made.add(name)
                    info = tarfile.TarInfo(name)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)

        for directory in directories:
            chain(directory)
        for path, data in files.items():
            chain(path.strip("/").rsplit("/", 1)[0])
            info = tarfile.TarInfo(path.strip("/"))
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        for path, target in links.items():
            chain(path.strip("/").rsplit("/", 1)[0])
            info = tarfile.TarInfo(path.strip("/"))
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
            tar.addfile(info)
        members_end = tar.offset
    return buffer.getvalue() if end else buffer.getvalue()[:members_end]
