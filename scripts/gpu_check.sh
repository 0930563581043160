#!/usr/bin/env bash
# GPU readiness check (see scripts/gpu_check.py): bf16 generation tokens/s and GRPO step time for the tiny
# preset and a randomly initialised Qwen2.5-0.5B-config model, offline, within 8 minutes in all.
#
#   scripts/gpu_check.sh                  # on the GPU machine, from anywhere; writes ${OUT:-.}/gpu_check.json
#   scripts/gpu_check.sh --device cpu --small --json /tmp/smoke.json
#
# Env: PYTHON (default python, else python3), GPU_CHECK_LIMIT_S (default 480), GPU_CHECK_NO_INSTALL=1 to
# skip the offline `pip install --no-deps -e .` attempt. Exit code: the Python script's (124: time limit hit;
# the JSON then holds what was measured so far, "complete": false).
set -u
cd "$(dirname "$0")/.." || exit 1
limit=${GPU_CHECK_LIMIT_S:-480}
py=${PYTHON:-}
if [ -z "$py" ]; then
    if command -v python >/dev/null 2>&1; then py=python; else py=python3; fi
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

echo "== gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi || true
else
    echo "(no nvidia-smi on PATH)"
fi

# The package on sys.path: an offline editable install if it works (no index, no build isolation, so it
# needs hatchling already installed), else PYTHONPATH=. as exported above (the script also adds the root).
if [ "${GPU_CHECK_NO_INSTALL:-0}" != 1 ]; then
    if timeout 60 "$py" -m pip install --quiet --no-deps --no-index --no-build-isolation -e . >/dev/null 2>&1; then
        echo "pip install --no-deps -e . : done (offline)"
    else
        echo "pip install --no-deps -e . : not possible offline; using PYTHONPATH=$PWD"
    fi
fi

args=("$@")
case " $* " in
    *" --json"*) ;;
    *) args+=(--json "${OUT:-.}/gpu_check.json") ;;
esac
left=$((limit - SECONDS))
[ "$left" -lt 30 ] && left=30
timeout --kill-after=10 "$left" "$py" scripts/gpu_check.py "${args[@]}"
rc=$?
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "gpu_check: stopped at the ${limit}s limit (exit $rc); the JSON holds the numbers measured so far" >&2
fi
exit "$rc"
