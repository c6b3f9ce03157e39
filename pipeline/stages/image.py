"""One image of step 2, built by buildah from its OBS-style Dockerfile, once per architecture.

An image is built under its product's release (its directory is one of the product's inputs, so
a changed Dockerfile is a new release of the whole set), never again under a release it was
published with. The steps, in order: skip it when its product's inputs and release are what the
last build recorded (``up_to_date``); then for each architecture: check the meta env file is
the one step 1 extracted for it; make its recipe (``stages.recipe``: the directory copied to
``build/<target>/work/<image>/<arch>/``, its buildtime services run there, tags and magic
comments checked); ``buildah build --platform`` it (emulated when it is not the host's) with the
plan's build args, ``--timestamp`` from SOURCE_DATE_EPOCH, and that architecture's step-1 repo
exposed the way ``#!UseOBSRepositories`` does on OBS (the repo and a repo file bind-mounted
read-only for the build, so nothing of them stays in the image); record what went into it.
Each architecture's image is named ``<reference>-<arch>`` in local storage; its ``#!BuildTag``
tags name the index of all of them, which publish makes (``assemble`` records the set).
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.config.project import Image, Product
from pipeline.core.context import Context
from pipeline.core.digest import digest_of_text
from pipeline.core.errors import InputError, Location, ToolError
from pipeline.core.plan import Plan, ProductPlan, oci_arch
from pipeline.core.report import ArchImage, ImageBuild, ProductBuild, RpmsSection
from pipeline.obs.conventions import SERVICE_DIR
from pipeline.obs.dockerfile_lines import step_source_line
from pipeline.services.envfile import load_env
from pipeline.stages.recipe import Facts, Recipe, prepare
from pipeline.tools import buildah

#: Where the step-1 repo and the directory with its repo file appear inside a build. Both exist
#: in every base image: buildah leaves a mount point it had to create behind in the layer.
#: Mounting over repos.d hides the base's own repos, as a build with #!UseOBSRepositories on OBS
#: sees only the repositories of its project.
REPO_MOUNT = "/mnt"
REPOS_D_MOUNT = "/etc/zypp/repos.d"
FAILED_STEP = re.compile(r'building at STEP "(.+?)": (exit status \d+|.+)$', re.MULTILINE)
TAG_HINT = "tag %%TAGPREFIX%%/<image>:%%PKG_VERSION%%-%%PKG_RELEASE%%"


def repos_d(repo_dir: Path) -> Path:
    """A repos.d holding one zypper repo file: the step-1 repo, as OBS's build root has it."""
    directory = repo_dir.parent / "repos.d"
    directory.mkdir(exist_ok=True)
    (directory / "obs-pipeline.repo").write_text(
        "[obs-pipeline]\n"
        "name=RPMs of this build (step 1)\n"
        f"baseurl=file://{REPO_MOUNT}\n"
        "enabled=1\n"
        "autorefresh=1\n"
        "gpgcheck=0\n"
        "type=rpm-md\n"
        "keeppackages=0\n"
    )
    return directory


