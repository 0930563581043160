#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium for the leaderboard browser test (idempotent; root).
# The test runs it with --headless --no-sandbox and skips, saying why, when it is absent.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    echo "chromium already installed: $(chromium --version 2>/dev/null || echo unknown version)"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "installed: $(chromium --version)"
