#!/usr/bin/env bash
# Version stamping, honouring the variables upstream CDI's hack/build/version.sh reads:
# CDI_GIT_COMMIT, CDI_GIT_TREE_STATE, CDI_GIT_VERSION (taken as given when set, else asked
# from git) and CDI_SOURCE_DATE_EPOCH (the build date; HEAD's commit date when unset).

cdi::version::get_version_vars() {
    local git=(git --work-tree "${CDI_DIR}")
    if [[ -z ${CDI_GIT_COMMIT-} ]]; then
        CDI_GIT_COMMIT=$("${git[@]}" rev-parse "HEAD^{commit}" 2>/dev/null) || return 0
    fi
    if [[ -z ${CDI_GIT_TREE_STATE-} ]]; then
        if [[ -z $("${git[@]}" status --porcelain 2>/dev/null) ]]; then
            CDI_GIT_TREE_STATE=clean
        else
            CDI_GIT_TREE_STATE=dirty
        fi
    fi
    if [[ -z ${CDI_GIT_VERSION-} ]]; then
        CDI_GIT_VERSION=$("${git[@]}" describe --match='v[0-9]*' --tags --abbrev=14 \
            "${CDI_GIT_COMMIT}^{commit}" 2>/dev/null) || return 0
        [[ ${CDI_GIT_TREE_STATE} == dirty ]] && CDI_GIT_VERSION+="-dirty"
    fi
    if ! [[ ${CDI_GIT_VERSION} =~ ^v[0-9]+\.[0-9]+(\.[0-9]+)?(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$ ]]; then
        echo "CDI_GIT_VERSION '${CDI_GIT_VERSION}' is not a semantic version" >&2
        exit 1
    fi
}

# The -ldflags value: -X settings for pkg/version of this module, quoted as upstream does.
cdi::version::ldflags() {
    cdi::version::get_version_vars
    local pkg=${CDI_GO_PACKAGE}/pkg/version
    local epoch=${CDI_SOURCE_DATE_EPOCH-$(git -C "${CDI_DIR}" show -s --format=format:%ct HEAD 2>/dev/null)}
    local date_arg=()
    [[ -n ${epoch} ]] && date_arg=(--date="@${epoch}")
    local flags=("-X '${pkg}.buildDate=$(date "${date_arg[@]}" -u +'%Y-%m-%dT%H:%M:%SZ')'")
    if [[ -n ${CDI_GIT_COMMIT-} ]]; then
        flags+=("-X '${pkg}.gitCommit=${CDI_GIT_COMMIT}'")
        flags+=("-X '${pkg}.gitTreeState=${CDI_GIT_TREE_STATE}'")
    fi
    if [[ -n ${CDI_GIT_VERSION-} ]]; then
        flags+=("-X '${pkg}.gitVersion=${CDI_GIT_VERSION}'")
    fi
    echo "${flags[*]}"
}
