"""Project copies and the real CLI in a subprocess, for the reliability suites.

Every suite runs ``python -m pipeline VERB --project COPY/pipeline.yaml --registry ADDR`` the way a
user or CI does, on a copy of the project (or of the one shared full build), and then reads what
it left: exit code, stderr, ``build/<target>/`` state and the registry.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISDIR as stat_is_dir
from typing import Any

import requests

from tests.support.paths import ROOT, copy_inputs

#: Retry bounds for runs that meet a faulty registry: short, so every run stays short.
FAST_RETRY = {"PIPELINE_REGISTRY_ATTEMPTS": "2", "PIPELINE_REGISTRY_RETRY_SECONDS": "2"}
#: Not needed by any later stage, and the bulk of a build tree.
NOT_COPIED = ("BUILD", "BUILDROOT", "go", "SRPMS")
#: Under build/: the registry's storage, and the local base's debootstrap trees.
BUILD_NOT_COPIED = ("registry", "base")


def copy_project(destination: Path, built: Path | None = None) -> Path:
    """A fresh project tree at ``destination``: the repository's inputs, or a copy of ``built``
    (inputs and ``build/``, without rpmbuild's scratch directories)."""
    if built is None:
        return copy_inputs(destination)

    def ignore(directory: str, names: list[str]) -> list[str]:
        if Path(directory).parent.name == "rpmbuild":
            return [n for n in names if n in NOT_COPIED]
        # build/base holds the debootstrap trees, whose /dev has device nodes where the machine
        # lets debootstrap make them: copying /dev/console opens it and waits forever. The copy
        # needs none of it (the bases are images in the store).
        return [n for n in names if n in BUILD_NOT_COPIED and Path(directory) == built / "build"]

    shutil.copytree(built, destination, symlinks=True, ignore=ignore)
    return destination


@dataclass
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def last_line(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else ""

    def explain(self) -> str:
        return f"$ {' '.join(self.argv)}\nexit {self.returncode}\n{self.stderr[-3000:]}"


@dataclass
class Project:
    """A project copy and the registry its commands name."""

    root: Path
    registry: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def build_dir(self) -> Path:
        return self.root / "build" / "local"

    @property
    def yaml(self) -> Path:
        return self.root / "pipeline.yaml"

    def argv(self, *args: str, registry: str | None = None) -> list[str]:
        argv = [sys.executable, "-m", "pipeline", *args, "--project", str(self.yaml)]
        registry = self.registry if registry is None else registry
        if registry:
            argv += ["--registry", registry]
        return argv

    def environ(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
        env.update(self.env)
        env.update(extra or {})
        env["COLUMNS"] = "200"  # one line per message, whatever the terminal
        return env

    def run(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        registry: str | None = None,
        timeout: float = 900,
        cwd: Path | None = None,
    ) -> Result:
        argv = self.argv(*args, registry=registry)
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            check=False,
            cwd=cwd or ROOT,
            env=self.environ(env),
            timeout=timeout,
        )
        return Result(argv, proc.returncode, proc.stdout, proc.stderr)

    def start(
        self, *args: str, env: Mapping[str, str] | None = None, log: Path | None = None
    ) -> subprocess.Popen[str]:
        """Start a command without waiting (stdout and stderr into ``log``)."""
        log = log or self.root / f"run-{time.monotonic_ns()}.log"
        with log.open("w") as handle:  # the child keeps its own copy of the descriptor
            return subprocess.Popen(
                self.argv(*args),
                stdout=handle,
                stderr=subprocess.STDOUT,
                text=True,
                cwd=ROOT,
                env=self.environ(env),
            )

    def report(self) -> dict[str, Any]:
        path = self.build_dir / "report.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def releases(self) -> dict[str, Any]:
        path = self.build_dir / "releases.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def taken(self) -> dict[str, list[str]]:
        return {k: list(v.get("taken", [])) for k, v in self.releases().get("products", {}).items()}

    def records(self) -> dict[str, dict[str, Any]]:
        directory = self.build_dir / "releases"
        if not directory.is_dir():
            return {}
        bundles = sorted(directory.glob("*/record.json"))
        return {p.parent.name: json.loads(p.read_text()) for p in bundles}


def interrupt(proc: subprocess.Popen[str], sig: signal.Signals, after: float) -> int:
    """Send ``sig`` to ``proc`` after ``after`` seconds (unless it ended), then wait for it."""
    deadline = time.monotonic() + after
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"{proc.args!r} did not stop within 120s of {sig.name}") from None


# ----------------------------------------------------------------------------- the registry


#: Every manifest type a tag can name here: a published tag names an index (the registry answers
#: 404 to a request that does not accept an index's type).
ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    )
)


