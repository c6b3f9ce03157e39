#!/usr/bin/env bash
# Helpers of build-manifests.sh: run the generator with the image coordinates derived from
# DOCKER_PREFIX, DOCKER_TAG and the *_IMAGE_NAME settings, like upstream.

generator_image_args() {
    echo -docker-repo="${DOCKER_PREFIX}" \
        -docker-tag="${DOCKER_TAG}" \
        -operator-version="${DOCKER_TAG}" \
        -deploy-cluster-resources=true \
        -operator-image="${DOCKER_PREFIX}/${OPERATOR_IMAGE_NAME}:${DOCKER_TAG}" \
        -controller-image="${DOCKER_PREFIX}/${CONTROLLER_IMAGE_NAME}:${DOCKER_TAG}" \
        -importer-image="${DOCKER_PREFIX}/${IMPORTER_IMAGE_NAME}:${DOCKER_TAG}" \
        -cloner-image="${DOCKER_PREFIX}/${CLONER_IMAGE_NAME}:${DOCKER_TAG}" \
        -apiserver-image="${DOCKER_PREFIX}/${APISERVER_IMAGE_NAME}:${DOCKER_TAG}" \
        -uploadproxy-image="${DOCKER_PREFIX}/${UPLOADPROXY_IMAGE_NAME}:${DOCKER_TAG}" \
        -uploadserver-image="${DOCKER_PREFIX}/${UPLOADSERVER_IMAGE_NAME}:${DOCKER_TAG}" \
        -ovirt-populator-image="${DOCKER_PREFIX}/${OVIRT_POPULATOR_IMAGE_NAME}:${DOCKER_TAG}" \
        -verbosity="${VERBOSITY}" \
        -pull-policy="${PULL_POLICY}" \
        -namespace="${CDI_NAMESPACE}"
}

# generateResourceManifest <generator> <out dir> <resource type> <resource group> <file>
generateResourceManifest() {
    local generator=$1 target_dir=$2 resource_type=$3 resource_group=$4 filename=$5
    rm -f "${target_dir}/${filename}"
    # shellcheck disable=SC2046 # the argument list is built to split into words
    "${generator}" -resource-type="${resource_type}" -resource-group="${resource_group}" \
        $(generator_image_args) >"${target_dir}/${filename}"
    sed -i -e '${/^$/d;}' "${target_dir}/${filename}"
}

# processDirTemplates <template dir> <out dir> <generator> <generated manifests dir>
processDirTemplates() {
    local in_dir=$1 out_dir=$2 generator=$3 generated=$4 tmpl
    rm -rf "${out_dir}"
    mkdir -p "${out_dir}"
    for tmpl in $(find "${in_dir}" -maxdepth 1 -name '*.in' -type f | sort); do
        # shellcheck disable=SC2046
        "${generator}" -template="${tmpl}" $(generator_image_args) -cr-name="${CR_NAME}" \
            -generated-manifests-path="${generated}" >"${out_dir}/$(basename -s .in "${tmpl}")"
    done
    find "${out_dir}" -type f -exec sed -i -e '${/^$/d;}' {} \;
}
