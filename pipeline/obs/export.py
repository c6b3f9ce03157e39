"""obs-export: write one target as an OBS project tree that ``osc`` can check in.

``python -m pipeline obs-export --target T OUTDIR`` writes:

- ``OUTDIR/_config``: the target's prjconf, plus a ``Macros:`` block pinning each product's
  version macro and its version code (so the byte-identical spec builds the pinned version
  on OBS, as ``rpmbuild --define`` does here, and OBS's scheduler reads its version
  switches) and the ``Type: docker`` switch for a ``containerfile``
  repository, where OBS builds the image packages;
- one package per product, named like its spec package directory: every file of that directory
  byte-identical (spec, meta service sources, rpmlintrc) and Source0 - the tarball itself when it
  can be had here (the `local` target's packed sample, or an upstream download whose sha256
  equals the pin), otherwise a ``_service`` running OBS's standard ``download_url`` in mode
  ``manual``: never during a build, only by a maintainer who checks the file and commits it;
- one package per image shipped in the pinned version, named ``<image>-container`` as openSUSE
  and SLE name theirs, with its Dockerfile and ``_service`` byte-identical;
- ``OUTDIR/pipeline.yaml`` describing the exported layout, so ``plan`` (and a build) runs from
  the tree exactly as from this project, and ``OUTDIR/README`` with the ``osc`` commands.

No ``_multibuild`` and no ``_link``: every package holds one recipe built once per repository,
and all sources live in the project itself (see the README written into the tree).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from pipeline.config.project import (
    LocalBase,
    Product,
    Project,
    Target,
    TargetProduct,
    load_project,
)
from pipeline.core.console import console, emit
from pipeline.core.context import Context
from pipeline.core.digest import IGNORED_DIRS
from pipeline.core.errors import InputError
from pipeline.obs.prjconf import load_prjconf
from pipeline.obs.service import load_service
from pipeline.obs.spec import source_date_epoch, version_code, version_code_macro
from pipeline.services.runner import SERVICES
from pipeline.stages.fetch_sources import download_path, pack_sample, sha256_of

CONFIG = "_config"
SAMPLES = "_samples"
#: Where the exported tree keeps the build root's package map (for pipeline.yaml, not OBS,
#: whose build roots come from the project's repositories).
BUILD_ROOT = "_build_root"
#: Where the inputs of a target's own local base (``local_base: {dir, suite}``) are copied.
LOCAL_BASE = "_local_base"
CONTAINER_SUFFIX = "-container"
#: The one service in an exported tree that is not this project's: OBS's standard downloader.
DOWNLOAD_SERVICE = "download_url"
#: An OBS repository with this name builds the image packages (``Type: docker``).
CONTAINER_REPOSITORY = "containerfile"
HEADER = "# Written by `python -m pipeline obs-export --target {target}`; regenerate, don't edit.\n"


@dataclass(frozen=True)
class ExportedPackage:
    name: str
    #: "spec" (a product's RPMs) or "container" (one image).
    kind: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class Export:
    target: str
    outdir: str
    packages: tuple[ExportedPackage, ...]
    #: product -> how Source0 reaches OBS: "tarball" (in the package) or "download_url".
    sources: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def provided_services(project: Project) -> frozenset[str]:
    """The services this project implements: the generic buildtime ones and each product's meta
    service (shipped by the product's own meta RPM)."""
    return frozenset(SERVICES) | {p.meta_service for p in project.products.values()}


def spec_package_name(product: Product) -> str:
    return product.package_dir.name


def container_package_name(image_name: str) -> str:
    return image_name + CONTAINER_SUFFIX


# --- files ------------------------------------------------------------------------------------


def _copy_flat(source: Path, destination: Path) -> list[str]:
    """Copy the files of an OBS package directory, bytes and executable bit unchanged."""
    destination.mkdir(parents=True, exist_ok=True)
    names = []
    for path in sorted(source.iterdir()):
        if path.name == ".osc":
            continue
        if not path.is_file():
            raise InputError(
                path,
                "an OBS package holds files only, not directories",
                hint="move it out of the package directory, or into a tarball",
            )
        shutil.copyfile(path, destination / path.name)
        os.chmod(destination / path.name, 0o755 if os.access(path, os.X_OK) else 0o644)
        names.append(path.name)
    return names


def _prepare(outdir: Path, force: bool) -> None:
    if outdir.exists() and not outdir.is_dir():
        raise InputError(outdir, "is not a directory", hint="name a new or empty directory")
    if outdir.is_dir() and any(outdir.iterdir()):
        if not (force and (outdir / "pipeline.yaml").is_file() and (outdir / CONFIG).is_file()):
            raise InputError(
                outdir,
                "is not empty",
                hint="name a new or empty directory (--force replaces an earlier export)",
            )
        shutil.rmtree(outdir)
    outdir.mkdir(parents=True, exist_ok=True)


# --- _config ----------------------------------------------------------------------------------


def config_text(project: Project, target: Target) -> str:
    """The target's prjconf, plus the pinned versions and the container repository's type."""
    prjconf = load_prjconf(target.prjconf)
    text = target.prjconf.read_text(encoding="utf-8")
    pins = []
    for name, product in project.products.items():
        version = target.products[name].version
        macro = prjconf.macros.get(product.version_macro)
        if macro is None:
            pins.append(f"%{product.version_macro} {version}")
            # The spec's version switches compare this number: OBS's scheduler cannot compute
            # it from the version (the spec does that in Lua, for rpm only).
            pins.append(f"%{version_code_macro(product.version_macro)} {version_code(version)}")
        elif macro.value != version:
            raise InputError(
                target.prjconf,
                f"%{product.version_macro} is {macro.value!r} here but pipeline.yaml pins "
                f"{name} {version} for target {target.name!r}",
                hint="remove the macro from the prjconf: pipeline.yaml pins the versions",
            )
    if not text.endswith("\n"):
        text += "\n"
    text += (
        "\n# Added by obs-export: the versions pipeline.yaml pins for this target, so the spec\n"
        "# builds them on OBS as `rpmbuild --define` does in the pipeline.\n"
    )
    if pins:
        text += "Macros:\n" + "".join(pin + "\n" for pin in pins) + ":Macros\n"
    text += (
        f"\n# The image packages build in the repository {CONTAINER_REPOSITORY!r} (see README).\n"
        f'%if "%{{?_repository}}" == "{CONTAINER_REPOSITORY}"\n'
        "Type: docker\n"
        "%endif\n"
    )
    return text


# --- packages ---------------------------------------------------------------------------------


def _download_service(pinned: TargetProduct, filename: str) -> str:
    url = pinned.source.url or ""
    check = (
        f"sha256 must be {pinned.source.sha256}"
        if pinned.source.sha256
        else "no sha256 is pinned yet: review the file, then pin it in pipeline.yaml"
    )
    return (
        "<services>\n"
        "  <!-- OBS's standard download_url service, not one of this project's. Mode manual:\n"
        "       run `osc service manualrun`, check the file, then commit it; OBS never\n"
        f"       downloads it during a build.\n       {check} -->\n"
        f'  <service name="{DOWNLOAD_SERVICE}" mode="manual">\n'
        f'    <param name="url">{escape(url)}</param>\n'
        f'    <param name="filename">{escape(filename)}</param>\n'
        "  </service>\n"
        "</services>\n"
    )


def _source0(ctx: Context, product: Product, pinned: TargetProduct, package: Path) -> str:
    """Put Source0 into the package when it can be had here; else a manual download service.
    Returns how the source reaches OBS."""
    filename = product.tarball.format(version=pinned.version)
    if pinned.source.directory is not None:
        epoch = source_date_epoch(product.spec.read_text(encoding="utf-8"), product.spec)
        # Same packer and mtime as the rpms stage: the tarball OBS builds is the one built here.
        pack_sample(pinned.source.directory, package / filename, filename[: -len(".tar.gz")], epoch)
        return "tarball"
    downloaded = download_path(ctx, product, pinned)
    pin = pinned.source.sha256
    if pin and downloaded.is_file() and sha256_of(downloaded) == pin:
        shutil.copyfile(downloaded, package / filename)
        return "tarball"
    service = package / "_service"
    if service.exists():
        raise InputError(
            product.package_dir / "_service",
            "the spec package has its own _service; obs-export would add the tarball download",
            hint=f"run `python -m pipeline fetch-sources --target {ctx.target.name}` first, so "
            "the tarball goes into the package instead",
        )
    service.write_text(_download_service(pinned, filename), encoding="utf-8")
    return DOWNLOAD_SERVICE


def _check_services(outdir: Path, allowed: frozenset[str]) -> None:
    """Every exported _service may name only services this project provides (and the one
    standard downloader, in mode manual)."""
    for path in sorted(outdir.glob("*/_service")):
        for service in load_service(path).services:
            if service.name == DOWNLOAD_SERVICE and service.mode == "manual":
                continue
            if service.name not in allowed:
                raise InputError(
                    path,
                    f"names service {service.name!r}, which this project does not provide",
                    hint="provided: " + ", ".join(sorted(allowed)),
                )


# --- pipeline.yaml and README -----------------------------------------------------------------


def _q(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML scalar, whatever it holds


def _pipeline_yaml(project: Project, target: Target, samples: dict[str, str]) -> str:
    lines = [
        HEADER.format(target=target.name).rstrip("\n"),
        "# The same project as the original pipeline.yaml, for the layout of this OBS tree.",
        "products:",
    ]
    for name, product in project.products.items():
        version = target.products[name].version
        lines += [
            f"  {_q(name)}:",
            f"    package: {_q(spec_package_name(product))}",
            f"    spec: {_q(product.spec.name)}",
            f"    version_macro: {_q(product.version_macro)}",
            f"    tarball: {_q(product.tarball)}",
            f"    meta_service: {_q(product.meta_service)}",
            f"    manifests_package: {_q(product.manifests_package)}",
            f"    manifests_dir: {_q(product.manifests_dir)}",
            f"    operator_image: {_q(product.operator_image)}",
            "    images:",
        ]
        for image in product.images_for(version):
            lines.append(f"      - name: {_q(image.name)}")
            lines.append(f"        dir: {_q(container_package_name(image.name))}")
            if image.since:
                lines.append(f"        since: {_q(image.since)}")
            if image.until:
                lines.append(f"        until: {_q(image.until)}")
    return "\n".join([*lines, *_target_lines(target, samples)]) + "\n"


def _local_base_value(base: LocalBase | None) -> str:
    if base is None or base == LocalBase():
        return "true" if base else "false"
    return f"{{dir: {_q(LOCAL_BASE)}, suite: {_q(base.suite)}}}"


def _target_lines(target: Target, samples: dict[str, str]) -> list[str]:
    lines = [
        "targets:",
        f"  {_q(target.name)}:",
        f"    prjconf: {_q(CONFIG)}",
        f"    registry: {_q(target.registry)}",
        f"    platforms: [{', '.join(_q(p) for p in target.platforms)}]",
        f"    pull: {_q(target.pull)}",
        f"    local_base: {_local_base_value(target.local_base)}",
    ]
    if target.build_root is not None:
        root = target.build_root
        packages = f"{BUILD_ROOT}/{root.packages_map.name}"
        lines.append(
            f"    build_root: {{suite: {_q(root.suite)}, packages: {_q(packages)}, "
            f"mirror: {_q(root.mirror)}}}"
        )
    lines += ["    products:"]
    for name, pinned in target.products.items():
        lines += [f"      {_q(name)}:", f"        version: {_q(pinned.version)}", "        source:"]
        if pinned.source.directory is not None:
            lines.append(f"          dir: {_q(samples[name])}")
        else:
            lines.append(f"          url: {_q(pinned.source.url or '')}")
            if pinned.source.sha256:
                lines.append(f"          sha256: {_q(pinned.source.sha256)}")
    return lines


def _readme(
    project: Project, target: Target, packages: list[ExportedPackage], sources: dict[str, str]
) -> str:
    spec_packages = [p.name for p in packages if p.kind == "spec"]
    image_packages = [p.name for p in packages if p.kind == "container"]
    downloads = [
        spec_package_name(project.products[name])
        for name, how in sources.items()
        if how == DOWNLOAD_SERVICE
    ]
    title = f"OBS project tree of the `{target.name}` target"
    lines = [
        title,
        "=" * len(title),
        "",
        HEADER.format(target=target.name).lstrip("# ").rstrip("\n"),
        "",
        "Packages",
        f"  RPMs (one spec each):  {' '.join(spec_packages)}",
        f"  images (a Dockerfile each, repository {CONTAINER_REPOSITORY!r}):",
        *(f"    {name}" for name in image_packages),
        "",
        *_osc_steps(target, spec_packages + image_packages, downloads),
        "",
        *_readme_notes(target),
    ]
    return "\n".join(lines) + "\n"


def _osc_steps(target: Target, package_names: list[str], downloads: list[str]) -> list[str]:
    """The README's numbered steps that check the tree in with osc."""
    lines = [
        "Check it in with osc (PROJECT is your OBS project, e.g. home:you:kubevirt):",
        "",
        "  1. Repositories, in the project meta (osc meta prj -e PROJECT):",
        '     - one for the RPMs, e.g. <repository name="openSUSE_Tumbleweed"> with a path to',
        "       the distribution (openSUSE:Factory snapshot) and your architectures;",
        f"     - one named {CONTAINER_REPOSITORY!r} with a path to PROJECT's RPM repository (the",
        "       images install the RPMs built there: #!UseOBSRepositories) and to the project",
        "       holding the base image the prjconf's BuildFlags: dockerarg: line names.",
        "  2. The project config:   osc meta prjconf PROJECT -F _config",
        "  3. The packages (OUTDIR is this directory):",
        "       osc checkout PROJECT && cd PROJECT",
        "       for p in " + " ".join(package_names) + "; do",
        '         osc mkpac "$p" && cp -p "$OUTDIR/$p"/* "$p"/ && osc add "$p"/*',
        "       done",
    ]
    if downloads:
        lines += [
            "  4. The tarball of " + ", ".join(downloads) + " is not in the package: its _service",
            "     runs OBS's standard download_url in mode manual. In the package directory run",
            "       osc service manualrun && sha256sum *.tar.gz",
            "     compare with the sha256 pinned in pipeline.yaml (and in the _service comment),",
            "     then osc add the tarball.",
        ]
    lines.append(f"  {5 if downloads else 4}. osc commit -m 'obs-export of target {target.name}'")
    return lines


def _readme_notes(target: Target) -> list[str]:
    """The README's explanations after the steps: the layout, the services, pipeline.yaml."""
    lines = [
        "Why no _multibuild and no _link: every package holds exactly one recipe (one spec or",
        "one Dockerfile) built once per repository, so there are no flavours to multibuild; and",
        "every source lives in this project, so nothing is linked from another one. A _link or",
        "_aggregate is only needed to build the images in a separate project from the RPMs.",
        "",
        "The _service files of the images name only the buildtime services this pipeline also",
        "runs: replace_using_env, kiwi_metainfo_helper, docker_label_helper and the product's",
        "<product>_containers_meta, which the product's own obs-service-*_containers_meta RPM",
        "(built from the spec here) installs into the image build.",
        "",
        "pipeline.yaml describes this tree for the pipeline itself:",
        f"  python -m pipeline plan --project pipeline.yaml --target {target.name}",
    ]
    if target.local_base:
        lines += [
            "",
            "This target is for trying an export offline: its base image is built by the",
            "pipeline and its registry is a loopback one, neither of which OBS has. Export a",
            "real target (tumbleweed, sle15-sp3, ...) for OBS. _samples/ holds the sample",
            "trees the tarballs were packed from, _build_root/ the map of the Debian root its",
            "RPMs are built in, and _local_base/ (when there is one) the inputs of its own",
            "base image, all for pipeline.yaml; none is a package.",
        ]
    return lines


# --- the export -------------------------------------------------------------------------------


def export(ctx: Context, outdir: Path) -> Export:
    project, target = ctx.project, ctx.target
    _prepare(outdir, ctx.options.force)
    (outdir / CONFIG).write_text(config_text(project, target), encoding="utf-8")
    packages: list[ExportedPackage] = []
    sources: dict[str, str] = {}
    samples: dict[str, str] = {}
    taken: set[str] = set()

    def claim(name: str, where: Path) -> Path:
        if name in taken:
            raise InputError(where, f"two OBS packages would be called {name!r}")
        taken.add(name)
        return outdir / name

    for name, product in project.products.items():
        pinned = target.products[name]
        package = claim(spec_package_name(product), product.package_dir)
        _copy_flat(product.package_dir, package)
        sources[name] = _source0(ctx, product, pinned, package)
        packages.append(ExportedPackage(package.name, "spec", tuple(sorted(os.listdir(package)))))
        if pinned.source.directory is not None:
            sample = Path(SAMPLES) / pinned.source.directory.name
            shutil.copytree(
                pinned.source.directory,
                outdir / sample,
                symlinks=True,
                ignore=shutil.ignore_patterns(*IGNORED_DIRS),
            )
            samples[name] = sample.as_posix()
    for name, product in project.products.items():
        for image in product.images_for(target.products[name].version):
            package = claim(container_package_name(image.name), image.directory)
            files = _copy_flat(image.directory, package)
            packages.append(ExportedPackage(package.name, "container", tuple(files)))
    _check_services(outdir, provided_services(project))
    if target.build_root is not None:
        (outdir / BUILD_ROOT).mkdir()
        shutil.copy2(target.build_root.packages_map, outdir / BUILD_ROOT)
    if target.local_base not in (None, LocalBase()):
        shutil.copytree(target.local_base.inputs_dir, outdir / LOCAL_BASE)
    (outdir / "pipeline.yaml").write_text(
        _pipeline_yaml(project, target, samples), encoding="utf-8"
    )
    (outdir / "README").write_text(_readme(project, target, packages, sources), encoding="utf-8")
    # The tree must plan like the original: a pipeline.yaml that does not load is a bug here.
    load_project(outdir / "pipeline.yaml").target(target.name)
    return Export(target.name, str(outdir), tuple(packages), sources)


def main(ctx: Context) -> int:
    if len(ctx.options.extra) != 1:
        raise InputError(
            None,
            "obs-export needs one argument: the output directory",
            hint=f"python -m pipeline obs-export --target {ctx.target.name} OUTDIR",
        )
    result = export(ctx, Path(ctx.options.extra[0]).absolute())
    out = console()
    for package in result.packages:
        out.print(f"{package.kind:9} {package.name}: {', '.join(package.files)}")
    for product, how in result.sources.items():
        out.print(f"Source0 of {product}: {how}")
    out.print(f"OBS project tree of target {result.target} in {result.outdir} (see its README)")
    emit(ctx.options, result.to_json())
    return 0
