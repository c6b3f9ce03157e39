"""Figure 1: ``verify-tags`` over hundreds of references, against the floor and a user's loop.

Three ways to check the same references against the same loopback registry:
- ``python -m pipeline verify-tags --manifests ... --json -`` as a user runs it (a subprocess,
  interpreter start-up and imports included), everything it really does (it also reads each
  image's config for its labels and platform);
- a bare concurrent loop of ``HEAD /v2/<name>/manifests/<tag>``, one ``requests.Session`` and a
  thread pool as wide as verify's: the floor any checker over HTTP has;
- ``skopeo inspect`` per reference, the way a shell loop does it, on a sample (scaled to all).

The registry's access log tells how many requests each way made.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench.figures import Figure, Target, not_measured, ratio
from bench.scale import ProductSet, ScratchImages, plan, populate, write_manifests
from pipeline.config.project import Project
from pipeline.core.errors import PipelineError
from pipeline.images.registry import ACCEPT
from pipeline.tools import registry_server
from pipeline.tools.run import run

WORKERS = 16  # verify's own check() default, so the floor is as wide as verify
FLOOR_TARGET = Target("<=", 1.5, "<= 1.5x the HEAD floor (start-up included)")
SKOPEO_TARGET = Target(">=", 10.0, ">= 10x faster than a skopeo loop")
ACCESS_LINE = re.compile(r'"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP/[\d.]+" (\d{3})')


@dataclass(frozen=True)
class Settings:
    builds_per_version: int = 16
    skopeo_sample: int = 60
    repeats: int = 3


def split_reference(reference: str) -> tuple[str, str, str]:
    """``host:port/name:tag`` -> (host:port, name, tag); the scale set writes only this form."""
    registry, rest = reference.split("/", 1)
    name, tag = rest.rsplit(":", 1)
    return registry, name, tag


def head_floor(references: list[str], workers: int = WORKERS) -> tuple[float, int]:
    """Seconds to HEAD every reference concurrently, and how many were missing."""

    def one(session: requests.Session, reference: str) -> bool:
        registry, name, tag = split_reference(reference)
        resp = session.head(
            f"http://{registry}/v2/{name}/manifests/{tag}", headers={"Accept": ACCEPT}, timeout=30
        )
        return resp.status_code == 200

    started = time.perf_counter()
    with requests.Session() as session, ThreadPoolExecutor(max_workers=workers) as pool:
        # The session's pool is as wide as the thread pool, so no thread waits for a connection.
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=workers)
        session.mount("http://", adapter)
        found = list(pool.map(lambda ref: one(session, ref), references))
    return time.perf_counter() - started, found.count(False)


def skopeo_loop(references: list[str]) -> tuple[float, int]:
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


def sample(references: list[str], size: int) -> list[str]:
    """An evenly spread sample (every k-th), so every product and form is in it."""
    if size >= len(references):
        return list(references)
    step = len(references) / size
    return [references[int(i * step)] for i in range(size)]


def verify_cli(root: Path, project_yaml: Path, files: list[Path]) -> tuple[float, dict[str, Any]]:
    """Wall seconds of ``python -m pipeline verify-tags`` and its JSON answer."""
    argv = [sys.executable, "-m", "pipeline", "verify-tags", "--project", str(project_yaml)]
    argv += ["--manifests", *map(str, files), "--json", "-"]
    started = time.perf_counter()
    done = run(argv, cwd=root, check=False, timeout=600)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise PipelineError(
            f"verify-tags exited {done.returncode}: {done.stderr.strip()[-500:]}",
            hint="run the command by hand with --debug",
        )
    return seconds, json.loads(done.stdout)


def import_seconds(root: Path) -> float:
    """What start-up costs before verify sends its first request: interpreter and imports."""
    started = time.perf_counter()
    run([sys.executable, "-c", "import pipeline.cli, pipeline.stages.verify"], cwd=root)
    return time.perf_counter() - started


def requests_since(log: Path, offset: int) -> Counter[str]:
    """Requests in the registry's access log after byte ``offset``, by method."""
    with log.open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode(errors="replace")
    return Counter(m.group(1) for m in ACCESS_LINE.finditer(text))


def product_sets(project: Project, versions: dict[str, tuple[str, ...]]) -> list[ProductSet]:
    sets = []
    for name, product in project.products.items():
        images = {v: tuple(i.name for i in product.images_for(v)) for v in versions[name]}
        sets.append(ProductSet(name, product.operator_image, images))
    return sets


