"""What the session's clean-up of the host's buildah store removes (tests/support/store.py)."""

from __future__ import annotations

from tests.support.store import made_since


def test_only_images_the_session_made_go_and_never_a_local_base() -> None:
    now = {
        "old": ("127.0.0.1:5555/kubevirt/virt-api:1.9.0-1.1-x86_64",),
        "built": ("127.0.0.1:41234/kubevirt/virt-api:1.9.0-2.1-x86_64",),
        "layer": (),
        "base": ("localhost/pipeline/local-base:0313881e9bf4819a-x86_64",),
        "list": (
            "localhost/pipeline/local-base:0313881e9bf4819a",
            "localhost/pipeline/local-base:latest",
        ),
        "tree": ("localhost/pipeline/local-base-rootfs:0313881e9bf4819a-x86_64",),
        "lookalike": ("localhost/pipeline/local-base-other:1",),
    }
    assert made_since({"old"}, now) == ["built", "layer", "lookalike"]
