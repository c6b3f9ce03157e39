#!/usr/bin/env bash
# Version stamping for the sample's binaries. Honours the variables upstream's
# hack/version.sh reads:
#   KUBEVIRT_GIT_COMMIT, KUBEVIRT_GIT_TREE_STATE, KUBEVIRT_GIT_VERSION - taken as given when
#     set (a release tarball has no .git), otherwise asked from git;
#   KUBEVIRT_SOURCE_DATE_EPOCH - the build date (reproducible builds); when unset, the date
#     of the HEAD commit.

kubevirt::version::get_version_vars() {
    local git=(git --work-tree "${KUBEVIRT_DIR}")
    if [[ -z ${KUBEVIRT_GIT_COMMIT-} ]]; then
        KUBEVIRT_GIT_COMMIT=$("${git[@]}" rev-parse "HEAD^{commit}" 2>/dev/null) || return 0
    fi
    if [[ -z ${KUBEVIRT_GIT_TREE_STATE-} ]]; then
        if [[ -z $("${git[@]}" status --porcelain 2>/dev/null) ]]; then
            KUBEVIRT_GIT_TREE_STATE=clean
        else
            KUBEVIRT_GIT_TREE_STATE=dirty
        fi
    fi
    if [[ -z ${KUBEVIRT_GIT_VERSION-} ]]; then
        KUBEVIRT_GIT_VERSION=$("${git[@]}" describe --match='v[0-9]*' --tags --abbrev=14 \
            "${KUBEVIRT_GIT_COMMIT}^{commit}" 2>/dev/null) || return 0
        [[ ${KUBEVIRT_GIT_TREE_STATE} == dirty ]] && KUBEVIRT_GIT_VERSION+="-dirty"
    fi
    if ! [[ ${KUBEVIRT_GIT_VERSION} =~ ^v[0-9]+\.[0-9]+(\.[0-9]+)?(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$ ]]; then
        echo "KUBEVIRT_GIT_VERSION '${KUBEVIRT_GIT_VERSION}' is not a semantic version" >&2
        exit 1
    fi
}

# The -ldflags value: -X settings for kubevirt.io/client-go/version, as upstream.
kubevirt::version::ldflags() {
    kubevirt::version::get_version_vars
    local pkg=kubevirt.io/client-go/version
    local epoch=${KUBEVIRT_SOURCE_DATE_EPOCH-$(git -C "${KUBEVIRT_DIR}" show -s --format=format:%ct HEAD 2>/dev/null)}
    local date_arg=()
    [[ -n ${epoch} ]] && date_arg=(--date="@${epoch}")
    local flags=("-X ${pkg}.buildDate=$(date "${date_arg[@]}" -u +'%Y-%m-%dT%H:%M:%SZ')")
    if [[ -n ${KUBEVIRT_GIT_COMMIT-} ]]; then
        flags+=("-X ${pkg}.gitCommit=${KUBEVIRT_GIT_COMMIT}")
        flags+=("-X ${pkg}.gitTreeState=${KUBEVIRT_GIT_TREE_STATE}")
    fi
    if [[ -n ${KUBEVIRT_GIT_VERSION-} ]]; then
        flags+=("-X ${pkg}.gitVersion=${KUBEVIRT_GIT_VERSION}")
    fi
    echo "${flags[*]}"
}
