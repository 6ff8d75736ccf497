"""distros.py: the shipped matrix loads, minimal tables work, and every malformed file is named precisely."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_manylinux.core.distros import (
    DEFAULT_DISTROS_FILE,
    DEFAULT_PORTABLE_VERSIONS,
    BuildRecipe,
    DeriveRecipe,
    Distro,
    PortableSource,
    PythonConfig,
    RootfsRecipe,
    family_of_image,
    load_distros,
    load_distros_file,
    marker_name,
    select,
)
from pytest_manylinux.core.tags import Libc
from pytest_manylinux.errors import DistrosFileError, SelectionError

DEFAULT_NAMES = [
    "ubuntu-16.04",
    "ubuntu-18.04",
    "ubuntu-20.04",
    "debian-11",
    "ubuntu-22.04",
    "debian-12",
    "ubuntu-24.04",
    "debian-13",
    "alpine-3.12",
    "alpine-3.15",
    "alpine-3.18",
    "alpine-3.20",
]
GLIBC_NAMES = DEFAULT_NAMES[:8]
ALPINE_SHA256 = {  # ../shared/alpine/SHA256SUMS: the official minirootfs releases
    "alpine-3.12": ("3.12.12", "0fad8bc6696bfdc1639bdac1d00c2398a28123ede4a922e16d04715fed6d07b1"),
    "alpine-3.15": ("3.15.11", "1040dc3c9cdf5c52778789e4fe5f7b44d10d24ce9167afbbf907e44789654b9d"),
    "alpine-3.18": ("3.18.9", "1d90362d504b1846488bda4d9fd11ea8b8f3a567eeba01d3d881a9c98e900c3f"),
    "alpine-3.20": ("3.20.3", "d4e6fd67dcf75e40c451560ac7265166c2b72a0f38ddc9aae756a7de3d1efa0c"),
}


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "distros.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- the shipped matrix -----------------------------------------------------------------------------


def test_default_matrix_loads_oldest_first() -> None:
    distros = load_distros()
    assert [d.name for d in distros] == DEFAULT_NAMES
    assert load_distros(DEFAULT_DISTROS_FILE) == distros


def test_default_matrix_has_a_build_recipe_for_every_distro() -> None:
    recipes = {d.name: d.build for d in load_distros() if d.name in GLIBC_NAMES}
    assert all(isinstance(r, BuildRecipe) for r in recipes.values())
    assert {n: r.suite for n, r in recipes.items() if r} == {
        "ubuntu-16.04": "xenial",
        "ubuntu-18.04": "bionic",
        "ubuntu-20.04": "focal",
        "debian-11": "bullseye",
        "ubuntu-22.04": "jammy",
        "debian-12": "bookworm",
        "ubuntu-24.04": "noble",
        "debian-13": "trixie",
    }
    for name, recipe in recipes.items():
        assert recipe is not None
        # like the official images: no python3 (the derive adds it through the engine)
        assert recipe.include == ()
        assert recipe.variant == "minbase"
        # no Ubuntu keyring is packaged here: Ubuntu suites cannot be verified
        assert recipe.check_gpg is name.startswith("debian-"), name
    # debootstrap 1.0.128 predates noble: it is built with the shared Ubuntu script
    assert recipes["ubuntu-24.04"] is not None
    assert recipes["ubuntu-24.04"].script == "gutsy"
    assert recipes["ubuntu-22.04"] is not None
    assert recipes["ubuntu-22.04"].script is None


def test_default_matrix_images_families_and_markers() -> None:
    by_name = {d.name: d for d in load_distros()}
    oldest = by_name["ubuntu-16.04"]
    # the official images any engine pulls, with python3 added by a derive
    assert [d.image for d in by_name.values()] == [
        "ubuntu:16.04",
        "ubuntu:18.04",
        "ubuntu:20.04",
        "debian:11",
        "ubuntu:22.04",
        "debian:12",
        "ubuntu:24.04",
        "debian:13",
        "alpine:3.12",
        "alpine:3.15",
        "alpine:3.18",
        "alpine:3.20",
    ]
    glibc = [by_name[n] for n in GLIBC_NAMES]
    assert {d.derive for d in glibc} == {DeriveRecipe(packages=("python3",))}
    # Alpine's python3 needs apk and its mirrors: a portable CPython for musl is brought in instead
    assert all(by_name[n].derive is None for n in ALPINE_SHA256)
    assert oldest.family == "ubuntu"
    assert oldest.libc is Libc.GLIBC
    assert oldest.markers == ("ubuntu_16_04", "ubuntu", "glibc", "lts", "eol")
    assert by_name["debian-13"].markers == ("debian_13", "debian", "glibc", "stable")
    assert all(by_name[n].libc is Libc.GLIBC for n in GLIBC_NAMES)
    alpine = by_name["alpine-3.12"]
    assert (alpine.image, alpine.family, alpine.libc) == ("alpine:3.12", "alpine", Libc.MUSL)
    assert alpine.markers == ("alpine_3_12", "alpine", "musl", "eol")
    assert by_name["alpine-3.20"].markers == ("alpine_3_20", "alpine", "musl", "stable")


def test_default_matrix_imports_alpine_from_its_official_minirootfs() -> None:
    by_name = {d.name: d for d in load_distros()}
    for name, (release, sha256) in ALPINE_SHA256.items():
        recipe = by_name[name].build
        minor = release.rsplit(".", 1)[0]
        assert recipe == RootfsRecipe(
            f"https://dl-cdn.alpinelinux.org/alpine/v{minor}/releases/x86_64/alpine-minirootfs-{release}-x86_64.tar.gz",
            sha256,
        )
        assert recipe.filename == f"alpine-minirootfs-{release}-x86_64.tar.gz"


def test_rootfs_recipe(tmp_path: Path) -> None:
    text = '[distro.a]\nimage = "alpine:3.20"\nbuild = { rootfs = "/srv/a.tar.gz", sha256 = "%s" }\n' % (
        "AB" * 32
    )
    (distro,) = load_distros(_file(tmp_path, text))
    assert distro.build == RootfsRecipe("/srv/a.tar.gz", "ab" * 32)


# -- a minimal table ----------------------------------------------------------------------------------


def test_table_with_only_an_image(tmp_path: Path) -> None:
    path = _file(tmp_path, '[distro."ubuntu-22.04"]\nimage = "registry.example/ubuntu:22.04"\n')
    (distro,) = load_distros(path)
    assert distro == Distro(
        name="ubuntu-22.04",
        image="registry.example/ubuntu:22.04",
        family="ubuntu",
        libc=Libc.GLIBC,
    )
    assert distro.build is None
    assert distro.pythons is None
    assert distro.markers == ("ubuntu_22_04", "ubuntu", "glibc")


def test_musl_family_is_guessed_from_the_image(tmp_path: Path) -> None:
    (distro,) = load_distros(_file(tmp_path, '[distro.alpine]\nimage = "alpine:3.19"\n'))
    assert distro.family == "alpine"
    assert distro.libc is Libc.MUSL
    assert distro.markers == ("alpine", "musl")


def test_every_optional_key(tmp_path: Path) -> None:
    text = """
