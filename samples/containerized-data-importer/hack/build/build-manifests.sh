#!/usr/bin/env bash
# Renders manifests/templates/release/*.in into _out/manifests/release/ the way upstream CDI
# does: build tools/manifest-generator (GO111MODULE=off by default, as upstream), generate
# the operator resources into manifests/generated/, then render the templates. Honours
# DOCKER_PREFIX, DOCKER_TAG, the *_IMAGE_NAME names, VERBOSITY, PULL_POLICY, CR_NAME and
# CDI_NAMESPACE.
set -euo pipefail

script_dir="$(cd "$(dirname "$0")" && pwd -P)"
source "${script_dir}"/common.sh
source "${script_dir}"/config.sh
source "${script_dir}"/resource-generator.sh

generator="${BIN_DIR}/manifest-generator"
mkdir -p "${BIN_DIR}"
(cd "${CDI_DIR}/tools/manifest-generator/" && GO111MODULE=${GO111MODULE:-off} go build -o "${generator}" .)

echo "DOCKER_PREFIX=${DOCKER_PREFIX}"
echo "DOCKER_TAG=${DOCKER_TAG}"

mkdir -p "${MANIFEST_GENERATED_DIR}"
generateResourceManifest "${generator}" "${MANIFEST_GENERATED_DIR}" operator everything operator-everything.yaml.in
processDirTemplates "${MANIFEST_TEMPLATE_DIR}/release" "${OUT_DIR}/manifests/release" "${generator}" "${MANIFEST_GENERATED_DIR}"