def installed_rpms(image_id: str) -> list[str]:
    """The NEVRAs in the image's rpm database. Every image here holds rpm itself, so an empty
    answer is never true (``buildah.run_in`` asks again when a run printed nothing), and an
    image whose database still reads empty is an error, never an image recorded without its
    RPMs."""
    argv = ["rpm", "-qa", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n"]
    done = buildah.run_in(image_id, argv, prints=True)
    found = sorted(line for line in done.stdout.splitlines() if line)
    if found:
        return found
    raise ToolError(
        f"rpm -qa in image {image_id[:12]} printed nothing, {buildah.RUN_TRIES} times",
        hint="re-run the build; if it persists, check the image's rpm database",
    )


def layers(info: dict[str, Any]) -> dict[str, int]:
    """Layer digest -> size, from the manifest buildah keeps for an image."""
    manifest = json.loads(info.get("Manifest") or "{}")
    return {layer["digest"]: int(layer.get("size", 0)) for layer in manifest.get("layers", [])}


def facts_of(target: str, plan: Plan, entry: ProductBuild | ProductPlan) -> Facts:
    return Facts(
        target=target,
        registry=plan.registry,
        registry_path=plan.registry_path,
        version=entry.version,
        release=entry.release,
        tag=entry.tag,
        source_date_epoch=entry.source_date_epoch,
        os_version=plan.os_version,
    )


@dataclass(frozen=True)
class ArchBuild:
    """One architecture's build of an image; ``assemble`` makes the image's record of them."""

    arch: str
    #: None: excluded (``#!ExclusiveArch``/``#!ExcludeArch``) or failed (``error``).
    image: ArchImage | None = None
    tags: tuple[str, ...] = ()
    reference: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    error: str = ""
    input_error: bool = False


def image_inputs(entry: ProductBuild) -> str:
    # The base's inputs are part of the product's (local target); its image id is not: a
    # base rebuilt from the same inputs must not rebuild (and so move) published images.
    return digest_of_text(f"{entry.inputs}:{entry.release}")


def up_to_date(old: ImageBuild | None, inputs: str, stored: set[str]) -> ImageBuild | None:
    """The last build of an image when it was of these inputs and is still at hand: every
    architecture's image in the store, or the set published (publish then needs nothing of
    it). ``--force`` does not rebuild an image: a rebuild under the same release would move its
    tag; ``build --force`` takes a new release for the product, and so rebuilds its images."""
    if old is None or not old.usable or old.inputs != inputs:
        return None
    in_store = all(arch.id in stored for arch in old.arches.values())
    return replace(old, state="up to date", seconds=0.0) if in_store or old.digest else None


class ImageBuilder:
    """Builds the images of one target, one architecture at a time; shared by the worker
    threads. ``bases``: rpm arch -> the id of that architecture's base; ``build_args``: the
    plan's, with a locally built base pinned to this build's (see ``containers``)."""

    def __init__(
        self,
        ctx: Context,
        plan: Plan,
        rpms: RpmsSection,
        bases: dict[str, str],
        build_args: dict[str, str],
    ) -> None:
        self.ctx = ctx
        self.plan = plan
        self.rpms = rpms
        self.bases = bases
        self.build_args = build_args
        self._base_contents: dict[str, tuple[set[str], set[str]]] = {}
        self.repo = ctx.project.root / rpms.repo
        self.repos_d = repos_d(self.repo)
        self.sysroot = ctx.project.root / rpms.sysroot
        self._lock = threading.Lock()

    def build(self, product: Product, image: Image, arch: str) -> ArchBuild:
        """Build ``image`` for ``arch`` under its product's release."""
        entry = self.rpms.products[product.name]
        started = time.monotonic()
        self._check_meta(product, entry, arch)
        workdir = self.ctx.build_dir / "work" / image.name / arch
        recipe = prepare(
            image,
            self.ctx.project.root,
            workdir,
            facts_of(self.ctx.target.name, self.plan, entry),
            self.sysroot / arch,
            self.repo / arch / "RPMS",
            arch,
        )
        if recipe.excluded:
            return ArchBuild(arch)
        name = f"{recipe.reference}-{arch}"
        image_id = self._buildah(recipe, image, entry, workdir, arch, name)
        return self._record(arch, name, image_id, recipe, time.monotonic() - started)

    def _check_meta(self, product: Product, entry: ProductBuild, arch: str) -> None:
        """The meta env file the services read is the one step 1 extracted and checked against
        the plan (its values are in the report): a file changed since is refused, not used."""
        path = self.sysroot / arch / SERVICE_DIR.lstrip("/") / product.meta_service
        meta = load_env(path)
        values = meta.as_dict()
        for key, recorded in sorted(entry.env.items()):
            if values.get(key) != recorded:
                raise InputError(
                    Location(path, meta.line_of(key)),
                    f"{key}={values.get(key)!r} differs from {recorded!r}, the value the rpms "
                    "stage extracted and checked against the plan",
                    hint="the file comes from the meta RPM: re-run the rpms stage",
                )

    def _buildah(
        self,
        recipe: Recipe,
        image: Image,
        entry: ProductBuild,
        workdir: Path,
        arch: str,
        name: str,
    ) -> str:
        volumes = []
        if recipe.dockerfile.use_obs_repositories:
            volumes = [
                buildah.Volume(self.repo / arch, REPO_MOUNT),
                buildah.Volume(self.repos_d, REPOS_D_MOUNT),
            ]
        try:
            return buildah.build(
                workdir,
                workdir / "Dockerfile",
                [name],
                build_args=self.build_args,
                volumes=volumes,
                timestamp=entry.source_date_epoch,
                pull_policy=self.ctx.target.pull,
                layers=False,
                platform=f"linux/{oci_arch(arch)}",
            )
        except ToolError as exc:
            raise step_failure(exc, workdir, image.directory) from exc

    def base_contents(self, arch: str) -> tuple[set[str], set[str]]:
        """The RPMs and layer digests of ``arch``'s locally built base (what an image adds is
        the rest); read once per architecture, and only when an image is really built."""
        with self._lock:
            if arch not in self._base_contents:
                base = self.bases.get(arch, "")
                if self.ctx.target.local_base and base:
                    self._base_contents[arch] = (
                        set(installed_rpms(base)),
                        set(layers(buildah.inspect(base))),
                    )
                else:
                    self._base_contents[arch] = (set(), set())
            return self._base_contents[arch]

    def _record(
        self, arch: str, name: str, image_id: str, recipe: Recipe, seconds: float
    ) -> ArchBuild:
        """What went into the built image: sizes, labels, the RPMs it added to its base."""
        info = buildah.inspect(image_id)
        sizes = layers(info)
        base_rpms, base_layers = self.base_contents(arch)
        # Under load (two builds on one store), ``rpm -qa`` in a fresh container of a finished
        # image was once seen to list only what its base holds: pr-helper recorded as having
        # installed no RPM, though it held its own. Every image adds some, so an empty answer
        # is asked again before it is believed.
        for _ in range(buildah.RUN_TRIES):
            added = tuple(r for r in installed_rpms(image_id) if r not in base_rpms)
            if added:
                break
        built = ArchImage(
            platform=f"linux/{oci_arch(arch)}",
            id=image_id,
            name=name,
            size=sum(sizes.values()),
            own_size=sum(size for digest, size in sizes.items() if digest not in base_layers),
            rpms=added,
            seconds=round(seconds, 2),
        )
        labels = dict(buildah.oci_config(info).get("Labels") or {})
        return ArchBuild(arch, built, recipe.tags, recipe.reference, labels)


def assemble(
    product: Product, image: Image, entry: ProductBuild, builds: list[ArchBuild]
) -> ImageBuild:
    """The record of an image from its architectures' builds: built when every architecture
    not excluded was built, for one set of tags; failed when any failed."""
    failed = [b for b in builds if b.error]
    if failed:
        # One error once, with the architectures it failed on (most fail alike on all).
        by_error: dict[str, list[str]] = {}
        for b in failed:
            by_error.setdefault(b.error, []).append(b.arch)
        return ImageBuild(
            image.name,
            product.name,
            "failed",
            error="; ".join(f"{error} ({', '.join(arches)})" for error, arches in by_error.items()),
            input_error=all(b.input_error for b in failed),
        )
    built = [b for b in builds if b.image is not None]
    if not built:
        return ImageBuild(
            image.name,
            product.name,
            "excluded",
            error="ExclusiveArch/ExcludeArch exclude every target platform",
        )
    first = built[0]
    if any(b.tags != first.tags for b in built):
        return ImageBuild(
            image.name,
            product.name,
            "failed",
            error=f"{image.directory / 'Dockerfile'}: the #!BuildTag lines differ between "
            f"{first.arch} and {next(b.arch for b in built if b.tags != first.tags)}",
            input_error=True,
        )
    return ImageBuild(
        name=image.name,
        product=product.name,
        state="built",
        reference=first.reference,
        tags=first.tags,
        arches={b.arch: b.image for b in built if b.image is not None},
        labels=first.labels,
        release=entry.release,
        inputs=image_inputs(entry),
        seconds=round(sum(b.image.seconds for b in built if b.image is not None), 2),
    )


def step_failure(exc: ToolError, workdir: Path, directory: Path) -> ToolError:
    """A failed ``buildah build`` as the Dockerfile line of the step that failed and what the
    step printed last (zypper's "No provider of ..."), instead of buildah's summary."""
    step = FAILED_STEP.search(exc.stderr_tail)
    if step is None or not (workdir / "Dockerfile").is_file():
        return exc
    processed = (workdir / "Dockerfile").read_text(errors="replace")
    source = (directory / "Dockerfile").read_text(errors="replace")
    where = Location(directory / "Dockerfile", step_source_line(processed, source, step.group(1)))
    output = [line.strip() for line in exc.stdout_tail.splitlines() if line.strip()]
    cause = next((line for line in reversed(output) if not line.startswith("STEP ")), "")
    keyword = step.group(1).split(" ", 1)[0]
    return exc.retold(f"{where}: {keyword} failed ({step.group(2)}){': ' + cause if cause else ''}")
