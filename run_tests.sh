#!/usr/bin/env bash
# The tests: unit and real-data tests (pytest), JupyterLab in headless Chromium, then every notebook under the
# smoke profile (nbval).
# Sets up .venv on first use. Extra arguments go to pytest, e.g. ./run_tests.sh -k sampler
# Without MIR-1K, the real-data tests and the notebooks skip (saying how to get the data), except when CI=true.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup_env.sh
export SHSEP_PROFILE=smoke   # notebooks run under the smoke profile; checked cells do not depend on it
TARGETS=(tests notebooks)
if ! "$PY" -c "from shsep.data import find_root; find_root()" 2>/dev/null && [ "${CI:-}" != "true" ]; then
    echo "[tests] MIR-1K not found: skipping the notebooks. $("$PY" -c 'from shsep.data import HOW_TO_GET; print(HOW_TO_GET)')"
    TARGETS=(tests)
fi
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "[tests] no chromium/chromedriver: the browser tests (tests/test_browser.py) will skip." \
         "Enable them with: apt-get install chromium chromium-driver"
fi
"$PY" -m pytest "${TARGETS[@]}" --nbval-lax --nbval-current-env -p no:cacheprovider -q "$@"
