"""skopeo, for what buildah cannot do: copy a manifest from one tag to another as it is."""

from __future__ import annotations

from pipeline.tools.run import run


def copy_manifest(source: str, destination: str, *, tls_verify: bool) -> None:
    """Point ``destination`` at the manifest (or index) ``source`` names, byte for byte:
    ``--preserve-digests --all``, so the digest stays and no blob is uploaded again (the
    registry already holds them). ``buildah push`` would re-serialise the image instead."""
    tls = str(tls_verify).lower()
    run(
        [
            "skopeo",
            "copy",
            "--preserve-digests",
            "--all",
            f"--src-tls-verify={tls}",
            f"--dest-tls-verify={tls}",
            f"docker://{source}",
            f"docker://{destination}",
        ],
        timeout=600,
    )
