"""One image of step 2, built by buildah from its OBS-style Dockerfile.

The steps, in order: skip it when its inputs are what the last build recorded; check the meta env
file is the one step 1 extracted; take the image's own release; copy its directory to
``build/<target>/work/<image>/``; run its buildtime services there (the meta env file, strict
``replace_using_env``, the metainfo and label helpers); read the magic comments of the result
and check its tags; ``buildah build`` it with the plan's build args, one ``--tag`` per
``#!BuildTag`` (qualified with the registry), ``--timestamp`` from SOURCE_DATE_EPOCH, and the
step-1 repo exposed the way ``#!UseOBSRepositories`` does on OBS (the repo and a repo file
bind-mounted read-only for the build, so nothing of them stays in the image); then record what
went into the image.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipeline.config.project import Image, Product
from pipeline.core.context import Context
from pipeline.core.digest import tree_digest
from pipeline.core.errors import InputError, Location, ToolError
from pipeline.core.plan import Plan
from pipeline.core.release import ReleaseBook, ci_count, render_release
from pipeline.core.report import ImageBuild, ProductBuild, RpmsSection
from pipeline.images.reference import parse_reference
from pipeline.obs.conventions import ANY_PLACEHOLDER, SERVICE_DIR
from pipeline.obs.dockerfile import Dockerfile, load_dockerfile
from pipeline.obs.dockerfile_args import expand_build_tag
from pipeline.obs.dockerfile_lines import source_line, step_source_line
from pipeline.obs.service import load_service
from pipeline.services.base import ServiceContext
from pipeline.services.envfile import load_env
from pipeline.services.runner import run_services
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
    out = buildah.run_in(
        image_id, ["rpm", "-qa", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n"]
    )
    return sorted(line for line in out.stdout.splitlines() if line)


def layers(info: dict[str, Any]) -> dict[str, int]:
    """Layer digest -> size, from the manifest buildah keeps for an image."""
    manifest = json.loads(info.get("Manifest") or "{}")
    return {layer["digest"]: int(layer.get("size", 0)) for layer in manifest.get("layers", [])}


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
        self.book = ReleaseBook(ctx.build_dir)
        self._lock = threading.Lock()

    def build(self, product: Product, image: Image) -> ImageBuild:
        entry = self.rpms.products[product.name]
        started = time.monotonic()
        inputs = self.inputs(entry, image)
        old = self.up_to_date(image.name, inputs)
        if old is not None:
            return replace(old, state="up to date", seconds=0.0)
        self._check_meta(product, entry)
        key = f"image/{image.name}"
        release = self.book.take(
            key,
            ci_count(self.ctx.project.root, [image.directory]),
            lambda ci, b: render_release(self.plan.release_template, ci, b),
        )
        workdir = self.ctx.build_dir / "work" / image.name
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.copytree(image.directory, workdir)
        try:
            dockerfile = self._process(image, entry, release, workdir)
            if not any(dockerfile.builds_on(arch) for arch in self.plan.arches):
                return ImageBuild(
                    image.name,
                    product.name,
                    "excluded",
                    error="ExclusiveArch/ExcludeArch exclude every target platform",
                )
            tags = self._tags(dockerfile, image, entry.version, release)
            reference = self._reference(dockerfile, image, entry, tags)
        except InputError as exc:
            raise in_source(exc, workdir, image.directory) from exc
        image_id = self._buildah(dockerfile, image, entry, tags, workdir)
        self.book.record_success(key, inputs, release)
        return self._record(
            image, product, image_id, tags, reference, release, inputs, time.monotonic() - started
        )

    def inputs(self, entry: ProductBuild, image: Image) -> str:
        return tree_digest(
            [image.directory],
            self.ctx.project.root,
            [
                f"rpms={entry.inputs}:{entry.release}",
                f"base={self.base_id}",
                *(f"arg={k}={v}" for k, v in sorted(self.plan.build_args.items())),
            ],
        )

    def up_to_date(self, name: str, inputs: str) -> ImageBuild | None:
        old = self.previous.get(name)
        if old is None or not old.usable or old.inputs != inputs or self.ctx.options.force:
            return None
        return old if old.id in self.stored else None

    def _process(
        self, image: Image, entry: ProductBuild, release: str, workdir: Path
    ) -> Dockerfile:
        """Run the image's buildtime services on its copy; the Dockerfile they leave, checked
        for placeholders nothing replaced."""
        ctx = self.ctx
        service_ctx = ServiceContext(
            sysroot=self.sysroot,
            rpms_dir=self.repo / "RPMS",
            source_date_epoch=entry.source_date_epoch,
            release=release,
            disturl=f"obs://pipeline/{ctx.target.name}/{image.name}/{release}",
            sourceurl=f"file://{image.directory.relative_to(ctx.project.root)}",
            os_version_id=self.plan.os_version,
            os_pretty_name=ctx.target.name,
            os_version_id_sp=self.plan.os_version,
        )
        run_services(load_service(workdir / "_service"), workdir, service_ctx)
        dockerfile = load_dockerfile(workdir / "Dockerfile")
        for number, line in enumerate(dockerfile.lines, start=1):
            found = ANY_PLACEHOLDER.search(line)
            if found:
                raise InputError(
                    Location(image.directory / "Dockerfile", number, found.start() + 1),
                    f"placeholder {found.group()} left after the services ran",
                    hint="name the variable in the _service's replace_using_env params",
                )
        return dockerfile

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

    def _tags(self, dockerfile: Dockerfile, image: Image, version: str, release: str) -> list[str]:
        tags = []
        for build_tag in dockerfile.build_tags:
            try:
                text = expand_build_tag(build_tag.tag, version, release)
                full = f"{self.plan.registry}/{text}"
                parse_reference(full)
            except ValueError as exc:
                raise InputError(
                    Location(image.directory / "Dockerfile", build_tag.line, build_tag.column),
                    f"#!BuildTag {build_tag.tag!r} is not a valid image reference: {exc}",
                ) from None
            tags.append(full)
        if not tags:
            raise InputError(
                image.directory / "Dockerfile",
                "no #!BuildTag lines",
                hint=f"add #!BuildTag: {TAG_HINT}",
            )
        return tags

    def _reference(
        self, dockerfile: Dockerfile, image: Image, entry: ProductBuild, tags: list[str]
    ) -> str:
        """The tag the manifests name for the image; one of its ``#!BuildTag``\\s must be it."""
        reference = f"{self.plan.registry_path}/{image.name}:{entry.tag}"
        if reference not in tags:
            line = dockerfile.build_tags[0].line if dockerfile.build_tags else 0
            raise InputError(
                Location(image.directory / "Dockerfile", line),
                f"no #!BuildTag gives {reference}, the reference the manifests name",
                hint=TAG_HINT,
            )
        return reference

    def _buildah(
        self,
        dockerfile: Dockerfile,
        image: Image,
        entry: ProductBuild,
        tags: list[str],
        workdir: Path,
    ) -> str:
        volumes = []
        if dockerfile.use_obs_repositories:
            volumes = [
                buildah.Volume(self.repo, REPO_MOUNT),
                buildah.Volume(self.repos_d, REPOS_D_MOUNT),
            ]
        try:
            return buildah.build(
                workdir,
                workdir / "Dockerfile",
                tags,
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
        tags: list[str],
        reference: str,
        release: str,
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
            reference=reference,
            tags=tuple(tags),
            id=image_id,
            size=sum(sizes.values()),
            own_size=sum(size for digest, size in sizes.items() if digest not in base_layers),
            labels=dict((oci.get("config") or {}).get("Labels") or {}),
            rpms=tuple(r for r in installed_rpms(image_id) if r not in base_rpms),
            release=release,
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
    return ToolError(
        f"{where}: {keyword} failed ({step.group(2)}){': ' + cause if cause else ''}",
        argv=exc.argv,
        returncode=exc.returncode,
        stderr_tail=exc.stderr_tail,
        hint=exc.hint,
    )


def in_source(exc: InputError, workdir: Path, directory: Path) -> InputError:
    """``exc`` pointing at the image directory's file instead of its copy under work/."""
    where = exc.location
    if where is None:
        return exc
    path = Path(where.path)
    if path.is_relative_to(workdir):
        path = directory / path.relative_to(workdir)
    elif not path.is_relative_to(directory):
        return exc
    line = where.line
    if path == directory / "Dockerfile" and line and (workdir / "Dockerfile").is_file():
        processed = (workdir / "Dockerfile").read_text(errors="replace").splitlines()
        source = (directory / "Dockerfile").read_text(errors="replace").splitlines()
        line = source_line(processed, source, line)
    return InputError(Location(path, line, where.column), exc.message, hint=exc.hint)
