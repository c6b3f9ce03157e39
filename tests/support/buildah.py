"""buildah on a private store: real images for tests and benchmarks that neither see nor disturb
the host's store (the pipeline itself always uses the host's)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.tools.run import run


@dataclass(frozen=True)
class PrivateStore:
    """buildah on a private vfs storage root, for tests and benchmarks: small real images that
    neither see nor disturb the host's store."""

    root: Path

    def __call__(self, *args: str) -> str:
        argv = [
            "buildah",
            "--root",
            str(self.root / "storage"),
            "--runroot",
            str(self.root / "run"),
            "--storage-driver",
            "vfs",
            *args,
        ]
        return run(argv, timeout=300).stdout.strip()

    def image(
        self,
        name: str,
        *,
        content: str,
        arch: str = "amd64",
        variant: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> str:
        """A real one-layer image (a text file on scratch) committed as ``name``."""
        self.root.mkdir(parents=True, exist_ok=True)
        source = self.root / f"content-{uuid.uuid4().hex}.txt"
        source.write_text(content)
        container = self("from", "scratch")
        try:
            self("copy", "--quiet", container, str(source), "/content.txt")
            config = ["config", "--os", "linux", "--arch", arch]
            if variant:
                config += ["--variant", variant]
            for key, value in (labels or {}).items():
                config += ["--label", f"{key}={value}"]
            self(*config, container)
            return self("commit", "--quiet", container, name)
        finally:
            self("rm", container)
            source.unlink(missing_ok=True)
