"""The HEAD floor: a bare concurrent loop of ``HEAD /v2/<name>/manifests/<tag>``, the least any
checker over HTTP must do. Run as its own process (``python -m bench.floor KIND REFS_FILE``), so
that its peak memory is measured the way verify-tags' is; it prints its loop's seconds (start-up
left out, as before) and how many references were missing, as JSON.

Two kinds, each with ``WORKERS`` threads (as wide as verify-tags):
- ``requests``: one ``requests.Session`` whose pool is as wide as the threads (the floor the
  targets are measured against, as since the first bench);
- ``stdlib``: one keep-alive ``http.client`` connection per thread, the floor of the client
  verify-tags itself uses (``pipeline/images/registry/http.py``), shown beside it.

``child`` runs any command the same way for every measured process: wall seconds, exit code,
and its own peak resident memory (``bench/peak.py`` says why it runs in between).
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.images.registry import ACCEPT
from pipeline.tools.run import run

WORKERS = 16  # verify-tags' own width (pipeline/stages/audit.py WORKERS)
KINDS = ("requests", "stdlib")


def split_reference(reference: str) -> tuple[str, str, str]:
    """``host:port/name:tag`` -> (host:port, name, tag); the scale set writes only this form."""
    registry, rest = reference.split("/", 1)
    name, tag = rest.rsplit(":", 1)
    return registry, name, tag


def head_requests(references: Sequence[str], workers: int = WORKERS) -> tuple[float, int]:
    """Seconds to HEAD every reference concurrently with requests, and how many were missing."""
    import requests

    def one(session: requests.Session, reference: str) -> bool:
        registry, name, tag = split_reference(reference)
        resp = session.head(
            f"http://{registry}/v2/{name}/manifests/{tag}", headers={"Accept": ACCEPT}, timeout=30
        )
        return resp.status_code == 200

    started = time.perf_counter()
    with requests.Session() as session, ThreadPoolExecutor(max_workers=workers) as pool:
        # The session's pool is as wide as the thread pool, so no thread waits for a connection.
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=workers)
        session.mount("http://", adapter)
        found = list(pool.map(lambda ref: one(session, ref), references))
    return time.perf_counter() - started, found.count(False)


def head_stdlib(references: Sequence[str], workers: int = WORKERS) -> tuple[float, int]:
    """The same with ``http.client``: one keep-alive connection per thread and registry."""
    local = threading.local()
    opened: list[http.client.HTTPConnection] = []

    def one(reference: str) -> bool:
        registry, name, tag = split_reference(reference)
        connections: dict[str, http.client.HTTPConnection] = local.__dict__.setdefault("c", {})
        conn = connections.get(registry)
        if conn is None:
            host, port = registry.rsplit(":", 1)
            conn = connections[registry] = http.client.HTTPConnection(host, int(port), timeout=30)
            opened.append(conn)
        conn.request("HEAD", f"/v2/{name}/manifests/{tag}", headers={"Accept": ACCEPT})
        resp = conn.getresponse()
        resp.read()
        return resp.status == 200

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            found = list(pool.map(one, references))
    finally:
        for conn in opened:
            conn.close()
    return time.perf_counter() - started, found.count(False)


@dataclass(frozen=True)
class Child:
    """One measured process."""

    seconds: float
    code: int
    peak_kib: int
    stdout: str
    stderr: str


def child(argv: Sequence[str], cwd: Path, env: Mapping[str, str], scratch: Path) -> Child:
    """Run ``argv`` to its end through ``bench/peak.py``: wall seconds (its start-up included,
    the wrapper's not), exit code, and its own peak resident memory."""
    measured = scratch / "peak.json"
    measured.unlink(missing_ok=True)
    wrapper = [sys.executable, "-m", "bench.peak", str(measured), "--", *argv]
    done = run(wrapper, cwd=cwd, env=env, check=False, timeout=3600)
    if not measured.is_file():
        raise PipelineError(f"bench.peak measured nothing: {done.stderr.strip()[-300:]}")
    data = json.loads(measured.read_text())
    return Child(data["seconds"], data["code"], data["peak_kib"], done.stdout, done.stderr)


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2 or argv[0] not in KINDS:
        sys.stderr.write(f"usage: python -m bench.floor {{{'|'.join(KINDS)}}} REFS_FILE\n")
        return 2
    references = Path(argv[1]).read_text().split()
    loop = head_requests if argv[0] == "requests" else head_stdlib
    seconds, missing = loop(references)
    sys.stdout.write(json.dumps({"seconds": seconds, "missing": missing}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
