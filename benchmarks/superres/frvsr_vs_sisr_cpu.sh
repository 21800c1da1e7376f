#!/usr/bin/env bash
# FRVSR against the per-frame SISR of the same size, each given the same wall time on the whole machine
# (30 minutes by default), scored on three real clips neither trained on. configs/superres/frvsr/README.md
# has the measured table.
#
#   bash benchmarks/superres/frvsr_vs_sisr_cpu.sh OUT [frvsr|sisr|sisr64|all] [SECONDS]
#
# frvsr, phase 1, two processes side by side (one core each): FNet (width 16, 4 px bound) trained on known
#   motion and then distilled from OpenCV's DIS flow on the training clips; SISR 3-32 on 64x64 crops, stopped
#   when FNet is done. Phase 2, for the rest of the time: FRVSR 3-32 on 128x128 crops, its SRNet started from
#   the SISR (model.srnet_weights) and FNet kept fixed (model.freeze_fnet). PHASE2=SECONDS gives FRVSR only
#   the last SECONDS: until then the SISR goes on (resumed) on both cores, and FRVSR starts from there.
# sisr: SISR 3-32 on 64x64 crops for as long as the frvsr run's phase 1 took (read from OUT/frvsr/times.txt,
#   else the measured run's 616 s of 1800), then on 128x128 crops for the rest; both phases on the whole machine.
# sisr64: SISR 3-32 on 64x64 crops for the whole time, on the whole machine.
# Training data: synthetic scenes and six clips of the shared test material; held out: oneperson.mp4,
# v_Punch_g03_c01.avi and realshort.mp4 (first 30 frames each, BD x4, vid4 protocol).
# Run on an otherwise idle machine, one mode at a time ("all" runs the three in turn). FNET_KNOWN_STEPS and
# FNET_DISTILL_STEPS (2000 and 3000) shorten FNet's pre-training for a quick trial of the script.
# PRECISION: bf16 trains every SISR and FRVSR run on the CPU's fast path (train.amp=bf16,
# train.channels_last=true), fp32 in full precision; auto (the default) takes bf16 where the CPU has bf16
# instructions (avx512_bf16 or AMX), where it pays, and fp32 elsewhere. FNet's pre-training is fp32 either way.
# CACHE_FRAMES=true keeps the decoded training clips in memory (data.cache_frames, about 1 GiB for these six)
# for every SISR and FRVSR run; false (the default, as the tables before it were measured) decodes each clip.
# EMA=DECAY (such as 0.999) keeps a moving average of the weights in every SISR and FRVSR run (ema.decay) and
# scores it; it also saves a checkpoint every 200 steps and keeps the last 4, so that their scores show how
# far the average still moves. Unset (the default), runs keep no average and checkpoint every 25 steps.
# SEED=N sets train.seed (weights and training clips) of every SISR and FRVSR run (default: the recipes' 0).
# FNET_SEED=N seeds FNet's pre-training (default 0, as in every chain measured so far; SEED leaves it alone).
# The six training videos are listed in train_clips.txt beside this script.
set -euo pipefail

OUT=${1:?usage: frvsr_vs_sisr_cpu.sh OUT [frvsr|sisr|sisr64|all] [SECONDS]}
MODE=${2:-all}
BUDGET=${3:-1800}
C=${VIDLEARN_CLIPS:-../shared/data/clips}
VIDLEARN=${VIDLEARN:-vidlearn}
FNET_KNOWN_STEPS=${FNET_KNOWN_STEPS:-2000}
FNET_DISTILL_STEPS=${FNET_DISTILL_STEPS:-3000}
FNET_SEED=${FNET_SEED:-0}
RECIPES=configs/superres/frvsr
mapfile -t TRAIN_CLIPS < <(grep -v -e '^#' -e '^$' "$(dirname "$0")/train_clips.txt")
TEST_CLIPS="$C/opentracker/oneperson.mp4,$C/ucf101_c3d_keras/v_Punch_g03_c01.avi,$C/imageio_binaries/realshort.mp4"
SOURCES="synthetic,synthetic"
TEACHER=(synthetic)
for clip in "${TRAIN_CLIPS[@]}"; do SOURCES="$SOURCES,$C/$clip"; TEACHER+=("$C/$clip"); done
PRECISION=${PRECISION:-auto}
if [[ $PRECISION == auto ]]; then
  if grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo 2>/dev/null; then PRECISION=bf16; else PRECISION=fp32; fi
fi
COMMON=("data.train_sources=[$SOURCES]" train.max_steps=1000000 train.max_epochs=100000 train.progress_bar=false)
case $PRECISION in
  bf16) COMMON+=(train.amp=bf16 train.channels_last=true) ;;
  fp32) ;;
  *) echo "frvsr_vs_sisr_cpu.sh: PRECISION must be auto, bf16 or fp32, not '$PRECISION'" >&2; exit 2 ;;
esac
case ${CACHE_FRAMES:-false} in
  true) COMMON+=(data.cache_frames=true) ;;
  false) ;;
  *) echo "frvsr_vs_sisr_cpu.sh: CACHE_FRAMES must be true or false, not '$CACHE_FRAMES'" >&2; exit 2 ;;
esac
if [[ -n ${SEED:-} ]]; then COMMON+=("train.seed=$SEED"); fi
if [[ -n ${EMA:-} ]]; then
  COMMON+=("ema.decay=$EMA" train.checkpoint_every_steps=200 train.keep_checkpoints=4)
fi
echo "precision $PRECISION, cache_frames ${CACHE_FRAMES:-false}, ema ${EMA:-off}, seed ${SEED:-0}, fnet seed $FNET_SEED" >&2

