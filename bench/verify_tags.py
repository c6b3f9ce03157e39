"""Figure 1: ``verify-tags --releases`` over a distribution's published releases, beside the HEAD
floor, at 500, 5,000 and 20,000 references (``bench/scale.py`` makes the world).

Every way runs as its own process, and for each run the bench takes the wall time, the requests
(the registry's access log) and the peak resident memory (``wait4``):
- ``python -m pipeline verify-tags --releases all --json -`` as a user runs it (start-up
  included), auditing every release bundle of the size's project against the registry;
- the HEAD floor (``bench/floor.py``): a bare concurrent loop of one HEAD per reference, as wide
  as verify-tags (its loop's time, start-up left out, as since the first bench), with
  ``requests`` (what the targets are measured against) and with ``http.client`` (the floor of
  the client verify-tags uses);
- ``skopeo inspect`` per reference, the way a shell loop does it, on a sample (scaled to 5,000).

The three ways take turns in every repeat, so load on the machine falls on all of them alike.
Start-up is ``verify-tags --releases`` on a target without releases (interpreter, imports,
pipeline.yaml, the records' directory; it stops with exit 2 before any request), beside the bare
interpreter, with the slowest imports as ``python -X importtime`` lists them.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import verify_figures
from bench.figures import Figure
from bench.floor import child
from bench.scale import (
    ProductSet,
    ScaleSet,
    ScratchImages,
    plan_releases,
    push_seeds,
    write_bundles,
    write_tags,
)
from pipeline.config.project import Project
from pipeline.core.errors import PipelineError
from pipeline.tools import registry_server
from pipeline.tools.run import run
from tests.support.releases import project_copy

ACCESS_LINE = re.compile(r'"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP/[\d.]+" (\d{3})')
VERSIONS = {"kubevirt": ("1.8.0", "1.9.0"), "cdi": ("1.65.0", "1.66.0")}


@dataclass(frozen=True)
class Settings:
    sizes: tuple[int, ...] = (500, 5_000, 20_000)
    repeats: int = 3
    #: The largest size is for growth (memory, the plot): one run is enough there.
    repeats_largest: int = 1
    skopeo_sample: int = 60
    startup_runs: int = 7
    #: The targets the releases are spread over (pipeline.yaml's linux/amd64 ones: the images
    #: are single-platform); ``tumbleweed`` is left without releases for the start-up run.
    targets: tuple[str, ...] = ("local", "sle15-sp3", "sle15-sp2")


@dataclass
class Way:
    """The runs of one way at one size."""

    seconds: list[float] = field(default_factory=list)
    peak_kib: list[int] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass
class AtSize:
    references: int
    releases: int
    project: Path
    refs_file: Path
    verify: Way = field(default_factory=Way)
    floor: Way = field(default_factory=Way)
    stdlib: Way = field(default_factory=Way)
    answer: dict[str, Any] = field(default_factory=dict)


def child_env() -> dict[str, str]:
    """What the pipeline's runner gives every tool (PATH, HOME, the locale): a user's shell has
    no more that matters here. Python keeps its bytecode caches (an installed package has them;
    this checkout gets them on the warm-up run)."""
    return {}


def requests_since(log: Path, offset: int) -> Counter[str]:
    """Requests in the registry's access log after byte ``offset``, by method."""
    with log.open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode(errors="replace")
    return Counter(m.group(1) for m in ACCESS_LINE.finditer(text))


def sample(references: Sequence[str], size: int) -> list[str]:
    """An evenly spread sample (every k-th), so every product and form is in it."""
    if size >= len(references):
        return list(references)
    step = len(references) / size
    return [references[int(i * step)] for i in range(size)]


def product_sets(project: Project, versions: Mapping[str, tuple[str, ...]]) -> list[ProductSet]:
    sets = []
    for name, product in project.products.items():
        images = {v: tuple(i.name for i in product.images_for(v)) for v in versions[name]}
        sets.append(ProductSet(name, product.operator_image, images))
    return sets


def prepare(
    work: Path, project: Project, settings: Settings, server: registry_server.RegistryServer
) -> tuple[dict[int, AtSize], dict[str, float]]:
    """Seeds pushed, every tag written, and per size a project of release bundles."""
    started = time.perf_counter()
    scale = plan_releases(
        server.address, product_sets(project, VERSIONS), max(settings.sizes), settings.targets
    )
    images = ScratchImages(work / "buildah")
    try:
        digests = push_seeds(scale, images)
    finally:
        images.remove()
    pushed = time.perf_counter()
    write_tags(server.root / "storage", scale, digests)
    sizes = {}
    for size in settings.sizes:
        part = scale.upto(size)
        sizes[size] = _size_project(work / f"size-{size}", part, digests)
    setup = {
        "seeds_pushed": len(digests),
        "push_seconds": round(pushed - started, 1),
        "tags_and_bundles_seconds": round(time.perf_counter() - pushed, 1),
    }
    return sizes, setup


def _size_project(directory: Path, part: ScaleSet, digests: Mapping[Any, str]) -> AtSize:
    project = project_copy(directory / "project")
    write_bundles(directory / "project", part, digests)
    refs = list(part.recorded())
    refs_file = directory / "references.txt"
    refs_file.write_text("\n".join(refs) + "\n")
    return AtSize(len(refs), len(part.releases), project, refs_file)


