#!/usr/bin/env bash
# The notebook series, run in order with papermill.
#   ./run_all.sh                 the series on the shipped model: nothing is trained (minutes on 2 cores)
#   ./run_all.sh --train         first train the profile from scratch in this terminal (an estimate before the first
#                                step, a line every 5 %; run it again to resume), then the series on that run
#   options: --profile smoke|cpu|paper|paper-growing (default: cpu; with --train, paper on a CUDA GPU, else cpu)
#            --time-budget 2h (with --train: the steps that fit this long here)   --dry-run (say what would run)
#            --publish (copy the executed notebooks over notebooks/)   --only 01 05 ... (just those notebooks)
#            --rerun-ablations (retrain every arm of notebook 07; otherwise it reads results/experiments.csv)
# Executed copies, logs and figures go to outputs/<profile>/; only --publish touches notebooks/ and figures/.
# Stops at the first failing notebook, naming it and the error. Sets up .venv on first use.
set -euo pipefail
cd "$(dirname "$0")"
PROFILE=""
PUBLISH=0
TRAIN=0
DRY_RUN=0
TIME_BUDGET=""
RERUN_ABLATIONS=False
ONLY=()
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) PROFILE="$2"; shift 2 ;;
        --profile=*) PROFILE="${1#*=}"; shift ;;
        --train) TRAIN=1; shift ;;
        --time-budget) TIME_BUDGET="$2"; shift 2 ;;
        --time-budget=*) TIME_BUDGET="${1#*=}"; shift ;;
        --dry-run) DRY_RUN=1; shift ;;
        --publish) PUBLISH=1; shift ;;
        --rerun-ablations) RERUN_ABLATIONS=True; shift ;;
        --only) shift; while [ $# -gt 0 ] && [[ "$1" != --* ]]; do ONLY+=("$1"); shift; done ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "run_all.sh: unknown argument $1 (see ./run_all.sh --help)" >&2; exit 2 ;;
    esac
done
if [ -n "$TIME_BUDGET" ] && [ "$TRAIN" = 0 ]; then
    echo "run_all.sh: --time-budget applies to training: add --train" >&2; exit 2
fi
if [ "$DRY_RUN" = 1 ] && [ -x .venv/bin/python ]; then PY=.venv/bin/python; export PATH="$PWD/.venv/bin:$PATH"
else source scripts/setup_env.sh; fi
if [ -z "$PROFILE" ]; then
    if [ "$TRAIN" = 1 ]; then PROFILE="$("$PY" -c 'from shsep.profiles import default_profile; print(default_profile())')"
    else PROFILE=cpu; fi
fi
"$PY" -c "from shsep.profiles import get_profile; get_profile('$PROFILE')" || exit 2
OUT="outputs/$PROFILE"
NOTEBOOKS=()
for notebook in notebooks/0*.ipynb; do
    if [ ${#ONLY[@]} -eq 0 ]; then NOTEBOOKS+=("$notebook"); continue; fi
    for prefix in "${ONLY[@]}"; do [[ "$(basename "$notebook")" == "$prefix"* ]] && NOTEBOOKS+=("$notebook"); done
done
[ ${#NOTEBOOKS[@]} -gt 0 ] || { echo "run_all.sh: no notebook starts with ${ONLY[*]}" >&2; exit 2; }

if [ "$TRAIN" = 1 ]; then
    RUN_DIR="runs/$PROFILE"
    TRAIN_COMMAND=(shsep train --profile "$PROFILE" --out "$RUN_DIR")
    [ -n "$TIME_BUDGET" ] && TRAIN_COMMAND+=(--time-budget "$TIME_BUDGET")
    if [ -f "$RUN_DIR/checkpoint.pt" ]; then
        TRAIN_COMMAND+=(--resume)
        echo "[run_all] $RUN_DIR holds a training run: resuming it from its checkpoint"
    fi
    echo "[run_all] training: ${TRAIN_COMMAND[*]}"
    if [ "$DRY_RUN" = 0 ]; then
        "${TRAIN_COMMAND[@]}" || { echo "[run_all] training stopped; run the same command again to resume" >&2; exit 1; }
    fi
else
    RUN_DIR="results/shipped_run"
    echo "[run_all] no training: the notebooks use the shipped cpu model (lib/shsep/weights/cpu.pt; songs.pt for" \
         "produced songs) and show the record of its training run ($RUN_DIR/); ./run_all.sh --train retrains it"
fi
echo "[run_all] profile $PROFILE: ${#NOTEBOOKS[@]} notebooks -> $OUT/"
[ "$DRY_RUN" = 0 ] && mkdir -p "$OUT"
TRAINS=$([ "$TRAIN" = 1 ] && echo True || echo False)  # the notebooks' own training switches follow --train
i=0
SERIES_START=$(date +%s)
for notebook in "${NOTEBOOKS[@]}"; do
    i=$((i + 1))
    name="$(basename "$notebook" .ipynb)"
    params=(-p profile "$PROFILE")
    [ "$name" != 07_ablations ] && params+=(-p run_dir "$PWD/$RUN_DIR")
    [ "$name" = 04_training ] && params+=(-p train "$TRAINS")
    [ "$name" = 07_ablations ] && params+=(-p rerun_arms "$RERUN_ABLATIONS" -p train_missing_arms "$TRAINS")
    # the published copy of 06 shows the real songs' scores and spectrograms, not their audio
    [ "$name" = 06_listening_tests ] && [ "$PUBLISH" = 1 ] && params+=(-p real_song_players False)
    echo "[run_all] ($i/${#NOTEBOOKS[@]}) $name ${params[*]}"
    [ "$DRY_RUN" = 1 ] && continue
    start=$(date +%s)
    if ! "$PY" -m papermill "$notebook" "$OUT/$name.ipynb" --cwd notebooks "${params[@]}" \
            --log-output --no-progress-bar > "$OUT/$name.log" 2>&1; then
        echo "[run_all] FAILED in $name (profile $PROFILE). The error:" >&2
        grep -E "Error|Exception" "$OUT/$name.log" | tail -5 >&2
        echo "[run_all] full log: $OUT/$name.log; executed notebook: $OUT/$name.ipynb" >&2
        exit 1
    fi
    echo "[run_all]     done in $(( $(date +%s) - start )) s"
done
[ "$DRY_RUN" = 1 ] && { echo "[run_all] dry run: nothing was run"; exit 0; }
echo "[run_all] all notebooks ran in $(( $(date +%s) - SERIES_START )) s; executed copies in $OUT/, figures in $OUT/figures/"
if [ "$PUBLISH" = 1 ]; then "$PY" scripts/publish_notebooks.py "$OUT" "${NOTEBOOKS[@]}"; fi
