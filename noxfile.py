"""nox entry point; the sessions are defined in pipeline/nox_sessions.py (`nox -l` lists them)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from pipeline.nox_sessions import *  # noqa: F403
