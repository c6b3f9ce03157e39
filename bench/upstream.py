"""Figure 9 (``python -m pipeline bench upstream``): step 1 on the real upstream trees against
the bare ``go build`` of the same binaries, both cold, in the same run and the same build root.

The rpms stage of ``local-upstream`` runs in a copy of the project, with a Go build cache of its
own (cold). Then, in the same build roots, with the same Go and another cold cache, the
``go build``s the specs run, bare (``BUILDS``: the packaged commands, ``-mod=vendor
-buildmode=pie``, cgo on as in the spec; CDI's scratch-image server without cgo). The figure is
the rpms stage's wall time over the bare builds' sum: what the pipeline costs beyond compiling
(the version stamp, the manifests' generators, rpmbuild's packaging and compression, the repo).
Then an image-only change: the
rpms stage again, the Go cache warm. The tarballs must be in the project's download cache
(``fetch-sources --target local-upstream``); without them the figure says so.
"""

from __future__ import annotations

import shutil
import tarfile
import time
from pathlib import Path

from bench.build import Workspace
from bench.figures import Figure, Target, not_measured, ratio
from pipeline.core.console import console
from pipeline.core.context import Context, Options
from pipeline.core.errors import PipelineError
from pipeline.stages import build_roots
from pipeline.stages.plan import make_plan
from pipeline.stages.rpms import product_roots
from pipeline.stages.upstream import missing_tarballs
from pipeline.tools import chroot, registry_server
from pipeline.tools.run import run
from tests.support.paths import copy_inputs

TARGET = "local-upstream"
UPSTREAM_TARGET = Target("<=", 1.15, "<= 1.15x the bare go build")
TITLE = "rpms stage on the real trees vs bare go build"
#: The `go build`s each spec runs, as (packages, environment beyond the root's): KubeVirt's
#: commands in one (its C container-disk is left out); CDI's in one, and the scratch image's
#: server in another, without cgo or PIE.
PIE = {"GOFLAGS": "-mod=vendor -buildmode=pie"}
BUILDS: dict[str, tuple[tuple[str, dict[str, str]], ...]] = {
    "kubevirt": (
        (
            "cmd/virt-api cmd/virt-chroot cmd/virt-controller cmd/virt-handler cmd/virt-launcher "
            "cmd/virt-operator cmd/virtctl cmd/virt-probe cmd/virt-freezer "
            "cmd/virt-launcher-monitor cmd/virt-exportproxy cmd/virt-exportserver cmd/sidecars "
            "cmd/virt-tail cmd/synchronization-controller cmd/virt-launcher/libvirt-hook-client",
            PIE,
        ),
    ),
    "cdi": (
        (
            "cmd/cdi-apiserver cmd/cdi-cloner cmd/cdi-controller cmd/cdi-importer "
            "cmd/cdi-uploadproxy cmd/cdi-uploadserver cmd/cdi-operator "
            "tools/cdi-source-update-poller tools/cdi-image-size-detection",
            PIE,
        ),
        ("tools/cdi-containerimage-server", {"GOFLAGS": "-mod=vendor", "CGO_ENABLED": "0"}),
    ),
}
BARE_DIR = "pipeline-bench"


#: What the CDI spec sets --with system_sqlite (local-upstream's prjconf turns it on).
SYSTEM_SQLITE = {
    "CGO_CFLAGS": "-O2 -g -DUSE_LIBSQLITE3",
    "CGO_LDFLAGS": "-O2 -g -Wl,--as-needed -lsqlite3",
}


def bare_build(
    rootfs: Path,
    tarball: Path,
    builds: tuple[tuple[str, dict[str, str]], ...],
    cache: Path,
    extra_env: dict[str, str],
) -> float:
    """Seconds of the ``go build``s ``builds`` from ``tarball``, chrooted in ``rootfs`` with
    the root's Go and ``cache`` (empty) as its build cache."""
    work = rootfs / BARE_DIR
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        with tarfile.open(tarball) as tar:
            tar.extractall(work, filter="tar")
        top = next(work.iterdir()).name
        cache.mkdir(parents=True, exist_ok=True)
        (rootfs / build_roots.GO_CACHE_IN_ROOT.lstrip("/")).mkdir(parents=True, exist_ok=True)
        binds = [(cache, build_roots.GO_CACHE_IN_ROOT)]
        seconds = 0.0
        for commands, build_env in builds:
            # The environment rpmbuild gets in the root (its Go, GOROOT, GOPROXY=off, ...).
            env = build_roots.root_env(f"/{BARE_DIR}", 0, go=True) | build_env | extra_env
            packages = " ".join(f"./{c}" for c in commands.split())
            script = f"cd /{BARE_DIR}/{top} && mkdir -p _bare && go build -o _bare/ {packages}"
            argv = chroot.command(rootfs, ["sh", "-c", script], env, binds)
            started = time.perf_counter()
            run(argv, timeout=7200)
            seconds += time.perf_counter() - started
        return seconds
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(root: Path, source: Path, work: Path) -> list[Figure]:
    sources = source / "build" / "sources"
    try:
        project_yaml = copy_inputs(work / "project", source) / "pipeline.yaml"
        ctx = Context(Options(target=TARGET), project_yaml)
        missing = missing_tarballs(Context(Options(target=TARGET), source / "pipeline.yaml"))
        if missing:
            return [not_measured("upstream_rpms", TITLE, UPSTREAM_TARGET, missing[0])]
        shutil.copytree(sources, project_yaml.parent / "build" / "sources")
        server = registry_server.start(work / "registry")
        space = Workspace(root, project_yaml, server, work / "go-cache")
        cold = space.pipeline("rpms", "--target", TARGET).seconds
        console().print(f"rpms stage, cold: {cold:.0f} s")
        plan = {planned.name: planned for planned in make_plan(ctx).products}
        bare = {}
        for name, rootfs in product_roots(ctx).items():
            product = ctx.project.products[name]
            pinned = ctx.target.products[name]
            tarball = sources / product.tarball.format(version=pinned.version)
            sqlite = name == "cdi" and plan[name].defines.get("_with_system_sqlite") == "1"
            extra = SYSTEM_SQLITE if sqlite else {}
            cache = work / f"bare-cache-{name}"
            bare[name] = bare_build(rootfs, tarball, BUILDS[name], cache, extra)
            console().print(f"bare go build of {name}: {bare[name]:.0f} s")
        changed = "dockerfiles/kubevirt/virt-api/Dockerfile"
        with (project_yaml.parent / changed).open("a") as dockerfile:
            dockerfile.write("\n# an image-only change\n")
        warm = space.pipeline("rpms", "--target", TARGET).seconds
    except PipelineError as exc:
        return [not_measured("upstream_rpms", TITLE, UPSTREAM_TARGET, exc.one_line())]
    value = ratio(cold, sum(bare.values()))
    summary = (
        f"{cold:.0f} s rpms stage vs {sum(bare.values()):.0f} s bare go build "
        f"({', '.join(f'{k} {v:.0f} s' for k, v in bare.items())}); after an image-only "
        f"change {warm:.0f} s with the Go cache warm"
    )
    detail = {"rpms_cold_s": cold, "bare_go_build_s": bare, "rpms_after_image_change_s": warm}
    return [Figure("upstream_rpms", TITLE, UPSTREAM_TARGET, value, "x", value, summary, "", detail)]
