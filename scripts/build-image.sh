#!/usr/bin/env bash
# Build the Weft image with podman where no image registry is reachable: the base is made here,
# Debian bookworm from Debian's own mirror with debootstrap, imported as localhost/weft-base,
# and PyTorch's CPU wheel is taken from a local wheel directory (WEFT_WHEELS, default
# /opt/wheels) mounted into the build. Where a registry is reachable, `docker build .` or
# `podman build .` on the Dockerfile as it is needs none of this.
#   scripts/build-image.sh [TAG]        (run as root; installs podman, runc and debootstrap)
set -euo pipefail

TAG=${1:-localhost/weft:latest}
BASE=localhost/weft-base:bookworm
WHEELS=${WEFT_WHEELS:-/opt/wheels}
# crun refuses this machine's hybrid cgroups, and raising the open-files limit is not allowed
RUNTIME=${PODMAN_RUNTIME:-runc}
LIMITS=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)

need=()
for tool in podman runc debootstrap; do command -v "$tool" >/dev/null || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! podman image exists "$BASE"; then
    work=$(mktemp -d /tmp/weft-base.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$work/rootfs" http://deb.debian.org/debian
    tar -C "$work/rootfs" -c . | podman import - "$BASE"
fi

cd "$(dirname "$0")/.."
# the machine's CA bundle, for a proxy in front of PyPI that re-signs TLS
CA=${WEFT_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
podman build --runtime "$RUNTIME" --network host "${LIMITS[@]}" \
    --build-arg BASE="$BASE" --build-arg PIP_FIND_LINKS=/wheels \
    --build-arg PIP_CERT=/run/host-ca.crt --build-arg TORCH_INDEX=https://pypi.org/simple \
    -v "$WHEELS:/wheels:ro" -v "$CA:/run/host-ca.crt:ro" -t "$TAG" .
echo "built $TAG; run it with:"
echo "  podman --runtime $RUNTIME run ${LIMITS[*]} --network host -e WEFT_HOST=127.0.0.1 $TAG"
