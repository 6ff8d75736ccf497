"""Images from a distro's official root filesystem tarball (``build = { rootfs = ..., sha256 = ... }``).

Alpine publishes a minirootfs per release: the same tree as its ``alpine:X.Y`` image. The tarball is
found (a local path, a file of the same name in ``$PYTEST_MANYLINUX_ROOTFS_DIR``, or the per-machine
download cache), downloaded once when none of these has it, checked against its sha256, and imported
into the engine as it is. Nothing runs on the host but the checksum: no root, no host tools.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any, Callable, cast

from ..core.distros import Distro, RootfsRecipe
from ..core.wheel import file_sha256
from ..errors import ImageError
from .docker import LABEL, Engine
from .sharing import cache_root

Progress = Callable[[str], None]

#: a directory of rootfs tarballs used instead of downloading them (by file name, still checked)
ROOTFS_DIR_ENV = "PYTEST_MANYLINUX_ROOTFS_DIR"
_CHUNK = 1 << 20
_HTTP_TIMEOUT = 60


def cache_dir() -> Path:
    """``rootfs`` in the cache (:func:`~.sharing.cache_root`)."""
    return cache_root() / "rootfs"


def _is_url(text: str) -> bool:
    return "://" in text


def candidates(recipe: RootfsRecipe) -> list[Path]:
    """Where the tarball may already be on this machine, in the order they are tried."""
    found = []
    if not _is_url(recipe.rootfs):
        found.append(Path(recipe.rootfs).expanduser())
    local = os.environ.get(ROOTFS_DIR_ENV)
    if local:
        found.append(Path(local).expanduser() / recipe.filename)
    found.append(cache_dir() / recipe.sha256 / recipe.filename)
    return found


def _download(url: str, dest: Path, sha256: str, progress: Progress) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    progress(f"downloading {url}")
    try:
        with urllib.request.urlopen(url, timeout=_HTTP_TIMEOUT) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out, _CHUNK)
        digest = file_sha256(partial)
        if digest != sha256:
            raise ImageError(f"{url} has sha256 {digest}, not the sha256 {sha256} its recipe gives")
        partial.rename(dest)
    except (urllib.error.URLError, OSError) as e:
        raise ImageError(f"cannot download {url}: {e}") from e
    finally:
        partial.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            dest.parent.rmdir()  # only when empty: a failed download leaves no trace


def obtain(recipe: RootfsRecipe, progress: Progress) -> Path:
    """The tarball on this machine, checked against the recipe's sha256 (downloaded once if needed)."""
    mismatched = []
    for path in candidates(recipe):
        if path.is_file():
            digest = file_sha256(path)
            if digest == recipe.sha256:
                return path
            mismatched.append(f"{path} has sha256 {digest}")
    if not _is_url(recipe.rootfs):
        why = "; ".join(mismatched) or f"{recipe.rootfs}: no such file"
        raise ImageError(f"rootfs {recipe.rootfs!r}: {why}, not the recipe's sha256 {recipe.sha256}")
    dest = cache_dir() / recipe.sha256 / recipe.filename
    try:
        _download(recipe.rootfs, dest, recipe.sha256, progress)
    except ImageError as e:
        hint = f" (or put {recipe.filename} in ${ROOTFS_DIR_ENV})"
        seen = f"; {'; '.join(mismatched)}" if mismatched else ""
        raise ImageError(f"{e}{seen}{hint}") from e
    return dest


class _Unsized(io.RawIOBase):
    """A file read as a stream of unknown length.

    The engine takes an import as a chunked upload; a sized body (requests sets Content-Length for a
    real file) is refused with "invalid byte in chunk length".
    """

    def __init__(self, raw: io.BufferedReader) -> None:
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:  # Any: typeshed's WriteableBuffer is private
        return self._raw.readinto(buffer)


def import_rootfs(engine: Engine, distro: Distro, recipe: RootfsRecipe, progress: Progress) -> str:
    """Import the checked tarball as ``distro.image``; return the image ID."""
    tarball = obtain(recipe, progress)
    progress(f"importing {tarball} as {distro.image}")
    changes = [
        'CMD ["/bin/sh"]',
        f"LABEL {LABEL}.built-from=rootfs-{recipe.filename}",
        f"LABEL {LABEL}.rootfs-sha256={recipe.sha256}",
        f"LABEL {LABEL}.image={distro.image}",
    ]
    with tarball.open("rb") as raw, _Unsized(raw) as stream:
        return engine.import_image(cast(IO[bytes], stream), distro.image, changes)
