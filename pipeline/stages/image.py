"""One image of step 2, built by buildah from its OBS-style Dockerfile.

An image is built under its product's release (its directory is one of the product's inputs, so
a changed Dockerfile is a new release of the whole set), never again under a release it was
published with. The steps, in order: skip it when its product's inputs and release are what the
last build recorded; check the meta env file is the one step 1 extracted; make its recipe
(``stages.recipe``: the directory copied to ``build/<target>/work/<image>/``, its buildtime
services run there, tags and magic comments checked); ``buildah build`` it with the plan's build
args, one ``--tag`` per ``#!BuildTag``, ``--timestamp`` from SOURCE_DATE_EPOCH, and the step-1
repo exposed the way ``#!UseOBSRepositories`` does on OBS (the repo and a repo file bind-mounted
read-only for the build, so nothing of them stays in the image); then record what went into the
image.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipeline.config.project import Image, Product
from pipeline.core.context import Context
from pipeline.core.digest import digest_of_text
from pipeline.core.errors import InputError, Location, ToolError
from pipeline.core.plan import Plan, ProductPlan
from pipeline.core.report import ImageBuild, ProductBuild, RpmsSection
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


#: Tries of ``rpm -qa`` in an image that printed nothing (see ``installed_rpms``).
RPM_QUERY_TRIES = 3


def installed_rpms(image_id: str) -> list[str]:
    """The NEVRAs in the image's rpm database. Every image here holds rpm itself, so an empty
    answer is never true: under parallel image builds ``buildah run`` was seen to return
    nothing with exit 0 (twice in a few hundred runs); it is asked again, and an image whose
    database still reads empty is an error, never an image recorded without its RPMs."""
    argv = ["rpm", "-qa", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n"]
    for _ in range(RPM_QUERY_TRIES):
        found = sorted(line for line in buildah.run_in(image_id, argv).stdout.splitlines() if line)
        if found:
            return found
    raise ToolError(
        f"rpm -qa in image {image_id[:12]} printed nothing, {RPM_QUERY_TRIES} times",
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
        arches=plan.arches,
    )


class ImageBuilder:
    """Builds the images of one target; shared by the worker threads."""

    def __init__(self, ctx: Context, plan: Plan, rpms: RpmsSection, base_id: str) -> None:
        self.ctx = ctx
        self.plan = plan
        self.rpms = rpms
        self.base_id = base_id
        self._base_contents: tuple[set[str], set[str]] | None = None
        # One listing instead of an inspect per image: a no-op build must cost next to nothing.
        self.stored = set(buildah.stored_images())
        self.repo = ctx.project.root / rpms.repo
        self.repos_d = repos_d(self.repo)
        self.sysroot = ctx.project.root / rpms.sysroot
        previous = ctx.report.containers()
        self.previous = previous.images if previous else {}
        self._lock = threading.Lock()

    def build(self, product: Product, image: Image) -> ImageBuild:
        """Build ``image`` under its product's release; up to date when its product's inputs
        and release are those of its last build."""
        entry = self.rpms.products[product.name]
        started = time.monotonic()
        # The base's inputs are part of the product's (local target); its image id is not: a
        # base rebuilt from the same inputs must not rebuild (and so move) published images.
        inputs = digest_of_text(f"{entry.inputs}:{entry.release}")
        old = self.up_to_date(image.name, inputs)
        if old is not None:
            return replace(old, state="up to date", seconds=0.0)
        self._check_meta(product, entry)
        workdir = self.ctx.build_dir / "work" / image.name
        recipe = prepare(
            image,
            self.ctx.project.root,
            workdir,
            facts_of(self.ctx.target.name, self.plan, entry),
            self.sysroot,
            self.repo / "RPMS",
        )
        if recipe.excluded:
            return ImageBuild(
                image.name,
                product.name,
                "excluded",
                error="ExclusiveArch/ExcludeArch exclude every target platform",
            )
        image_id = self._buildah(recipe, image, entry, workdir)
        seconds = time.monotonic() - started
        return self._record(image, product, image_id, recipe, entry, inputs, seconds)

    def up_to_date(self, name: str, inputs: str) -> ImageBuild | None:
        """The last build of ``name`` when it was of these inputs and is still at hand: in the
        store, or published (publish then needs nothing of it). ``--force`` does not rebuild an
        image: a rebuild under the same release would move its tag; ``build --force`` takes a
        new release for the product, and so rebuilds its images."""
        old = self.previous.get(name)
        if old is None or not old.usable or old.inputs != inputs:
            return None
        return old if old.id in self.stored or old.digest else None

    def _check_meta(self, product: Product, entry: ProductBuild) -> None:
        """The meta env file the services read is the one step 1 extracted and checked against
        the plan (its values are in the report): a file changed since is refused, not used."""
        path = self.sysroot / SERVICE_DIR.lstrip("/") / product.meta_service
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

    def _buildah(self, recipe: Recipe, image: Image, entry: ProductBuild, workdir: Path) -> str:
        volumes = []
        if recipe.dockerfile.use_obs_repositories:
            volumes = [
                buildah.Volume(self.repo, REPO_MOUNT),
                buildah.Volume(self.repos_d, REPOS_D_MOUNT),
            ]
        try:
            return buildah.build(
                workdir,
                workdir / "Dockerfile",
                recipe.tags,
                build_args=dict(self.plan.build_args),
                volumes=volumes,
                timestamp=entry.source_date_epoch,
                pull_policy=self.ctx.target.pull,
                layers=True,
            )
        except ToolError as exc:
            raise step_failure(exc, workdir, image.directory) from exc

    def base_contents(self) -> tuple[set[str], set[str]]:
        """The RPMs and layer digests of a locally built base (what an image adds is the rest);
        read once, and only when an image is really built."""
        with self._lock:
            if self._base_contents is None:
                if self.ctx.target.local_base:
                    self._base_contents = (
                        set(installed_rpms(self.base_id)),
                        set(layers(buildah.inspect(self.base_id))),
                    )
                else:
                    self._base_contents = (set(), set())
            return self._base_contents

    def _record(
        self,
        image: Image,
        product: Product,
        image_id: str,
        recipe: Recipe,
        entry: ProductBuild,
        inputs: str,
        seconds: float,
    ) -> ImageBuild:
        """What went into the built image: sizes, labels, the RPMs it added to its base."""
        info = buildah.inspect(image_id)
        oci = info.get("OCIv1", {})
        sizes = layers(info)
        base_rpms, base_layers = self.base_contents()
        return ImageBuild(
            name=image.name,
            product=product.name,
            state="built",
            reference=recipe.reference,
            tags=recipe.tags,
            id=image_id,
            size=sum(sizes.values()),
            own_size=sum(size for digest, size in sizes.items() if digest not in base_layers),
            labels=dict((oci.get("config") or {}).get("Labels") or {}),
            rpms=tuple(r for r in installed_rpms(image_id) if r not in base_rpms),
            release=entry.release,
            inputs=inputs,
            seconds=round(seconds, 2),
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
