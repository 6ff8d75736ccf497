"""The claim a wheel makes: its platform tags read as a libc floor (PEP 600, PEP 656).

``manylinux_2_17_x86_64`` promises "runs on glibc 2.17 or newer"; legacy aliases map to the same
floors. A wheel's claimed floor is the *lowest* glibc (or musl) among its tags.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from ..errors import WheelError


class Libc(str, enum.Enum):
    """The C library family a platform tag or a distro is built on."""

    GLIBC = "glibc"
    MUSL = "musl"


@dataclass(frozen=True, order=True)
class LibcVersion:
    """A libc version such as glibc 2.17; ordered like the loader orders symbol versions."""

    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    @classmethod
    def parse(cls, text: str) -> LibcVersion:
        """Parse ``"2.17"`` (extra components such as ``"1.2.4"`` are dropped)."""
        match = re.match(r"^\s*(\d+)\.(\d+)", text)
        if match is None:
            raise ValueError(f"not a libc version: {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))


class ClaimKind(str, enum.Enum):
    """What sort of promise the platform tags make."""

    MANYLINUX = "manylinux"  #: glibc floor (PEP 513/571/599/600)
    MUSLLINUX = "musllinux"  #: musl floor (PEP 656)
    LINUX = "linux"  #: ``linux_*``: built here, no portability promise
    PURE = "pure"  #: ``any``: no platform code at all
    OTHER = "other"  #: macOS, Windows, ...: not a Linux wheel


# PEP 600 keeps the old names as aliases of the glibc floors they always meant.
# https://peps.python.org/pep-0600/#legacy-manylinux-tags
_LEGACY_MANYLINUX_MAP = {
    "manylinux1": LibcVersion(2, 5),  # PEP 513, CentOS 5
    "manylinux2010": LibcVersion(2, 12),  # PEP 571, CentOS 6
    "manylinux2014": LibcVersion(2, 17),  # PEP 599, CentOS 7
}

_PERENNIAL_RE = re.compile(r"^(?P<kind>manylinux|musllinux)_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>.+)$")
_LEGACY_RE = re.compile(r"^(?P<alias>manylinux1|manylinux2010|manylinux2014)_(?P<arch>.+)$")
_LINUX_RE = re.compile(r"^linux_(?P<arch>.+)$")


@dataclass(frozen=True)
class PlatformClaim:
    """One platform tag read as a promise."""

    #: the platform tag as written, e.g. ``manylinux2014_x86_64``
    tag: str
    #: what kind of promise it is
    kind: ClaimKind
    #: the libc family the floor is in (``None`` for linux/pure/other)
    libc: Libc | None = None
    #: the lowest libc version promised (``None`` without a floor)
    version: LibcVersion | None = None
    #: the CPU architecture, e.g. ``x86_64`` (``None`` for pure wheels)
    arch: str | None = None


def parse_platform(platform: str) -> PlatformClaim:
    """Read one platform tag; never raises: unknown tags are ``ClaimKind.OTHER``."""
    if platform == "any":
        return PlatformClaim(platform, ClaimKind.PURE)
    match = _PERENNIAL_RE.match(platform)
    if match:
        libc = Libc.GLIBC if match["kind"] == "manylinux" else Libc.MUSL
        kind = ClaimKind.MANYLINUX if libc is Libc.GLIBC else ClaimKind.MUSLLINUX
        version = LibcVersion(int(match["major"]), int(match["minor"]))
        return PlatformClaim(platform, kind, libc, version, match["arch"])
    match = _LEGACY_RE.match(platform)
    if match:
        version = _LEGACY_MANYLINUX_MAP[match["alias"]]
        return PlatformClaim(platform, ClaimKind.MANYLINUX, Libc.GLIBC, version, match["arch"])
    match = _LINUX_RE.match(platform)
    if match:
        return PlatformClaim(platform, ClaimKind.LINUX, arch=match["arch"])
    return PlatformClaim(platform, ClaimKind.OTHER)


@dataclass(frozen=True)
class Claim:
    """What a wheel's file name promises about where it runs."""

    #: the wheel's file name
    filename: str
    #: the project name, normalized
    name: str
    #: the project version, as written
    version: str
    #: every tag of the file name, expanded (``py3-none-any`` is one)
    tags: frozenset[Tag]
    #: the platform tag that sets the floor (the lowest), or the only kind present
    platform: PlatformClaim

    @property
    def kind(self) -> ClaimKind:
        return self.platform.kind

    @property
    def libc(self) -> Libc | None:
        return self.platform.libc

    @property
    def floor(self) -> LibcVersion | None:
        return self.platform.version

    @property
    def arch(self) -> str | None:
        return self.platform.arch

    @property
    def makes_claim(self) -> bool:
        """True when the tags promise a libc floor that can be checked."""
        return self.platform.version is not None

    @property
    def interpreters(self) -> frozenset[tuple[str, str]]:
        """The (interpreter, abi) pairs of the tags, e.g. ``("cp311", "cp311")``."""
        return frozenset((t.interpreter, t.abi) for t in self.tags)

    def describe(self) -> str:
        """A sentence for reports: what the wheel promises."""
        if self.platform.kind is ClaimKind.PURE:
            return f"{self.filename} is a pure wheel ({self.platform.tag}): it makes no platform claim"
        if self.platform.kind is ClaimKind.LINUX:
            return (
                f"{self.filename} is tagged {self.platform.tag}: it makes no portability claim "
                "(only manylinux/musllinux tags promise a libc floor)"
            )
        if self.platform.kind is ClaimKind.OTHER:
            return f"{self.filename} is tagged {self.platform.tag}: not a Linux wheel"
        return f"{self.platform.tag} promises {self.platform.libc.value} {self.platform.version} or newer"  # type: ignore[union-attr]


def honest_tag(libc: Libc, version: LibcVersion, arch: str) -> str:
    """The perennial tag (PEP 600/656) for a floor, e.g. ``manylinux_2_23_x86_64``."""
    prefix = "manylinux" if libc is Libc.GLIBC else "musllinux"
    return f"{prefix}_{version.major}_{version.minor}_{arch}"


def _floor_key(platform: PlatformClaim) -> tuple[int, LibcVersion]:
    # glibc claims outrank musl ones (a wheel tagged both is judged on glibc distros first);
    # within a family the lowest floor is the promise that matters.
    rank = 0 if platform.libc is Libc.GLIBC else 1
    assert platform.version is not None
    return (rank, platform.version)


def _choose(platforms: Iterable[PlatformClaim]) -> PlatformClaim:
    platforms = sorted(platforms, key=lambda p: p.tag)
    with_floor = [p for p in platforms if p.version is not None]
    if with_floor:
        return min(with_floor, key=_floor_key)
    for kind in (ClaimKind.LINUX, ClaimKind.PURE):
        for p in platforms:
            if p.kind is kind:
                return p
    return platforms[0]


def read_claim(filename: str) -> Claim:
    """Read the claim of a wheel from its file name (a path is fine: only the name is read)."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    try:
        name, version, _build, tags = parse_wheel_filename(base)
    except InvalidWheelFilename as e:
        raise WheelError(
            f"{filename!r} is not a wheel file name ({e}); "
            "expected NAME-VERSION(-BUILD)?-PYTHON-ABI-PLATFORM.whl"
        ) from e
    platform = _choose(parse_platform(t.platform) for t in tags)
    return Claim(base, str(name), str(version), frozenset(tags), platform)
