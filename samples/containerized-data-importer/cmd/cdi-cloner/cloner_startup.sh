#!/bin/bash
# Sample stand-in for the cloner's entrypoint: hands over to the cloner binary.
set -euo pipefail
exec /usr/bin/cdi-cloner "$@"
