#!/usr/bin/env bash
# Install and start the sandbox's isolation backends on a fresh Debian/Ubuntu CI machine (run as root).
#
#   bubblewrap  -> the `bwrap` backend
#   docker.io   -> the `docker` backend (dockerd is started here if it is not running)
#   debootstrap -> builds the `tooluse-sandbox` image without registry access (sandbox/docker_image.sh;
#                  debian-archive-keyring verifies the bookworm packages, also on Ubuntu)
#
# Idempotent: installed packages, a running daemon and an existing image are left as they are.
# Env: DOCKERD_TIMEOUT (s, default 60), SKIP_DOCKER=1 to set up bwrap only.
set -euo pipefail

cd "$(dirname "$0")/.."
log() { echo "setup_sandbox_backends: $*"; }

if [[ "$(id -u)" != "0" ]]; then
    echo "setup_sandbox_backends: must run as root (installs packages, starts dockerd)" >&2
    exit 1
fi

packages=(bubblewrap util-linux)  # util-linux: setpriv, how jails switch to their uid cheaply
[[ "${SKIP_DOCKER:-0}" == "1" ]] || packages+=(docker.io debootstrap debian-archive-keyring)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
else
    log "packages already installed: ${packages[*]}"
fi

# bwrap runs unprivileged (the sandbox drops root to a dedicated uid), so it needs user namespaces.
if [[ -r /proc/sys/kernel/unprivileged_userns_clone && "$(cat /proc/sys/kernel/unprivileged_userns_clone)" == "0" ]]; then
    log "enabling unprivileged user namespaces for bwrap"
    sysctl -w kernel.unprivileged_userns_clone=1
fi
# The same trial jail the sandbox runs before using bwrap (under an unprivileged uid when root).
if ! /usr/bin/python3 -c 'import sys; from sandbox.bwrap import probe; why = probe("/usr/bin/python3"); why and print(why, file=sys.stderr); sys.exit(1 if why else 0)'; then
    echo "setup_sandbox_backends: bwrap cannot start a jail here (see above)" >&2
    exit 1
fi
log "bwrap works"

[[ "${SKIP_DOCKER:-0}" == "1" ]] && exit 0

if ! docker info >/dev/null 2>&1; then
    log "starting dockerd (vfs storage, no iptables, no bridge: works inside containers and VMs)"
    nohup dockerd --storage-driver=vfs --iptables=false --bridge=none >/tmp/dockerd.log 2>&1 &
    deadline=$((SECONDS + ${DOCKERD_TIMEOUT:-60}))
    until docker info >/dev/null 2>&1; do
        if ((SECONDS > deadline)); then
            echo "setup_sandbox_backends: dockerd did not answer within ${DOCKERD_TIMEOUT:-60} s" >&2
            tail -n 30 /tmp/dockerd.log >&2 || true
            exit 1
        fi
        sleep 1
    done
fi
log "docker engine answers"

bash sandbox/docker_image.sh
docker run --rm --network none tooluse-sandbox python3 -c "import resource, json" >/dev/null
log "image tooluse-sandbox works"
