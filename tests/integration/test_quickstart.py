"""The README's quick start on a real fresh Debian 12: a root made with debootstrap holding only
``python3`` (no pip, no venv module, no nox, no git), the project copied in as a source tree,
and the README's main-job command, read from the README itself, run in it as root with the
sessions replaced by ``plan``: the bootstrap installs nox (pipx from apt, nox from PyPI), nox
makes the session's virtualenv under ``.nox/``, and plan answers. The full build is not run
there (it is the e2e suite's job); nothing is installed into the distribution's python3.

Needs the package registries (Debian's mirror, PyPI) and root; about two and a half minutes,
most of it debootstrap.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import ROOT
from tests.support.quickstart import readme_commands
from tests.support.tools import need_tool

pytestmark = [pytest.mark.tools, pytest.mark.slow]

MIRROR = "http://deb.debian.org/debian"
#: The CA bundle of a machine whose HTTPS goes through an inspecting proxy (as here): the fresh
#: root gets the host's trust, nothing else of the host. Outside /etc/ssl/certs in the root,
#: where installing ca-certificates (pipx pulls it in) would write Debian's bundle over it.
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
ROOT_CA = "/etc/host-trust/ca-certificates.crt"


def _source_tree(destination: Path) -> None:
    """The project's files as a clone has them, without .git (a source tree)."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _trust(root: Path) -> dict[str, str]:
    if not HOST_CA.is_file():
        return {}
    (root / ROOT_CA.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(HOST_CA, root / ROOT_CA.lstrip("/"))
    # pip reads its own certificate bundle unless told; a config file reaches every pip (the
    # ones pipx and nox run too).
    (root / "etc/pip.conf").write_text(f"[global]\ncert = {ROOT_CA}\n")
    return {"SSL_CERT_FILE": ROOT_CA, "REQUESTS_CA_BUNDLE": ROOT_CA}


@pytest.fixture(scope="module")
def debian12(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    need_tool("debootstrap")
    need_tool("chroot")
    if os.geteuid() != 0:
        pytest.skip("debootstrap and chroot need root")
    root = tmp_path_factory.mktemp("debian12") / "root"
    subprocess.run(
        ["debootstrap", "--variant=minbase", "--include=python3", "bookworm", str(root), MIRROR],
        check=True,
        capture_output=True,
        timeout=900,
    )
    mounts = [root / "proc", root / "dev"]
    subprocess.run(["mount", "-t", "proc", "proc", str(mounts[0])], check=True)
    subprocess.run(["mount", "--bind", "/dev", str(mounts[1])], check=True)
    try:
        shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
        yield root
    finally:
        for mount in reversed(mounts):
            subprocess.run(["umount", "--lazy", str(mount)], check=False)
        if not any(mount.is_mount() for mount in mounts):
            shutil.rmtree(root, ignore_errors=True)


def in_root(root: Path, argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``argv`` in the project directory of the root, as root, with a login's environment."""
    script = 'cd /root/project && exec "$@"'
    base = {"HOME": "/root", "LANG": "C.UTF-8", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    return subprocess.run(
        ["chroot", str(root), "/bin/sh", "-c", script, "sh", *argv],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


def test_readme_main_command_gets_plan_answering_on_fresh_debian12(debian12: Path) -> None:
    main_job, _ = readme_commands()
    words = shlex.split(main_job)
    assert words[-4:] == ["-s", "build", "publish", "verify-tags"]
    assert in_root(debian12, ["python3", "-c", "import pip"], {}).returncode != 0
    _source_tree(debian12 / "root/project")
    env = _trust(debian12)

    result = in_root(debian12, [*words[:-3], "plan", "--", "--json"], env)

    assert result.returncode == 0, result.stderr[-4000:]
    assert "installing nox>=2024.4 with pipx" in result.stderr
    assert "Creating virtual environment" in result.stderr
    plan = json.loads(result.stdout)
    assert plan["target"] == "local"
    assert {p["name"] for p in plan["products"]} == {"kubevirt", "cdi"}
    assert (debian12 / "root/project/.nox/plan/bin/python").exists()
    # Nothing went into the distribution's Python: still no pip, no nox there.
    for module in ("pip", "nox"):
        assert in_root(debian12, ["python3", "-c", f"import {module}"], {}).returncode != 0
    # A second run finds nox and the session's virtualenv, installs nothing.
    again = in_root(debian12, [*words[:-3], "plan"], env)
    assert again.returncode == 0, again.stderr[-4000:]
    assert "Reusing existing virtual environment" in again.stderr
    assert "pip install" not in again.stderr
    assert "installing" not in again.stderr
