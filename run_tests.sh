#!/usr/bin/env bash
# The tests: unit and real-data tests (pytest), then every notebook under the smoke profile (nbval).
# Sets up .venv on first use. Extra arguments go to pytest, e.g. ./run_tests.sh -k sampler
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup_env.sh
export SHSEP_PROFILE=smoke   # notebooks run under the smoke profile; checked cells do not depend on it
"$PY" -m pytest tests notebooks --nbval-lax --nbval-current-env -p no:cacheprovider -q "$@"
