"""Images imported from an official root filesystem tarball, checked by sha256 (the Alpine minirootfs)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_manylinux.core.distros import Distro, RootfsRecipe, load_distros
from pytest_manylinux.core.tags import Libc
from pytest_manylinux.engine import rootfs
from pytest_manylinux.engine.images import ensure_image
from pytest_manylinux.errors import ImageError

DEFAULTS = {d.name: d for d in load_distros()}


def _tarball(path: Path, content: bytes = b"not really a tar") -> str:
    path.write_bytes(content)
    return hashlib.sha256(content).hexdigest()


@pytest.fixture
def no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PYTEST_MANYLINUX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(rootfs.ROOTFS_DIR_ENV, raising=False)
    return tmp_path / "cache" / "rootfs"


def test_a_local_path_is_used_when_its_checksum_matches(tmp_path: Path, no_cache: Path) -> None:
    path = tmp_path / "a.tar.gz"
    digest = _tarball(path)
    assert rootfs.obtain(RootfsRecipe(str(path), digest), lambda _: None) == path


def test_a_local_path_with_another_checksum_is_refused(tmp_path: Path, no_cache: Path) -> None:
    path = tmp_path / "a.tar.gz"
    digest = _tarball(path)
    with pytest.raises(ImageError, match=rf"{path} has sha256 {digest}, not the recipe's sha256 {'0' * 64}"):
        rootfs.obtain(RootfsRecipe(str(path), "0" * 64), lambda _: None)


def test_the_rootfs_dir_stands_in_for_the_download(
    tmp_path: Path, no_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No network is tried: the file of the URL's name in $PYTEST_MANYLINUX_ROOTFS_DIR is checked and used.
    (tmp_path / "dir").mkdir()
    path = tmp_path / "dir" / "alpine-minirootfs-9.9.9-x86_64.tar.gz"
    digest = _tarball(path)
    monkeypatch.setenv(rootfs.ROOTFS_DIR_ENV, str(tmp_path / "dir"))
    recipe = RootfsRecipe("http://127.0.0.1:9/alpine-minirootfs-9.9.9-x86_64.tar.gz", digest)
    assert rootfs.obtain(recipe, lambda _: None) == path


def test_an_unreachable_download_names_the_url_the_mismatch_and_the_way_out(
    tmp_path: Path, no_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "dir").mkdir()
    _tarball(tmp_path / "dir" / "r.tar.gz", b"another release")
    monkeypatch.setenv(rootfs.ROOTFS_DIR_ENV, str(tmp_path / "dir"))
    recipe = RootfsRecipe("http://127.0.0.1:9/r.tar.gz", "1" * 64)
    with pytest.raises(ImageError) as excinfo:
        rootfs.obtain(recipe, lambda _: None)
    message = str(excinfo.value)
    assert "cannot download http://127.0.0.1:9/r.tar.gz" in message
    assert f"{tmp_path / 'dir' / 'r.tar.gz'} has sha256" in message
    assert f"put r.tar.gz in ${rootfs.ROOTFS_DIR_ENV}" in message
    assert not any(no_cache.rglob("*")), "a failed download leaves nothing in the cache"


@pytest.fixture
def scratch_image(engine: Any) -> Iterator[str]:
    ref = f"pytest-manylinux-test/rootfs:{int(time.time() * 1000)}"
    yield ref
    with contextlib.suppress(Exception):
        engine.client.images.remove(ref, force=True)


@pytest.mark.engine
def test_the_official_alpine_minirootfs_becomes_a_working_image(engine: Any, scratch_image: str) -> None:
    # The real Alpine 3.20 release, from ../shared/alpine through $PYTEST_MANYLINUX_ROOTFS_DIR (.ci/run
    # sets it): imported as it is, and its musl loader says its version.
    assert os.environ.get(rootfs.ROOTFS_DIR_ENV), f"set {rootfs.ROOTFS_DIR_ENV} to the minirootfs directory"
    recipe = DEFAULTS["alpine-3.20"].build
    assert isinstance(recipe, RootfsRecipe)
    distro = Distro("alpine-scratch", scratch_image, "alpine", Libc.MUSL, build=recipe)
    progress: list[str] = []
    source = ensure_image(engine, distro, progress.append)
    assert source.how == "built"
    assert any(line.startswith("importing ") and recipe.filename in line for line in progress)
    labels = engine.client.images.get(scratch_image).labels
    assert labels["pytest-manylinux.rootfs-sha256"] == recipe.sha256
    with engine.container(scratch_image, distro.name) as box:
        result = box.exec(["/lib/ld-musl-x86_64.so.1"])
    assert "Version 1.2.5" in result.stdout + result.stderr
    assert ensure_image(engine, distro, progress.append).how == "local"
