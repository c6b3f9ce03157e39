"""The OBS executable form of a service: ``<name> --param value ... --outdir DIR``.

Run in the package directory, as OBS does; the context comes from the environment
(:func:`~pipeline.services.base.context_from_environ`). Failure: one line on stderr and a
non-zero exit (2 for bad input, 3 for a tool that failed).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from pipeline.core.errors import EXIT_INPUT, PipelineError
from pipeline.services.base import ServiceSpec, ServiceUsageError, context_from_environ


def main(service: ServiceSpec, argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format=f"{service.name}: %(message)s")
    try:
        args = service.build_parser(True).parse_args(sys.argv[1:] if argv is None else argv)
        if not args.outdir.is_dir():
            raise ServiceUsageError(f"{args.outdir} is not a directory", option="outdir")
        result = service.run(args, Path.cwd(), context_from_environ(os.environ))
    except ServiceUsageError as exc:
        option = f"--{exc.option}: " if exc.option else ""
        hint = f" ({exc.hint})" if exc.hint else ""
        print(f"{service.name}: {option}{exc.message}{hint}", file=sys.stderr)
        return EXIT_INPUT
    except PipelineError as exc:
        print(f"{service.name}: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    for name in result.written:
        print(f"{service.name}: wrote {name}")
    return 0
