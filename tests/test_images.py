"""Distro images: found locally, else pulled, else built from the distro's archive, and never rebuilt."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_manylinux.core.distros import BuildRecipe, Distro, load_distros
from pytest_manylinux.core.tags import Libc
from pytest_manylinux.engine.images import debootstrap_command, ensure_image
from pytest_manylinux.errors import ImageError

DEFAULTS = {d.name: d for d in load_distros()}


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        (
            "ubuntu-16.04",
            ["debootstrap", "--variant=minbase", "--include=python3", "--no-check-gpg", "xenial", "/t"],
        ),
        ("debian-12", ["debootstrap", "--variant=minbase", "--include=python3", "bookworm", "/t"]),
        (
            # The script's own default mirror is kept by an empty mirror argument.
            "ubuntu-24.04",
            [
                "debootstrap",
                "--variant=minbase",
                "--include=python3",
                "--no-check-gpg",
                "noble",
                "/t",
                "",
                "gutsy",
            ],
        ),
    ],
    ids=["ubuntu-no-gpg", "debian", "ubuntu-newer-than-debootstrap"],
)
def test_debootstrap_command(name: str, argv: list[str]) -> None:
    recipe = DEFAULTS[name].build
    assert recipe is not None
    assert debootstrap_command(recipe, Path("/t")) == argv


@pytest.fixture
def scratch_image(engine: Any) -> Iterator[str]:
    """An image name no test run has made before; removed afterwards."""
    ref = f"pytest-manylinux-test/build:{int(time.time() * 1000)}"
    yield ref
    with contextlib.suppress(Exception):
        engine.client.images.remove(ref, force=True)


def test_missing_image_is_built_once_then_reused(engine: Any, scratch_image: str) -> None:
    # From nothing: the image is not local, the registry is unreachable here, so it is built from
    # the Ubuntu 16.04 archive; asked again, it is found locally and not rebuilt.
    distro = Distro(
        "scratch", scratch_image, "ubuntu", Libc.GLIBC, build=BuildRecipe("xenial", check_gpg=False)
    )
    progress: list[str] = []
    first = ensure_image(engine, distro, progress.append)
    assert first.how == "built"
    assert any("building" in line and "xenial" in line for line in progress)
    assert any("debootstrap done" in line for line in progress)
    second = ensure_image(engine, distro, progress.append)
    assert (second.how, second.image_id) == ("local", first.image_id)
    labels = engine.client.images.get(scratch_image).labels
    assert labels.get("pytest-manylinux.built-from") == "debootstrap-xenial"


def test_unbuildable_image_is_a_clear_error(engine: Any, scratch_image: str) -> None:
    distro = Distro("nowhere", scratch_image, "debian", Libc.GLIBC, build=BuildRecipe("no-such-suite"))
    with pytest.raises(
        ImageError, match=r"distro 'nowhere': this debootstrap does not know suite 'no-such-suite'"
    ):
        ensure_image(engine, distro, lambda _: None)


def test_image_without_recipe_says_what_to_do(engine: Any, scratch_image: str) -> None:
    distro = Distro("bare", scratch_image, "debian", Libc.GLIBC)
    with pytest.raises(ImageError, match=r"no build recipe; add build = \{ debootstrap"):
        ensure_image(engine, distro, lambda _: None)
