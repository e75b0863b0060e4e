#!/usr/bin/env bash
# Create or reuse the project's virtual environment (.venv) and install what is missing.
# Sourced by run_all.sh and run_tests.sh; afterwards $PY is the environment's python.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SHSEP_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating virtual environment in $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"

# ffmpeg: museval imports stempeg, which refuses to import without ffmpeg/ffprobe.
if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "[setup] installing ffmpeg (Debian package)"
        (apt-get install -y -qq ffmpeg >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq ffmpeg >/dev/null; })
    else
        echo "[setup] ffmpeg is missing: install it (apt-get install ffmpeg, brew install ffmpeg, or conda install ffmpeg)." >&2
        echo "        museval (one of the three evaluators) and mp3/m4a input need it." >&2
    fi
fi

# Reinstall only when pyproject.toml changed since the last successful install.
STAMP="$VENV/.shsep-installed"
WANT="$(sha1sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "[setup] installing shsep and its dependencies into $VENV"
    "$PY" -m pip install -q --upgrade pip
    if ! "$PY" -c "import torch" 2>/dev/null; then
        if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
            "$PY" -m pip install -q "torch>=2.1,<3"           # CUDA build from PyPI
        else
            # No GPU: the CPU build (2.13.0 lies on this project's machines' disk; elsewhere PyTorch's CPU index).
            "$PY" -m pip install -q torch==2.13.0 2>/dev/null \
              || "$PY" -m pip install -q "torch>=2.1,<3" --index-url https://download.pytorch.org/whl/cpu
        fi
    fi
    "$PY" -m pip install -q -e "$ROOT[notebooks,test,openvino]"
    echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
# JupyterLab silences the audio and widgets of untrusted notebooks: trust the project's own (a local signature only).
"$VENV/bin/jupyter" trust "$ROOT"/notebooks/*.ipynb >/dev/null 2>&1 || true
