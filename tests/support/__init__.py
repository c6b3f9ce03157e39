"""What the test suites share: paths, host-tool checks, buildah on a private store, the
loopback registry and images pushed into it."""
