"""The benchmark runner: ``nox -s bench`` / ``python -m pipeline bench [verify|build]``.

Measures every figure in one run, prints them in one table beside their targets and writes
``bench/results.json``. Everything runs in temporary directories with registries of its own on
free loopback ports; the project tree is only read (the build figures build a copy of it).

Arguments (after ``--`` for nox): ``verify`` for figure 1 only, ``build`` for figures 2-8 only,
``upstream`` for figure 9 (the real trees; never run by default); verify and build without
arguments.
"""

from __future__ import annotations

import os
import platform
import shlex
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import build as build_figures
from bench import upstream as upstream_figures
from bench import verify_figures, verify_tags
from bench.figures import Figure, results_json, table
from pipeline.config.project import load_project
from pipeline.core.console import console, emit
from pipeline.core.context import Options
from pipeline.core.errors import InputError, PipelineError
from pipeline.core.state import write_json
from pipeline.tools.run import run

PARTS = ("verify", "build", "upstream")
#: What a bench run without arguments measures: the upstream figure takes half an hour more
#: and needs the upstream tarballs, so it is run on request (``bench upstream``).
DEFAULT_PARTS = ("verify", "build")
RESULTS = Path(__file__).resolve().parent / "results.json"
#: Figure 9 alone (it needs the tarballs and half an hour) keeps its own file, so a run of it
#: does not replace the other figures.
UPSTREAM_RESULTS = RESULTS.with_name("results-upstream.json")
REPO_ROOT = Path(__file__).resolve().parent.parent


def parts_of(extra: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [arg for arg in extra if arg not in PARTS]
    if unknown:
        raise InputError(
            None, f"unknown bench part {unknown[0]!r}", hint=f"choose from {', '.join(PARTS)}"
        )
    return tuple(part for part in PARTS if part in extra) or DEFAULT_PARTS


def _first_line(argv: list[str]) -> str:
    try:
        done = run(argv, check=False, timeout=30)
    except PipelineError:
        return "missing"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "?"


def machine() -> dict[str, Any]:
    cpu = "?"
    memory_kb = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "load_average_start": _loadavg(),
        "tools": {
            "buildah": _first_line(["buildah", "--version"]),
            "skopeo": _first_line(["skopeo", "--version"]),
            "docker-registry": _first_line(["/usr/bin/docker-registry", "--version"]),
            "rpmbuild": _first_line(["rpmbuild", "--version"]),
        },
    }


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def measure(project_yaml: Path, parts: tuple[str, ...], work: Path) -> list[Figure]:
    figures: list[Figure] = []
    out = console()
    if "verify" in parts:
        with out.status("figure 1: verify-tags --releases at scale (registry, bundles, runs) …"):
            project = load_project(project_yaml)
            figures += verify_tags.measure(
                REPO_ROOT, project, project_yaml, work / "verify", verify_tags.Settings()
            )
    if "build" in parts:
        with out.status("figures 2-8: full builds of the local target in copies …"):
            figures += build_figures.measure(REPO_ROOT, project_yaml.parent, work / "build")
    if "upstream" in parts:
        with out.status("figure 9: step 1 on the real upstream trees vs bare go build …"):
            figures += upstream_figures.measure(REPO_ROOT, project_yaml.parent, work / "upstream")
    return figures


def main(project_path: Path, options: Options) -> int:
    parts = parts_of(options.extra)
    project_yaml = project_path.resolve()
    command = shlex.join(["python", "-m", "pipeline", "bench", *options.extra])
    info = machine()
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    try:
        figures = measure(project_yaml, parts, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    info["load_average_end"] = _loadavg()
    info["bench_seconds"] = round(time.perf_counter() - started, 1)
    data = results_json(figures, info, command)
    results = UPSTREAM_RESULTS if parts == ("upstream",) else RESULTS
    write_json(results, data)
    if options.json != "-":
        console().print(table(figures, title=f"bench ({info['cpus']} CPUs, {info['cpu']})"))
        growth = verify_figures.scale_table(figures)
        if growth is not None:
            console().print(growth)
        console().print(
            f"{sum(bool(f.met) for f in figures)} of {len(figures)} targets met in "
            f"{info['bench_seconds']:.0f} s; load average {info['load_average_start']} -> "
            f"{info['load_average_end']}; written to {results}"
        )
    emit(options, data)
    return 0