def classify(data: dict[str, Any], genuine: set[str]) -> dict[str, int]:
    """verify's findings split: references it checked that the manifests name, ones it derived
    beyond them, ones missing from the registry, and ones failed for another reason."""
    counts: Counter[str] = Counter()
    for finding in data.get("references", []):
        counts["checked"] += 1
        counts["named" if finding["reference"] in genuine else "beyond_manifests"] += 1
        problems = " ".join(finding.get("problems", []))
        if "not in the registry" in problems:
            counts["missing"] += 1
        elif finding.get("ok"):
            counts["ok"] += 1
        else:
            counts["other_problem"] += 1
    return dict(counts)


def measure(
    root: Path, project: Project, project_yaml: Path, work: Path, settings: Settings
) -> list[Figure]:
    """Set up the registry and manifests, then time the three ways; two figures."""
    title_floor = "verify-tags vs HEAD floor"
    title_skopeo = "skopeo loop vs verify-tags"
    reg_root = work / "registry"
    server = registry_server.start(reg_root)
    images = ScratchImages(work / "buildah")
    try:
        versions: dict[str, tuple[str, ...]] = {
            "kubevirt": ("1.8.0", "1.9.0"),
            "cdi": ("1.65.0", "1.66.0"),
        }
        scale = plan(server.address, product_sets(project, versions), settings.builds_per_version)
        started = time.perf_counter()
        made = populate(scale, images, server.url)
        setup_seconds = time.perf_counter() - started
        files = write_manifests(scale, work / "manifests")
        refs = scale.references()

        floor_runs = []
        verify_runs = []
        verify_requests: Counter[str] = Counter()
        data: dict[str, Any] = {}
        for _ in range(settings.repeats):
            seconds, missing = head_floor(refs)
            if missing:
                raise PipelineError(f"{missing} of {len(refs)} references missing after setup")
            floor_runs.append(seconds)
            offset = server.log_path.stat().st_size
            seconds, data = verify_cli(root, project_yaml, files)
            verify_requests = requests_since(server.log_path, offset)
            verify_runs.append(seconds)
        picked = sample(refs, settings.skopeo_sample)
        skopeo_seconds, skopeo_failed = skopeo_loop(picked)
        imports = import_seconds(root)
    except PipelineError as exc:
        reason = exc.one_line()
        return [
            not_measured("verify_floor", title_floor, FLOOR_TARGET, reason),
            not_measured("verify_skopeo", title_skopeo, SKOPEO_TARGET, reason),
        ]
    finally:
        registry_server.stop(reg_root)
        images.remove()

    floor = statistics.median(floor_runs)
    verify = statistics.median(verify_runs)
    skopeo_all = skopeo_seconds * len(refs) / len(picked)
    found = classify(data, set(refs))
    per_ref = {m: round(n / max(1, found.get("checked", 0)), 2) for m, n in verify_requests.items()}
    common = {
        "references": len(refs),
        "manifest_files": len(files),
        "images_pushed": made["pushed"],
        "tags_copied": made["copied"],
        "setup_seconds": round(setup_seconds, 1),
        "verify_seconds_runs": [round(s, 3) for s in verify_runs],
        "verify_exit_ok": data.get("ok"),
        "verify_findings": found,
        "verify_requests": dict(verify_requests),
        "verify_requests_per_checked_reference": per_ref,
        "startup_import_seconds": round(imports, 3),
    }
    floor_fig = Figure(
        "verify_floor",
        title_floor,
        FLOOR_TARGET,
        value=ratio(verify, floor),
        ratio=ratio(verify, floor),
        summary=(
            f"{len(refs)} refs: verify-tags {verify:.2f} s (start-up ~{imports:.2f} s, "
            f"{sum(verify_requests.values())} requests) vs HEAD floor {floor:.2f} s "
            f"({WORKERS} threads); medians of {settings.repeats}"
        ),
        detail={**common, "floor_seconds_runs": [round(s, 3) for s in floor_runs]},
    )
    skopeo_fig = Figure(
        "verify_skopeo",
        title_skopeo,
        SKOPEO_TARGET,
        value=ratio(skopeo_all, verify),
        ratio=ratio(skopeo_all, verify),
        summary=(
            f"skopeo inspect {skopeo_seconds:.1f} s for a sample of {len(picked)}, scaled to "
            f"{len(refs)}: {skopeo_all:.1f} s vs verify-tags {verify:.2f} s"
        ),
        detail={
            **common,
            "skopeo_sample": len(picked),
            "skopeo_sample_seconds": round(skopeo_seconds, 3),
            "skopeo_sample_failed": skopeo_failed,
            "skopeo_scaled_seconds": round(skopeo_all, 3),
        },
    )
    return [floor_fig, skopeo_fig]
