"""Figures 2-8: full builds of the `local` target in copies of the project, then what they show.

One full build (``python -m pipeline build``, both platforms) into a temporary copy of the
project, publishing to a registry of our own on a free loopback port; the same build of the
host's platform only in another copy (figure 8); then a no-op ``nox -s build``, two publishes.
The figures are read from what that run left: the build report (tool timings, per-image seconds
and sizes), the RPMs of the repo, and the registry's access log.

How the containers stage's wall time is found: the report stamps each section when its stage
finished, so the containers stage ran from the rpms stamp to the containers stamp (whole
seconds; the stage takes minutes).
"""

from __future__ import annotations

import datetime
import re
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from bench.figures import Figure, Target, not_measured, ratio
from pipeline.core.console import console
from pipeline.core.errors import PipelineError
from pipeline.core.plan import host_arch
from pipeline.core.state import read_json
from pipeline.tools import buildah, registry_server
from pipeline.tools.run import Completed, run
from tests.support.paths import copy_inputs

NOOP_TARGET = Target("<=", 1.0, "<= 1 s wall, nox start included")
OVERHEAD_TARGET = Target("<", 0.10, "< 10 % outside the tools")
PARALLEL_TARGET = Target("<=", 0.8, "clearly < 1 (<= 0.8) on 2 cores")
WEIGHT_TARGET = Target("<=", 1.2, "<= 1.2x per image (worst shown)")
REPUBLISH_TARGET = Target("<=", 0, "no blob uploaded")
REBUILD_TARGET = Target("<=", 0.3, "<= 0.3x a cold rpms stage")
SECOND_ARCH_TARGET = Target("<=", 2.5, "<= 2.5x on 2 cores")
BUILD_TIMEOUT = 3000.0
ACCESS_LINE = re.compile(r'"(PUT|POST|PATCH) (/v2/\S+/blobs/uploads/\S*) HTTP/[\d.]+" (\d{3})')
DIGEST_PARAM = re.compile(r"[?&]digest=([^&\s]+)")

TITLES = {
    "noop_build": "no-op build vs full build",
    "overhead": "pipeline overhead share",
    "parallel": "containers wall vs sum of images",
    "image_weight": "image own layers vs RPMs installed",
    "republish": "re-publish uploads",
    "image_change_rpms": "rpms after an image-only change vs cold rpms",
    "second_arch": "build with two arches vs one, same run",
}
TARGETS = {
    "noop_build": NOOP_TARGET,
    "overhead": OVERHEAD_TARGET,
    "parallel": PARALLEL_TARGET,
    "image_weight": WEIGHT_TARGET,
    "republish": REPUBLISH_TARGET,
    "image_change_rpms": REBUILD_TARGET,
    "second_arch": SECOND_ARCH_TARGET,
}


def all_not_measured(reason: str) -> list[Figure]:
    return [not_measured(key, TITLES[key], TARGETS[key], reason) for key in TITLES]


# --------------------------------------------------------------------------- pure parts


def stamp(text: str) -> float:
    """Seconds since the epoch of a report's ``finished`` stamp (``%Y-%m-%dT%H:%M:%SZ``)."""
    when = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    return when.replace(tzinfo=datetime.UTC).timestamp()


def tool_seconds(timings: dict[str, Any]) -> float:
    return float(sum(entry.get("seconds", 0.0) for entry in timings.values()))