def registry_tags(url: str) -> dict[str, dict[str, str]]:
    """Every repository of the registry at ``url`` (``http://host:port``, asked directly, not
    through a proxy) with its tags and the digest each points at."""
    found: dict[str, dict[str, str]] = {}
    accept = ACCEPT
    with requests.Session() as session:
        catalog = session.get(f"{url}/v2/_catalog?n=1000", timeout=10)
        assert catalog.status_code == 200, catalog.text
        repos = catalog.json().get("repositories")
        for repo in repos or []:
            tags = session.get(f"{url}/v2/{repo}/tags/list", timeout=10).json().get("tags") or []
            found[repo] = {}
            for tag in tags:
                head = session.head(
                    f"{url}/v2/{repo}/manifests/{tag}", headers={"Accept": accept}, timeout=10
                )
                if head.status_code == 200:
                    found[repo][tag] = head.headers["Docker-Content-Digest"]
    return found


def delete_tags(url: str, repo: str, tags: Iterable[str]) -> None:
    """Delete the manifests the tags point at (and so every tag on them)."""
    accept = ACCEPT
    with requests.Session() as session:
        for tag in tags:
            head = session.head(
                f"{url}/v2/{repo}/manifests/{tag}", headers={"Accept": accept}, timeout=10
            )
            if head.status_code == 200:
                digest = head.headers["Docker-Content-Digest"]
                session.delete(f"{url}/v2/{repo}/manifests/{digest}", timeout=10)


# ----------------------------------------------------------------------------- the file system


def snapshot(root: Path, skip: Iterable[Path] = ()) -> dict[str, tuple[int, int]]:
    """Path -> (size, mtime_ns) of every file and directory under ``root`` (not following
    symlinks), except under ``skip``."""
    skipped = [s.resolve() for s in skip]
    found: dict[str, tuple[int, int]] = {}
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        dirs[:] = [d for d in dirs if (here / d).resolve() not in skipped]
        for name in dirs + files:
            path = here / name
            try:
                stat = path.lstat()
            except FileNotFoundError:
                continue
            # A directory counts by what is in it (walked), not by its mtime: creating the
            # skipped build/ changes its parent's.
            is_dir = stat_is_dir(stat.st_mode)
            found[str(path)] = (0, 0) if is_dir else (stat.st_size, stat.st_mtime_ns)
    return found


def processes_mentioning(path: Path) -> list[str]:
    """Command lines of running processes that name ``path``: what an interrupted run left."""
    needle = str(path).encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline:
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace").strip())
    return found


def keep_images(root: Path, *keep: str) -> None:
    """Trim the copy's pipeline.yaml to these images (plus the operators, which config
    requires): a containers run then builds or checks only them, in seconds."""
    keep_all = {"virt-operator", "cdi-operator", *keep}
    lines = (root / "pipeline.yaml").read_text().splitlines(keepends=True)
    out: list[str] = []
    skipping = False
    for line in lines:
        found = re.match(r"\s+- (?:\{name: |name: )([\w.-]+)", line)
        if found:
            skipping = found.group(1) not in keep_all
        elif not line.startswith("        ") or not skipping:
            skipping = False
        if not skipping:
            out.append(line)
    (root / "pipeline.yaml").write_text("".join(out))


def retreat_floating(url: str, repo: str, unique: str, floating: str) -> None:
    """Point ``floating`` at an earlier release of the image: its manifest (an index) with one
    annotation more (same blobs, another digest), as a floating tag looks before a publish
    moves it."""
    accept = ACCEPT
    with requests.Session() as session:
        got = session.get(
            f"{url}/v2/{repo}/manifests/{unique}", headers={"Accept": accept}, timeout=10
        )
        got.raise_for_status()
        manifest = got.json()
        manifest.setdefault("annotations", {})["org.example.release"] = "earlier"
        put = session.put(
            f"{url}/v2/{repo}/manifests/{floating}",
            data=json.dumps(manifest).encode(),
            headers={"Content-Type": got.headers["Content-Type"]},
            timeout=10,
        )
        assert put.status_code == 201, put.text
