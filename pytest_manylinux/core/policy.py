"""The manylinux/musllinux policies as data: what a wheel may need from the system under each tag.

The data is ``policy.json`` beside this module, derived from auditwheel's policy files (MIT licensed,
https://github.com/pypa/auditwheel/tree/main/src/auditwheel/policy); it is validated when loaded.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import PolicyError
from .tags import Claim, Libc, LibcVersion

#: The policy file shipped with the package.
POLICY_FILE = Path(__file__).with_name("policy.json")

_POLICY_NAME_RE = re.compile(r"^(?P<kind>manylinux|musllinux)_(?P<major>\d+)_(?P<minor>\d+)$")
_VERSION_RE = re.compile(r"^\d+(\.\d+)*$")


def version_key(version: str) -> tuple[int, ...] | None:
    """``"3.4.29"`` as ``(3, 4, 29)``, for ordering; ``None`` for labels such as ``PRIVATE`` or ``TM_1``."""
    if not _VERSION_RE.match(version):
        return None
    return tuple(int(part) for part in version.split("."))


def split_version_name(name: str) -> tuple[str, str]:
    """``"GLIBCXX_3.4.29"`` as ``("GLIBCXX", "3.4.29")``.

    The prefix is everything before the first ``_``, the rule auditwheel's policies are keyed by, so
    ``GLIBCXX_LDBL_3.4`` (ppc64le's long-double symbols) is prefix ``GLIBCXX``, version ``LDBL_3.4``.
    """
    prefix, _, version = name.partition("_")
    return prefix, version


@dataclass(frozen=True)
class Policy:
    """One manylinux or musllinux policy: the libc floor it stands for and what it lets a wheel need."""

    #: the policy's perennial name, e.g. ``manylinux_2_17`` (no architecture)
    name: str
    #: the libc family of the floor
    libc: Libc
    #: the floor, e.g. glibc 2.17
    version: LibcVersion
    #: legacy names of the same policy, e.g. ``("manylinux2014",)``
    aliases: tuple[str, ...]
    #: architecture -> version prefix (``GLIBC``, ``GLIBCXX``, ...) -> every version name the policy allows,
    #: spelled in full (``"GLIBCXX_3.4.19"``); a prefix missing here is not governed by the policy
    symbol_versions: Mapping[str, Mapping[str, frozenset[str]]] = field(compare=False, hash=False)
    #: sonames a wheel may expect the system to provide (musl's ``libc.so`` stands for every arch's soname)
    libraries: frozenset[str] = field(compare=False, hash=False)
    #: musl's libc soname per architecture, which replaces ``libc.so`` in :attr:`libraries`
    musl_libc_sonames: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def archs(self) -> frozenset[str]:
        """The architectures the policy is defined for."""
        return frozenset(self.symbol_versions)

    def tag(self, arch: str) -> str:
        """The platform tag, e.g. ``manylinux_2_17_x86_64``."""
        return f"{self.name}_{arch}"

    def allows_version(self, arch: str, version_name: str) -> bool:
        """Whether a need for ``version_name`` (``"GLIBC_2.34"``) is within the policy on ``arch``.

        As in auditwheel, a version whose prefix the policy does not govern is allowed, and one it
        governs must be listed exactly: ``GLIBC_PRIVATE`` is never allowed.
        """
        prefix, _ = split_version_name(version_name)
        allowed = self.symbol_versions.get(arch, {}).get(prefix)
        return allowed is None or version_name in allowed

    def allows_library(self, arch: str, soname: str) -> bool:
        """Whether the policy lets a wheel expect ``soname`` from the system on ``arch``."""
        if soname in self.libraries:
            return True
        return (
            self.libc is Libc.MUSL
            and "libc.so" in self.libraries
            and self.musl_libc_sonames.get(arch) == soname
        )

    def max_version(self, arch: str, prefix: str) -> str | None:
        """The highest numbered version the policy allows for ``prefix`` on ``arch``, for messages."""
        numbered = [
            (key, name)
            for name in self.symbol_versions.get(arch, {}).get(prefix, ())
            if (key := version_key(split_version_name(name)[1])) is not None
        ]
        return max(numbered)[1] if numbered else None


@dataclass(frozen=True)
class GccRelease:
    """The first GCC release whose libstdc++ provides a ``GLIBCXX``/``CXXABI`` version."""

    #: e.g. ``"11.1.0"``
    gcc: str
    #: the highest ``GLIBCXX_`` version of that release, e.g. ``"3.4.29"``
    glibcxx: str
    #: the highest ``CXXABI_`` version of that release, e.g. ``"1.3.13"``
    cxxabi: str


@dataclass(frozen=True)
class PolicyTable:
    """Every policy, lowest floor first, and the libstdc++ release table."""

    #: every policy, glibc ones before musl ones, each family by ascending floor
    policies: tuple[Policy, ...]
    #: GCC releases in release order
    gcc_releases: tuple[GccRelease, ...]
    #: where the policy data comes from, as the file says
    source: str
    #: where the GCC release table comes from
    gcc_source: str

    def for_arch(self, libc: Libc, arch: str) -> tuple[Policy, ...]:
        """The policies of ``libc`` defined for ``arch``, lowest floor first."""
        return tuple(p for p in self.policies if p.libc is libc and arch in p.symbol_versions)

    def by_name(self, name: str) -> Policy:
        """The policy called ``name`` or one of its aliases (no architecture suffix)."""
        for policy in self.policies:
            if name == policy.name or name in policy.aliases:
                return policy
        raise PolicyError(f"no policy named {name!r}; known: {', '.join(p.name for p in self.policies)}")

    def governing(self, libc: Libc, arch: str, floor: LibcVersion) -> Policy | None:
        """The policy a claim of ``floor`` is judged by: the highest one not above it.

        PEP 600 allows any ``manylinux_X_Y``; auditwheel only has policies for some floors, and a wheel
        claiming 2.20 may need no more than the 2.17 policy allows (beyond glibc itself).
        """
        fitting = [p for p in self.for_arch(libc, arch) if p.version <= floor]
        return fitting[-1] if fitting else None

    def expected_libraries(self, claim: Claim) -> frozenset[str]:
        """The sonames the claim's policy lets a wheel expect from the system (none without a floor)."""
        if claim.libc is None or claim.floor is None or claim.arch is None:
            return frozenset()
        policy = self.governing(claim.libc, claim.arch, claim.floor)
        if policy is None:
            return frozenset()
        return frozenset(lib for lib in policy.libraries if policy.allows_library(claim.arch, lib))

    def gcc_release(self, version_name: str) -> GccRelease | None:
        """The first GCC release whose libstdc++ has ``GLIBCXX_x``/``CXXABI_x``; None if unknown."""
        prefix, version = split_version_name(version_name)
        wanted = version_key(version)
        if wanted is None or prefix not in ("GLIBCXX", "CXXABI"):
            return None
        for release in self.gcc_releases:
            have = version_key(release.glibcxx if prefix == "GLIBCXX" else release.cxxabi)
            if have is not None and have >= wanted:
                return release
        return None


def _fail(path: Path, where: str, problem: str) -> PolicyError:
    return PolicyError(f"{path}: {where}: {problem}; reinstall pytest-manylinux or fix the policy file.")


def _str_list(path: Path, where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(path, where, f"expected a list of strings, found {value!r}")
    return value


def _policy(path: Path, libc: Libc, raw: Any, musl_sonames: Mapping[str, str]) -> Policy:
    if not isinstance(raw, dict):
        raise _fail(path, "a policy", f"expected an object, found {raw!r}")
    name = raw.get("name")
    match = _POLICY_NAME_RE.match(name) if isinstance(name, str) else None
    family = "manylinux" if libc is Libc.GLIBC else "musllinux"
    if match is None or match["kind"] != family:
        raise _fail(path, f"a {family} policy", f"bad name {name!r}, expected {family}_X_Y")
    where = f"policy {name!r}"
    symbol_versions: dict[str, Mapping[str, frozenset[str]]] = {}
    per_arch = raw.get("symbol_versions")
    if not isinstance(per_arch, dict) or not per_arch:
        raise _fail(path, where, f"symbol_versions must map architectures to prefixes, found {per_arch!r}")
    for arch, prefixes in per_arch.items():
        if not isinstance(prefixes, dict):
            raise _fail(path, f"{where} {arch}", f"expected an object of prefixes, found {prefixes!r}")
        table: dict[str, frozenset[str]] = {}
        for prefix, versions in prefixes.items():
            listed = _str_list(path, f"{where} {arch} {prefix}", versions)
            table[prefix] = frozenset(f"{prefix}_{v}" for v in listed)
        symbol_versions[arch] = MappingProxyType(table)
    return Policy(
        name=str(name),
        libc=libc,
        version=LibcVersion(int(match["major"]), int(match["minor"])),
        aliases=tuple(_str_list(path, f"{where} aliases", raw.get("aliases", []))),
        symbol_versions=MappingProxyType(symbol_versions),
        libraries=frozenset(_str_list(path, f"{where} lib_whitelist", raw.get("lib_whitelist"))),
        musl_libc_sonames=musl_sonames if libc is Libc.MUSL else MappingProxyType({}),
    )


def _check_monotonic(path: Path, policies: list[Policy]) -> None:
    """A higher floor must allow everything a lower one does (auditwheel checks the same, PEP 600)."""
    for lower, higher in zip(policies, policies[1:]):
        if not lower.version < higher.version:
            raise _fail(path, f"policy {higher.name!r}", f"out of order after {lower.name!r}")
        if not lower.libraries <= higher.libraries:
            missing = sorted(lower.libraries - higher.libraries)
            raise _fail(
                path, f"policy {higher.name!r}", f"drops libraries {missing!r} that {lower.name!r} allows"
            )
        for arch, prefixes in lower.symbol_versions.items():
            if arch not in higher.symbol_versions:
                continue  # an architecture may be dropped (ppc64, big-endian, exists for 2_17 only)
            for prefix, versions in prefixes.items():
                higher_versions = higher.symbol_versions[arch].get(prefix, frozenset())
                if not versions <= higher_versions:
                    missing = sorted(versions - higher_versions)
                    raise _fail(
                        path,
                        f"policy {higher.name!r} {arch}",
                        f"drops {missing!r} that {lower.name!r} allows",
                    )


def _gcc_releases(path: Path, raw: Any) -> tuple[tuple[GccRelease, ...], str]:
    if not isinstance(raw, dict) or not isinstance(raw.get("releases"), list):
        raise _fail(path, "libstdcxx_releases", f"expected an object with a releases list, found {raw!r}")
    releases = []
    for item in raw["releases"]:
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) for k in ("gcc", "GLIBCXX", "CXXABI")
        ):
            raise _fail(path, "libstdcxx_releases", f"expected gcc/GLIBCXX/CXXABI strings, found {item!r}")
        releases.append(GccRelease(item["gcc"], item["GLIBCXX"], item["CXXABI"]))
    for earlier, later in zip(releases, releases[1:]):
        if (version_key(later.glibcxx) or ()) < (version_key(earlier.glibcxx) or ()):
            raise _fail(
                path, "libstdcxx_releases", f"GCC {later.gcc} goes back from GLIBCXX_{earlier.glibcxx}"
            )
    return tuple(releases), str(raw.get("source", ""))


