"""``tools/chroot.command``: the argv of a command in a build root (run for real in
``tests/integration/test_build_roots.py``)."""

from __future__ import annotations

from pathlib import Path

from pipeline.tools import chroot

NAMESPACE = ["unshare", "--mount", "--pid", "--fork", "--mount-proc=/r/proc", "--"]


def test_without_binds_it_is_chroot_a_clean_environment_and_its_own_proc() -> None:
    argv = chroot.command(Path("/r"), ["rpmbuild", "-ba"], {"HOME": "/b", "LC_ALL": "C"})
    assert argv[:6] == NAMESPACE
    assert argv[6:] == [
        "chroot",
        "/r",
        "/usr/bin/env",
        "-i",
        "HOME=/b",
        "LC_ALL=C",
        "rpmbuild",
        "-ba",
    ]


def test_binds_are_mounted_in_a_namespace_of_the_commands_own() -> None:
    binds = [(Path("/cache/go"), "/var/cache/go-build"), (Path("/src"), "/mnt")]
    argv = chroot.command(Path("/r"), ["true"], {}, binds)
    assert argv[:8] == [*NAMESPACE, "sh", "-c"]
    assert argv[8] == ('mount --bind "$1" "$2" && mount --bind "$3" "$4" && shift 4 && exec "$@"')
    assert argv[9:14] == ["sh", "/cache/go", "/r/var/cache/go-build", "/src", "/r/mnt"]
    assert argv[14:] == ["chroot", "/r", "/usr/bin/env", "-i", "true"]
