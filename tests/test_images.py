"""Distro images: found locally, else pulled, else built from the distro's archive, and never rebuilt."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_manylinux.core.distros import BuildRecipe, DeriveRecipe, Distro, load_distros
from pytest_manylinux.core.tags import Libc
from pytest_manylinux.engine.docker import LABEL_SESSION, split_reference
from pytest_manylinux.engine.images import (
    LABEL_BASE_ID,
    LABEL_DERIVED_FROM,
    debootstrap_command,
    derive_script,
    derived_reference,
    ensure_image,
)
from pytest_manylinux.errors import ImageError

DEFAULTS = {d.name: d for d in load_distros()}


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        (
            "ubuntu-16.04",
            ["debootstrap", "--variant=minbase", "--no-check-gpg", "xenial", "/t"],
        ),
        ("debian-12", ["debootstrap", "--variant=minbase", "bookworm", "/t"]),
        (
            # The script's own default mirror is kept by an empty mirror argument.
            "ubuntu-24.04",
            [
                "debootstrap",
                "--variant=minbase",
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


def test_debootstrap_command_with_packages() -> None:
    recipe = BuildRecipe("bookworm", include=("python3", "libgomp1"))
    assert debootstrap_command(recipe, Path("/t")) == [
        "debootstrap",
        "--variant=minbase",
        "--include=python3,libgomp1",
        "bookworm",
        "/t",
    ]


@pytest.mark.parametrize(
    ("ref", "parts"),
    [
        ("ubuntu:16.04", ("ubuntu", "16.04")),
        ("ubuntu", ("ubuntu", "latest")),
        ("127.0.0.1:5000/library/debian:12", ("127.0.0.1:5000/library/debian", "12")),
        ("127.0.0.1:5000/debian", ("127.0.0.1:5000/debian", "latest")),
    ],
    ids=["tag", "no-tag", "registry-port-tag", "registry-port-no-tag"],
)
def test_split_reference(ref: str, parts: tuple[str, str]) -> None:
    assert split_reference(ref) == parts


def test_derive_script_installs_only_what_is_missing_with_the_package_manager_there() -> None:
    script = derive_script(DeriveRecipe(packages=("python3", "libgomp1")))
    # apt: only packages dpkg does not list, no recommends, lists removed as official images ship
    assert "for p in python3 libgomp1; do dpkg -s" in script
    assert "apt-get install -y -q --no-install-recommends $missing" in script
    assert "rm -rf /var/lib/apt/lists/*" in script
    assert "apk add --no-cache python3 libgomp1" in script
    assert "dnf install -y python3 libgomp1" in script
    assert "derive = { command = ... }" in script  # what to do where no package manager is known
    assert derive_script(DeriveRecipe((), command="yum -y install python3")) == "yum -y install python3"


def test_derived_reference_records_the_base_and_the_recipe() -> None:
    recipe = DeriveRecipe(packages=("python3",))
    first = derived_reference("ubuntu:16.04", "sha256:" + "ab" * 32, recipe)
    assert first == f"pytest-manylinux/derived:ubuntu_16.04-{'ab' * 6}-{first[-8:]}"
    # a new base (an updated official image) or another recipe is another image
    assert derived_reference("ubuntu:16.04", "sha256:" + "cd" * 32, recipe) != first
    assert derived_reference("ubuntu:16.04", "sha256:" + "ab" * 32, DeriveRecipe(("python3", "gcc"))) != first
    registry = derived_reference("127.0.0.1:5000/library/ubuntu:16.04", "sha256:" + "ab" * 32, recipe)
    assert registry.startswith("pytest-manylinux/derived:127.0.0.1_5000_library_ubuntu_16.04-")


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


@pytest.fixture
def official_like(engine: Any) -> Distro:
    """The default matrix's Ubuntu 16.04 base (pulled or built: no python3, like the official image)."""
    distro = DEFAULTS["ubuntu-16.04"]
    ensure_image(engine, distro, lambda _: None)
    return distro


def _python_version(engine: Any, ref: str) -> str:
    with engine.container(ref, "derive-check") as box:
        result = box.exec(
            ["sh", "-c", "command -v python3 && python3 -c 'import sys; print(sys.version[:3])'"]
        )
    return str(result.stdout.split()[-1]) if result.exit_code == 0 else ""


@pytest.mark.engine
def test_the_engine_derives_python_into_a_base_without_it_once(engine: Any, official_like: Distro) -> None:
    # A recipe no run has used yet (its hash names the image): derived now, by the engine, then reused.
    marker = f"scratch-{int(time.time() * 1000)}"
    recipe = DeriveRecipe(
        (),
        command="set -e; apt-get update -q; apt-get install -y -q --no-install-recommends python3; "
        f"rm -rf /var/lib/apt/lists/*; echo {marker}",
    )
    distro = Distro("scratch", official_like.image, "ubuntu", Libc.GLIBC, derive=recipe)
    assert _python_version(engine, official_like.image) == ""  # the base has no python3
    progress: list[str] = []
    first = ensure_image(engine, distro, progress.append)
    try:
        assert (first.how, first.base and first.base.how) == ("derived", "local")
        assert first.ref == derived_reference(official_like.image, first.base.image_id, recipe)
        assert any(line.startswith("deriving pytest-manylinux/derived:ubuntu_16.04-") for line in progress)
        assert any("Setting up python3" in line for line in progress)
        labels = engine.client.images.get(first.ref).labels
        assert labels[LABEL_DERIVED_FROM] == "ubuntu:16.04"
        assert labels[LABEL_BASE_ID] == first.base.image_id
        assert _python_version(engine, first.ref) == "3.5"
        second = ensure_image(engine, distro, progress.append)
        assert (second.how, second.ref, second.image_id) == ("local", first.ref, first.image_id)
        assert engine._labelled(f"{LABEL_SESSION}={engine.session}") == []  # the derive's container is gone
    finally:
        engine.remove_image(first.ref)


@pytest.mark.engine
def test_a_failing_derive_names_the_distro_the_command_and_its_last_lines(
    engine: Any, official_like: Distro
) -> None:
    recipe = DeriveRecipe(
        (), command=f"echo looking for pkg-{int(time.time())}; echo 'E: Unable to locate'; exit 7"
    )
    distro = Distro("broken", official_like.image, "ubuntu", Libc.GLIBC, derive=recipe)
    with pytest.raises(ImageError) as excinfo:
        ensure_image(engine, distro, lambda _: None)
    message = str(excinfo.value)
    assert "distro 'broken': deriving from 'ubuntu:16.04' failed (exit 7)" in message
    assert recipe.command is not None
    assert recipe.command in message
    assert "E: Unable to locate" in message
    assert engine.image_id(derived_reference(distro.image, engine.image_id(distro.image), recipe)) is None
    assert engine._labelled(f"{LABEL_SESSION}={engine.session}") == []
