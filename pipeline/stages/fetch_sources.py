"""Source0 tarballs: packed from a sample tree, or downloaded upstream and sha256-checked.

``fetch-sources`` downloads a target's pinned upstream tarballs into ``build/sources/``; the rpms
stage then only ever uses a file whose sha256 equals the pin in pipeline.yaml. Offline, both say
which URL could not be reached.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

import requests

from pipeline.config.project import Product, Source, TargetProduct
from pipeline.core.console import console, emit
from pipeline.core.context import Context
from pipeline.core.digest import IGNORED_DIRS
from pipeline.core.errors import InputError, RpmsError


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def pack_sample(directory: Path, tarball: Path, top: str, mtime: int) -> None:
    """Pack ``directory`` as ``top/…`` into a reproducible .tar.gz, like an upstream tag archive:
    sorted entries, fixed owner and mtime, no gzip timestamp. Build output inside is skipped."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def add(path: Path, name: str) -> None:
            info = tar.gettarinfo(str(path), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = mtime
            info.mode = 0o755 if (path.is_dir() or os.access(path, os.X_OK)) else 0o644
            if info.isreg():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            elif info.isdir() or info.issym():
                tar.addfile(info)
            else:
                raise InputError(path, "only files, directories and symlinks can be packed")

        add(directory, top)
        for root, dirnames, filenames in os.walk(directory):
            dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS)
            base = Path(root)
            for name in sorted(dirnames) + sorted(filenames):
                path = base / name
                add(path, f"{top}/{path.relative_to(directory).as_posix()}")
    tarball.parent.mkdir(parents=True, exist_ok=True)
    tmp = tarball.with_name(tarball.name + ".tmp")
    with tmp.open("wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(buffer.getvalue())
    tmp.replace(tarball)


def download_path(ctx: Context, product: Product, pinned: TargetProduct) -> Path:
    return ctx.build_root / "sources" / product.tarball.format(version=pinned.version)


def upstream_tarball(ctx: Context, product: Product, pinned: TargetProduct) -> Path:
    """The verified download for a build; a clear error when it is missing or differs."""
    source: Source = pinned.source
    path = download_path(ctx, product, pinned)
    if not path.exists():
        raise RpmsError(
            f"{product.name} {pinned.version}: source {source.url} is not downloaded",
            hint=f"run `python -m pipeline fetch-sources --target {ctx.target.name}` "
            "(needs network access to that host)",
        )
    if source.sha256 is None:
        raise InputError(
            ctx.project.path,
            f"{product.name} {pinned.version} of target {ctx.target.name!r} has no sha256 pinned",
            hint=f"review {path} (sha256 {sha256_of(path)}), pin it as 'sha256' in pipeline.yaml",
        )
    got = sha256_of(path)
    if got != source.sha256:
        raise InputError(
            ctx.project.path,
            f"{path.name} has sha256 {got}, pipeline.yaml pins {source.sha256}",
            hint="delete the file and fetch again; if upstream re-rolled it, review and re-pin",
        )
    return path


def fetch(ctx: Context, product: Product, pinned: TargetProduct) -> dict[str, str]:
    source = pinned.source
    assert source.url is not None
    path = download_path(ctx, product, pinned)
    if path.exists() and source.sha256 and sha256_of(path) == source.sha256:
        return {"product": product.name, "url": source.url, "state": "up to date"}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    try:
        with requests.get(source.url, stream=True, timeout=60) as resp:
            resp.raise_for_status()
            with tmp.open("wb") as handle:
                for chunk in resp.iter_content(1 << 20):
                    handle.write(chunk)
    except requests.RequestException as exc:
        tmp.unlink(missing_ok=True)
        reason = type(exc).__name__
        raise RpmsError(
            f"cannot download {source.url} ({reason})",
            hint="this needs network access to that host; the local target needs none",
        ) from None
    got = sha256_of(tmp)
    if source.sha256 and got != source.sha256:
        tmp.unlink()
        raise InputError(
            ctx.project.path,
            f"{source.url} has sha256 {got}, pipeline.yaml pins {source.sha256}",
            hint="refusing it; if upstream re-rolled the archive, review and re-pin",
        )
    tmp.replace(path)
    state = "downloaded" if source.sha256 else f"downloaded, UNPINNED sha256 {got}"
    return {"product": product.name, "url": source.url, "state": state}


def main(ctx: Context) -> int:
    rows = []
    for name, product in ctx.project.products.items():
        pinned = ctx.target.products[name]
        if pinned.source.is_local:
            rows.append({"product": name, "url": "", "state": "sample tree, nothing to fetch"})
            continue
        rows.append(fetch(ctx, product, pinned))
    if ctx.target.build_root is not None:  # the Debian packages of step 1's roots, also fetched
        from pipeline.stages.rpms import prepare_roots  # rpms packs sources with this module

        rows += prepare_roots(ctx)
    for row in rows:
        console().print(f"{row['product']}: {row['state']} {row['url']}")
    emit(ctx.options, {"sources": rows})
    unpinned = [row for row in rows if "UNPINNED" in row["state"]]
    if unpinned:
        raise InputError(
            ctx.project.path,
            "downloaded sources without a pinned sha256: "
            + ", ".join(row["product"] for row in unpinned),
            hint="review them and add the printed sha256 values to pipeline.yaml",
        )
    return 0