[distro.custom]
image = "example/thing:1"
family = "rhel"
libc = "glibc"
tags = ["lts", "vendor-x"]
python = ["/opt/python/cp311-cp311/bin/python", "/usr/bin/python3"]
notes = "anything"
[distro.custom.build]
debootstrap = "bookworm"
script = "sid"
mirror = "http://mirror.example/debian"
check-gpg = false
include = ["python3", "libgomp1"]
variant = "buildd"
"""
    (distro,) = load_distros(_file(tmp_path, text))
    assert distro.family == "rhel"
    assert distro.tags == ("lts", "vendor-x")
    assert distro.markers == ("custom", "rhel", "glibc", "lts", "vendor_x")
    assert distro.pythons == ("/opt/python/cp311-cp311/bin/python", "/usr/bin/python3")
    assert distro.notes == "anything"
    assert distro.build == BuildRecipe(
        suite="bookworm",
        script="sid",
        mirror="http://mirror.example/debian",
        check_gpg=False,
        include=("python3", "libgomp1"),
        variant="buildd",
    )


@pytest.mark.parametrize(
    ("image", "family"),
    [
        ("registry.example/ubuntu:22.04", "ubuntu"),
        ("debian:12", "debian"),
        ("localhost:5000/team/Debian:12", "debian"),
        ("quay.io/pypa/manylinux2014_x86_64@sha256:" + "0" * 64, "manylinux2014_x86_64"),
        ("alpine", "alpine"),
    ],
    ids=["registry", "bare", "registry-port", "digest", "no-tag"],
)
def test_family_of_image(image: str, family: str) -> None:
    assert family_of_image(image) == family


@pytest.mark.parametrize(
    ("text", "marker"),
    [("ubuntu-16.04", "ubuntu_16_04"), ("debian-13", "debian_13"), ("16.04", "_16_04"), ("lts", "lts")],
    ids=["ubuntu", "debian", "leading-digit", "plain"],
)
def test_marker_name(text: str, marker: str) -> None:
    assert marker_name(text) == marker
    assert marker.isidentifier()


# -- malformed files ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ('[distro.x]\nfamily = "debian"\n', "[distro.x]", "missing required key 'image'"),
        ("[distro.x]\nimage = 3\n", "[distro.x].image", "expected a non-empty string, got 3"),
        ('[distro.x]\nimage = "  "\n', "[distro.x].image", "expected a non-empty string"),
        ('[distro.x]\nimage = "a:1"\nfamily = ["ubuntu"]\n', "[distro.x].family", "got ['ubuntu']"),
        ('[distro.x]\nimage = "a:1"\nimgae = "b"\n', "[distro.x]", "unknown key(s) ['imgae']"),
        ('[distro.x]\nimage = "a:1"\nlibc = "uclibc"\n', "[distro.x].libc", "got 'uclibc'"),
        ('[distro.x]\nimage = "a:1"\ntags = 3\n', "[distro.x].tags", "expected a list of strings, got 3"),
        ('[distro.x]\nimage = "a:1"\ntags = ["ok", 1]\n', "[distro.x].tags", "expected a list of strings"),
        ('[distro.x]\nimage = "a:1"\npython = 3.11\n', "[distro.x].python", "got 3.11"),
        ('[distro.x]\nimage = "a:1"\nnotes = 1\n', "[distro.x].notes", "got 1"),
        ('[distro.x]\nimage = "a:1"\nbuild = "bookworm"\n', "[distro.x].build", "expected a table"),
        ('[distro.x]\nimage = "a:1"\nbuild = { script = "gutsy" }\n', "[distro.x].build", "'debootstrap'"),
        (
            '[distro.x]\nimage = "a:1"\nbuild = { debootstrap = "bookworm", check-gpg = "no" }\n',
            "[distro.x].build.check-gpg",
            "expected true or false, got 'no'",
        ),
        (
            '[distro.x]\nimage = "a:1"\nbuild = { debootstrap = "bookworm", mirorr = "m" }\n',
            "[distro.x].build",
            "unknown key(s) ['mirorr']",
        ),
        (
            '[distro.x]\nimage = "a:1"\nbuild = { rootfs = "https://h/a.tar.gz" }\n',
            "[distro.x].build",
            "rootfs needs sha256",
        ),
        (
            '[distro.x]\nimage = "a:1"\nbuild = { rootfs = "a.tar.gz", sha256 = "12" }\n',
            "[distro.x].build.sha256",
            "expected 64 hexadecimal digits, got '12'",
        ),
        (
            '[distro.x]\nimage = "a:1"\nbuild = { rootfs = "a.tar.gz", suite = "x", sha256 = "%s" }\n'
            % ("0" * 64),
            "[distro.x].build",
            "unknown key(s) ['suite'] beside rootfs",
        ),
        ('[distro."bad name"]\nimage = "a:1"\n', "[distro.bad name]", "'bad name'"),
        (
            '[distro.x]\nimage = "Ubuntu:22.04"\n',
            "[distro.x].image",
            "'Ubuntu:22.04' is not an image reference",
        ),
        ('[distro.x]\nimage = "ubuntu::1"\n', "[distro.x].image", "write [REGISTRY[:PORT]/]NAME[:TAG]"),
        ('[distro.x]\nimage = "a:1"\nderive = "python3"\n', "[distro.x].derive", "expected a table"),
        (
            '[distro.x]\nimage = "a:1"\nderive = { pkgs = [] }\n',
            "[distro.x].derive",
            "unknown key(s) ['pkgs']",
        ),
        (
            '[distro.x]\nimage = "a:1"\nderive = { packages = ["a"], command = "b" }\n',
            "[distro.x].derive",
            "packages or command, not both",
        ),
        (
            '[distro.x]\nimage = "a:1"\nderive = { packages = [] }\n',
            "[distro.x].derive.packages",
            "at least one",
        ),
        (
            '[distro.x]\nimage = "a:1"\nderive = { packages = ["python3; rm -rf /"] }\n',
            "[distro.x].derive.packages",
            "'python3; rm -rf /' is not a package name",
        ),
        ('[distro.x]\nimage = "a:1"\nderive = { command = "" }\n', "[distro.x].derive.command", "non-empty"),
        ("[distro]\nx = 1\n", "[distro.x]", "expected a table"),
    ],
    ids=[
        "missing-image",
        "image-not-string",
        "image-blank",
        "family-not-string",
        "unknown-key",
        "bad-libc",
        "tags-not-list",
        "tags-not-strings",
        "python-not-list",
        "notes-not-string",
        "build-not-table",
        "build-without-debootstrap",
        "check-gpg-not-bool",
        "build-unknown-key",
        "rootfs-without-sha256",
        "rootfs-bad-sha256",
        "rootfs-unknown-key",
        "bad-name",
        "image-uppercase",
        "image-empty-tag",
        "derive-not-table",
        "derive-unknown-key",
        "derive-packages-and-command",
        "derive-no-packages",
        "derive-shell-in-package",
        "derive-empty-command",
        "distro-not-table",
    ],
)
def test_malformed_table_names_file_table_and_key(tmp_path: Path, text: str, where: str, says: str) -> None:
    path = _file(tmp_path, text)
    with pytest.raises(DistrosFileError) as excinfo:
        load_distros(path)
    message = str(excinfo.value)
    assert message.startswith(f"{path}: {where}: "), message
    assert says in message


def test_derive_packages_default_and_command(tmp_path: Path) -> None:
    text = (
        '[distro.a]\nimage = "alpine:3.20"\nderive = {}\n'
        '[distro.b]\nimage = "fedora:40"\nderive = { packages = ["python3", "libstdc++"] }\n'
        '[distro.c]\nimage = "centos:7"\nderive = { command = "yum install -y python3" }\n'
        '[distro.d]\nimage = "quay.io/pypa/manylinux2014_x86_64:latest"\n'
    )
    a, b, c, d = load_distros(_file(tmp_path, text))
    assert a.derive == DeriveRecipe(packages=("python3",))
    assert b.derive == DeriveRecipe(packages=("python3", "libstdc++"))
    assert c.derive == DeriveRecipe(packages=(), command="yum install -y python3")
    assert d.derive is None  # an image with its own interpreters is used as it is


def test_a_lone_string_is_a_one_item_list(tmp_path: Path) -> None:
    text = (
        '[distro.x]\nimage = "a:1"\ntags = "lts"\n'
        'build = { debootstrap = "bookworm", include = "python3-dev" }\n'
    )
    (distro,) = load_distros(_file(tmp_path, text))
    assert distro.tags == ("lts",)
    assert distro.build is not None
    assert distro.build.include == ("python3-dev",)


def test_build_without_debootstrap_suggests_a_suite(tmp_path: Path) -> None:
    # The fix the message offers must itself be valid: debootstrap takes a suite such as "bookworm",
    # not an image reference such as "debian:12".
    path = _file(tmp_path, '[distro.x]\nimage = "a:1"\nbuild = { script = "gutsy" }\n')
    with pytest.raises(DistrosFileError) as excinfo:
        load_distros(path)
    assert 'debootstrap = "debian:12"' not in str(excinfo.value)


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    path = _file(tmp_path, '[distro.x]\nimage = "unterminated\n')
    with pytest.raises(DistrosFileError) as excinfo:
        load_distros(path)
    message = str(excinfo.value)
    assert message.startswith(f"{path}: not valid TOML: ")
    assert "line 2" in message
    assert excinfo.value.__cause__ is not None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "no [distro.NAME] tables"),
        ("[distro]\n", "no [distro.NAME] tables"),
        ('distro = "x"\n', "no [distro.NAME] tables"),
        ('[distros.x]\nimage = "a:1"\n', "unknown table(s) ['distros']"),
    ],
    ids=["empty", "empty-distro", "distro-not-table", "misspelt-table"],
)
def test_file_without_distro_tables(tmp_path: Path, text: str, says: str) -> None:
    path = _file(tmp_path, text)
    with pytest.raises(DistrosFileError) as excinfo:
        load_distros(path)
    assert str(excinfo.value).startswith(f"{path}: top level: ")
    assert says in str(excinfo.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(DistrosFileError, match="no such distros file") as excinfo:
        load_distros(path)
    assert str(path) in str(excinfo.value)


def test_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "distros.toml"
    path.write_bytes(b'[distro.x]\nimage = "\xff"\n')
    with pytest.raises(DistrosFileError, match="cannot read the distros file") as excinfo:
        load_distros(path)
    assert str(path) in str(excinfo.value)


# -- [python] and per-distro interpreters ----------------------------------------------------------

_SHA = "ab" * 32


def test_default_matrix_has_default_python_settings() -> None:
    matrix = load_distros_file()
    assert matrix.python == PythonConfig()
    assert matrix.python.order == ("distro", "image", "portable")
    assert matrix.python.versions == DEFAULT_PORTABLE_VERSIONS
    assert matrix.python.sources == {}
    # No build-on: CPython is built on the first glibc distro of the file, the oldest.
    assert matrix.build_distro is not None
    assert matrix.build_distro.name == "ubuntu-16.04"
    assert all(d.interpreters is None for d in matrix.distros)


def test_every_python_key(tmp_path: Path) -> None:
    text = f"""
