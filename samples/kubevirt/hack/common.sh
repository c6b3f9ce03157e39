#!/usr/bin/env bash
# Shared paths and helpers of the sample's build scripts. Same variable names as upstream
# KubeVirt's hack/common.sh, so a spec file drives both the same way.

KUBEVIRT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_DIR=${KUBEVIRT_DIR}/_out
TESTS_OUT_DIR=${OUT_DIR}/tests
MANIFESTS_OUT_DIR=${OUT_DIR}/manifests
MANIFEST_TEMPLATES_OUT_DIR=${OUT_DIR}/templates/manifests
KUBEVIRT_NO_BAZEL=${KUBEVIRT_NO_BAZEL:-false}

# Upstream always builds from vendor/. The sample has no dependencies and so no vendor/
# directory; asking for -mod=vendor there would fail, so it is added only when vendor/ exists.
if [ -d "${KUBEVIRT_DIR}/vendor" ]; then
    export GOFLAGS="${GOFLAGS:-} -mod=vendor"
fi

# Builds never reach for the network: everything comes from the tree (or vendor/).
go_build() {
    GOPROXY=off go build "$@"
}
