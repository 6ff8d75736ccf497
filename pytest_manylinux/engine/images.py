"""Distro images: use the local one, else pull it, else build it from the distro's package archive.

Builds run ``debootstrap`` on the host and import the result into the engine, under a file lock so
no two processes (xdist workers, parallel sessions) build the same image at once. A built image is
an ordinary engine image afterwards: it is found locally next time and never rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..core.distros import BuildRecipe, Distro
from ..errors import ImageError
from .docker import LABEL, Engine
from .sharing import file_lock

#: the label carrying the reference an image was built for
LABEL_IMAGE = f"{LABEL}.image"

Progress = Callable[[str], None]

DEBOOTSTRAP_SCRIPTS = Path("/usr/share/debootstrap/scripts")
# debootstrap's milestones, worth showing while a build takes its minute.
_PROGRESS_LINES = (
    "I: Retrieving Release ",
    "I: Installing core packages",
    "I: Configuring",
    "I: Base system",
    "E:",
    "W:",
)


@dataclass(frozen=True)
class ImageSource:
    """Where a distro's image came from in this session."""

    #: the image reference
    ref: str
    #: the engine's image ID
    image_id: str
    #: ``local``, ``pulled`` or ``built``
    how: str
    #: seconds it took to get it
    seconds: float


def lock_dir() -> Path:
    base = Path(
        os.environ.get("PYTEST_MANYLINUX_LOCK_DIR")
        or Path(tempfile.gettempdir()) / f"pytest-manylinux-{os.getuid()}"
    )
    base.mkdir(parents=True, exist_ok=True)
    return base


@contextlib.contextmanager
def image_lock(ref: str) -> Iterator[None]:
    """An exclusive lock for one image reference on this host."""
    digest = hashlib.sha256(ref.encode()).hexdigest()[:16]
    with file_lock(lock_dir() / f"image-{digest}.lock"):
        yield


def debootstrap_command(recipe: BuildRecipe, target: Path) -> list[str]:
    """The debootstrap command line for a recipe (pure; see README "distros.toml")."""
    argv = ["debootstrap", f"--variant={recipe.variant}"]
    if recipe.include:
        argv.append("--include=" + ",".join(recipe.include))
    if not recipe.check_gpg:
        argv.append("--no-check-gpg")
    argv += [recipe.suite, str(target)]
    if recipe.mirror or recipe.script:
        # An empty mirror keeps the script's own default_mirror (debootstrap reads "$3" as unset).
        argv.append(recipe.mirror or "")
    if recipe.script:
        argv.append(recipe.script)
    return argv


def _check_builder(distro: Distro, recipe: BuildRecipe) -> None:
    if shutil.which("debootstrap") is None:
        raise ImageError(
            f"distro {distro.name!r}: image {distro.image!r} is not on the engine, cannot be pulled, and "
            "cannot be built here because debootstrap is not installed (apt-get install debootstrap)."
        )
    if os.geteuid() != 0:
        raise ImageError(
            f"distro {distro.name!r}: building image {distro.image!r} with debootstrap needs root; "
            "build it once as root (python -m pytest_manylinux images) or make it available to the engine."
        )
    script = recipe.script or recipe.suite
    if not (DEBOOTSTRAP_SCRIPTS / script).exists() and not Path(script).is_file():
        raise ImageError(
            f"distro {distro.name!r}: this debootstrap does not know suite {script!r}; set "
            f'build.script to a script it has (e.g. "gutsy" for newer Ubuntu, "sid" for newer Debian).'
        )


def build_image(engine: Engine, distro: Distro, progress: Progress) -> str:
    """Build ``distro.image`` from its recipe with debootstrap and import it; return the image ID."""
    recipe = distro.build
    if recipe is None:
        raise ImageError(
            f"distro {distro.name!r}: image {distro.image!r} is not on the engine and cannot be pulled, and "
            'its table has no build recipe; add build = { debootstrap = "SUITE" } or load the image.'
        )
    _check_builder(distro, recipe)
    workdir = Path(
        tempfile.mkdtemp(
            prefix=f"pytest-manylinux-{distro.name}-", dir=os.environ.get("PYTEST_MANYLINUX_BUILD_DIR")
        )
    )
    target = workdir / "root"
    try:
        argv = debootstrap_command(recipe, target)
        progress(f"building {distro.image} from the {recipe.suite} archive: {' '.join(argv)}")
        started = time.monotonic()
        log: list[str] = []
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.append(line.rstrip())
                if line.startswith(_PROGRESS_LINES):
                    progress(f"  {distro.name}: {line[3:].rstrip()}")
        if proc.returncode != 0:
            tail = "\n".join(log[-15:])
            raise ImageError(
                f"distro {distro.name!r}: debootstrap {recipe.suite} failed (exit {proc.returncode}):\n{tail}"
            )
        progress(
            f"  {distro.name}: debootstrap done in {time.monotonic() - started:.0f}s; "
            "importing into the engine"
        )
        # Provenance: what it was built from, and for which reference (a dangling image of an earlier build
        # of the same reference would carry it too: that is how a test sees that a build happened once).
        changes = [
            'CMD ["/bin/sh"]',
            f"LABEL {LABEL}.built-from=debootstrap-{recipe.suite}",
            f"LABEL {LABEL_IMAGE}={distro.image}",
        ]
        with subprocess.Popen(
            ["tar", "-C", str(target), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE
        ) as tar:
            assert tar.stdout is not None
            image_id = engine.import_image(tar.stdout, distro.image, changes)
        if tar.returncode != 0:
            raise ImageError(
                f"distro {distro.name!r}: archiving the debootstrap tree failed (tar exit {tar.returncode})"
            )
        return image_id
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def ensure_image(engine: Engine, distro: Distro, progress: Progress, *, pull: bool = True) -> ImageSource:
    """Make ``distro.image`` available on the engine: local, else pulled, else built (once)."""
    started = time.monotonic()
    image_id = engine.image_id(distro.image)
    if image_id is not None:
        return ImageSource(distro.image, image_id, "local", time.monotonic() - started)
    with image_lock(distro.image):
        image_id = engine.image_id(distro.image)  # another process may have made it meanwhile
        if image_id is not None:
            return ImageSource(distro.image, image_id, "local", time.monotonic() - started)
        pull_error: ImageError | None = None
        if pull:
            try:
                progress(f"pulling {distro.image}")
                image_id = engine.pull(distro.image)
                return ImageSource(distro.image, image_id, "pulled", time.monotonic() - started)
            except ImageError as e:
                pull_error = e
        try:
            image_id = build_image(engine, distro, progress)
        except ImageError as e:
            if pull_error is not None:
                raise ImageError(f"{e}\n(pulling failed first: {pull_error})") from e
            raise
        return ImageSource(distro.image, image_id, "built", time.monotonic() - started)
