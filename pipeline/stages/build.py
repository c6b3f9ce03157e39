"""build = rpms, then containers: the whole of step 1 and step 2 for a target, on one plan."""

from __future__ import annotations

from dataclasses import asdict

from pipeline.core.console import console, emit
from pipeline.core.context import Context
from pipeline.core.locks import build_lock
from pipeline.stages import containers, rpms
from pipeline.stages.plan import checked_plan


def main(ctx: Context) -> int:
    # One lock for both steps, and the plan made under it: a build that waited for another
    # sees what that one made.
    with build_lock(ctx.build_dir, "build"):
        plan = checked_plan(ctx)
        built = rpms.build_rpms(ctx, plan)
        console().print(rpms.summary(built))
        images = containers.build_images(ctx, plan)
    console().print(containers.summary(images))
    emit(
        ctx.options, {"rpms": [asdict(r) for r in built], "containers": [asdict(r) for r in images]}
    )
    containers.raise_for_failures(images)
    return 0
