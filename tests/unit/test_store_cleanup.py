"""What the session's clean-up of the host's buildah store removes (tests/support/store.py)."""

from __future__ import annotations

from tests.support.store import made_since


def test_only_images_the_session_made_under_a_test_registry_go() -> None:
    now = {
        "old": ("127.0.0.1:41234/kubevirt/virt-api:1.9.0-1.1-x86_64",),
        "built": ("127.0.0.1:41234/kubevirt/virt-api:1.9.0-2.1-x86_64",),
        "users": ("127.0.0.1:5555/kubevirt/virt-api:1.9.0-2.1-x86_64",),
        "half-way": (),
        "base": ("localhost/pipeline/local-base:0313881e9bf4819a-x86_64",),
        "tree": ("localhost/pipeline/local-base-rootfs:0313881e9bf4819a-x86_64",),
        "also-elsewhere": ("127.0.0.1:41234/kubevirt/a:1", "quay.io/someone/a:1"),
    }
    assert made_since({"old"}, now) == ["built"]
