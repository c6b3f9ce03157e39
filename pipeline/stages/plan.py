"""plan: resolve a target completely before any work, and show it.

Everything later stages need is decided here once, into a ``Plan`` (``pipeline.core.plan``): the
prjconf's macros and build args, the base image, the registry path, each product's version,
inputs digest, release and so its tag, its rpmbuild defines and build time, the images with their
full references, and what is already up to date. ``plan --json`` prints it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from rich.table import Table

from pipeline.config.project import Product
from pipeline.core.console import console, emit
from pipeline.core.context import Context
from pipeline.core.digest import combined_digest, digest_of_text, tree_digest
from pipeline.core.errors import InputError, Location
from pipeline.core.files import read_text
from pipeline.core.plan import ImagePlan, Plan, ProductPlan
from pipeline.core.release import RELEASE_RE, LastBuild, ReleaseBook, ci_count, render_release
from pipeline.images.reference import parse_reference
from pipeline.obs.dockerfile import load_dockerfile
from pipeline.obs.prjconf import DEFAULT_RELEASE, Prjconf, load_prjconf
from pipeline.obs.spec import source_date_epoch
from pipeline.stages import local_base

#: The prjconf macros the spec files read (see specs/*/…spec); the pipeline reads the same ones.
REGISTRY_MACRO = "container_registry"
TAGPREFIX_MACRO = "container_tagprefix"
LABELPREFIX_MACRO = "container_labelprefix"
LABEL_PREFIX = re.compile(r"[a-z0-9]+(?:[.-][a-z0-9]+)*")


def _macro(prjconf: Prjconf, name: str) -> str:
    value = prjconf.macro(name)
    if not value:
        raise InputError(
            prjconf.path,
            f"the prjconf does not set %{name}",
            hint=f"add `%{name} <value>` inside its Macros: … :Macros block",
        )
    return value


def registry_of(ctx: Context, prjconf: Prjconf) -> str:
    """The registry the manifests name and images are pushed to; both must agree."""
    macro = _macro(prjconf, REGISTRY_MACRO)
    if ctx.options.registry:
        if not _is_registry(ctx.options.registry):
            raise InputError(
                None,
                f"--registry {ctx.options.registry!r} is not a registry",
                hint="give HOST or HOST:PORT, e.g. 127.0.0.1:5000",
            )
        return ctx.options.registry
    if macro != ctx.target.registry:
        line = prjconf.macros[REGISTRY_MACRO].line
        raise InputError(
            Location(prjconf.path, line),
            f"%{REGISTRY_MACRO} is {macro!r} but pipeline.yaml publishes target "
            f"{ctx.target.name!r} to {ctx.target.registry!r}",
            hint="make them equal: manifests must name the registry the images are pushed to",
        )
    return macro


def _is_registry(text: str) -> bool:
    try:
        return parse_reference(f"{text}/x:y").registry == text
    except ValueError:
        return False


def check_coordinates(prjconf: Prjconf, registry: str, tag_prefix: str, label_prefix: str) -> None:
    """The values that go into rpmbuild's --defines, the spec's shell, the manifests and the
    image tags: a registry path and a label prefix, nothing that could be shell or a path."""
    if not _is_registry(registry):
        raise InputError(
            Location(prjconf.path, prjconf.macros[REGISTRY_MACRO].line),
            f"%{REGISTRY_MACRO} {registry!r} is not a registry",
            hint="HOST or HOST:PORT, the same as the target's registry in pipeline.yaml",
        )
    try:
        parse_reference(f"{registry}/{tag_prefix}/x:y")
        valid_prefix = True
    except ValueError:
        valid_prefix = False
    for name, ok in (
        (TAGPREFIX_MACRO, valid_prefix and not tag_prefix.startswith("/")),
        (LABELPREFIX_MACRO, bool(LABEL_PREFIX.fullmatch(label_prefix))),
    ):
        if not ok:
            raise InputError(
                Location(prjconf.path, prjconf.macros[name].line),
                f"%{name} {prjconf.macro(name)!r} is not valid",
                hint="a tag prefix is a lower-case registry path (a/b), a label prefix a "
                "reverse domain name (org.example.kubevirt)",
            )


@dataclass(frozen=True)
class Inputs:
    """Everything a product's release is made from, each part digested on its own (so plan can
    say which changed), and the paths whose commits count as CI_CNT."""

    paths: tuple[Path, ...]
    parts: dict[str, str]

    @property
    def digest(self) -> str:
        return combined_digest(self.parts)


def product_inputs(ctx: Context, product: Product, registry: str) -> Inputs:
    """A product's release covers its spec package, its sources, the target's prjconf, every
    image directory it ships, the platforms it is built for, the build root's suite and package
    map (when the target has one) and, for the `local` target, the base its images are built
    on: a change to any of them is a new release of the whole set.
    (A unique tag never moves, so a set for one architecture and one for two are two
    releases.)"""
    pinned = ctx.target.products[product.name]
    root = ctx.project.root
    parts = {
        "version": digest_of_text(f"{pinned.version} {registry}"),
        "platforms": digest_of_text(" ".join(ctx.platforms)),
        "spec package": tree_digest([product.package_dir], root),
        "prjconf": tree_digest([ctx.target.prjconf], root),
    }
    paths = [product.package_dir, ctx.target.prjconf]
    if pinned.source.directory is not None:
        parts["sources"] = tree_digest([pinned.source.directory], root)
        paths.append(pinned.source.directory)
    else:
        parts["sources"] = digest_of_text(f"{pinned.source.url}#{pinned.source.sha256}")
    for image in product.images_for(pinned.version):
        parts[f"image {image.name}"] = tree_digest([image.directory], root)
        paths.append(image.directory)
    if ctx.target.local_base is not None:
        parts["base"] = digest_of_text(local_base.inputs_hash(ctx.target.local_base))
        paths.append(ctx.target.local_base.inputs_dir)
    if ctx.target.build_root is not None:  # another suite or map builds other binaries
        built_in = ctx.target.build_root
        packages = tree_digest([built_in.packages_map], root)
        parts["build root"] = digest_of_text(f"{built_in.suite} {built_in.mirror} {packages}")
        paths.append(built_in.packages_map)
    return Inputs(tuple(paths), parts)


def changed_inputs(parts: dict[str, str], last: LastBuild | None) -> tuple[str, ...]:
    """The names of the parts that differ from the last successful build's."""
    if last is None:
        return ("first build",)
    if not last.parts:  # recorded before parts were: only the whole is known
        return () if combined_digest(parts) == last.inputs else ("inputs",)
    names = sorted(set(parts) | set(last.parts))
    return tuple(name for name in names if parts.get(name) != last.parts.get(name))


