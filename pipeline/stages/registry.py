"""``python -m pipeline registry start|stop|status``: the `local` target's loopback registry.

Its storage and state live under ``build/registry/``; the port is the one the `local` target
publishes to (pipeline.yaml), or ``--registry 127.0.0.1:PORT``.
"""

from __future__ import annotations

from pipeline.core.console import console, emit
from pipeline.core.context import Context
from pipeline.core.errors import InputError
from pipeline.images.reference import is_loopback_host
from pipeline.tools import registry_server

ACTIONS = ("start", "stop", "status")


def main(ctx: Context) -> int:
    options = ctx.options
    action = options.extra[0] if options.extra else "status"
    if action not in ACTIONS or len(options.extra) > 1:
        raise InputError(None, f"registry takes one of {', '.join(ACTIONS)}, not {options.extra}")
    project_path = ctx.project_path
    root = project_path.parent / registry_server.DEFAULT_ROOT
    if action == "stop":
        stopped = registry_server.stop(root)
        console().print("registry stopped" if stopped else "no registry was running")
        emit(options, {"running": False, "stopped": stopped})
        return 0
    if action == "start":
        # --registry names another loopback port; otherwise the one the target publishes to.
        address = options.registry or ctx.target.registry
        port = address.rpartition(":")[2]
        if not is_loopback_host(address) or not port.isdigit():
            raise InputError(
                project_path,
                f"target {options.target!r} publishes to {address}, not a loopback registry",
                hint="only the local target's registry runs here; use --registry 127.0.0.1:PORT",
            )
        registry_server.start(root, port=int(port))
    server = registry_server.status(root)
    if server is None:
        console().print("no registry is running")
        emit(options, {"running": False})
        return 0
    console().print(f"registry running on {server.url} (pid {server.pid}, storage {root})")
    emit(options, {"running": True, "url": server.url, "pid": server.pid, "root": str(root)})
    return 0