def run_verify(at: AtSize, log: Path, scratch: Path) -> None:
    offset = log.stat().st_size
    argv = [sys.executable, "-m", "pipeline", "verify-tags", "--project", str(at.project)]
    done = child([*argv, "--releases", "all", "--json", "-"], REPO_ROOT, child_env(), scratch)
    if done.code not in (0, 1):
        raise PipelineError(
            f"verify-tags exited {done.code}: {done.stderr.strip()[-500:]}",
            hint="run the command by hand with --debug",
        )
    at.verify.seconds.append(done.seconds)
    at.verify.peak_kib.append(done.peak_kib)
    at.verify.requests = requests_since(log, offset)
    at.answer = {k: v for k, v in json.loads(done.stdout).items() if k != "targets"}


def run_floor(kind: str, at: AtSize, log: Path, scratch: Path) -> None:
    offset = log.stat().st_size
    argv = [sys.executable, "-m", "bench.floor", kind, str(at.refs_file)]
    done = child(argv, REPO_ROOT, child_env(), scratch)
    if done.code != 0:
        raise PipelineError(f"the {kind} floor exited {done.code}: {done.stderr.strip()[-300:]}")
    answer = json.loads(done.stdout)
    if answer["missing"]:
        raise PipelineError(f"{answer['missing']} of {at.references} references missing")
    way = at.floor if kind == "requests" else at.stdlib
    way.seconds.append(answer["seconds"])
    way.peak_kib.append(done.peak_kib)
    way.requests = requests_since(log, offset)


def skopeo_loop(references: Sequence[str]) -> tuple[float, int]:
    """Seconds of ``skopeo inspect`` run once per reference, one after the other; failures."""
    started = time.perf_counter()
    failed = 0
    for reference in references:
        done = run(
            ["skopeo", "inspect", "--tls-verify=false", f"docker://{reference}"],
            check=False,
            timeout=120,
        )
        failed += done.returncode != 0
    return time.perf_counter() - started, failed


IMPORTS = "import pipeline.cli, pipeline.stages.verify, pipeline.stages.audit"

#: Prints the standard library's top-level modules that ``IMPORTS`` loads, as one import line.
STDLIB_OF_IMPORTS = (
    IMPORTS + "; import sys; print('import ' + ', '.join(sorted({m.split('.')[0] for m in "
    "sys.modules if m.split('.')[0] in sys.stdlib_module_names and not m.startswith('_')})))"
)


def startup(at: AtSize, runs: int, scratch: Path) -> dict[str, Any]:
    """Medians of: the bare interpreter; it importing only the standard library modules that
    the verb's imports load (the floor of any verb written with them); it importing what
    ``verify-tags --releases`` imports (the measure of the issue's 0.19 s); and the verb up to its
    first request (on a target without releases: it stops with exit 2 before asking). The
    slowest imports, as ``-X importtime`` lists them."""
    verb = [sys.executable, "-m", "pipeline", "verify-tags", "--project", str(at.project)]
    verb += ["--releases", "tumbleweed", "--json", "-"]
    listed = child([sys.executable, "-c", STDLIB_OF_IMPORTS], REPO_ROOT, child_env(), scratch)
    stdlib = listed.stdout.strip()
    ways: dict[str, list[float]] = {
        way: [] for way in ("interpreter", "stdlib", "imports", "first_request")
    }
    for _ in range(runs):
        for way, argv in (
            ("interpreter", [sys.executable, "-c", "pass"]),
            ("stdlib", [sys.executable, "-c", stdlib]),
            ("imports", [sys.executable, "-c", IMPORTS]),
            ("first_request", verb),
        ):
            done = child(argv, REPO_ROOT, child_env(), scratch)
            if done.code != (2 if way == "first_request" else 0):
                raise PipelineError(f"start-up run: exit {done.code}: {done.stderr[-300:]}")
            ways[way].append(done.seconds)
    timed = child([sys.executable, "-X", "importtime", "-c", IMPORTS], REPO_ROOT, {}, scratch)
    result: dict[str, Any] = {f"{w}_seconds": statistics.median(s) for w, s in ways.items()}
    result["runs"] = {w: [round(x, 3) for x in s] for w, s in ways.items()}
    result["slowest_imports_ms"] = slowest_imports(timed.stderr)
    return result


def slowest_imports(importtime: str, count: int = 8) -> dict[str, float]:
    """The modules of ``-X importtime`` output that took longest with what they imported, each
    listed once (outermost first): milliseconds by module."""
    rows = []
    for line in importtime.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].strip()))
    rows.sort(key=lambda row: -row[0])
    return {name: round(micro / 1000, 1) for micro, name in rows[:count]}


def measure(
    root: Path, project: Project, project_yaml: Path, work: Path, settings: Settings
) -> list[Figure]:
    """Set up the registry and the bundles, then time every way at every size."""
    server = registry_server.start(work / "registry")
    try:
        sizes, setup = prepare(work, project, settings, server)
        scratch = work / "scratch"
        scratch.mkdir()
        run_verify(sizes[min(sizes)], server.log_path, scratch)  # warm-up: bytecode caches
        sizes[min(sizes)].verify = Way()
        for size, at in sizes.items():
            repeats = settings.repeats_largest if size == max(sizes) else settings.repeats
            for _ in range(repeats):
                run_floor("requests", at, server.log_path, scratch)
                run_floor("stdlib", at, server.log_path, scratch)
                run_verify(at, server.log_path, scratch)
        skopeo_at = sizes[sorted(sizes)[len(sizes) // 2]]
        picked = sample(skopeo_at.refs_file.read_text().split(), settings.skopeo_sample)
        skopeo = skopeo_loop(picked)
        start = startup(sizes[min(sizes)], settings.startup_runs, scratch)
    except PipelineError as exc:
        return verify_figures.not_measured_all(exc.one_line())
    finally:
        registry_server.stop(work / "registry")
    return verify_figures.figures(sizes, setup, skopeo_at, picked, skopeo, start)


REPO_ROOT = Path(__file__).resolve().parent.parent
