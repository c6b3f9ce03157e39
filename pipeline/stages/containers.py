"""containers (step 2): every image of the plan built by buildah for every architecture of the
plan (``pipeline.stages.image``).

The stage checks that step 1 finished, clears what an interrupted build left in buildah's store,
finds the images that are up to date, makes sure of each architecture's base image (only when
something is built), then builds the images in parallel, one architecture of one image at a
time (``--jobs``): a failed build does not stop the others; an image that failed on any
architecture is reported as failed, never as built. The report's containers section records
every image's result with each architecture's image.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.config.project import Image, Product
from pipeline.core.console import console, emit
from pipeline.core.context import Context
from pipeline.core.errors import ContainersError, InputError, PipelineError
from pipeline.core.locks import build_lock
from pipeline.core.plan import Plan
from pipeline.core.report import ContainersSection, ImageBuild, RpmsSection
from pipeline.stages import build_roots, elf_requires
from pipeline.stages.image import ArchBuild, ImageBuilder, assemble, image_inputs, up_to_date
from pipeline.stages.local_base import IMAGE as LOCAL_BASE
from pipeline.stages.local_base import ensure_local_bases
from pipeline.stages.plan import checked_plan
from pipeline.tools import buildah
from pipeline.tools.run import recording

MARKS = {
    "built": "[green]✓ built[/]",
    "up to date": "[green]✓ up to date, skipped[/]",
    "excluded": "[yellow]- excluded[/]",
}


def build_images(ctx: Context, plan: Plan) -> list[ImageBuild]:
    rpms = _finished_rpms(ctx)
    _same_inputs_as_step_1(ctx, plan, rpms)
    # A build killed while buildah committed may have left an image without a manifest, and
    # while it is there `buildah images` fails for every image: the next build removes it.
    for image_id in buildah.remove_abandoned_images():
        console().print(
            f"[yellow]removed image {image_id[:12]}: an interrupted build left it "
            "without a manifest[/]"
        )
    products = ctx.project.products
    everything = [
        (products[planned.name], products[planned.name].image(image.name))
        for planned in plan.products
        for image in planned.images
    ]
    previous = ctx.report.containers()
    done = _up_to_date(everything, rpms, previous)
    work = [(p, i, arch) for p, i in everything if i.name not in done for arch in plan.arches]
    # The bases are made sure of only when an image is built: a no-op build needs none.
    bases, args = _bases(ctx, plan) if work else (previous.bases if previous else {}, {})
    if work and ctx.target.local_base is not None:
        _check_elf_requires(ctx, rpms, bases)
    builder = ImageBuilder(ctx, plan, rpms, bases, args)
    with recording() as timings:
        builds = _in_parallel(ctx, work, builder.build)
    for product, image in everything:
        if image.name not in done:
            mine = [b for (_, i, _), b in zip(work, builds, strict=True) if i is image]
            done[image.name] = assemble(product, image, rpms.products[product.name], mine)
    results = [done[image.name] for _, image in everything]
    section = ContainersSection(
        bases,
        {r.name: r for r in results},
        timings.by_tool(),
        tools_busy_seconds=timings.busy(),
    )
    ctx.report.write("containers", section)
    return results


def _up_to_date(
    everything: list[tuple[Product, Image]], rpms: RpmsSection, previous: ContainersSection | None
) -> dict[str, ImageBuild]:
    """The images whose last build is of their product's current inputs and release."""
    # One listing instead of an inspect per image: a no-op build must cost next to nothing.
    stored = set(buildah.stored_images())
    found = {}
    for product, image in everything:
        old = previous.images.get(image.name) if previous else None
        same = up_to_date(old, image_inputs(rpms.products[product.name]), stored)
        if same is not None:
            found[image.name] = same
    return found


def _finished_rpms(ctx: Context) -> RpmsSection:
    rpms = ctx.report.rpms()
    if rpms is None:
        raise ContainersError(
            f"{ctx.report_path} has no 'rpms' results",
            hint=f"run the rpms stage first: nox -s rpms -- --target {ctx.target.name}",
        )
    missing = [name for name in ctx.project.products if name not in rpms.products]
    if missing or not rpms.complete:
        raise ContainersError(
            f"the last rpms stage did not finish (missing: {', '.join(missing) or 'the repo'})",
            hint=f"run it again: nox -s rpms -- --target {ctx.target.name}",
        )
    return rpms


def _same_inputs_as_step_1(ctx: Context, plan: Plan, rpms: RpmsSection) -> None:
    """An image carries its product's release, so it is built only from the inputs that
    release's RPMs were built from: a product changed since step 1 needs step 1 again."""
    for planned in plan.products:
        entry = rpms.products[planned.name]
        if entry.inputs != planned.inputs:
            raise InputError(
                None,
                f"{planned.name} changed since its RPMs were built ({', '.join(planned.changed)}):"
                f" its images would carry release {entry.release} of other inputs",
                hint=f"build both steps: nox -s build -- --target {ctx.target.name}",
            )


