"""The plugin where its users are: images from a registry (pushed ready, or official bases it derives
python3 into), a user who is not root, Podman's Docker API (rootful and rootless), a remote engine over
TCP, and what each says when its input is bad. Every service is real (tests/services.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import services
from conftest import run_plugin
from privatedockerd import PrivateDockerd

from pytest_manylinux.core.distros import load_distros
from pytest_manylinux.engine.docker import Engine

#: one distro keeps these runs short; the verdicts are those of the whole matrix's run on that distro
DISTRO = "ubuntu-16.04"
#: what the shared engine (root, images made by .ci/run) concludes on it for the two wheels checked here
EXPECTED = {("honest", DISTRO): ("ok", None), ("glibc_new", DISTRO): ("fail", "glibc")}


def _outcomes(document: dict[str, Any]) -> dict[tuple[str, str], tuple[str, str | None]]:
    return {
        (Path(w["file"]).name.split("-", 1)[0].removeprefix("pm_"), d["name"]): (d["outcome"], d.get("cause"))
        for w in document["wheels"]
        for d in w["distros"]
    }


def _check(wheels: dict[str, Path], out: Path) -> list[str]:
    return [
        "--manylinux-wheel", str(wheels["honest"]), str(wheels["glibc_new"]),
        "--manylinux-distro", DISTRO,
        "--manylinux-json", str(out),
        "-p", "no:randomly", "-rfEs",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def registry(image_of: Callable[[str], str], engine: Any) -> Iterator[services.Registry]:
    """A registry holding the official-like base of DISTRO under Docker Hub's name (``library/``): a
    minbase without python3, as the official image is."""
    image_of(DISTRO)  # the base is made (or found) with the derived image
    with services.registry() as running:
        base = next(d for d in load_distros() if d.name == DISTRO).image
        services.seed(engine.client, running, {base: f"library/{base}"})
        yield running


@pytest.fixture(scope="module")
def mirrored_engine(registry: services.Registry) -> Iterator[PrivateDockerd]:
    """A dockerd holding no image, pulling Docker Hub names through the registry (as an engine set up
    with a mirror does), on a unix socket a ``docker`` group member may use and on TCP 127.0.0.1."""
    dockerd = PrivateDockerd(
        config={"registry-mirrors": [registry.url]},
        hosts=(f"tcp://127.0.0.1:{services.free_port()}",),
    )
    try:
        dockerd.start().close()
        dockerd.root.chmod(0o711)  # the socket's directory; the socket itself is root:docker 0660
        yield dockerd
    finally:
        dockerd.remove()


def test_a_user_who_is_not_root_gets_verdicts_from_official_images(
    mirrored_engine: PrivateDockerd, wheels: dict[str, Path]
) -> None:
    # The README's first command, by a user in the docker group, on an engine with none of the images:
    # the official base is pulled (through the mirror), python3 derived into it by the engine.
    with services.unprivileged_user(groups=("docker",)) as user:
        site = services.user_site(user)
        work = user.home / "work"
        work.mkdir()
        for case in ("honest", "glibc_new"):
            (work / wheels[case].name).write_bytes(wheels[case].read_bytes())
        subprocess.run(["chown", "-R", f"{user.uid}:{user.gid}", str(work)], check=True)
        out = work / "results.json"
        local = {case: work / wheels[case].name for case in ("honest", "glibc_new")}
        argv = [
            services.debian_python(),
            "-m",
            "pytest",
            "-p",
            "pytest_manylinux.plugin",
            *_check(local, out),
        ]
        env = user.env(PYTHONPATH=str(site), DOCKER_HOST=mirrored_engine.host, PYTHONDONTWRITEBYTECODE="1")
        proc = user.run(argv, env, cwd=work)
        assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]  # glibc_new over-claims
        assert "needs root" not in proc.stdout
        assert f"pulling {load_distros()[0].image}" in proc.stdout
        assert "deriving pytest-manylinux/derived:ubuntu_16.04-" in proc.stdout
        document = json.loads(out.read_text())
        assert _outcomes(document) == EXPECTED, proc.stdout[-3000:]


def test_a_remote_engine_over_tcp_gives_the_same_verdicts(
    mirrored_engine: PrivateDockerd, wheels: dict[str, Path], tmp_path: Path
) -> None:
    # Nothing of the host is mounted: files go in through the API, so an engine reached over TCP works.
    (tcp,) = mirrored_engine.hosts
    out = tmp_path / "results.json"
    proc = run_plugin(_check(wheels, out), cwd=tmp_path, env={"DOCKER_HOST": tcp})
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert _outcomes(json.loads(out.read_text())) == EXPECTED


def _images(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "pytest_manylinux", "images", *args],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, **(env or {})},
    )


def test_push_once_then_a_fresh_engine_pulls_ready_images(
    image_of: Callable[[str], str], wheels: dict[str, Path], tmp_path: Path, engine: Engine
) -> None:
    image_of(DISTRO)
    with services.registry() as team:
        written = tmp_path / "ready.toml"
        pushed = _images("--distro", DISTRO, "--push", f"{team.host}/team", "--write-distros", str(written))
        assert pushed.returncode == 0, pushed.stderr
        assert f"{DISTRO:<14} pushed {team.host}/team/ubuntu:16.04 (sha256:" in pushed.stdout
        ready = {d.name: d for d in load_distros(written)}[DISTRO]
        assert (ready.image, ready.derive) == (f"{team.host}/team/ubuntu:16.04", None)
        assert ready.build is not None
        assert "python3" in ready.build.include  # a machine that reaches no registry builds it with python3
        # printed to stdout (progress on stderr) without --write-distros
        printed = _images("--distro", DISTRO, "--push", f"{team.host}/team")
        assert printed.returncode == 0, printed.stderr
        assert f'image = "{team.host}/team/ubuntu:16.04"' in printed.stdout
        assert "pushing" in printed.stderr
        assert "pushing" not in printed.stdout
        dockerd = PrivateDockerd()
        try:
            dockerd.start().close()
            out = tmp_path / "results.json"
            args = [*_check(wheels, out), "--manylinux-distros-file", str(written)]
            proc = run_plugin(args, cwd=tmp_path, env={"DOCKER_HOST": dockerd.host})
            assert proc.returncode == 1, proc.stdout[-3000:]
            assert f"pulling {team.host}/team/ubuntu:16.04" in proc.stdout
            assert "deriving" not in proc.stdout  # ready: python3 came with the image
            assert _outcomes(json.loads(out.read_text())) == EXPECTED
        finally:
            dockerd.remove()
            # the pushed tags name a registry that ends with this test: not left on the shared engine
            for tag in _tags_under(engine, f"{team.host}/"):
                engine.remove_image(tag)


@pytest.mark.parametrize("rootless", [False, True], ids=["rootful", "rootless"])
def test_podman_gives_the_same_verdicts(
    registry: services.Registry, wheels: dict[str, Path], tmp_path: Path, rootless: bool
) -> None:
    import docker

    with (
        services.unprivileged_user() as user,
        services.podman_service(registry, user if rootless else None) as podman,
    ):
        if rootless:  # the socket is the user's; the plugin runs as root and reaches it through it
            podman.root.chmod(0o755)
        out = tmp_path / "results.json"
        proc = run_plugin(_check(wheels, out), cwd=tmp_path, env={"DOCKER_HOST": podman.host})
        assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
        assert "Traceback" not in proc.stdout
        assert _outcomes(json.loads(out.read_text())) == EXPECTED
        ignored = "note: rootless Podman on cgroup v1 ignores container limits"
        cgroup_v1 = not Path("/sys/fs/cgroup/cgroup.controllers").exists()
        assert (proc.stdout.count(ignored) == 1) is (rootless and cgroup_v1), proc.stdout[-3000:]
        client = docker.DockerClient(base_url=podman.host, timeout=60)
        try:
            assert client.containers.list(all=True) == []  # the engine is this test's: nothing is left
        finally:
            client.close()


# -- bad input: each names what failed; other distros still run ------------------------------------


def _tags_under(engine: Engine, prefix: str) -> list[str]:
    return [t for i in engine.client.images.list() for t in i.tags if t.startswith(prefix)]


def test_push_to_a_registry_that_is_down_or_refuses(image_of: Callable[[str], str], engine: Engine) -> None:
    image_of(DISTRO)
    port = services.free_port()
    down = _images("--distro", DISTRO, "--push", f"127.0.0.1:{port}/team")
    assert down.returncode == 1
    assert f"{DISTRO}: distro '{DISTRO}': cannot push '127.0.0.1:" in down.stderr
    assert "connection refused" in down.stderr.lower()
    with services.registry(read_only=True) as refusing:
        refused = _images("--distro", DISTRO, "--push", f"{refusing.host}/team")
    assert refused.returncode == 1
    assert f"cannot push '{refusing.host}/team/ubuntu:16.04'" in refused.stderr
    assert f"docker login {refusing.host}" in refused.stderr
    assert "Traceback" not in refused.stderr + down.stderr
    # the tags made for the pushes that failed are taken back
    assert _tags_under(engine, f"127.0.0.1:{port}/") == []
    assert _tags_under(engine, f"{refusing.host}/") == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--push", "Not A Registry"], "--push 'Not A Registry': 'not a registry/probe:1' is not"),
        (["--write-distros", "x.toml"], "--write-distros needs --push"),
    ],
    ids=["bad-prefix", "write-without-push"],
)
def test_images_bad_arguments(args: list[str], says: str) -> None:
    proc = _images("--distro", DISTRO, *args)
    assert proc.returncode == 2
    assert says in proc.stderr.replace("'Not A Registry/probe:1'", "'not a registry/probe:1'")


def test_an_image_that_cannot_be_pulled_fails_its_distro_only(
    image_of: Callable[[str], str], wheels: dict[str, Path], tmp_path: Path
) -> None:
    image_of(DISTRO)
    gone = f"127.0.0.1:{services.free_port()}/team/ubuntu:16.04"
    (tmp_path / "distros.toml").write_text(
        f'[distro.gone]\nimage = "{gone}"\n[distro."{DISTRO}"]\nimage = "ubuntu:16.04"\nderive = {{}}\n'
    )
    out = tmp_path / "results.json"
    args = [
        "--manylinux-wheel", str(wheels["honest"]),
        "--manylinux-distros-file", str(tmp_path / "distros.toml"),
        "--manylinux-json", str(out), "-rfEs",
    ]  # fmt: skip
    proc = run_plugin(args, cwd=tmp_path)
    assert proc.returncode == 1
    assert f"cannot pull '{gone}'" in proc.stdout
    outcomes = _outcomes(json.loads(out.read_text()))
    assert outcomes[("honest", DISTRO)] == ("ok", None)
    assert outcomes[("honest", "gone")][0] == "skipped"


def test_an_unparsable_image_reference_is_a_usage_error(tmp_path: Path, wheels: dict[str, Path]) -> None:
    (tmp_path / "distros.toml").write_text('[distro.x]\nimage = "Ubuntu 16.04"\n')
    proc = run_plugin(
        ["--manylinux-wheel", str(wheels["honest"]), "--manylinux-distros-file", "distros.toml"], cwd=tmp_path
    )
    assert proc.returncode == 4
    assert "[distro.x].image: 'Ubuntu 16.04' is not an image reference" in proc.stdout + proc.stderr
