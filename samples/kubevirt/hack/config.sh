#!/usr/bin/env bash
# Build settings with upstream's names and environment overrides (DOCKER_PREFIX, DOCKER_TAG,
# IMAGE_PREFIX, KUBEVIRT_INSTALLED_NAMESPACE, IMAGE_PULL_POLICY, VERBOSITY, CSV_VERSION).

docker_prefix=${DOCKER_PREFIX:-kubevirt}
manifest_docker_prefix=${MANIFEST_DOCKER_PREFIX:-${docker_prefix}}
docker_tag=${DOCKER_TAG:-latest}
image_prefix=${IMAGE_PREFIX:-}
namespace=${KUBEVIRT_INSTALLED_NAMESPACE:-kubevirt}
image_pull_policy=${IMAGE_PULL_POLICY:-IfNotPresent}
verbosity=${VERBOSITY:-2}

# The CSV version must look like x.y.z without a leading "v".
default_csv_version=${docker_tag/latest/0.0.0}
default_csv_version=${default_csv_version#v}
csv_version=${CSV_VERSION:-${default_csv_version}}

export docker_prefix manifest_docker_prefix docker_tag image_prefix namespace \
    image_pull_policy verbosity csv_version
