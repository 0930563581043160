#!/usr/bin/env bash
# Build the `tooluse-sandbox` Docker image without any registry access.
#
# Why debootstrap + `docker import`: CI machines reach only package mirrors, never Docker Hub, so the image
# is assembled from a Debian minbase root filesystem. `python3` (not `python3-minimal`) is included because
# the minimal package lacks stdlib modules such as `resource`, which the in-jail worker needs for rlimits.
#
# Idempotent: does nothing when the image already exists (set FORCE=1 to rebuild).
# Usage: bash sandbox/docker_image.sh [image-name]    (run as root; needs debootstrap and a running dockerd)
set -euo pipefail

IMAGE="${1:-${TOOLUSE_SANDBOX_IMAGE:-tooluse-sandbox}}"
SUITE="${SUITE:-bookworm}"

if [[ "${FORCE:-0}" != "1" ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "docker_image.sh: image $IMAGE already exists; skipping (FORCE=1 rebuilds)"
    exit 0
fi

command -v debootstrap >/dev/null || { echo "docker_image.sh: debootstrap missing (apt-get install debootstrap)" >&2; exit 1; }

# The Debian mirror this machine already uses (deb822 `URIs:` or one-line `deb` form); MIRROR overrides.
find_mirror() {
    local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
    local f
    for f in "${files[@]}"; do
        [[ -r "$f" ]] || continue
        awk '/^URIs:/ {print $2} /^deb / {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; break}}' "$f"
    done | grep -E '/debian/?$' | head -n 1
}
MIRROR="${MIRROR:-$(find_mirror)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"

WORKDIR="$(mktemp -d /tmp/tooluse-sandbox-rootfs.XXXXXX)"
trap 'rm -rf "$WORKDIR"' EXIT

echo "docker_image.sh: debootstrap $SUITE from $MIRROR into $WORKDIR"
debootstrap --variant=minbase --include=python3 "$SUITE" "$WORKDIR/rootfs" "$MIRROR" >"$WORKDIR/debootstrap.log" 2>&1 \
    || { tail -n 30 "$WORKDIR/debootstrap.log" >&2; exit 1; }

# Slim the image: caches and docs are not needed to run python3.
rm -rf "$WORKDIR"/rootfs/var/cache/apt/archives/*.deb "$WORKDIR"/rootfs/var/lib/apt/lists/* \
    "$WORKDIR"/rootfs/usr/share/doc/* "$WORKDIR"/rootfs/usr/share/man/* "$WORKDIR"/rootfs/usr/share/locale/*

tar -C "$WORKDIR/rootfs" -c . | docker import \
    --change 'CMD ["python3"]' --change 'ENV LANG=C.UTF-8' - "$IMAGE" >/dev/null
echo "docker_image.sh: built $IMAGE"
