"""rpms (step 1): rpmbuild each product's spec once per architecture, then one repo per
architecture, then the meta env files.

Per product that is not up to date: take a release (recorded before the build, never reused:
one release for every architecture), and for each architecture of the plan lay out an rpmbuild
``_topdir`` under ``build/<target>/rpmbuild/<product>/<arch>/`` with Source0 (the packed sample
or the verified upstream tarball) and the package's other files, rewrite the spec's ``Release:``
line as OBS's build script does, and run ``rpmbuild --target <arch>`` with the plan's defines
(for an architecture that is not the host's, the spec cross-compiles: Go by ``GOARCH``, its C
parts with the target's gcc). A product that fails on one architecture fails as a whole. Then
createrepo_c over every product's RPMs of each architecture (``build/<target>/repo/<arch>/``),
and the meta env file is taken *from each architecture's built ``obs-service-*_containers_meta``
RPM* (unpacked into ``build/<target>/sysroot/<arch>/``, as installing it does on OBS) and
checked against the plan: the manifests and the env files cannot disagree, nor the arches.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.table import Table

from pipeline.config.project import Product
from pipeline.core.console import console, emit
from pipeline.core.context import Context
from pipeline.core.errors import RegistryError, RpmsError, ToolError
from pipeline.core.files import read_text
from pipeline.core.locks import build_lock
from pipeline.core.plan import Plan, ProductPlan, host_arch
from pipeline.core.release import ReleaseBook, render_release
from pipeline.core.report import ProductBuild, RpmRecord, RpmsSection
from pipeline.images.reference import parse_reference
from pipeline.images.registry import RegistryClient, RetryPolicy
from pipeline.obs.conventions import META_KEYS, SERVICE_DIR
from pipeline.obs.spec import failed_section, rpmspec_error, with_release
from pipeline.services.envfile import load_env
from pipeline.stages import build_roots
from pipeline.stages.fetch_sources import pack_sample, upstream_tarball
from pipeline.stages.plan import checked_plan
from pipeline.tools import rpm
from pipeline.tools.golang import build_cache, require_go
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
    _clear_other_arches(sysroot_dir(ctx), plan.arches)
    with recording() as timings:
        try:
            for planned in plan.products:
                results.append(_product(ctx, plan, planned, products))
            repos = [repo_dir(ctx) / arch / "repodata" for arch in plan.arches]
            if any(r.state == "built" for r in results) or not all(map(Path.is_dir, repos)):
                _make_repo(ctx, plan.arches, products)
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
                    tools_busy_seconds=timings.busy(),
                ),
            )
    return results


def repo_dir(ctx: Context) -> Path:
    return ctx.build_dir / "repo"


def sysroot_dir(ctx: Context) -> Path:
    """Where the meta RPMs are unpacked, as installing them lays them out: one tree per
    architecture (``sysroot/<arch>/``)."""
    return ctx.build_dir / "sysroot"


def _clear_other_arches(sysroot: Path, arches: tuple[str, ...]) -> None:
    """Only the plan's architectures' trees stay in the sysroot: a meta env file of another
    build (or of the one-tree layout before per-architecture builds) must not be read."""
    if sysroot.is_dir():
        for entry in sysroot.iterdir():
            if entry.name in arches:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


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
    release = build_product(ctx, plan, product, planned)
    tag = f"{planned.version}-{release}"
    records: list[RpmRecord] = []
    envs: dict[str, dict[str, str]] = {}
    for arch in plan.arches:
        rpms = sorted((topdir_of(ctx, name, arch) / "RPMS").rglob("*.rpm"))
        infos = [rpm.query(path) for path in rpms]
        envs[arch] = _meta_env(ctx, plan, product, planned, release, infos, arch)
        records += [_record(ctx, info, arch) for info in infos]
    seconds = time.monotonic() - started
    products[name] = ProductBuild(
        version=planned.version,
        release=release,
        tag=tag,
        inputs=planned.inputs,
        env=_same_everywhere(product, envs),
        source_date_epoch=planned.source_date_epoch,
        rpms=tuple(records),
        seconds=round(seconds, 2),
        arches=plan.arches,
    )
    ReleaseBook(ctx.build_dir).record_success(name, planned.inputs, release, planned.input_parts)
    where = ", ".join(plan.arches)
    console().print(f"[green]✓[/] {name} {tag}: {len(records)} RPMs ({where}) in {seconds:.0f}s")
    return Built(name, release, "built", seconds, len(records))


def topdir_of(ctx: Context, product: str, arch: str) -> Path:
    return ctx.build_dir / "rpmbuild" / product / arch


def build_product(ctx: Context, plan: Plan, product: Product, planned: ProductPlan) -> str:
    """Build one product's RPMs for every architecture of the plan; return the release they
    took (one for all: a product that fails on one architecture has no build)."""
    defines = list(planned.defines.items())
    # Pre-flight before a release is taken: a build that cannot start must not use one up.
    rootfs = _root_for(ctx, plan, product, defines) if ctx.target.build_root else None
    # On the host, Go and the cross compilers are checked here; a root has its own.
    go_dir = go_for(product.spec, defines) if rootfs is None else None
    cross = {arch: cross_for(arch) for arch in plan.arches} if rootfs is None else {}
    pinned = ctx.target.products[product.name]
    if not pinned.source.is_local:
        upstream_tarball(ctx, product, pinned)
    release = _take_release(ctx, plan, planned)
    spec_text = read_text(product.spec, "spec file")
    with_release_text = with_release(spec_text, product.spec, release)
    shutil.rmtree(ctx.build_dir / "rpmbuild" / product.name, ignore_errors=True)

    def build(arch: str) -> None:
        topdir = topdir_of(ctx, product.name, arch)
        try:
            if rootfs is None:
                spec = _lay_out(ctx, product, planned, topdir, with_release_text)
                env = _build_env(ctx, planned, topdir, go_dir)
                rpm.rpmbuild(
                    spec, topdir, topdir / "SOURCES", [*defines, *cross[arch]], env, target=arch
                )
            else:
                _build_in_root(ctx, rootfs, product, planned, arch, with_release_text, defines)
        except ToolError as exc:
            where = failed_section(product.spec, spec_text, exc.stderr_tail)
            raise RpmsError(f"{where} ({arch}): {exc.message}", hint=exc.hint) from exc

    # The architectures side by side (up to --jobs): a rebuild whose Go packages are all in the
    # cache is mostly linking and packing, one core each, so one architecture after the other
    # left a core idle (KubeVirt's samples after an image-only change: 19 s one after the other).
    arches = ", ".join(plan.arches)
    workers = max(1, min(ctx.options.jobs, len(plan.arches)))
    with (
        console().status(f"rpmbuild {product.name} {planned.version} for {arches} …"),
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rpmbuild") as pool,
    ):
        # The first architecture's failure is reported, once the pool has waited for every build.
        list(pool.map(build, plan.arches))
    return release


def _root_for(ctx: Context, plan: Plan, product: Product, defines: list[tuple[str, str]]) -> Path:
    """The product's build root: its BuildRequires mapped and checked (one line and no root
    when one is unmet), the root made or reused."""
    try:
        requires = rpm.buildrequires(product.spec, defines)
    except ToolError as exc:
        raise rpmspec_error(exc, product.spec) from exc
    wanted = build_roots.parse_requirements(requires, product.spec)
    root_plan = build_roots.plan_root(product.spec, wanted, ctx.target, plan.arches)
    with console().status(f"build root for {product.name} ({len(root_plan.packages)} packages) …"):
        return build_roots.make_root(product.spec, root_plan, ctx.target)


def product_roots(ctx: Context) -> dict[str, Path]:
    """The build root of every product of the target (made, or found made): product -> its
    root file system."""
    from pipeline.stages.plan import make_plan

    plan = make_plan(ctx)
    return {
        planned.name: _root_for(
            ctx, plan, ctx.project.products[planned.name], list(planned.defines.items())
        )
        for planned in plan.products
    }


def prepare_roots(ctx: Context) -> list[dict[str, str]]:
    """Make (or find) the build root of every product of the target, so that a build after it
    needs no network: ``fetch-sources`` runs this. One row per product."""
    return [
        {"product": name, "url": "", "state": f"build root {rootfs.parent.name}"}
        for name, rootfs in product_roots(ctx).items()
    ]


def _build_in_root(
    ctx: Context,
    rootfs: Path,
    product: Product,
    planned: ProductPlan,
    arch: str,
    spec_text: str,
    defines: list[tuple[str, str]],
) -> None:
    """rpmbuild for ``arch`` chrooted in ``rootfs``, its tree laid out inside the root, then
    moved to where the host-side stages read it (``topdir_of``)."""
    # Roots are shared by every project of this user: the directory names this build's.
    project = hashlib.sha256(str(ctx.build_dir).encode()).hexdigest()[:12]
    inside = Path(build_roots.BUILDS_IN_ROOT, project, product.name, arch)
    work = rootfs / inside
    shutil.rmtree(work, ignore_errors=True)
    spec = _lay_out(ctx, product, planned, work, spec_text)
    go = rootfs / build_roots.GO_IN_ROOT / "bin" / "go"
    env = build_roots.root_env(f"/{inside}", planned.source_date_epoch, go.exists())
    # The target's Go build cache, kept on the host as for a build without a root, mounted in.
    binds = []
    if go.exists():
        (rootfs / build_roots.GO_CACHE_IN_ROOT.lstrip("/")).mkdir(parents=True, exist_ok=True)
        binds.append((build_cache(ctx.target.name, go), build_roots.GO_CACHE_IN_ROOT))
    cross: list[tuple[str, str]] = []
    if arch != host_arch():
        cross = rpm.cross_defines(build_roots.cross_prefix_in(rootfs, arch))
    rpm.rpmbuild(
        spec, work, work / "SOURCES", [*defines, *cross], env, arch, root=rootfs, binds=binds
    )
    topdir = topdir_of(ctx, product.name, arch)
    shutil.rmtree(topdir, ignore_errors=True)
    topdir.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(work, topdir)  # a rename, or a copy where the cache is another file system


def _build_env(
    ctx: Context, planned: ProductPlan, topdir: Path, go_dir: Path | None
) -> dict[str, str]:
    env = {
        "SOURCE_DATE_EPOCH": str(planned.source_date_epoch),
        "GOPATH": str(topdir / "go"),
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
        "HOME": str(topdir),
    }
    if go_dir is not None:
        env["PATH"] = f"{go_dir}:{tool_env()['PATH']}"
        # One cache for every architecture: Go keys its entries by GOARCH.
        env["GOCACHE"] = str(build_cache(ctx.target.name, go_dir / "go"))
    return env


def cross_for(arch: str) -> list[tuple[str, str]]:
    """rpmbuild's defines for ``arch``: none on a host of that architecture; for another, the
    cross binutils rpm's strip scripts need (the spec finds the cross compiler itself)."""
    if arch == host_arch():
        return []
    prefix = rpm.cross_prefix(arch)
    if prefix is None:
        raise RpmsError(
            f"building {arch} RPMs on this {host_arch()} host needs the {arch} cross toolchain "
            f"({arch}-linux-gnu-gcc, -strip)",
            hint="run `nox -s setup-host` (it installs the cross compilers of the target's "
            "platforms), or build only this host's: --platforms host",
        )
    return rpm.cross_defines(prefix)


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
    return require_go(max(wanted), spec).parent


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
    arch: str,
) -> dict[str, str]:
    """The env file from ``arch``'s meta RPM, checked against what the plan says the tag
    must be."""
    meta = [info for info in infos if info.name == product.meta_package]
    if len(meta) != 1:
        raise RpmsError(
            f"{product.name}: the {arch} build made no {product.meta_package} RPM",
            hint=f"the spec must build the {product.meta_package} subpackage",
        )
    rpm.extract(meta[0].path, sysroot_dir(ctx) / arch)
    env_path = sysroot_dir(ctx) / arch / SERVICE_DIR.lstrip("/") / product.meta_service
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