latest() { echo "$1/checkpoints/$(cat "$1/checkpoints/latest")"; }

evaluate() {  # evaluate RECIPE CHECKPOINT OUT_DIR [overrides]
  local recipe=$1 checkpoint=$2 out=$3; shift 3
  "$VIDLEARN" evaluate "$RECIPES/$recipe" --checkpoint "$checkpoint" --out "$out" \
    "evaluate.sources=[$TEST_CLIPS]" evaluate.max_frames=30 "$@"
}

sisr_for() {  # sisr_for SECONDS WORK_DIR CROP [overrides]: SISR 3-32 on both cores, stopped after SECONDS
  local seconds=$1 work=$2 crop=$3; shift 3
  OMP_NUM_THREADS=2 timeout -s TERM "$seconds" "$VIDLEARN" train "$RECIPES/sisr_3-32_synthetic_bd-x4_10x96_cpu.yaml" \
    --work-dir "$work" --no-eval "${COMMON[@]}" data.crop_size="$crop" "$@" > "$work.log" 2>&1 || true
}

run_frvsr() {
  local dir=$OUT/frvsr start phase1
  mkdir -p "$dir"
  start=$(date +%s)
  (
    export OMP_NUM_THREADS=1
    taskset -c 0 "$VIDLEARN" superres pretrain-fnet "$dir/fnet_known.pt" --width 16 --max-flow 4 \
      --steps "$FNET_KNOWN_STEPS" --seed "$FNET_SEED" --overwrite > "$dir/fnet_known.log" 2>&1
    taskset -c 0 "$VIDLEARN" superres pretrain-fnet "$dir/fnet.pt" --width 16 --max-flow 4 --init "$dir/fnet_known.pt" \
      --steps "$FNET_DISTILL_STEPS" --seed "$FNET_SEED" --teacher-sources "${TEACHER[@]}" --overwrite > "$dir/fnet_distill.log" 2>&1
  ) &
  local fnet_pid=$!
  OMP_NUM_THREADS=1 taskset -c 1 "$VIDLEARN" train "$RECIPES/sisr_3-32_synthetic_bd-x4_10x96_cpu.yaml" \
    --work-dir "$dir/sisr" --no-eval "${COMMON[@]}" data.crop_size=64 > "$dir/sisr.log" 2>&1 &
  local sisr_pid=$!
  wait "$fnet_pid"
  kill -TERM "$sisr_pid"; wait "$sisr_pid" || true  # the engine saves a checkpoint on SIGTERM
  phase1=$(( $(date +%s) - start ))
  echo "phase1 $phase1" > "$dir/times.txt"
  local phase2=$(( BUDGET - phase1 ))
  if [[ -n ${PHASE2:-} ]] && (( PHASE2 < phase2 )); then
    OMP_NUM_THREADS=2 timeout -s TERM $(( phase2 - PHASE2 )) "$VIDLEARN" train \
      "$RECIPES/sisr_3-32_synthetic_bd-x4_10x96_cpu.yaml" --work-dir "$dir/sisr" --no-eval "${COMMON[@]}" \
      data.crop_size=64 >> "$dir/sisr.log" 2>&1 || true  # resumes the phase-1 run from its SIGTERM checkpoint
    phase2=$(( BUDGET - $(date +%s) + start ))
    echo "sisr_on_both_cores $(( BUDGET - phase1 - phase2 ))" >> "$dir/times.txt"
  fi
  OMP_NUM_THREADS=2 timeout -s TERM "$phase2" "$VIDLEARN" train \
    "$RECIPES/frvsr_3-32-fnet16_synthetic_bd-x4_10x128_cpu.yaml" --work-dir "$dir/frvsr" --no-eval "${COMMON[@]}" \
    model.fnet_weights="$dir/fnet.pt" model.srnet_weights="$(latest "$dir/sisr")" > "$dir/frvsr.log" 2>&1 || true
  echo "total $(( $(date +%s) - start ))" >> "$dir/times.txt"
  evaluate frvsr_3-32-fnet16_synthetic_bd-x4_10x128_cpu.yaml "$(latest "$dir/frvsr")" "$dir/eval"
}

run_sisr() {
  local dir=$OUT/sisr start phase1=$(( BUDGET * 616 / 1800 ))
  mkdir -p "$dir"
  if [[ -f $OUT/frvsr/times.txt ]]; then phase1=$(awk '$1 == "phase1" {print $2}' "$OUT/frvsr/times.txt"); fi
  start=$(date +%s)
  sisr_for "$phase1" "$dir/sisr64" 64
  local used=$(( $(date +%s) - start ))
  echo "phase1 $used" > "$dir/times.txt"
  sisr_for $(( BUDGET - used )) "$dir/sisr128" 128 model.weights="$(latest "$dir/sisr64")"
  echo "total $(( $(date +%s) - start ))" >> "$dir/times.txt"
  evaluate sisr_3-32_synthetic_bd-x4_10x96_cpu.yaml "$(latest "$dir/sisr128")" "$dir/eval"
}

run_sisr64() {
  local dir=$OUT/sisr64
  mkdir -p "$dir"
  sisr_for "$BUDGET" "$dir/sisr" 64
  evaluate sisr_3-32_synthetic_bd-x4_10x96_cpu.yaml "$(latest "$dir/sisr")" "$dir/eval"
}

case $MODE in
  frvsr) run_frvsr ;;
  sisr) run_sisr ;;
  sisr64) run_sisr64 ;;
  all) run_frvsr; run_sisr; run_sisr64 ;;
  *) echo "frvsr_vs_sisr_cpu.sh: mode must be frvsr, sisr, sisr64 or all, not '$MODE'" >&2; exit 2 ;;
esac
