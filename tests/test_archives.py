"""engine/archives.py: the tars put into containers carry their directory chains, readable by all."""

from __future__ import annotations

import io
import tarfile

from pytest_manylinux.engine.archives import in_memory, readable_by_all


def _members(data: bytes) -> list[tuple[str, str, int, str]]:
    kinds = {tarfile.DIRTYPE: "dir", tarfile.REGTYPE: "file", tarfile.SYMTYPE: "link"}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return [(m.name, kinds[m.type], m.mode, m.linkname) for m in tar.getmembers()]


def test_directories_files_and_links_with_their_parents_once() -> None:
    data = in_memory(
        ["/opt/x/wheels"],
        {"/opt/x/probe.py": b"print(1)\n"},
        {"/opt/x/bin/python3": "/usr/bin/python3.11"},
    )
    assert _members(data) == [
        ("opt", "dir", 0o755, ""),
        ("opt/x", "dir", 0o755, ""),
        ("opt/x/wheels", "dir", 0o755, ""),
        ("opt/x/probe.py", "file", 0o644, ""),
        ("opt/x/bin", "dir", 0o755, ""),
        ("opt/x/bin/python3", "link", 0o777, "/usr/bin/python3.11"),
    ]


def test_without_the_end_blocks_archives_concatenate() -> None:
    head = in_memory(["/a"], end=False)
    assert len(head) % tarfile.BLOCKSIZE == 0
    assert _members(head + in_memory(["/b"])) == [("a", "dir", 0o755, ""), ("b", "dir", 0o755, "")]


def test_readable_by_all_is_roots_and_writable_by_root_only() -> None:
    info = tarfile.TarInfo("f")
    info.uid, info.uname, info.mode = 1000, "me", 0o4777
    assert (readable_by_all(info).mode, info.uid, info.uname) == (0o755, 0, "root")
    info = tarfile.TarInfo("g")
    info.mode = 0o600
    assert readable_by_all(info).mode == 0o644
