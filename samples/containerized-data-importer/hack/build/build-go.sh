#!/usr/bin/env bash
# hack/build/build-go.sh [build|test|<go command>] [<dir> ...]
#
# The interface of upstream CDI's script: "build" compiles each named directory (cmd/<c>,
# tools/<t>) into _out/<dir>/<name> with a link in bin/, stamped with the version ldflags;
# with no directories it builds the default set. Other commands are passed on to go.
set -eo pipefail

script_dir="$(cd "$(dirname "$0")" && pwd -P)"
source "${script_dir}"/common.sh
source "${script_dir}"/config.sh
source "${script_dir}"/version.sh

mkdir -p "${BIN_DIR}" "${CMD_OUT_DIR}"

go_opt=${1:-build}
[ $# -gt 0 ] && shift
targets="$*"

cd "${CDI_DIR}"
if [ "${go_opt}" == "build" ]; then
    ldflags="$(cdi::version::ldflags)"
    for tgt in ${targets:-${BINARIES}}; do
        bin_path=${tgt%/}
        bin_name=$(basename "${bin_path}")
        out_file=${OUT_DIR}/${bin_path}/${bin_name}
        rm -f "${out_file}" "${BIN_DIR}/${bin_name}"
        # Only Linux executables, as upstream.
        GOOS=linux go build -o "${out_file}" -ldflags "${ldflags}" "./${bin_path}"
        ln -sf "${out_file}" "${BIN_DIR}/${bin_name}"
    done
else
    for tgt in ${targets:-cmd pkg tools}; do
        go "${go_opt}" "./${tgt%/}/..."
    done
fi
