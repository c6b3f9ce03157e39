"""The host for a second architecture, for real: setup-host installs the emulator and the cross
compiler of every platform the targets declare that is not the host's and registers the emulator
with the kernel; a static binary cross-compiled for that architecture then runs here as it would
there. (The e2e suite runs every arm64 image's entrypoint; this checks the host part alone, in
seconds.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.core.plan import host_arch
from pipeline.stages.setup_host import foreign_arches
from pipeline.tools import binfmt
from pipeline.tools.rpm import cross_prefix
from tests.support.paths import ROOT

pytestmark = pytest.mark.tools

FOREIGN = foreign_arches(("linux/amd64", "linux/arm64"))[0]
#: How file(1) names each architecture's ELF machine.
FILE_SAYS = {"aarch64": "ARM aarch64", "x86_64": "x86-64"}


def test_setup_host_installs_and_registers_the_other_architecture(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "setup-host", "--json", "-"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {row["tool"]: row for row in json.loads(done.stdout)["tools"]}
    qemu = f"qemu-{binfmt.qemu_name(FOREIGN)}"
    assert rows[qemu]["path"] and rows[f"{FOREIGN}-gcc"]["path"], rows
    assert binfmt.problem(FOREIGN) is None

    prefix = cross_prefix(FOREIGN)
    assert prefix is not None
    source = tmp_path / "hello.c"
    source.write_text('#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n')
    binary = tmp_path / "hello"
    subprocess.run([f"{prefix}-gcc", "-static", "-o", str(binary), str(source)], check=True)
    described = subprocess.run(["file", "-b", str(binary)], capture_output=True, text=True)
    assert FILE_SAYS[FOREIGN] in described.stdout, described.stdout
    ran = subprocess.run([str(binary)], capture_output=True, text=True, timeout=60, check=True)
    assert ran.stdout == "hello\n", f"{FOREIGN} binary on this {host_arch()} host"
