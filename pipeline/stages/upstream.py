"""upstream: the main job on a target whose sources are the pinned upstream tarballs
(``local-upstream``): build, publish, verify-tags, then every image's entrypoint run.

The tarballs must already be in the download cache (``fetch-sources`` puts them there; it needs
GitHub, which a CI machine may not reach). When one is missing the job is skipped, with one line
per tarball saying how to get it, and exits 0: a skip is not a failure. When they are there, it
runs, and fails as the stages fail (a tarball whose sha256 is not the pinned one included).

After verify-tags each image of the host's architecture runs its entrypoint with ``--help``
(it must start: every shared library it links resolved in the image) and the upstream version
is read from the Go build information of that binary (``go version -m``: the ``-X …version…``
the spec's version stamping passed to the linker); a binary that is not Go (qemu-pr-helper, a
shell script) is listed with its ``--help`` result only.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from pipeline.core.console import console, emit
from pipeline.core.context import Context
from pipeline.core.errors import ContainersError, InputError
from pipeline.core.plan import host_arch
from pipeline.stages.fetch_sources import download_path
from pipeline.tools import buildah
from pipeline.tools.run import run

#: ``-X <module>/version.gitVersion=v1.9.0`` in a Go binary's build settings.
VERSION_FLAG = re.compile(r"-X[= ]'?[\w./-]*version\.gitVersion=v?([0-9][\w.+-]*)")
HELP_SECONDS = 60
#: What the dynamic loader prints when a binary links a library the image lacks.
LOADER_FAILURE = "error while loading shared libraries"


@dataclass(frozen=True)
class EntrypointRun:
    """One image's entrypoint, as run in the image after the build."""

    image: str
    entrypoint: str
    #: ``--help``'s exit status.
    status: int
    #: The upstream version the binary carries, or "" (not a Go binary, or none stamped).
    version: str
    output: str

    @property
    def started(self) -> bool:
        """It ran: not refused by the loader (a library missing, exit 127 from the shell) or
        the kernel (126). A Go binary's ``--help`` exits 0 or 2; a shell script entrypoint
        (cdi-cloner's) may stop on an environment only the cluster gives it."""
        return self.status not in (126, 127) and LOADER_FAILURE not in self.output


def missing_tarballs(ctx: Context) -> list[str]:
    """One line for each upstream tarball of the target that is not downloaded."""
    lines = []
    for name, product in ctx.project.products.items():
        pinned = ctx.target.products[name]
        if pinned.source.is_local:
            raise InputError(
                ctx.project.path,
                f"target {ctx.target.name!r} builds {name} from a sample tree, not a tarball",
                hint="upstream runs a target whose sources are upstream tarballs: "
                "--target local-upstream",
            )
        path = download_path(ctx, product, pinned)
        if not path.is_file():
            lines.append(
                f"{path.name} is not in {path.parent}: run `python -m pipeline fetch-sources "
                f"--target {ctx.target.name}` where {pinned.source.url} can be reached, or put "
                f"the file there (sha256 {pinned.source.sha256 or 'not pinned yet'})"
            )
    return lines


def version_of(go: Path, binary: Path) -> str:
    """The upstream version stamped into a Go binary, or "" (not Go, or not stamped)."""
    done = run([str(go), "version", "-m", str(binary)], check=False)
    found = VERSION_FLAG.search(done.stdout) if done.returncode == 0 else None
    return found.group(1) if found else ""


def run_entrypoint(image: str, name: str, go: Path) -> EntrypointRun:
    entrypoint = list(buildah.oci_config(buildah.inspect(image)).get("Entrypoint") or [])
    if not entrypoint:
        raise ContainersError(f"image {name} has no entrypoint", hint="give its Dockerfile one")
    with buildah.working_container(image) as container:
        done = buildah.run_container(
            container, [entrypoint[0], "--help"], timeout=HELP_SECONDS, check=False
        )
        version = version_of(go, buildah.mount(container) / entrypoint[0].lstrip("/"))
    output = (done.stdout + done.stderr).strip().splitlines()
    loader = [line for line in output if LOADER_FAILURE in line]
    return EntrypointRun(
        name, entrypoint[0], done.returncode, version, (loader or output or [""])[0]
    )


def _timed(stages: dict[str, float], name: str, step: Callable[[], int]) -> int:
    start = time.monotonic()
    code = step()
    stages[name] = round(time.monotonic() - start, 1)
    return code


def main(ctx: Context) -> int:
    missing = missing_tarballs(ctx)
    if missing:
        for line in missing:
            console().print(f"[yellow]skipped[/]: {line}", soft_wrap=True)  # one line each
        console().print(f"upstream on {ctx.target.name}: SKIPPED, the upstream tarballs are absent")
        emit(ctx.options, {"upstream": {"skipped": missing}})
        return 0
    from pipeline.verbs import BY_NAME

    # The three verbs as the command line runs them, each with its own pre-flight checks; they
    # print their tables, and only this verb's result goes to --json.
    quiet = Context(dataclasses.replace(ctx.options, json=None), ctx.project_path)
    stages: dict[str, float] = {}
    for name in ("build", "publish", "verify-tags"):
        code = _timed(stages, name, functools.partial(BY_NAME[name].run, quiet))
        if code != 0:  # verify-tags found mismatches (1): its table said which
            return code
    runs = run_entrypoints(quiet)
    console().print(entrypoints_table(runs))
    emit(
        ctx.options,
        {"upstream": {"stages": stages, "entrypoints": [dataclasses.asdict(r) for r in runs]}},
    )
    console().print("stages (wall seconds): " + ", ".join(f"{k} {v}" for k, v in stages.items()))
    raise_for_entrypoints(runs, {pinned.version for pinned in ctx.target.products.values()})
    return 0


def run_entrypoints(ctx: Context) -> list[EntrypointRun]:
    """Each image of the build, of the host's architecture, run (``run_entrypoint``)."""
    from pipeline.tools.golang import ensure_go

    go = ensure_go()
    images = ctx.report.containers()
    assert images is not None  # build wrote it
    arch = host_arch()
    return [
        run_entrypoint(image.arches[arch].name, image.name, go)
        for image in images.images.values()
        if arch in image.arches
    ]


def raise_for_entrypoints(runs: list[EntrypointRun], versions: set[str]) -> None:
    """One line for the first entrypoint that did not start or carries another version than
    the target pins."""
    failed = [r for r in runs if not r.started or r.version not in versions | {""}]
    if not failed:
        return
    first = failed[0]
    if first.started:
        raise ContainersError(
            f"{first.image}: {first.entrypoint} carries version {first.version}, the target "
            f"pins {', '.join(sorted(versions))}",
            hint="the spec's version stamping (KUBEVIRT_GIT_VERSION, CDI_GIT_VERSION)",
        )
    raise ContainersError(
        f"{len(failed)} of {len(runs)} entrypoints did not start; {first.image}: "
        f"{first.entrypoint} --help exited {first.status}: {first.output}",
        hint="the image lacks what the binary needs to start: add it to the base "
        "(its packages.txt) or to the RPM's Requires",
    )


def entrypoints_table(runs: list[EntrypointRun]) -> Table:
    table = Table(title="entrypoints", title_justify="left")
    for column in ("image", "entrypoint", "--help", "version", "first line"):
        table.add_column(column, overflow="fold")
    for r in runs:
        state = f"{r.status} started" if r.started else f"[red]{r.status} did not start[/]"
        table.add_row(r.image, r.entrypoint, state, r.version or "-", r.output[:60])
    return table