[distro.old]
image = "example/old:1"
interpreters = ["/usr/bin/python3.11"]

[distro.new]
image = "example/new:1"
python = ["/opt/custom/bin/python3.*"]
interpreters = ["portable", "distro"]

[python]
order = ["image", "distro", "portable"]
versions = ["3.11", "3.12"]
build-on = "new"
build = false
uv = false

[python.portable."3.11"]
path = "/srv/cpython-3.11.tar.gz"
url = "https://mirror.example/cpython-3.11.tar.gz"
sha256 = "{_SHA.upper()}"

[python.portable."3.12"]
source = "https://mirror.example/Python-3.12.3.tar.xz"
source-sha256 = "{_SHA}"
"""
    matrix = load_distros_file(_file(tmp_path, text))
    old, new = matrix.distros
    assert old.interpreters == ("/usr/bin/python3.11",)
    assert new.interpreters == ("portable", "distro")
    assert new.pythons == ("/opt/custom/bin/python3.*",)
    python = matrix.python
    assert python.order == ("image", "distro", "portable")
    assert python.versions == ("3.11", "3.12")
    assert (python.build_on, python.build, python.uv) == ("new", False, False)
    assert matrix.build_distro is new
    assert python.source("3.11") == PortableSource(
        "3.11", path="/srv/cpython-3.11.tar.gz", url="https://mirror.example/cpython-3.11.tar.gz", sha256=_SHA
    )
    assert python.source("3.12").source_sha256 == _SHA
    assert python.source("3.13") == PortableSource("3.13")


def test_no_portable_versions_is_allowed(tmp_path: Path) -> None:
    matrix = load_distros_file(_file(tmp_path, '[distro.x]\nimage = "a:1"\n[python]\nversions = []\n'))
    assert matrix.python.versions == ()


def test_build_distro_skips_musl_distros(tmp_path: Path) -> None:
    text = '[distro.alpine]\nimage = "alpine:3.19"\n[distro.deb]\nimage = "debian:12"\n'
    assert load_distros_file(_file(tmp_path, text)).build_distro.name == "deb"  # type: ignore[union-attr]


_BASE = '[distro.x]\nimage = "a:1"\n'


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        (_BASE + 'interpreters = ["system"]\n', "[distro.x].interpreters", "'system' is neither one of"),
        (_BASE + "interpreters = []\n", "[distro.x].interpreters", "at least one entry"),
        (_BASE + 'interpreters = "python3"\n', "[distro.x].interpreters", "'python3' is neither"),
        ('python = "3.11"\n' + _BASE, "[python]", "expected a table, got '3.11'"),
        (_BASE + "[python]\norder = 3\n", "[python].order", "expected a list of strings, got 3"),
        (_BASE + '[python]\nordr = ["distro"]\n', "[python]", "unknown key(s) ['ordr']"),
        (_BASE + '[python]\nversions = "3.11"\n', "[python].versions", "expected a list like"),
        (_BASE + '[python]\nversions = ["3.11", "311"]\n', "[python].versions", "got '311'"),
        (_BASE + "[python]\nversions = [3.11]\n", "[python].versions", "got 3.11"),
        (_BASE + '[python]\nbuild-on = "y"\n', "[python].build-on", "no distro named 'y'; known: x"),
        (
            '[distro.a]\nimage = "alpine:3"\n[python]\nbuild-on = "a"\n',
            "[python].build-on",
            "'a' is not a glibc distro",
        ),
        (_BASE + '[python]\nbuild = "yes"\n', "[python].build", "expected true or false, got 'yes'"),
        (_BASE + "[python]\nuv = 1\n", "[python].uv", "expected true or false, got 1"),
        (
            _BASE + '[python]\nportable = "x"\n',
            "[python].portable",
            'expected [python.portable."X.Y"] tables',
        ),
        (_BASE + '[python.portable.three]\npath = "/x"\n', "[python.portable.three]", "got 'three'"),
        (
            _BASE + '[python.portable."3.11"]\npth = "/x"\n',
            "[python.portable.3.11]",
            "unknown key(s) ['pth']",
        ),
        (_BASE + '[python.portable."3.11"]\npath = 3\n', "[python.portable.3.11].path", "got 3"),
        (
            _BASE + '[python.portable."3.11"]\nurl = "https://x/y.tgz"\n',
            "[python.portable.3.11]",
            "url needs sha256",
        ),
        (
            _BASE + '[python.portable."3.11"]\nurl = "https://x/y.tgz"\nsha256 = "abc"\n',
            "[python.portable.3.11].sha256",
            "expected 64 hexadecimal digits, got 'abc'",
        ),
        (
            _BASE + '[python.portable."3.11"]\nsource = "https://x/Python-3.11.9.tgz"\n',
            "[python.portable.3.11]",
            "a source URL needs source-sha256",
        ),
    ],
    ids=[
        "interpreters-unknown-word",
        "interpreters-empty",
        "interpreters-relative-path",
        "python-not-table",
        "order-not-list",
        "python-unknown-key",
        "versions-not-list",
        "version-malformed",
        "version-not-string",
        "build-on-unknown",
        "build-on-musl",
        "build-not-bool",
        "uv-not-bool",
        "portable-not-table",
        "portable-bad-version",
        "portable-unknown-key",
        "portable-path-not-string",
        "url-without-sha256",
        "sha256-malformed",
        "source-url-without-sha256",
    ],
)
def test_malformed_python_settings_name_file_table_and_key(
    tmp_path: Path, text: str, where: str, says: str
) -> None:
    path = _file(tmp_path, text)
    with pytest.raises(DistrosFileError) as excinfo:
        load_distros_file(path)
    message = str(excinfo.value)
    assert message.startswith(f"{path}: {where}: "), message
    assert says in message


def test_a_local_source_path_needs_no_checksum(tmp_path: Path) -> None:
    # A file on this machine is the user's own; a download is only trusted through its sha256.
    text = _BASE + '[python.portable."3.11"]\npath = "/srv/python"\nsource = "/srv/Python-3.11.9.tgz"\n'
    source = load_distros_file(_file(tmp_path, text)).python.source("3.11")
    assert (source.path, source.source, source.sha256, source.source_sha256) == (
        "/srv/python",
        "/srv/Python-3.11.9.tgz",
        None,
        None,
    )


# -- selecting ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patterns", "names"),
    [
        ([], DEFAULT_NAMES),
        ([""], DEFAULT_NAMES),
        (["debian-12"], ["debian-12"]),
        (["ubuntu-*"], ["ubuntu-16.04", "ubuntu-18.04", "ubuntu-20.04", "ubuntu-22.04", "ubuntu-24.04"]),
        (["debian-1[12]"], ["debian-11", "debian-12"]),
        (["debian-13", "ubuntu-16.04", "debian-1?"], ["ubuntu-16.04", "debian-11", "debian-12", "debian-13"]),
    ],
    ids=["none", "empty-pattern", "exact", "star", "brackets", "several-in-matrix-order"],
)
def test_select_globs(patterns: list[str], names: list[str]) -> None:
    assert [d.name for d in select(load_distros(), patterns)] == names


def test_select_is_case_sensitive() -> None:
    with pytest.raises(SelectionError):
        select(load_distros(), ["Ubuntu-*"])


def test_select_pattern_matching_nothing_names_it_and_the_known_distros() -> None:
    with pytest.raises(SelectionError) as excinfo:
        select(load_distros(), ["ubuntu-*", "fedora-*"])
    message = str(excinfo.value)
    assert "'fedora-*' matches no distro" in message
    assert ", ".join(DEFAULT_NAMES) in message
