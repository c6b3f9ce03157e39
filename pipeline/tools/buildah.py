"""Thin wrapper over the buildah CLI: build, inspect, tag, push, manifest lists, and import a
root file system.

Every call goes through ``pipeline.tools.run.run``. Isolation is always ``chroot``: the OCI
runtimes (runc/crun) need a cgroup setup that build machines and CI containers often lack
("cgroups in hybrid mode not supported"), while chroot isolation only needs the privileges
buildah already has. The environment variable is honoured by ``buildah build`` and
``buildah run`` alike, so one setting covers both.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core.errors import ToolError
from pipeline.tools.run import Completed, run

BUILDAH = "buildah"
ISOLATION_ENV = {"BUILDAH_ISOLATION": "chroot"}
#: Image builds download nothing big but can run zypper over hundreds of packages.
BUILD_TIMEOUT = 3600.0
#: An image without a manifest is left alone this long: a commit in progress (another build on
#: the same store) writes the manifest right after it creates the image.
ABANDONED_AFTER = 600.0


@dataclass(frozen=True)
class Volume:
    """A host path bind-mounted into every RUN step of a build; never part of the image."""

    host: Path
    container: str
    read_only: bool = True

    def spec(self) -> str:
        return f"{self.host.resolve()}:{self.container}" + (":ro" if self.read_only else "")


def _buildah(
    args: Sequence[str | Path],
    *,
    timeout: float | None = 600.0,
    check: bool = True,
    cwd: Path | None = None,
) -> Completed:
    return run([BUILDAH, *args], env=ISOLATION_ENV, timeout=timeout, check=check, cwd=cwd)


def version() -> str:
    """The buildah version, e.g. ``1.28.2``."""
    out = _buildah(["version", "--json"]).stdout
    return str(json.loads(out)["version"])


def build(
    context_dir: Path,
    dockerfile: Path,
    tags: Sequence[str],
    *,
    build_args: Mapping[str, str] | None = None,
    volumes: Sequence[Volume] = (),
    timestamp: int | None = None,
    pull_policy: str = "missing",
    layers: bool = True,
    jobs: int = 1,
    platform: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> str:
    """Build ``dockerfile`` in ``context_dir``, tag it with every tag, and return the image id.

    ``pull_policy`` is buildah's ``--pull`` value (``always``, ``missing``, ``never``, ...).
    ``timestamp`` (epoch seconds) makes the created dates, and so the digest, reproducible.
    """
    if not tags:
        raise ValueError("build() needs at least one tag")
    with tempfile.TemporaryDirectory(prefix="buildah-iid-") as tmp:
        iidfile = Path(tmp) / "iid"
        args: list[str | Path] = [
            "build",
            "--isolation",
            "chroot",
            "--file",
            dockerfile,
            "--iidfile",
            iidfile,
            f"--pull={pull_policy}",
            f"--layers={'true' if layers else 'false'}",
            "--jobs",
            str(jobs),
        ]
        args += _repeat("--tag", tags)
        args += _repeat("--build-arg", [f"{k}={v}" for k, v in (build_args or {}).items()])
        args += _repeat("--label", [f"{k}={v}" for k, v in (labels or {}).items()])
        args += _repeat("--volume", [volume.spec() for volume in volumes])
        if timestamp is not None:
            args += ["--timestamp", str(timestamp)]
        if platform:
            args += ["--platform", platform]
        args.append(context_dir)
        _buildah(args, timeout=BUILD_TIMEOUT)
        return _read_id(iidfile)


def _repeat(flag: str, values: Sequence[str]) -> list[str | Path]:
    """``flag`` before each of ``values``: ``--tag a --tag b``."""
    return [word for value in values for word in (flag, value)]


def _read_id(iidfile: Path) -> str:
    image_id = iidfile.read_text().strip()
    return image_id.removeprefix("sha256:")


def images() -> list[dict[str, Any]]:
    """All images in local storage, as buildah's JSON listing; ``id`` without ``sha256:``,
    like the ids ``build`` returns."""
    out = _buildah(["images", "--json", "--no-trunc"]).stdout.strip()
    listing = list(json.loads(out)) if out else []
    for image in listing:
        image["id"] = str(image["id"]).removeprefix("sha256:")
    return listing


#: Where a store's location is remembered between runs (``buildah info`` costs a quarter of a
#: second, a large share of a no-op build).
STORE_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / (
    "kubevirt-pipeline/buildah-store.json"
)
STORAGE_CONFS = ("/etc/containers/storage.conf", "/usr/share/containers/storage.conf")


@functools.cache
def _images_dir() -> Path:
    """containers/storage's image directory of the store buildah uses (``images.json`` in it).
    Asked of ``buildah info`` once, then remembered for as long as nothing that decides it
    (the user, ``CONTAINERS_STORAGE_CONF``, the storage.conf files, buildah) changed."""
    key = _store_key()
    try:
        known = json.loads(STORE_CACHE.read_text())
    except (OSError, ValueError):
        known = {}
    known = known if isinstance(known, dict) else {}
    if key in known and (Path(known[key]) / "images.json").is_file():
        return Path(known[key])
    where = _buildah(["info", "--format", "{{.store.GraphRoot}} {{.store.GraphDriverName}}"])
    root, driver = where.stdout.split()
    found = Path(root) / f"{driver}-images"
    with contextlib.suppress(OSError):
        STORE_CACHE.parent.mkdir(parents=True, exist_ok=True)
        # A handful of stores at most (tests use private ones): the newest 16 are kept.
        entries = [*((k, v) for k, v in known.items() if k != key), (key, str(found))][-16:]
        STORE_CACHE.write_text(json.dumps(dict(entries)))
    return found


def _store_key() -> str:
    conf = os.environ.get("CONTAINERS_STORAGE_CONF", "")
    user_conf = str(Path.home() / ".config/containers/storage.conf")
    stamps = []
    for path in (conf, user_conf, *STORAGE_CONFS, shutil.which(BUILDAH) or BUILDAH):
        try:
            info = os.stat(path) if path else None
        except OSError:
            info = None
        stamps.append(f"{path}:{info.st_mtime_ns if info else '-'}:{info.st_size if info else '-'}")
    return f"{os.geteuid()}|{conf}|" + "|".join(stamps)


def store_root() -> Path:
    """The GraphRoot of the store buildah uses: layers and images live under it."""
    return _images_dir().parent


def _index() -> list[dict[str, Any]]:
    return list(json.loads((_images_dir() / "images.json").read_text()))


def stored_images() -> dict[str, tuple[str, ...]]:
    """Every image in local storage: id -> names.

    Read from containers/storage's own index (``<GraphRoot>/<driver>-images/images.json``, which
    the store replaces atomically) because ``buildah images`` computes every image's size first
    and takes seconds on a full store, while a no-op build must cost next to nothing. Falls back
    to ``buildah images`` when the index is not where the store says.
    """
    try:
        return {str(i["id"]): tuple(i.get("names") or ()) for i in _index()}
    except (OSError, ValueError, KeyError, TypeError):
        return {str(i["id"]): tuple(i.get("names") or ()) for i in images()}


def stored_names() -> list[str]:
    """Every name of every image in local storage (see ``stored_images``)."""
    return [name for names in stored_images().values() for name in names]


def manifest_digests() -> dict[str, str]:
    """Image id -> the digest of its manifest (what an index entry names), from the store's
    index; {} when it cannot be read."""
    try:
        return {str(i["id"]): str(i.get("digest") or "") for i in _index()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def abandoned_images(
    images_dir: Path, *, older_than: float = ABANDONED_AFTER, now: float | None = None
) -> list[str]:
    """Images of the store at ``images_dir`` that have no manifest at all and were created at
    least ``older_than`` seconds ago: what a commit killed half-way leaves (a build interrupted
    with Ctrl-C or SIGTERM). Such an image is of no use, and while it is there ``buildah images``
    fails for every image ("locating item named manifest ... consider removing the image")."""
    now = time.time() if now is None else now
    try:
        index = json.loads((images_dir / "images.json").read_text())
    except (OSError, ValueError):
        return []
    found = []
    for entry in index:
        names = entry.get("big-data-names") or ()
        if any(str(name).startswith("manifest") for name in names):
            continue
        try:
            # The directory's time, not ``created``: that is the image's SOURCE_DATE_EPOCH.
            age = now - (images_dir / str(entry["id"])).stat().st_mtime
        except (OSError, KeyError):
            continue
        if age >= older_than:
            found.append(str(entry["id"]))
    return found


def remove_abandoned_images() -> list[str]:
    """Remove the host store's abandoned images (see ``abandoned_images``); their ids."""
    removed = abandoned_images(_images_dir())
    for image in removed:
        _buildah(["rmi", "--force", image], check=False)
    return removed