@dataclass(frozen=True)
class Coordinates:
    """Where the target's images go, from its prjconf (checked against pipeline.yaml)."""

    registry: str
    tag_prefix: str
    label_prefix: str

    @property
    def registry_path(self) -> str:
        return f"{self.registry}/{self.tag_prefix}"


def coordinates(ctx: Context, prjconf: Prjconf) -> Coordinates:
    found = Coordinates(
        registry_of(ctx, prjconf),
        _macro(prjconf, TAGPREFIX_MACRO),
        _macro(prjconf, LABELPREFIX_MACRO),
    )
    check_coordinates(prjconf, found.registry, found.tag_prefix, found.label_prefix)
    return found


def _check_release_option(ctx: Context) -> None:
    if ctx.options.release and not RELEASE_RE.match(ctx.options.release):
        raise InputError(
            None,
            f"--release {ctx.options.release!r} is not a release",
            hint="use digits and dots, e.g. 4.2",
        )


def _image_plans(
    ctx: Context, product: Product, version: str, prefix: str, tag: str, args: dict[str, str]
) -> tuple[ImagePlan, ...]:
    images = []
    for image in product.images_for(version):
        dockerfile = load_dockerfile(image.directory / "Dockerfile")
        images.append(
            ImagePlan(
                name=image.name,
                directory=str(image.directory.relative_to(ctx.project.root)),
                reference=f"{prefix}/{image.name}:{tag}",
                # The final stage's image, a stage name followed back to it (as OBS does).
                base_image=dockerfile.base_image(args) or "scratch",
            )
        )
    return tuple(images)


def _release(
    ctx: Context, book: ReleaseBook, name: str, inputs: Inputs, ci_cnt: int, template: str
) -> tuple[str, str, tuple[str, ...]]:
    """(state, release, changed inputs) of a product: its last release when nothing changed."""
    last = book.last_success(name)
    changed = changed_inputs(inputs.parts, last)
    if ctx.options.release:
        return "override", ctx.options.release, changed
    if last is not None and not changed and not ctx.options.force:
        return "up to date", last.release, ()
    render = partial(render_release, template)
    return "next", book.next_release(name, ci_cnt, render), changed or ("--force",)


