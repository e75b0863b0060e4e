#!/usr/bin/env bash
# The full reproduction: runs the notebooks in order with papermill for one profile.
#   ./run_all.sh [--profile smoke|cpu|paper|paper-growing] [--publish] [--rerun-ablations] [--only 01 05 ...]
#   (default profile: paper with a CUDA GPU, else cpu; --publish copies the executed notebooks over notebooks/;
#    07_ablations reads results/experiments.csv and trains only the arms it lacks, all of them with --rerun-ablations;
#    --only runs (and publishes) just the notebooks whose names start with the given numbers)
# Executed copies, logs and figures go to outputs/<profile>/; only --publish touches the tracked notebooks/ and figures/.
# Stops at the first failing notebook, naming it and the error. Sets up .venv on first use.
set -euo pipefail
cd "$(dirname "$0")"
PROFILE=""
PUBLISH=0
RERUN_ABLATIONS=False
ONLY=()
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) PROFILE="$2"; shift 2 ;;
        --profile=*) PROFILE="${1#*=}"; shift ;;
        --publish) PUBLISH=1; shift ;;
        --rerun-ablations) RERUN_ABLATIONS=True; shift ;;
        --only) shift; while [ $# -gt 0 ] && [[ "$1" != --* ]]; do ONLY+=("$1"); shift; done ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "run_all.sh: unknown argument $1 (use --profile NAME)" >&2; exit 2 ;;
    esac
done
source scripts/setup_env.sh
PROFILE="${PROFILE:-$("$PY" -c 'from shsep.notebook import resolve_profile; print(resolve_profile())')}"
"$PY" -c "from shsep.profiles import get_profile; get_profile('$PROFILE')" || exit 2
OUT="outputs/$PROFILE"
mkdir -p "$OUT"
NOTEBOOKS=()
for notebook in notebooks/0*.ipynb; do
    if [ ${#ONLY[@]} -eq 0 ]; then NOTEBOOKS+=("$notebook"); continue; fi
    for prefix in "${ONLY[@]}"; do [[ "$(basename "$notebook")" == "$prefix"* ]] && NOTEBOOKS+=("$notebook"); done
done
[ ${#NOTEBOOKS[@]} -gt 0 ] || { echo "run_all.sh: no notebook starts with ${ONLY[*]}" >&2; exit 2; }
echo "[run_all] profile $PROFILE: ${#NOTEBOOKS[@]} notebooks -> $OUT/"
i=0
for notebook in "${NOTEBOOKS[@]}"; do
    i=$((i + 1))
    name="$(basename "$notebook" .ipynb)"
    echo "[run_all] ($i/${#NOTEBOOKS[@]}) $name ..."
    start=$(date +%s)
    extra=()
    [ "$name" = 07_ablations ] && extra=(-p rerun_arms "$RERUN_ABLATIONS")
    if ! "$PY" -m papermill "$notebook" "$OUT/$name.ipynb" --cwd notebooks -p profile "$PROFILE" "${extra[@]}" \
            --log-output --no-progress-bar > "$OUT/$name.log" 2>&1; then
        echo "[run_all] FAILED in $name (profile $PROFILE). The error:" >&2
        grep -E "Error|Exception" "$OUT/$name.log" | tail -5 >&2
        echo "[run_all] full log: $OUT/$name.log; executed notebook: $OUT/$name.ipynb" >&2
        exit 1
    fi
    echo "[run_all]     done in $(( $(date +%s) - start )) s"
done
echo "[run_all] all notebooks ran; executed copies in $OUT/, figures in $OUT/figures/"
if [ "$PUBLISH" = 1 ]; then "$PY" scripts/publish_notebooks.py "$OUT" "${NOTEBOOKS[@]}"; fi
