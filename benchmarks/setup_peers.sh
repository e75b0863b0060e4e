#!/usr/bin/env bash
# The benchmark's optional peer environment (.venv-peers): Open-Unmix and Demucs beside the same CPU torch,
# used only by `python benchmarks/benchmark.py --only peers`; never a dependency of shsep.
# Both are installed without their dependencies: torchaudio's wheels would pull another (CUDA) torch, and
# separating at the song's own rate does not need it (benchmarks/peers.py stands in an empty module).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${SHSEP_PEERS_VENV:-.venv-peers}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q torch==2.13.0 numpy soundfile tqdm einops julius
"$VENV/bin/pip" install -q --no-deps openunmix demucs
echo "peers ready: $VENV/bin/python"
