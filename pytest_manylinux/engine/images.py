"""Distro images: the local one, else pulled, else built from the distro's package archive; then derived.

Builds run ``debootstrap`` on the host and import the result into the engine. A derive adds what the
base lacks (python3) through the engine itself: a container of the base runs the distro's package
manager and is committed under a name that records the base's ID, so it is made once per base. Each
step runs under a file lock, so no two processes (xdist workers, parallel sessions) make one image twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..core.distros import BuildRecipe, DeriveRecipe, Distro, RootfsRecipe
from ..errors import ImageError
from .docker import LABEL, Engine
from .sharing import file_lock

#: the label carrying the reference an image was built for
LABEL_IMAGE = f"{LABEL}.image"
#: labels of a derived image: the base reference and the base's image ID it was made from
LABEL_DERIVED_FROM = f"{LABEL}.derived-from"
LABEL_BASE_ID = f"{LABEL}.base-id"
#: the repository derived images are committed to (the tag names base, base ID and recipe)
DERIVED_REPOSITORY = "pytest-manylinux/derived"

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

    #: the image reference containers run (the derived image's where the distro derives one)
    ref: str
    #: the engine's image ID
    image_id: str
    #: ``local``, ``pulled``, ``built`` or ``derived`` (made now from ``base``)
    how: str
    #: seconds it took to get it (the base included)
    seconds: float
    #: where the base came from, for a derived image
    base: ImageSource | None = None

    @property
    def story(self) -> str:
        """``pulled+derived``, ``local``, ...: how each step got its image."""
        return f"{self.base.how}+{self.how}" if self.base is not None else self.how


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
            "pull it from a registry that has it (README: Images and registries), or build it once as root "
            "(python -m pytest_manylinux images) and push it there with --push."
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
    if isinstance(recipe, RootfsRecipe):
        from .rootfs import import_rootfs

        return import_rootfs(engine, distro, recipe, progress)
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


def derive_script(recipe: DeriveRecipe) -> str:
    """The shell command a derive runs as root in a container of the base (pure).

    Packages are installed only where missing, with whichever package manager the image has; apt's
    lists and caches are removed afterwards, as the official images ship them.
    """
    if recipe.command is not None:
        return recipe.command
    packages = " ".join(recipe.packages)
    return (
        "set -e; "
        "if command -v apt-get >/dev/null 2>&1; then "
        f'missing=; for p in {packages}; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done; '
        'if [ -n "$missing" ]; then export DEBIAN_FRONTEND=noninteractive; apt-get update -q; '
        "apt-get install -y -q --no-install-recommends $missing; apt-get clean; "
        "rm -rf /var/lib/apt/lists/*; fi; "
        f"elif command -v apk >/dev/null 2>&1; then apk add --no-cache {packages}; "
        f"elif command -v dnf >/dev/null 2>&1; then dnf install -y {packages}; dnf clean all; "
        f"elif command -v yum >/dev/null 2>&1; then yum install -y {packages}; yum clean all; "
        f"elif command -v zypper >/dev/null 2>&1; then zypper --non-interactive install {packages}; "
        'else echo "no package manager this derive knows (apt-get, apk, dnf, yum, zypper); '
        'set derive = { command = ... }" >&2; exit 3; fi'
    )


def derived_reference(base_ref: str, base_id: str, recipe: DeriveRecipe) -> str:
    """The local name of the image derived from ``base_id``: it changes when the base or the recipe does."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", base_ref.split("@", 1)[0])[:80]
    short = base_id.split(":", 1)[-1][:12]
    recipe_hash = hashlib.sha256(derive_script(recipe).encode()).hexdigest()[:8]
    return f"{DERIVED_REPOSITORY}:{slug}-{short}-{recipe_hash}"


def derive_image(engine: Engine, distro: Distro, base: ImageSource, progress: Progress) -> ImageSource:
    """The image derived from ``base`` by ``distro.derive``: found locally, else made by the engine."""
    recipe = distro.derive
    assert recipe is not None
    started = time.monotonic()
    ref = derived_reference(distro.image, base.image_id, recipe)
    image_id = engine.image_id(ref)
    if image_id is None:
        with image_lock(ref):
            image_id = engine.image_id(ref)  # another process may have made it meanwhile
            if image_id is None:
                what = "adding " + (", ".join(recipe.packages) or "what the command installs")
                progress(f"deriving {ref} from {distro.image}: {what} with the distro's package manager")
                labels = {LABEL_DERIVED_FROM: distro.image, LABEL_BASE_ID: base.image_id}
                image_id = engine.commit_run(
                    base.ref,
                    derive_script(recipe),
                    ref,
                    labels=labels,
                    what=f"distro {distro.name!r}: deriving from {distro.image!r}",
                    progress=progress,
                )
                seconds = time.monotonic() - started
                progress(f"  {distro.name}: derived in {seconds:.0f}s")
                return ImageSource(ref, image_id, "derived", base.seconds + seconds, base)
    return ImageSource(ref, image_id, "local", base.seconds + time.monotonic() - started, base)


def ensure_base(engine: Engine, distro: Distro, progress: Progress, *, pull: bool = True) -> ImageSource:
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
                image_id = engine.pull(distro.image, progress)
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


def ensure_image(engine: Engine, distro: Distro, progress: Progress, *, pull: bool = True) -> ImageSource:
    """The image a distro's containers run: its base (local, pulled or built), derived where the table
    says ``derive``. The returned ``ref`` is what to start."""
    base = ensure_base(engine, distro, progress, pull=pull)
    if distro.derive is None:
        return base
    return derive_image(engine, distro, base, progress)


def push_image(engine: Engine, distro: Distro, source: ImageSource, ref: str, progress: Progress) -> str:
    """Tag the image ``distro``'s containers run (``source``) as ``ref`` and push it; return its digest.

    A push that fails takes back the tag it made (a tag ``ref`` had before is left as it was): nothing
    half-done is left on the engine.
    """
    tagged_before = engine.image_id(ref) is not None
    engine.tag(source.image_id, ref)
    try:
        return engine.push(ref, progress)
    except ImageError as e:
        if not tagged_before:
            engine.remove_image(ref)
        hint = ""
        if re.search(r"unauthori[sz]ed|denied|authenticat|forbidden|not allowed|\b40[135]\b", str(e), re.I):
            registry = ref.split("/", 1)[0]
            hint = (
                f". The registry refused the push: log in first (docker login {registry}) with an account "
                "that may push there, or push to a registry you may write to"
            )
        raise ImageError(f"distro {distro.name!r}: {e}{hint}") from e
