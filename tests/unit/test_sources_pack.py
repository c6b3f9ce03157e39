"""Source0: a sample is packed reproducibly."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

from pipeline.stages.fetch_sources import pack_sample
from tests.support.paths import ROOT


def test_packing_a_sample_is_reproducible_and_keeps_hack_build(tmp_path: Path) -> None:
    sample = ROOT / "samples/containerized-data-importer"
    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    pack_sample(sample, first, "containerized-data-importer-1.66.0", 1_700_000_000)
    pack_sample(sample, second, "containerized-data-importer-1.66.0", 1_700_000_000)
    assert (
        hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    )
    with tarfile.open(first) as tar:
        names = tar.getnames()
        assert all(n.startswith("containerized-data-importer-1.66.0") for n in names)
        assert "containerized-data-importer-1.66.0/hack/build/version.sh" in names
        assert {m.mtime for m in tar.getmembers()} == {1_700_000_000}
        assert {(m.uid, m.gid) for m in tar.getmembers()} == {(0, 0)}
