"""Where things are: the repository and the test data; a project's inputs copied elsewhere."""

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
#: What a project is made of: pipeline.yaml and every file it names (the build roots' package
#: map is under base/).
PROJECT_INPUTS = ("pipeline.yaml", "prjconf", "specs", "samples", "dockerfiles", "base")


def copy_inputs(destination: Path, project: Path = ROOT) -> Path:
    """A project at ``destination`` with the inputs of ``project`` (the repository's by default;
    pipeline.yaml refuses paths that leave the project, symlinks too) and no ``build/``;
    returns ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_INPUTS:
        source, copy = project / name, destination / name
        if copy.exists() or not source.exists():
            continue
        if source.is_dir():
            shutil.copytree(source, copy, ignore=shutil.ignore_patterns("_out", "__pycache__"))
        else:
            shutil.copy2(source, copy)
    return destination
