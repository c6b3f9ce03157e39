"""Credentials: the auth files in the container tools' order, and a broken auth file."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from pipeline.core.errors import RegistryError
from pipeline.images.registry import (
    RetryPolicy,
    auth_files,
    find_credentials,
)

FAST = RetryPolicy(attempts=2, total_seconds=2.0, backoff=0.01, max_backoff=0.02)


def _auth(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_auth_files_in_the_container_tools_order(tmp_path: Path) -> None:
    env = {
        "REGISTRY_AUTH_FILE": str(tmp_path / "explicit.json"),
        "XDG_RUNTIME_DIR": str(tmp_path / "run"),
        "HOME": str(tmp_path / "home"),
    }
    assert auth_files(env) == [
        tmp_path / "explicit.json",
        tmp_path / "run/containers/auth.json",
        tmp_path / "home/.docker/config.json",
    ]
    (tmp_path / "run/containers").mkdir(parents=True)
    (tmp_path / "home/.docker").mkdir(parents=True)
    (tmp_path / "run/containers/auth.json").write_text(
        json.dumps({"auths": {"quay.io": _auth("xdg", "p1")}})
    )
    (tmp_path / "home/.docker/config.json").write_text(
        json.dumps(
            {
                "auths": {
                    "https://quay.io": _auth("docker", "p2"),
                    "https://index.docker.io/v1/": _auth("hub", "p3"),
                    "http://127.0.0.1:5000/": _auth("local", "p4"),
                    "reg.example/team": {"username": "team", "password": "p5"},
                }
            }
        )
    )
    # The explicit file does not exist: the next one answers.
    creds = find_credentials("quay.io", "a/b", env)
    assert creds is not None and (creds.username, creds.password) == ("xdg", "p1")
    assert find_credentials("docker.io", "library/x", env).username == "hub"  # type: ignore[union-attr]
    assert find_credentials("127.0.0.1:5000", "x", env).username == "local"  # type: ignore[union-attr]
    # A key naming a namespace applies to repositories below it only.
    assert find_credentials("reg.example", "team/app", env).username == "team"  # type: ignore[union-attr]
    assert find_credentials("reg.example", "other/app", env) is None
    (tmp_path / "explicit.json").write_text(json.dumps({"auths": {"quay.io": _auth("first", "p")}}))
    assert find_credentials("quay.io", "a/b", env).username == "first"  # type: ignore[union-attr]
    # Environment variables are the last resort.
    env_only = {"HOME": str(tmp_path / "nohome"), "PIPELINE_REGISTRY_USERNAME": "ci"}
    assert find_credentials("quay.io", "", env_only) is None
    env_only["PIPELINE_REGISTRY_PASSWORD"] = "from-env"
    assert find_credentials("quay.io", "", env_only).password == "from-env"  # type: ignore[union-attr]


def test_broken_auth_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "auth.json"
    bad.write_text('{"auths": {"quay.io": ')
    with pytest.raises(RegistryError, match="cannot read auth file"):
        find_credentials("quay.io", "", {"REGISTRY_AUTH_FILE": str(bad), "HOME": str(tmp_path)})