def _rpm_defines(product: Product, version: str, prjconf: Prjconf, registry: str) -> dict[str, str]:
    """The version the one spec builds, the prjconf's Macros: as OBS puts them into the build
    root, and the registry the manifests name: the one images are pushed to (plan checked the
    prjconf agrees with pipeline.yaml; --registry overrides both)."""
    defines = {product.version_macro: version}
    defines.update((name, value) for name, value in prjconf.rpm_defines() if name != REGISTRY_MACRO)
    defines[REGISTRY_MACRO] = registry
    return defines


def _product_plan(
    ctx: Context,
    product: Product,
    prjconf: Prjconf,
    where: Coordinates,
    book: ReleaseBook,
    template: str,
) -> ProductPlan:
    pinned = ctx.target.products[product.name]
    inputs = product_inputs(ctx, product, where.registry)
    ci_cnt = ci_count(ctx.project.root, inputs.paths)
    state, release, changed = _release(ctx, book, product.name, inputs, ci_cnt, template)
    tag = f"{pinned.version}-{release}"
    directory = pinned.source.directory
    spec_text = read_text(product.spec, "spec file")
    return ProductPlan(
        name=product.name,
        version=pinned.version,
        source=str(directory.relative_to(ctx.project.root))
        if directory
        else str(pinned.source.url),
        ci_cnt=ci_cnt,
        inputs=inputs.digest,
        input_parts=inputs.parts,
        changed=changed,
        release_state=state,
        release=release,
        tag=tag,
        up_to_date=state == "up to date",
        source_date_epoch=source_date_epoch(spec_text, product.spec),
        defines=_rpm_defines(product, pinned.version, prjconf, where.registry),
        images=_image_plans(
            ctx, product, pinned.version, where.registry_path, tag, dict(prjconf.docker_args)
        ),
    )


def make_plan(ctx: Context) -> Plan:
    """Resolve the context's target; reads state, changes nothing."""
    prjconf = load_prjconf(ctx.target.prjconf)
    where = coordinates(ctx, prjconf)
    _check_release_option(ctx)
    template = prjconf.release_template or DEFAULT_RELEASE
    book = ReleaseBook(ctx.build_dir)
    products = tuple(
        _product_plan(ctx, product, prjconf, where, book, template)
        for product in ctx.project.products.values()
    )
    return Plan(
        target=ctx.target.name,
        prjconf=str(ctx.target.prjconf.relative_to(ctx.project.root)),
        build_args=dict(prjconf.docker_args),
        base_images=tuple(sorted({image.base_image for p in products for image in p.images})),
        registry=where.registry,
        tag_prefix=where.tag_prefix,
        label_prefix=where.label_prefix,
        registry_path=where.registry_path,
        platforms=ctx.platforms,
        release_template=template,
        os_version=prjconf.macro("sle_version"),
        products=products,
    )


def checked_plan(ctx: Context) -> Plan:
    """The plan, and every input it names checked by a dry run (``stages.validate``): what
    every verb that builds starts with, so nothing that could be known fails after step 1."""
    from pipeline.stages.validate import validate  # it needs the image stage: only when used

    plan = make_plan(ctx)
    validate(ctx, plan)
    return plan


def show(plan: Plan) -> None:
    out = console()
    out.print(f"[bold]target[/] {plan.target}  prjconf {plan.prjconf}")
    out.print(f"base image {', '.join(plan.base_images)}  platforms {', '.join(plan.platforms)}")
    out.print(f"registry path {plan.registry_path}  label prefix {plan.label_prefix}")
    table = Table(title_justify="left")
    columns = ("product", "version", "release", "state", "changed", "image")
    for column in columns:
        table.add_column(column, overflow="fold")
    for product in plan.products:
        state = "[green]up to date[/]" if product.up_to_date else product.release_state
        first = (product.name, product.version, product.release, state, ", ".join(product.changed))
        for index, image in enumerate(product.images):
            row = first if index == 0 else ("",) * len(first)
            table.add_row(*row, image.reference.removeprefix(plan.registry_path + "/"))
    out.print(table)
    out.print(
        "A release covers a product's spec package, sources, prjconf, every image directory "
        "and the base: any change is a new release of the whole set."
    )


def main(ctx: Context) -> int:
    plan = checked_plan(ctx)
    if ctx.options.json is None:
        show(plan)
    emit(ctx.options, plan.to_json())
    return 0
