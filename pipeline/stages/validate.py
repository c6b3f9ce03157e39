"""Plan's dry run: every input a build reads is checked before any work starts.

A ``_service`` with broken XML, a Dockerfile tag that is invalid once filled in, or a ``pkg=``
naming an RPM the spec does not build would otherwise fail only in step 2, after step 1 spent
its minutes. So before rpms or containers run, each product whose inputs are new to this check:

- its spec is parsed by ``rpmspec`` with the target's macros at the pinned version (the names
  of the binary RPMs it will build come out of that);
- each image directory is put through exactly what step 2 does to it (``stages.recipe``), once
  per architecture of the plan: its ``_service`` parsed and every service run with its own
  parser on a copy, against a meta env file holding the planned values and the planned RPMs;
  the resulting Dockerfile's magic comments, tags and FROM lines checked.

What passed is remembered in ``build/<target>/validated.json`` by a digest of the product's
inputs and the planned values, so a build with nothing changed checks nothing again.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from pipeline.config.project import Product
from pipeline.core.console import console
from pipeline.core.context import Context
from pipeline.core.digest import digest_of_text
from pipeline.core.errors import ToolError
from pipeline.core.plan import Plan, ProductPlan
from pipeline.core.state import locked_update
from pipeline.obs.conventions import META_KEYS, SERVICE_DIR
from pipeline.obs.spec import rpmspec_error
from pipeline.stages.image import facts_of
from pipeline.stages.recipe import prepare
from pipeline.tools import rpm

#: Bumped when the checks change: what an older check passed is checked again.
CHECKS = 2


def validate(ctx: Context, plan: Plan) -> None:
    """Check every product whose inputs this check has not seen pass; raise on the first
    problem (an ``InputError`` naming the file and line)."""
    path = ctx.build_dir / "validated.json"
    with locked_update(path) as passed:
        for planned in plan.products:
            key = _key(plan, planned)
            if passed.get(planned.name) == key:
                continue
            with console().status(f"checking {planned.name}'s spec and images …"):
                _check_product(ctx, plan, ctx.project.products[planned.name], planned)
            passed[planned.name] = key


def _key(plan: Plan, planned: ProductPlan) -> str:
    values = (CHECKS, planned.inputs, planned.release, plan.registry_path, plan.label_prefix)
    return digest_of_text(repr((values, plan.arches, sorted(plan.build_args.items()))))


def _check_product(ctx: Context, plan: Plan, product: Product, planned: ProductPlan) -> None:
    try:
        names = rpm.subpackages(product.spec, planned.defines.items())
    except ToolError as exc:
        raise rpmspec_error(exc, product.spec) from exc
    packages = {name: (planned.version, planned.release) for name in names}
    facts = facts_of(ctx.target.name, plan, planned)
    with tempfile.TemporaryDirectory(prefix="validate-", dir=ctx.build_dir) as tmp:
        sysroot = _planned_sysroot(Path(tmp), product, plan, planned)
        for image in planned.images:
            for arch in plan.arches:  # an #!ArchExclusiveLine makes each its own Dockerfile
                prepare(
                    product.image(image.name),
                    ctx.project.root,
                    Path(tmp) / "work" / image.name / arch,
                    facts,
                    sysroot,
                    Path(tmp) / "no-rpms-before-step-1",
                    arch,
                    planned_packages=packages,
                )


def _planned_sysroot(tmp: Path, product: Product, plan: Plan, planned: ProductPlan) -> Path:
    """A sysroot holding the meta env file step 1 will build, with the planned values (the
    rpms stage checks the real one holds exactly these)."""
    sysroot = tmp / "sysroot"
    values = (plan.registry, plan.tag_prefix, plan.label_prefix, planned.version, planned.release)
    path = sysroot / SERVICE_DIR.lstrip("/") / product.meta_service
    path.parent.mkdir(parents=True)
    lines = [f"{key}={value}" for key, value in zip(META_KEYS, values, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sysroot
