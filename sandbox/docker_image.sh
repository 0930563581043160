#!/usr/bin/env bash
# Build the `tooluse-sandbox` Docker image without any registry access.
#
# Why debootstrap + `docker import`: CI machines reach only package mirrors, never Docker Hub, so the image
# is assembled from a Debian minbase root filesystem. `python3` (not `python3-minimal`) is included because
# the minimal package lacks stdlib modules such as `resource`, which the in-jail worker needs for rlimits.
#
# Idempotent: does nothing when the image already exists with this script's IMAGE_VERSION label (FORCE=1
# rebuilds anyway). Bump IMAGE_VERSION whenever the recipe below changes.
# Usage: bash sandbox/docker_image.sh [image-name]    (run as root; needs debootstrap and a running dockerd)
set -euo pipefail

IMAGE="${1:-${TOOLUSE_SANDBOX_IMAGE:-tooluse-sandbox}}"
SUITE="${SUITE:-bookworm}"
IMAGE_VERSION=2

existing="$(docker image inspect --format '{{index .Config.Labels "tooluse-sandbox.image-version"}}' "$IMAGE" 2>/dev/null || true)"
old_id="$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
if [[ "${FORCE:-0}" != "1" && "$existing" == "$IMAGE_VERSION" ]]; then
    echo "docker_image.sh: image $IMAGE (version $IMAGE_VERSION) already exists; skipping (FORCE=1 rebuilds)"
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

# Slim the image: the jail only runs python3, never apt, dpkg or perl. Every container creation copies the
# whole image with the vfs storage driver, so each megabyte removed here is time saved per sandbox.
(
    cd "$WORKDIR/rootfs"
    rm -rf usr/bin/perl* usr/lib/x86_64-linux-gnu/perl* usr/share/perl* usr/lib/x86_64-linux-gnu/gconv \
        var/lib/dpkg var/cache/debconf var/lib/apt var/cache/apt usr/lib/apt usr/bin/apt* \
        usr/lib/x86_64-linux-gnu/libapt* usr/sbin/e2fsck usr/sbin/mke2fs usr/lib/x86_64-linux-gnu/libext2fs* \
        usr/share/doc usr/share/man usr/share/info usr/share/locale usr/share/common-licenses \
        usr/share/lintian usr/share/bash-completion usr/share/zsh usr/share/i18n usr/share/menu
)
chroot "$WORKDIR/rootfs" /usr/bin/python3 -c "import resource, json, sqlite3, ssl, ctypes, zoneinfo, csv" \
    || { echo "docker_image.sh: slimmed root filesystem cannot run python3" >&2; exit 1; }

tar -C "$WORKDIR/rootfs" -c . | docker import \
    --change 'CMD ["python3"]' --change 'ENV LANG=C.UTF-8' \
    --change "LABEL tooluse-sandbox.image-version=$IMAGE_VERSION" - "$IMAGE" >/dev/null
if [[ -n "$old_id" && "$old_id" != "$(docker image inspect --format '{{.Id}}' "$IMAGE")" ]]; then
    docker rmi "$old_id" >/dev/null 2>&1 || echo "docker_image.sh: previous image $old_id still in use; left in place"
fi
echo "docker_image.sh: built $IMAGE"