def _check_elf_requires(ctx: Context, rpms: RpmsSection, bases: dict[str, str]) -> None:
    """Every shared library the release's RPMs link is provided by the locally built base of
    their architecture (``stages/elf_requires.py``): checked before any image is built."""
    assert ctx.target.local_base is not None
    packages_file = ctx.target.local_base.inputs_dir / "packages.txt"
    for arch, base in sorted(bases.items()):
        real, stubs = elf_requires.base_provides(base)
        files = sorted((ctx.project.root / rpms.repo / arch).rglob("*.rpm"))
        trees = sorted(build_roots.roots_dir().glob(f"debootstrap-{arch}-*/rootfs"))
        elf_requires.check(files, real, packages_file, trees, stubs)


def _bases(ctx: Context, plan: Plan) -> tuple[dict[str, str], dict[str, str]]:
    """(rpm arch -> the id of the base its images build on, the build args). A locally built
    base is a manifest list of each architecture's base (``stages.local_base``); the prjconf's
    ``$KUBEVIRTFROM`` naming it ``latest`` is pinned to this build's list, which another
    checkout on the machine cannot move meanwhile. A pulled base is pulled per platform by
    ``buildah build --platform``: it has no id before."""
    args = dict(plan.build_args)
    if ctx.target.local_base is None:
        pulled = "pulled:" + ",".join(sorted(plan.build_args.values()))
        return {arch: pulled for arch in plan.arches}, args
    with console().status(f"local base images for {', '.join(plan.arches)} (cached) …"):
        bases = ensure_local_bases(ctx.build_root, plan.arches, base=ctx.target.local_base)
    for base in bases.images.values():
        state = "built" if base.built else "up to date, not rebuilt"
        console().print(f"[green]✓[/] base {base.name}: {state}")
    for key, value in args.items():
        if value in (LOCAL_BASE, f"{LOCAL_BASE}:latest"):
            args[key] = bases.name
    return {arch: base.image_id for arch, base in bases.images.items()}, args


def _in_parallel(
    ctx: Context,
    work: list[tuple[Product, Image, str]],
    build: Callable[[Product, Image, str], ArchBuild],
) -> list[ArchBuild]:
    """``build`` every image for every architecture, ``--jobs`` at a time, each with its line
    of progress; a failure is that architecture's result, the others go on."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console(),
        transient=False,
    )

    def one(item: tuple[Product, Image, str]) -> ArchBuild:
        product, image, arch = item
        what = f"{image.name} ({arch})"
        task = progress.add_task(f"{what}: building", total=None)
        try:
            result = build(product, image, arch)
        except PipelineError as exc:
            result = ArchBuild(arch, error=exc.one_line(), input_error=isinstance(exc, InputError))
        state = "failed" if result.error else "built" if result.image else "excluded"
        mark = MARKS.get(state, "[red]✗ failed[/]")
        progress.update(task, description=f"{what}: {mark}", total=1, completed=1)
        return result

    with progress, ThreadPoolExecutor(max_workers=ctx.options.jobs) as pool:
        try:
            return list(pool.map(one, work))
        except BaseException:
            # Interrupted: the images not started yet must not start (each would take a
            # release number and copy its tree before failing on the stopped runner).
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def summary(results: list[ImageBuild]) -> Table:
    table = Table(title="containers", title_justify="left")
    for column in ("image", "state", "tag", "RPMs", "seconds", "error"):
        table.add_column(column, overflow="fold")
    for r in results:
        tag = r.reference.rsplit(":", 1)[-1] if r.reference else ""
        rpms = ", ".join(str(len(a.rpms)) for a in r.arches.values())
        table.add_row(r.name, r.state, tag, rpms, f"{r.seconds:.0f}", r.error)
    return table


class ImageInputError(InputError):
    """Every failed image failed on its input: exit 2, and the line starts with the first
    one's ``file:line:col`` as any other input error does."""

    def __init__(self, errors: list[str], total: int) -> None:
        super().__init__(None, "; ".join(errors))
        self.errors = errors
        self.total = total

    def one_line(self) -> str:
        text = self.errors[0]
        if len(self.errors) > 1:
            rest = "; ".join(self.errors[1:])
            text += f" (and {len(self.errors) - 1} more of {self.total} images: {rest})"
        return " ".join(text.split())


def raise_for_failures(results: list[ImageBuild]) -> None:
    failed = [r for r in results if r.state == "failed"]
    if failed and all(r.input_error for r in failed):
        raise ImageInputError([r.error for r in failed], len(results))
    if failed:
        raise ContainersError(
            f"{len(failed)} of {len(results)} images failed: " + "; ".join(r.error for r in failed),
            hint="the other images' results are kept; fix and re-run",
        )


def main(ctx: Context) -> int:
    # Planned under the lock: a build that waited sees what the one before it made.
    with build_lock(ctx.build_dir, "containers"):
        results = build_images(ctx, checked_plan(ctx))
    console().print(summary(results))
    emit(ctx.options, {"containers": [asdict(r) for r in results]})
    raise_for_failures(results)
    return 0
