"""The verbs: one table that ``python -m pipeline VERB`` and ``nox -s VERB`` both run.

Each verb is a handler ``Context -> exit code`` and the pre-flight checks it needs (host tools,
disk space, a registry that accepts connections), run before the handler in both spellings.
A handler imports its stage module when it runs, so ``plan`` or ``verify-tags`` never pay for
importing buildah's or rpmbuild's stage, and this module needs only the standard library: the
noxfile reads the table before the project's dependencies are installed.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pipeline.core.errors import RegistryError, SetupError

if TYPE_CHECKING:
    from pipeline.core.context import Context

Handler = Callable[["Context"], int]
Check = Callable[["Context"], None]

#: Free space a build needs under build/ (RPMs, repo, image layers in the same file system).
BUILD_DISK_GIB = 4


def host_tools(ctx: Context) -> None:
    """The host tools are there, installed first when missing (as setup-host does)."""
    from pipeline.stages import setup_host

    setup_host.ensure_tools()


def foreign_platforms(ctx: Context) -> None:
    """Each platform of the build that is not the host's can be built: its emulator and cross
    compiler installed and registered (as setup-host does), or one line saying why not."""
    from pipeline.stages import setup_host

    setup_host.ensure_foreign(ctx.platforms)


def spec_tools(ctx: Context) -> None:
    """rpmspec, which plan's dry run parses every spec with (installed first when missing)."""
    from pipeline.stages import setup_host

    setup_host.ensure_tools(names=("rpmbuild",))


def go_toolchain(ctx: Context) -> None:
    """A Go new enough for every pinned version, installed into the user cache when missing."""
    from pipeline.tools.golang import ensure_go

    ensure_go()


def disk_space(ctx: Context) -> None:
    import shutil  # only the verbs that build check the disk: verify-tags starts without it

    ctx.build_root.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(ctx.build_root).free / 2**30
    if free < BUILD_DISK_GIB:
        raise SetupError(
            f"{ctx.build_root} has {free:.1f} GiB free; a build needs {BUILD_DISK_GIB} GiB",
            hint="free some space, e.g. python -m pipeline prune, or buildah rmi --prune",
        )


#: Seconds to wait for a registry's TCP handshake in the pre-flight check.
CONNECT_SECONDS = 5


def registry_reachable(ctx: Context) -> None:
    """The registry the verb talks to accepts connections, before any work starts.

    Only a TCP connect: a registry that is down is one line with the fix at once, while what a
    reachable registry answers is the verb's to judge and to retry. ``--manifests`` and the
    release records of ``--releases`` name their own registries, so nothing is checked for them
    here: the audit reports a registry that is down per release.
    """
    if ctx.options.manifests or ctx.options.releases is not None:
        return
    from pipeline.images.reference import is_loopback_host

    address = ctx.options.registry or ctx.target.registry
    default = 80 if is_loopback_host(address) else 443
    try:
        split = urlsplit(f"//{address}")
        where = (split.hostname or address, split.port or default)
        socket.create_connection(where, timeout=CONNECT_SECONDS).close()
    except (OSError, ValueError) as exc:
        local = is_loopback_host(address)
        raise RegistryError(
            f"registry {address} does not accept connections: {exc}",
            hint="start it: python -m pipeline registry start"
            if local
            else "check the address (--registry) and the network",
        ) from None


def publish_registry(ctx: Context) -> None:
    """publish starts the `local` target's loopback registry itself; any other must be up."""
    from pipeline.images.reference import is_loopback_host

    address = ctx.options.registry or ctx.target.registry
    if ctx.target.local_base and is_loopback_host(address):
        return
    registry_reachable(ctx)


def _setup_host(ctx: Context) -> int:
    from pipeline.stages import setup_host

    return setup_host.main(ctx)


def _plan(ctx: Context) -> int:
    from pipeline.stages import plan

    return plan.main(ctx)


def _fetch_sources(ctx: Context) -> int:
    from pipeline.stages import fetch_sources

    return fetch_sources.main(ctx)


def _rpms(ctx: Context) -> int:
    from pipeline.stages import rpms

    return rpms.main(ctx)


def _containers(ctx: Context) -> int:
    from pipeline.stages import containers

    return containers.main(ctx)


def _build(ctx: Context) -> int:
    from pipeline.stages import build

    return build.main(ctx)


def _publish(ctx: Context) -> int:
    from pipeline.stages import publish

    return publish.main(ctx)


def _verify_tags(ctx: Context) -> int:
    from pipeline.stages import verify

    return verify.main(ctx)


def _registry(ctx: Context) -> int:
    from pipeline.stages import registry

    return registry.main(ctx)


def _obs_export(ctx: Context) -> int:
    from pipeline.obs import export

    return export.main(ctx)


def _prune(ctx: Context) -> int:
    from pipeline.stages import prune

    return prune.main(ctx)


def _upstream(ctx: Context) -> int:
    from pipeline.stages import upstream

    return upstream.main(ctx)


def _bench(ctx: Context) -> int:
    from pipeline.stages import bench

    return bench.main(ctx)


@dataclass(frozen=True)
class Verb:
    """One verb of the command line: its handler and the checks it runs before."""

    name: str
    help: str
    handler: Handler
    #: Run in order before the handler; each raises when the verb cannot start.
    preflight: tuple[Check, ...] = ()
    #: The target when the command line names none.
    default_target: str = "local"

    def run(self, ctx: Context) -> int:
        for check in self.preflight:
            check(ctx)
        return self.handler(ctx)


BUILDS = (host_tools, foreign_platforms, go_toolchain, disk_space)

VERBS = (
    Verb("setup-host", "check the host tools and install the missing ones", _setup_host),
    Verb(
        "plan",
        "resolve a target without building: base, versions, tags, what is up to date",
        _plan,
        (spec_tools,),
    ),
    Verb(
        "fetch-sources",
        "download the pinned upstream tarballs of a target (sha256-checked), make its build roots",
        _fetch_sources,
    ),
    Verb("rpms", "build the RPMs of every product with rpmbuild, then the repo", _rpms, BUILDS),
    Verb(
        "containers",
        "build every image with buildah from its Dockerfile and the RPM repo",
        _containers,
        BUILDS,
    ),
    Verb("build", "the rpms stage, then the containers stage (steps 1 and 2)", _build, BUILDS),
    Verb(
        "publish",
        "push every image, then move the floating tags and write the release record",
        _publish,
        (host_tools, publish_registry),
    ),
    Verb(
        "verify-tags",
        "check every image reference of the manifests against the registry",
        _verify_tags,
        (registry_reachable,),
    ),
    Verb("registry", "run the local loopback registry: start, stop or status", _registry),
    Verb("obs-export", "write the target as an OBS project tree", _obs_export),
    Verb(
        "prune",
        "remove the images, tags and blobs of releases older than the last N (default 3)",
        _prune,
        (host_tools,),
    ),
    Verb(
        "upstream",
        "the main job on the real upstream tarballs (build, publish, verify-tags, the binaries "
        "run), or a skip saying how to get the tarballs",
        _upstream,
        # None here: a skip needs no tool; build, publish and verify-tags run their own.
        default_target="local-upstream",
    ),
    Verb("bench", "run the benchmarks and print their figures", _bench, BUILDS),
)
BY_NAME = {verb.name: verb for verb in VERBS}
