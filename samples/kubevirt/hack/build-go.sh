#!/usr/bin/env bash
# hack/build-go.sh <target> [cmd/<component> ...]
#
# The interface of upstream KubeVirt's script: "install" builds each named component into
# _out/cmd/<name>/<name>-${KUBEVIRT_VERSION}-linux-<arch> with a <name> symlink next to it
# and a .version file, and always builds the static C container-disk into
# _out/cmd/container-disk-v2alpha/container-disk. With no components it builds the default
# set and the functional tests. Other targets (vet, test, ...) are passed on to go.
set -e

source hack/common.sh
source hack/config.sh
source hack/version.sh
source hack/go-build-functests.sh

target=${1:-install}
[ $# -gt 0 ] && shift

if [ $# -eq 0 ]; then
    args=${binaries}
    build_tests=true
else
    args=$*
fi

case "$(uname -m)" in
x86_64 | amd64) ARCH=amd64 ;;
aarch64 | arm64) ARCH=arm64 ;;
s390x) ARCH=s390x ;;
*)
    echo "unsupported architecture $(uname -m): only x86_64, aarch64 and s390x" >&2
    exit 1
    ;;
esac

pkg_dir() {
    # Go dropped -pkgdir's use for caching; kept for interface parity with upstream.
    if [ -n "${KUBEVIRT_GO_BASE_PKGDIR:-}" ]; then
        echo "-pkgdir ${KUBEVIRT_GO_BASE_PKGDIR}/$1-$2"
    fi
}

if [ "${target}" = "install" ]; then
    mkdir -p "${CMD_OUT_DIR}/container-disk-v2alpha"
    echo "building static binary container-disk"
    gcc -static -O2 -o "${CMD_OUT_DIR}/container-disk-v2alpha/container-disk" \
        cmd/container-disk-v2alpha/main.c
fi

ldflags="$(kubevirt::version::ldflags)"
for arg in ${args}; do
    arg=${arg%/}
    if [ "${target}" != "install" ]; then
        GOPROXY=off go "${target}" "./${arg}/..."
        continue
    fi
    bin_name=$(basename "${arg}")
    linux_name=${bin_name}-${KUBEVIRT_VERSION}-linux-${ARCH}
    out_dir=${CMD_OUT_DIR}/${bin_name}
    mkdir -p "${out_dir}"
    GOPROXY=off go vet "./${arg}"
    echo "building dynamic binary ${bin_name}"
    # shellcheck disable=SC2046 # pkg_dir expands to two words or nothing
    GOOS=linux GOARCH=${ARCH} go_build -tags "${KUBEVIRT_GO_BUILD_TAGS}" \
        -o "${out_dir}/${linux_name}" -ldflags "${ldflags}" $(pkg_dir linux "${ARCH}") "./${arg}"
    ln -sf "${linux_name}" "${out_dir}/${bin_name}"
    echo "${KUBEVIRT_GIT_VERSION:-}" >"${out_dir}/.version"
done

if [ "${target}" = "install" ] && [ "${build_tests:-}" = "true" ]; then
    build_func_tests
fi