def inspect(image: str) -> dict[str, Any]:
    """buildah's inspect document of ``image`` (``OCIv1`` holds config, labels, created)."""
    out = _buildah(["inspect", "--type", "image", image]).stdout
    return dict(json.loads(out))


def oci_config(info: Mapping[str, Any]) -> dict[str, Any]:
    """The image config (``Labels``, ``Entrypoint``, ...) of an ``inspect`` document."""
    return dict((info.get("OCIv1") or {}).get("config") or {})


def exists(image: str) -> bool:
    """Whether ``image`` (name or id) is in local storage."""
    return _buildah(["inspect", "--type", "image", image], check=False).returncode == 0


def tag(image: str, *names: str) -> None:
    _buildah(["tag", image, *names])


def rmi(*images_: str, force: bool = False) -> None:
    _buildah(["rmi", *(["--force"] if force else []), *images_])


def push(
    image: str, dest: str, *, digestfile: Path | None = None, tls_verify: bool = True
) -> str | None:
    """Push ``image`` to ``dest`` (a transport reference, e.g. ``docker://host/repo:tag``).

    Returns the pushed manifest digest when ``digestfile`` is given.
    """
    args: list[str | Path] = ["push", f"--tls-verify={'true' if tls_verify else 'false'}"]
    if digestfile is not None:
        args += ["--digestfile", digestfile]
    _buildah([*args, image, dest], timeout=BUILD_TIMEOUT)
    return digestfile.read_text().strip() if digestfile is not None else None


