#!/usr/bin/env bash
# Builds the functional test binary into _out/tests/tests.test (sourced by build-go.sh).
set -e
source hack/common.sh

build_func_tests() {
    echo "building functional tests"
    rm -rf "${TESTS_OUT_DIR}"
    mkdir -p "${TESTS_OUT_DIR}"
    GOPROXY=off go test -tags "${KUBEVIRT_GO_BUILD_TAGS}" -ldflags "$(kubevirt::version::ldflags)" \
        -c -o "${TESTS_OUT_DIR}/tests.test" ./tests
}

if [[ "${BASH_SOURCE[0]}" == "${0}" ]]; then
    source hack/version.sh
    build_func_tests
fi