def _same_everywhere(product: Product, envs: dict[str, dict[str, str]]) -> dict[str, str]:
    """The meta env file's values, which every architecture's meta RPM must hold alike: one
    release and one tag for all (each was checked against the plan; this says so plainly)."""
    (first, values), *others = envs.items()
    for arch, other in others:
        if other != values:
            raise RpmsError(
                f"{product.meta_package}: the env file of {arch} differs from that of {first}",
                hint="the spec must write the same values on every architecture",
            )
    return values


def _make_repo(ctx: Context, arches: tuple[str, ...], products: dict[str, ProductBuild]) -> Path:
    """One repo per architecture with every current RPM of the target built for it (what
    zypper sees in that architecture's image builds of step 2)."""
    repo = repo_dir(ctx)
    tmp = ctx.build_dir / "repo.new"
    shutil.rmtree(tmp, ignore_errors=True)
    revision = max(entry.source_date_epoch for entry in products.values())
    for arch in arches:
        (tmp / arch / "RPMS").mkdir(parents=True)
        for entry in products.values():
            for record in entry.rpms:
                if record.for_arch == arch:
                    source = ctx.project.root / record.path
                    (tmp / arch / "RPMS" / source.name).hardlink_to(source)
        rpm.createrepo(tmp / arch, revision)
    # Swap in one step so an image build never sees a half-written repo.
    old = ctx.build_dir / "repo.old"
    shutil.rmtree(old, ignore_errors=True)
    if repo.exists():
        repo.rename(old)
    tmp.rename(repo)
    shutil.rmtree(old, ignore_errors=True)
    return repo


def _record(ctx: Context, info: rpm.RpmInfo, arch: str) -> RpmRecord:
    return RpmRecord(
        nevra=info.nevra,
        name=info.name,
        path=str(info.path.relative_to(ctx.project.root)),
        sha256=info.sha256,
        files=info.files,
        for_arch=arch,
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