def built_images(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    images = report.get("containers", {}).get("images", {})
    return {name: entry for name, entry in images.items() if entry.get("state") == "built"}


def containers_wall(report: dict[str, Any]) -> float:
    return stamp(report["containers"]["finished"]) - stamp(report["rpms"]["finished"])


def parallel_figure(report: dict[str, Any]) -> Figure:
    images = built_images(report)
    total = sum(float(entry.get("seconds", 0.0)) for entry in images.values())
    wall = containers_wall(report)
    value = ratio(wall, total)
    return Figure(
        "parallel",
        TITLES["parallel"],
        PARALLEL_TARGET,
        value=value,
        ratio=value,
        summary=f"containers stage {wall:.0f} s for {len(images)} images whose builds sum to "
        f"{total:.0f} s",
        detail={
            "containers_wall_seconds": wall,
            "sum_image_seconds": round(total, 2),
            "images": {name: entry.get("seconds") for name, entry in images.items()},
        },
    )


def overhead_figure(report: dict[str, Any], build_wall: float) -> Figure:
    """Share of the build's wall time outside external tools.

    Each stage's report says for how many wall seconds some tool ran (``tools_busy_seconds``:
    rpmbuilds of a product's architectures, and images, run side by side and count once)."""
    rpm_tools = float(report["rpms"].get("tools_busy_seconds", 0.0))
    container_tools = float(report["containers"].get("tools_busy_seconds", 0.0))
    image_seconds = sum(float(e.get("seconds", 0.0)) for e in built_images(report).values())
    wall_c = containers_wall(report)
    tools_wall = rpm_tools + container_tools
    outside = max(0.0, build_wall - tools_wall)
    value = ratio(outside, build_wall)
    by_tool = {stage: report[stage].get("timings", {}) for stage in ("rpms", "containers")}
    return Figure(
        "overhead",
        TITLES["overhead"],
        OVERHEAD_TARGET,
        value=value,
        unit="%",
        ratio=value,
        summary=f"{outside:.1f} s of {build_wall:.1f} s outside tools (some tool running: "
        f"{rpm_tools:.1f} s of the rpms stage, {container_tools:.1f} s of the containers stage's "
        f"{wall_c:.0f} s)",
        detail={
            "build_wall_seconds": round(build_wall, 2),
            "rpms_tools_busy_seconds": round(rpm_tools, 2),
            "containers_tools_busy_seconds": round(container_tools, 2),
            "containers_wall_seconds": wall_c,
            "sum_image_seconds": round(image_seconds, 2),
            "outside_seconds": round(outside, 2),
            "timings": by_tool,
        },
    )


def weight_figure(report: dict[str, Any], installed: dict[str, int], arch: str) -> Figure:
    """``own_size`` of each built image's ``arch`` image against the installed size of the
    repo RPMs it added."""
    per_image: dict[str, dict[str, Any]] = {}
    for name, image in built_images(report).items():
        entry = image.get("arches", {}).get(arch, {})
        rpms = entry.get("rpms", [])
        known = [nevra for nevra in rpms if nevra in installed]
        size = sum(installed[nevra] for nevra in known)
        own = int(entry.get("own_size", 0))
        per_image[name] = {
            "own_size": own,
            "rpm_installed_size": size,
            "ratio": round(ratio(own, size), 3) if size else None,
            "excess_bytes": own - size,
            "rpms": len(rpms),
            "rpms_not_in_repo": sorted(set(rpms) - set(known)),
        }
    rated = {name: d["ratio"] for name, d in per_image.items() if d["ratio"] is not None}
    if not rated:
        return not_measured(
            "image_weight", TITLES["image_weight"], WEIGHT_TARGET, "no built image adds repo RPMs"
        )
    worst = max(rated, key=lambda name: rated[name])
    w = per_image[worst]
    # What every image carries besides its RPMs' files (rpm database, zypper's state): a fixed
    # cost, which weighs most on the image whose RPMs are smallest.
    fixed = min(d["excess_bytes"] for d in per_image.values() if d["ratio"] is not None)
    return Figure(
        "image_weight",
        TITLES["image_weight"],
        WEIGHT_TARGET,
        value=rated[worst],
        ratio=rated[worst],
        summary=f"worst {worst}: {w['own_size']:,} B own layers vs {w['rpm_installed_size']:,} "
        f"B of RPMs; median over {len(rated)} images "
        f"{sorted(rated.values())[len(rated) // 2]:.2f}x; each adds >= {fixed:,} B beyond its RPMs",
        detail={"images": per_image, "least_excess_bytes": fixed},
    )


@dataclass(frozen=True)
class Uploads:
    """Blob uploads the registry completed, from its access log."""

    started: int
    completed: list[str]

    def bytes(self, storage: Path) -> int:
        return sum(blob_size(storage, digest) for digest in self.completed)


def uploads_in(log_text: str) -> Uploads:
    """Upload sessions started (POST without ``mount=``) and uploads completed (a 201 to a PUT
    or monolithic POST carrying ``digest=``) in a registry access log."""
    started = 0
    completed = []
    for match in ACCESS_LINE.finditer(log_text):
        method, uri, status = match.groups()
        digest = DIGEST_PARAM.search(uri)
        if method == "POST" and "mount=" not in uri:
            started += 1
        if method in ("PUT", "POST") and status == "201" and digest and "mount=" not in uri:
            completed.append(unquote(digest.group(1)))
    return Uploads(started, completed)


def blob_size(storage: Path, digest: str) -> int:
    algo, _, hexpart = digest.partition(":")
    path = storage / "docker/registry/v2/blobs" / algo / hexpart[:2] / hexpart / "data"
    try:
        return path.stat().st_size
    except OSError:
        return 0


def republish_figure(first: Uploads, again: Uploads, storage: Path) -> Figure:
    first_bytes = first.bytes(storage)
    again_bytes = again.bytes(storage)
    value = float(len(again.completed))
    return Figure(
        "republish",
        TITLES["republish"],
        REPUBLISH_TARGET,
        value=value,
        unit="n",
        ratio=ratio(again_bytes, first_bytes),
        summary=f"again: {len(again.completed)} blobs, {again_bytes:,} B "
        f"({again.started} upload sessions); first publish: {len(first.completed)} blobs, "
        f"{first_bytes:,} B",
        detail={
            "first_blobs": len(first.completed),
            "first_bytes": first_bytes,
            "again_blobs": len(again.completed),
            "again_bytes": again_bytes,
            "again_sessions_started": again.started,
        },
    )


def noop_figure(noop: float, full: float, state: str, parts: dict[str, float]) -> Figure:
    """``parts``: the same no-op without nox (``python -m pipeline build``) and nox's own start
    (``nox -l``), so the report can say where the seconds go."""
    return Figure(
        "noop_build",
        TITLES["noop_build"],
        NOOP_TARGET,
        value=noop,
        unit="s",
        ratio=ratio(noop, full),
        summary=f"nox -s build with nothing changed: {noop:.2f} s ({state}; without nox "
        f"{parts.get('pipeline_build', 0):.2f} s, nox -l alone {parts.get('nox_list', 0):.2f} s); "
        f"full build {full:.0f} s",
        detail={
            "noop_seconds": round(noop, 3),
            "full_seconds": round(full, 2),
            **{f"{key}_seconds": round(value, 3) for key, value in parts.items()},
        },
    )


@dataclass(frozen=True)
class Build:
    """A full build (cold rpms stage, then build) of one copy: its seconds and report."""

    rpms: float
    full: float
    report: dict[str, Any]


def arch_seconds(report: dict[str, Any], arch: str) -> float:
    """The seconds of every image build of ``arch`` (summed over the parallel builds)."""
    images = built_images(report).values()
    return sum(float(e.get("arches", {}).get(arch, {}).get("seconds", 0.0)) for e in images)


def second_arch_figure(two: Build, one: Build, host: str, other: str) -> Figure:
    """A full build of both platforms against one of the host's only, each of a fresh copy
    with a cold Go cache of its own, the bases already built (debootstrap and the base image
    are once per machine, cached). What the second architecture adds runs emulated: every
    RUN step of its image builds (zypper, useradd) and ``rpm -qa`` in its images, under
    qemu-user; its RPMs are cross-compiled (Go by GOARCH, the C part by the cross gcc), so
    native speed."""
    value = ratio(two.full, one.full)
    emulated = arch_seconds(two.report, other)
    native = arch_seconds(two.report, host)
    return Figure(
        "second_arch",
        TITLES["second_arch"],
        SECOND_ARCH_TARGET,
        value=value,
        ratio=value,
        summary=f"{two.full:.0f} s vs {one.full:.0f} s (rpms {two.rpms:.0f} s vs {one.rpms:.0f} s"
        f", cross-compiled; images {two.full - two.rpms:.0f} s vs {one.full - one.rpms:.0f} s); "
        f"emulated: the {other} image builds' RUN steps and rpm -qa, {emulated:.0f} s of image "
        f"builds vs {native:.0f} s for {host}",
        detail={
            "two_arch_seconds": round(two.full, 2),
            "one_arch_seconds": round(one.full, 2),
            "two_arch_rpms_seconds": round(two.rpms, 2),
            "one_arch_rpms_seconds": round(one.rpms, 2),
            f"image_seconds_{host}": round(native, 2),
            f"image_seconds_{other}_emulated": round(emulated, 2),
            "one_arch_image_seconds": round(arch_seconds(one.report, host), 2),
        },
    )


def rebuild_figure(warm: float, cold: float, changed: str) -> Figure:
    value = ratio(warm, cold)
    return Figure(
        "image_change_rpms",
        TITLES["image_change_rpms"],
        REBUILD_TARGET,
        value=value,
        ratio=value,
        summary=f"rpms stage after a change to {changed} only (a new KubeVirt release, Go cache "
        f"warm): {warm:.0f} s vs {cold:.0f} s cold (empty Go cache)",
        detail={"warm_seconds": round(warm, 2), "cold_seconds": round(cold, 2)},
    )


# --------------------------------------------------------------------------- the run


def installed_sizes(rpm_dir: Path) -> dict[str, int]:
    """NEVRA -> installed size (``%{SIZE}``) of every RPM in ``rpm_dir``, in one rpm call."""
    paths = sorted(rpm_dir.glob("*.rpm"))
    if not paths:
        return {}
    out = run(
        ["rpm", "-qp", "--nosignature", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH} %{SIZE}\\n"]
        + [str(p) for p in paths],
        timeout=300,
    ).stdout
    sizes = {}
    for line in out.splitlines():
        nevra, _, size = line.rpartition(" ")
        if nevra and size.isdigit():
            sizes[nevra] = int(size)
    return sizes


@dataclass(frozen=True)
class Workspace:
    root: Path  # the repository, where `python -m pipeline` and the noxfile are
    project_yaml: Path
    registry: registry_server.RegistryServer

    go_cache: Path

    def pipeline(self, verb: str, *args: str, timeout: float = BUILD_TIMEOUT) -> Completed:
        argv = [sys.executable, "-m", "pipeline", verb, *args, "--project", str(self.project_yaml)]
        argv += ["--registry", self.registry.address]
        # The bench's own Go cache: the first rpms stage is cold whatever ran before.
        env = {"PIPELINE_GO_CACHE": str(self.go_cache)}
        done = run(argv, cwd=self.root, check=False, timeout=timeout, env=env)
        return self.checked(done, verb)

    def nox(self, *args: str) -> Completed:
        argv = [sys.executable, "-m", "nox", "-f", str(self.root / "noxfile.py"), *args]
        return self.checked(run(argv, cwd=self.root, check=False, timeout=600), shlex.join(args))

    def nox_build(self) -> Completed:
        project = ["--project", str(self.project_yaml), "--registry", self.registry.address]
        return self.nox("-s", "build", "--", *project)

    @staticmethod
    def checked(done: Completed, what: str) -> Completed:
        if done.returncode != 0:
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
            last = lines[-1] if lines else f"exit {done.returncode}"
            raise PipelineError(f"{what} failed: {last.strip()[:300]}")
        return done


def measure(root: Path, source: Path, work: Path) -> list[Figure]:
    """Everything of figures 2-8; a figure that cannot be had says why."""
    registry_root = work / "registry"
    try:
        project_yaml = copy_inputs(work / "project", source) / "pipeline.yaml"
        server = registry_server.start(registry_root)
    except PipelineError as exc:
        return all_not_measured(exc.one_line())
    space = Workspace(root, project_yaml, server, work / "go-cache")
    build_dir = project_yaml.parent / "build" / "local"
    figures: dict[str, Figure] = {}
    try:
        two = full_build(space)
        cold, full, report = two.rpms, two.full, two.report
        figures["overhead"] = overhead_figure(report, full)
        figures["parallel"] = parallel_figure(report)
        host = host_arch()
        rpms = installed_sizes(build_dir / "repo" / host / "RPMS")
        figures["image_weight"] = weight_figure(report, rpms, host)
        # The same build of the host's platform only, from a fresh copy of its own.
        alone = Workspace(
            root,
            copy_inputs(work / "one-arch", source) / "pipeline.yaml",
            server,
            work / "go-cache-one-arch",
        )
        one = full_build(alone, "--platforms", "host")
        other = next(a for a in report["rpms"]["products"]["kubevirt"]["arches"] if a != host)
        figures["second_arch"] = second_arch_figure(two, one, host, other)

        # The session's virtualenv made (or found) first: the figure is a no-op build, which
        # installs nothing, in the virtualenv nox reuses.
        space.nox("-s", "build", "--install-only")
        started = time.perf_counter()
        space.nox_build()
        noop = time.perf_counter() - started
        after = read_json(build_dir / "report.json")
        images = after.get("containers", {}).get("images", {}).values()
        states = "images " + ", ".join(sorted({str(e.get("state")) for e in images}))
        parts = {
            "pipeline_build": space.pipeline("build").seconds,
            "nox_list": space.nox("-l").seconds,
        }
        figures["noop_build"] = noop_figure(noop, full, states, parts)

        offset = server.log_path.stat().st_size
        space.pipeline("publish")
        middle = server.log_path.stat().st_size
        space.pipeline("publish")
        log = server.log_path.read_bytes()
        first = uploads_in(log[offset:middle].decode(errors="replace"))
        again = uploads_in(log[middle:].decode(errors="replace"))
        figures["republish"] = republish_figure(first, again, server.root / "storage")

        changed = "dockerfiles/kubevirt/virt-api/Dockerfile"
        with (project_yaml.parent / changed).open("a") as dockerfile:
            dockerfile.write("\n# an image-only change\n")
        figures["image_change_rpms"] = rebuild_figure(space.pipeline("rpms").seconds, cold, changed)
    except PipelineError as exc:
        reason = exc.one_line()
        for key in TITLES:
            figures.setdefault(key, not_measured(key, TITLES[key], TARGETS[key], reason))
    finally:
        registry_server.stop(registry_root)
        remove_images(f"{server.address}/")
    return [figures[key] for key in TITLES]


def full_build(space: Workspace, *args: str) -> Build:
    """A cold rpms stage, then the build (the containers stage and a no-op rpms stage).
    Untimed before them, as the bases are: ``fetch-sources``, which makes the build roots (the
    network-bound set-up of a first run; the one-arch build's roots hold no cross compiler, so
    they are other roots than the two-arch build's)."""
    report_path = space.project_yaml.parent / "build" / "local" / "report.json"
    space.pipeline("fetch-sources", *args)
    cold = space.pipeline("rpms", *args).seconds
    # build's own rpms stage is a no-op that runs no tool and writes its section again: the
    # tools' time of the build is the cold stage's.
    cold_section = read_json(report_path)["rpms"]
    full = cold + space.pipeline("build", *args).seconds
    report = read_json(report_path)
    report["rpms"]["timings"] = cold_section.get("timings", {})
    report["rpms"]["tools_busy_seconds"] = cold_section.get("tools_busy_seconds", 0.0)
    return Build(cold, full, report)


def remove_images(prefix: str) -> None:
    """Untag the images this run built: their names carry its registry's one-off port."""
    try:
        names = [
            name
            for image_names in buildah.stored_images().values()
            for name in image_names
            if name.startswith(prefix)
        ]
        if names:
            buildah.rmi(*names, force=True)
    except PipelineError as exc:  # left-over images cost disk, not correctness
        console().print(f"[yellow]could not remove the bench's images: {exc.one_line()}[/]")