#: Tries of a ``run_in`` that must print something (see ``run_in``).
RUN_TRIES = 3


def run_in(
    image: str, argv: Sequence[str], *, check: bool = True, prints: bool = False
) -> Completed:
    """Run ``argv`` in a throwaway container of ``image`` and remove the container.

    ``prints``: the command always prints something. ``buildah run`` was seen to return nothing
    with exit 0 while other builds ran on the store (a few times in hundreds of runs, more
    under load); such a run is tried again, up to ``RUN_TRIES`` times."""
    for _ in range(RUN_TRIES if prints else 1):
        with working_container(image) as container:
            done = run_container(container, argv, check=check)
        if done.stdout.strip() or done.returncode != 0:
            break
    return done


@contextlib.contextmanager
def working_container(image: str) -> Iterator[str]:
    """A container of ``image`` for the ``with`` block, removed after it."""
    container = _buildah(["from", "--pull=never", "--quiet", image]).stdout.strip()
    try:
        yield container
    finally:
        _buildah(["rm", container], check=False)


def run_container(
    container: str, argv: Sequence[str], *, check: bool = True, timeout: float = 600.0
) -> Completed:
    return _buildah(
        ["run", "--isolation", "chroot", container, "--", *argv], check=check, timeout=timeout
    )


def mount(container: str) -> Path:
    """The container's root file system on the host (until the container is removed)."""
    return Path(_buildah(["mount", container]).stdout.strip())


def import_rootfs(
    rootfs: Path,
    name: str,
    *,
    timestamp: int | None = None,
    config: Mapping[str, str] | None = None,
) -> str:
    """Make an image ``name`` whose single layer is the directory ``rootfs``; return its id.

    The tree is copied into the mounted container with ``cp -a``, not ``buildah copy``, because
    ``buildah copy`` resets every owner to root and the tree's owners (``/etc/shadow`` is
    group ``shadow``) and file capabilities must survive. Mounting needs root, as debootstrap
    does. ``config`` holds ``buildah config`` options without dashes, e.g. ``{"cmd": "/bin/bash"}``.
    """
    if not rootfs.is_dir():
        raise ToolError(f"{rootfs}: not a directory, cannot import it as an image")
    container = _buildah(["from", "--quiet", "scratch"]).stdout.strip()
    try:
        mountpoint = _buildah(["mount", container]).stdout.strip()
        try:
            run(["cp", "-a", "--", f"{rootfs}/.", f"{mountpoint}/"], timeout=1800)
        finally:
            _buildah(["umount", container])
        options: list[str] = []
        for key, value in (config or {}).items():
            options += [f"--{key}", value]
        if options:
            _buildah(["config", *options, container])
        commit_args = ["commit", "--quiet", "--rm"]
        if timestamp is not None:
            commit_args += ["--timestamp", str(timestamp)]
        image_id = _buildah([*commit_args, container, name], timeout=BUILD_TIMEOUT).stdout
        container = ""
        return image_id.strip().removeprefix("sha256:")
    finally:
        if container:
            _buildah(["rm", container], check=False)


# --- manifest lists (image indexes) ------------------------------------------------------------


def manifest_create(name: str, images_: Sequence[str]) -> None:
    """A manifest list ``name`` in local storage holding ``images_`` (ids or names), one entry
    each, with the platform each image's config names, in that order."""
    _buildah(["manifest", "create", name])
    for image in images_:
        _buildah(["manifest", "add", name, f"containers-storage:{image}"])


def manifest_inspect(name: str) -> dict[str, Any] | None:
    """The list ``name`` as buildah keeps it; None when there is no such list."""
    done = _buildah(["manifest", "inspect", name], check=False)
    return dict(json.loads(done.stdout)) if done.returncode == 0 else None


def manifest_rm(name: str) -> None:
    _buildah(["manifest", "rm", name], check=False)


def manifest_push(name: str, dest: str, *, digestfile: Path, tls_verify: bool = True) -> str:
    """Push the list ``name`` and every image in it (``--all``) to ``dest`` as an OCI image
    index; returns the index's digest. The images go first, by digest, and the index last, at
    its tag: a push that stops half-way leaves no tag naming an incomplete index."""
    args: list[str | Path] = ["manifest", "push", "--all", "--format", "oci", "--quiet"]
    args += ["--digestfile", digestfile, f"--tls-verify={'true' if tls_verify else 'false'}"]
    _buildah([*args, name, dest], timeout=BUILD_TIMEOUT)
    return digestfile.read_text().strip()