def parse_policies(path: Path, document: Any) -> PolicyTable:
    """Validate a policy document (the parsed JSON) and build the table; raise :class:`PolicyError`."""
    if not isinstance(document, dict):
        raise _fail(path, "top level", f"expected an object, found {type(document).__name__}")
    sonames = document.get("musl_libc_sonames", {})
    if not isinstance(sonames, dict) or not all(isinstance(v, str) for v in sonames.values()):
        raise _fail(path, "musl_libc_sonames", f"expected arch -> soname strings, found {sonames!r}")
    musl_sonames = MappingProxyType(dict(sonames))
    families: list[Policy] = []
    for key, libc in (("manylinux", Libc.GLIBC), ("musllinux", Libc.MUSL)):
        raw = document.get(key)
        if not isinstance(raw, list) or not raw:
            raise _fail(path, key, f"expected a non-empty list of policies, found {raw!r}")
        family = sorted((_policy(path, libc, item, musl_sonames) for item in raw), key=lambda p: p.version)
        _check_monotonic(path, family)
        families.extend(family)
    releases, gcc_source = _gcc_releases(path, document.get("libstdcxx_releases"))
    source = document.get("source", {})
    described = ", ".join(f"{k}: {v}" for k, v in source.items()) if isinstance(source, dict) else str(source)
    return PolicyTable(tuple(families), releases, described, gcc_source)


def load_policies(path: Path | None = None) -> PolicyTable:
    """Read and validate a policy file (default: the one shipped with the package, read once)."""
    if path is None:
        return _default_table()
    return _read(path)


def _read(path: Path) -> PolicyTable:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise PolicyError(f"{path}: cannot read the policy file ({e}); reinstall pytest-manylinux.") from e
    except ValueError as e:
        raise PolicyError(f"{path}: not valid JSON ({e}); reinstall pytest-manylinux or fix the file.") from e
    return parse_policies(path, document)


@functools.lru_cache(maxsize=1)
def _default_table() -> PolicyTable:
    return _read(POLICY_FILE)
