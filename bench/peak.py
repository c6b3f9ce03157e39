"""``python -m bench.peak RESULT -- ARGV...``: run ARGV and write its wall seconds, exit code and
peak resident memory to RESULT (JSON); ARGV's output passes through.

Why a process in between: Linux counts into a child's ``ru_maxrss`` the memory of the process it
was forked from (``exec`` keeps the larger of the old and the new high-water mark), so a child
of the bench (tens of MiB holding the scale set) would report the bench's size, not its own. This
wrapper imports nothing beyond ``os``, ``sys``, ``time`` and ``json``; forked from it, the
measured process reports its own peak (the wrapper's ~10 MiB is below any Python program's).
The time is taken here, around the fork, so the wrapper's own start-up is not counted.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write("usage: python -m bench.peak RESULT -- ARGV...\n")
        return 2
    result, command = argv[0], argv[2:]
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child becomes ``command``
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    with open(result, "w", encoding="utf-8") as handle:
        json.dump({"seconds": seconds, "code": code, "peak_kib": usage.ru_maxrss}, handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
