#!/usr/bin/env bash
# Renders manifests/**/*.yaml.in into _out/manifests/ the way upstream KubeVirt does: build
# tools/manifest-templator, inline manifests/generated/ (--process-files), then fill the
# variables (--process-vars) from DOCKER_PREFIX, DOCKER_TAG, IMAGE_PREFIX,
# KUBEVIRT_INSTALLED_NAMESPACE, IMAGE_PULL_POLICY, VERBOSITY, CSV_VERSION and any extra
# templator flags in TEMPLATOR_EXTRA_FLAGS (e.g. --virt-api-image=...).
set -e

source hack/common.sh
source hack/config.sh

rm -rf "${MANIFESTS_OUT_DIR}" "${MANIFEST_TEMPLATES_OUT_DIR}" "${TESTS_OUT_DIR}/tools"
mkdir -p "${TESTS_OUT_DIR}/tools"
templator=${TESTS_OUT_DIR}/tools/manifest-templator

if [ "${KUBEVIRT_NO_BAZEL}" != "true" ]; then
    echo "the sample has no Bazel workspace: run with KUBEVIRT_NO_BAZEL=true" >&2
    exit 1
fi
(cd "${KUBEVIRT_DIR}/tools/manifest-templator" && go_build -o "${templator}" .)

inputs=$(cd "${KUBEVIRT_DIR}/manifests" && find . -type f -name '*.yaml.in' -not -path './generated/*' | sort)
for rel in ${inputs}; do
    "${templator}" --process-files \
        --generated-manifests-dir="${KUBEVIRT_DIR}/manifests/generated/" \
        --input-file="${KUBEVIRT_DIR}/manifests/${rel}" >"${KUBEVIRT_DIR}/manifests/${rel}.tmp"
done

for rel in ${inputs}; do
    out_dir=$(dirname "${MANIFESTS_OUT_DIR}/${rel}")
    mkdir -p "${out_dir}" "$(dirname "${MANIFEST_TEMPLATES_OUT_DIR}/${rel}")"
    name=$(basename -s .yaml.in "${rel}").yaml
    name=${name/VERSION/${csv_version}}
    # shellcheck disable=SC2086 # extra flags are meant to split into words
    "${templator}" --process-vars \
        --container-prefix="${manifest_docker_prefix}" \
        --container-tag="${docker_tag}" \
        --csv-version="${csv_version}" \
        --image-prefix="${image_prefix}" \
        --image-pull-policy="${image_pull_policy}" \
        --namespace="${namespace}" \
        --verbosity="${verbosity}" \
        --input-file="${KUBEVIRT_DIR}/manifests/${rel}.tmp" \
        ${TEMPLATOR_EXTRA_FLAGS:-} >"${out_dir}/${name}"
    rm -f "${KUBEVIRT_DIR}/manifests/${rel}.tmp"
done

# Go templates leave a trailing empty line; drop it as upstream does.
find "${MANIFESTS_OUT_DIR}" -type f -exec sed -i -e '${/^$/d;}' {} \;
