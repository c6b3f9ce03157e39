"""containers (step 2): every image built by buildah from its OBS-style Dockerfile.

Per image: copy its directory to ``build/<target>/work/<image>/``, run its buildtime services
(the meta env file from step 1, strict ``replace_using_env``, metainfo and label helpers), read
the magic comments of the result, and ``buildah build`` with the prjconf's ``dockerarg:`` values,
one ``--tag`` per ``#!BuildTag`` (qualified with the target's registry), ``--timestamp`` from
SOURCE_DATE_EPOCH, and the step-1 repo exposed the way ``#!UseOBSRepositories`` does on OBS: the
repo and a repo file bind-mounted read-only for the build, so nothing of them stays in the image
and the Dockerfile stays exactly what OBS builds. Images build in parallel (``--jobs``); a failed
image does not stop the others, and is reported as failed, never as built.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.config.project import Image, Product
from pipeline.core.console import console, emit
from pipeline.core.context import Context
from pipeline.core.digest import tree_digest
from pipeline.core.errors import ContainersError, InputError, Location, PipelineError, ToolError
from pipeline.core.locks import build_lock
from pipeline.core.release import ReleaseBook, ci_count
from pipeline.core.report import require_section, section, write_section
from pipeline.images.reference import parse_reference
from pipeline.obs.dockerfile import Dockerfile, load_dockerfile
from pipeline.obs.dockerfile_args import expand_build_tag
from pipeline.obs.dockerfile_lines import source_line, step_source_line
from pipeline.obs.prjconf import load_prjconf
from pipeline.obs.service import load_service
from pipeline.services.base import ServiceContext
from pipeline.services.envfile import load_env
from pipeline.services.runner import run_services
from pipeline.stages.local_base import ensure_local_base
from pipeline.stages.plan import Plan, resolve
from pipeline.tools import buildah
from pipeline.tools.run import recording

#: Where the step-1 repo and the directory with its repo file appear inside a build. Both exist
#: in every base image: buildah leaves a mount point it had to create behind in the layer.
#: Mounting over repos.d hides the base's own repos, as a build with #!UseOBSRepositories on OBS
#: sees only the repositories of its project.
REPO_MOUNT = "/mnt"
#: Where the meta RPM installs its env file (under the sysroot step 1 unpacked it into).
META_DIR = "usr/lib/obs/service"
REPOS_D_MOUNT = "/etc/zypp/repos.d"
FAILED_STEP = re.compile(r'building at STEP "(.+?)": (exit status \d+|.+)$', re.MULTILINE)
PLACEHOLDER = re.compile(
    r"%%[A-Za-z_][A-Za-z0-9_]*%%|%(?:RELEASE|BUILDTIME|DISTURL|SOURCEURL|"
    r"OS_VERSION_ID|OS_PRETTY_NAME|OS_VERSION_ID_SP)%"
)
ARCHES = {"amd64": "x86_64", "arm64": "aarch64", "ppc64le": "ppc64le", "s390x": "s390x"}


@dataclass
class ImageResult:
    name: str
    product: str
    state: str  # built, up to date, excluded, failed
    reference: str = ""
    tags: list[str] = field(default_factory=list)
    id: str = ""
    #: Bytes of all layers, and of the layers on top of the base image.
    size: int = 0
    own_size: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    rpms: list[str] = field(default_factory=list)
    release: str = ""
    inputs: str = ""
    seconds: float = 0.0
    error: str = ""
    #: A failed image's error was its input's fault (exit 2), not a tool's (exit 3).
    input_error: bool = False
    #: The manifest digest in the registry, once publish pushed the image.
    digest: str = ""


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


def _installed_rpms(image_id: str) -> list[str]:
    out = buildah.run_in(
        image_id, ["rpm", "-qa", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n"]
    )
    return sorted(line for line in out.stdout.splitlines() if line)


def _layers(info: dict[str, Any]) -> dict[str, int]:
    """Layer digest -> size, from the manifest buildah keeps for an image."""
    manifest = json.loads(info.get("Manifest") or "{}")
    return {layer["digest"]: int(layer.get("size", 0)) for layer in manifest.get("layers", [])}


class ImageBuilder:
    """Builds the images of one target; shared by the worker threads."""

    def __init__(self, ctx: Context, plan: Plan, rpms: dict[str, Any], base_id: str) -> None:
        self.ctx = ctx
        self.base_id = base_id
        self.plan = plan
        self.rpms = rpms
        self._base_contents: tuple[set[str], set[str]] | None = None
        # One listing instead of an inspect per image: a no-op build must cost next to nothing.
        self.stored = set(buildah.stored_images())
        self.prjconf = load_prjconf(ctx.target.prjconf)
        self.repo = ctx.project.root / rpms["repo"]
        self.repos_d = repos_d(self.repo)
        self.sysroot = ctx.project.root / rpms["sysroot"]
        self.previous = section(ctx.report_path, "containers").get("images", {})
        self.book = ReleaseBook(ctx.build_dir)
        self.arches = {ARCHES.get(p.split("/")[1], p.split("/")[1]) for p in ctx.target.platforms}
        self._lock = threading.Lock()

    def inputs(self, product: Product, image: Image, base_id: str) -> str:
        entry = self.rpms["products"][product.name]
        return tree_digest(
            [image.directory],
            self.ctx.project.root,
            [
                f"rpms={entry['inputs']}:{entry['release']}",
                f"base={base_id}",
                *(f"arg={k}={v}" for k, v in sorted(self.prjconf.docker_args.items())),
            ],
        )

    def up_to_date(self, name: str, inputs: str) -> dict[str, Any] | None:
        old = self.previous.get(name)
        if (
            not old
            or old.get("state") not in ("built", "up to date")
            or old.get("inputs") != inputs
            or self.ctx.options.force
        ):
            return None
        return old if old.get("id") in self.stored else None

    def base_contents(self) -> tuple[set[str], set[str]]:
        """The RPMs and layer digests of a locally built base (what an image adds is the rest);
        read once, and only when an image is really built."""
        with self._lock:
            if self._base_contents is None:
                if self.ctx.target.local_base:
                    self._base_contents = (
                        set(_installed_rpms(self.base_id)),
                        set(_layers(buildah.inspect(self.base_id))),
                    )
                else:
                    self._base_contents = (set(), set())
            return self._base_contents

    def build(self, product: Product, image: Image, base_id: str) -> ImageResult:
        ctx = self.ctx
        entry = self.rpms["products"][product.name]
        result = ImageResult(image.name, product.name, "failed")
        started = time.monotonic()
        inputs = self.inputs(product, image, base_id)
        old = self.up_to_date(image.name, inputs)
        if old is not None:
            return ImageResult(**{**old, "state": "up to date", "seconds": 0.0})
        self._check_meta(product, entry)
        key = f"image/{image.name}"
        release = self.book.take(
            key, ci_count(ctx.project.root, [image.directory]), self.prjconf.render_release
        )
        workdir = ctx.build_dir / "work" / image.name
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.copytree(image.directory, workdir)
        epoch = int(entry["source_date_epoch"])
        service_ctx = ServiceContext(
            sysroot=self.sysroot,
            rpms_dir=self.repo / "RPMS",
            source_date_epoch=epoch,
            release=release,
            disturl=f"obs://pipeline/{ctx.target.name}/{image.name}/{release}",
            sourceurl=f"file://{image.directory.relative_to(ctx.project.root)}",
            os_version_id=self.prjconf.macro("sle_version"),
            os_pretty_name=ctx.target.name,
            os_version_id_sp=self.prjconf.macro("sle_version"),
        )
        # The services and checks work on a copy; errors name the image's own files and lines.
        try:
            run_services(load_service(workdir / "_service"), workdir, service_ctx)
            dockerfile = load_dockerfile(workdir / "Dockerfile")
            self._check_substituted(dockerfile, image)
            if not any(dockerfile.builds_on(arch) for arch in self.arches):
                result.state = "excluded"
                result.error = "ExclusiveArch/ExcludeArch exclude every target platform"
                return result
            tags = self._tags(dockerfile, image, entry["version"], release)
            reference = f"{self.plan.registry_path}/{image.name}:{entry['tag']}"
            if reference not in tags:
                raise InputError(
                    Location(
                        image.directory / "Dockerfile",
                        dockerfile.build_tags[0].line if dockerfile.build_tags else 0,
                    ),
                    f"no #!BuildTag gives {reference}, the reference the manifests name",
                    hint="tag %%TAGPREFIX%%/<image>:%%PKG_VERSION%%-%%PKG_RELEASE%%",
                )
        except InputError as exc:
            raise in_source(exc, workdir, image.directory) from exc
        volumes = []
        if dockerfile.use_obs_repositories:
            volumes = [
                buildah.Volume(self.repo, REPO_MOUNT),
                buildah.Volume(self.repos_d, REPOS_D_MOUNT),
            ]
        try:
            image_id = buildah.build(
                workdir,
                workdir / "Dockerfile",
                tags,
                build_args=dict(self.prjconf.docker_args),
                volumes=volumes,
                timestamp=epoch,
                pull_policy=ctx.target.pull,
                layers=True,
            )
        except ToolError as exc:
            raise step_failure(exc, workdir, image.directory) from exc
        info = buildah.inspect(image_id)
        oci = info.get("OCIv1", {})
        layers = _layers(info)
        base_rpms, base_layers = self.base_contents()
        installed = [r for r in _installed_rpms(image_id) if r not in base_rpms]
        self.book.record_success(key, inputs, release)
        return ImageResult(
            name=image.name,
            product=product.name,
            state="built",
            reference=reference,
            tags=tags,
            id=image_id,
            size=sum(layers.values()),
            own_size=sum(size for digest, size in layers.items() if digest not in base_layers),
            labels=dict((oci.get("config") or {}).get("Labels") or {}),
            rpms=installed,
            release=release,
            inputs=inputs,
            seconds=round(time.monotonic() - started, 2),
        )

    def _check_meta(self, product: Product, entry: dict[str, Any]) -> None:
        """The meta env file the services read is the one step 1 extracted and checked against
        the plan (its values are in the report): a file changed since is refused, not used."""
        path = self.sysroot / META_DIR / product.meta_service
        meta = load_env(path)
        values = meta.as_dict()
        for key, recorded in sorted(entry.get("env", {}).items()):
            if values.get(key) != recorded:
                raise InputError(
                    Location(path, meta.line_of(key)),
                    f"{key}={values.get(key)!r} differs from {recorded!r}, the value the rpms "
                    "stage extracted and checked against the plan",
                    hint="the file comes from the meta RPM: re-run the rpms stage",
                )

    def _check_substituted(self, dockerfile: Dockerfile, image: Image) -> None:
        for number, line in enumerate(dockerfile.lines, start=1):
            found = PLACEHOLDER.search(line)
            if found:
                raise InputError(
                    Location(image.directory / "Dockerfile", number, found.start() + 1),
                    f"placeholder {found.group()} left after the services ran",
                    hint="name the variable in the _service's replace_using_env params",
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
                hint="add #!BuildTag: %%TAGPREFIX%%/<image>:%%PKG_VERSION%%-%%PKG_RELEASE%%",
            )
        return tags


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


def _base(ctx: Context) -> str:
    """The id of the base every image builds on (for a pulled base, what names it)."""
    if ctx.target.local_base:
        with console().status("local base image (debootstrap, cached) …"):
            base = ensure_local_base(ctx.build_root)
        state = "built" if base.built else "up to date, not rebuilt"
        console().print(f"[green]✓[/] base {base.name}: {state}")
        return base.image_id
    return "pulled:" + ",".join(sorted(load_prjconf(ctx.target.prjconf).docker_args.values()))


def run_stage(ctx: Context) -> list[ImageResult]:
    # Planned under the lock: a build that waited sees what the one before it made.
    with build_lock(ctx.build_dir, "containers"):
        return _run_stage(ctx)


def _run_stage(ctx: Context) -> list[ImageResult]:
    rpms = require_section(
        ctx.report_path,
        "rpms",
        hint=f"run the rpms stage first: nox -s rpms -- --target {ctx.target.name}",
    )
    missing = [name for name in ctx.project.products if name not in rpms.get("products", {})]
    if missing or not rpms.get("complete"):
        raise ContainersError(
            f"the last rpms stage did not finish (missing: {', '.join(missing) or 'the repo'})",
            hint=f"run it again: nox -s rpms -- --target {ctx.target.name}",
        )
    plan = resolve(ctx)
    # A build killed while buildah committed may have left an image without a manifest, and
    # while it is there `buildah images` fails for every image: the next build removes it.
    for image_id in buildah.remove_abandoned_images():
        console().print(
            f"[yellow]removed image {image_id[:12]}: an interrupted build left it "
            "without a manifest[/]"
        )
    base_id = _base(ctx)
    builder = ImageBuilder(ctx, plan, rpms, base_id)
    work = [
        (product, image)
        for name, product in ctx.project.products.items()
        for image in product.images_for(ctx.target.products[name].version)
    ]
    results: list[ImageResult] = []
    with (
        recording() as timings,
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console(),
            transient=False,
        ) as progress,
    ):

        def one(product: Product, image: Image) -> ImageResult:
            task = progress.add_task(f"{image.name}: building", total=None)
            try:
                result = builder.build(product, image, base_id)
            except PipelineError as exc:
                result = ImageResult(
                    image.name,
                    product.name,
                    "failed",
                    error=exc.one_line(),
                    input_error=isinstance(exc, InputError),
                )
            mark = {
                "built": "[green]✓ built[/]",
                "up to date": "[green]✓ up to date, skipped[/]",
                "excluded": "[yellow]- excluded[/]",
            }.get(result.state, "[red]✗ failed[/]")
            progress.update(task, description=f"{image.name}: {mark}", total=1, completed=1)
            return result

        with ThreadPoolExecutor(max_workers=ctx.options.jobs) as pool:
            try:
                results = list(pool.map(lambda item: one(*item), work))
            except BaseException:
                # Interrupted: the images not started yet must not start (each would take a
                # release number and copy its tree before failing on the stopped runner).
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    write_section(
        ctx.report_path,
        "containers",
        {
            "base": base_id,
            "images": {r.name: asdict(r) for r in results},
            "timings": timings.by_tool(),
        },
        ctx.target.name,
    )
    return results


def summary(results: list[ImageResult]) -> Table:
    table = Table(title="containers", title_justify="left")
    for column in ("image", "state", "tag", "RPMs", "seconds", "error"):
        table.add_column(column, overflow="fold")
    for r in results:
        tag = r.reference.rsplit(":", 1)[-1] if r.reference else ""
        table.add_row(r.name, r.state, tag, str(len(r.rpms)), f"{r.seconds:.0f}", r.error)
    return table


class ImageInputError(InputError):
    """Every failed image failed on its input: exit 2, and the line starts with the first
    one's ``file:line:col`` as any other input error does."""

    def __init__(self, errors: list[str], total: int) -> None:
        super().__init__(None, "; ".join(errors))
        self.errors = errors
        self.total = total

    def one_line(self) -> str:
        text = self.errors[0]
        if len(self.errors) > 1:
            rest = "; ".join(self.errors[1:])
            text += f" (and {len(self.errors) - 1} more of {self.total} images: {rest})"
        return " ".join(text.split())


def raise_for_failures(results: list[ImageResult]) -> None:
    failed = [r for r in results if r.state == "failed"]
    if failed and all(r.input_error for r in failed):
        raise ImageInputError([r.error for r in failed], len(results))
    if failed:
        raise ContainersError(
            f"{len(failed)} of {len(results)} images failed: " + "; ".join(r.error for r in failed),
            hint="the other images' results are kept; fix and re-run",
        )


def main(ctx: Context) -> int:
    results = run_stage(ctx)
    console().print(summary(results))
    emit(ctx.options, {"containers": [asdict(r) for r in results]})
    raise_for_failures(results)
    return 0
