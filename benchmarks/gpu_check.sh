#!/usr/bin/env bash
# GPU check: run the CUDA paths once (device selection, per-worker GPU spread, every strategy and head on
# cuda against the CPU, minilm-l6 in float32 and half precision, the peer benchmark with --device cuda,
# the plugin under -n 2 with --albench-device cuda) and print what each measured. Sized for a few minutes
# on one GPU (not measured yet); every step has its own time limit (8 minutes in all at most), and a failed
# or timed-out step is reported without stopping the others. Exit 1 if any step failed, 0 otherwise.
#
#   benchmarks/gpu_check.sh                 # from the repository root, in the project's environment
#   benchmarks/gpu_check.sh --device cuda:1 # another GPU
#   benchmarks/gpu_check.sh --device cpu    # dry run: every step on the CPU at tiny sizes (checks the code)
#   GPU_CHECK_STEPS="peers plugin" benchmarks/gpu_check.sh   # rerun some steps only
#
# Where torch sees no CUDA GPU it prints "gpu check skipped: <reason>" and exits 0.
# PYTHON names the interpreter (default: python). The steps are python -m benchmarks.perf.gpu_check --step.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python}"
DEVICE=cuda
while [ "$#" -gt 0 ]; do
  case "$1" in
    --device) DEVICE="${2:?--device needs a value}"; shift 2 ;;
    --device=*) DEVICE="${1#--device=}"; shift ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument $1 (use --device cuda|cuda:N|cpu)" >&2; exit 2 ;;
  esac
done
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

# Seconds per step (a step's subprocess has its own, shorter limit inside).
declare -A LIMIT=([env]=20 [device]=30 [strategies]=120 [embedding]=60 [peers]=130 [plugin]=120)
read -r -a STEPS <<< "${GPU_CHECK_STEPS:-env device strategies embedding peers plugin}"
for step in "${STEPS[@]}"; do
  if [ -z "${LIMIT[$step]:-}" ]; then
    echo "gpu_check.sh: unknown step $step in GPU_CHECK_STEPS (steps: ${!LIMIT[*]})" >&2
    exit 2
  fi
done

# Skip at once, with the reason, where there is no GPU (unless this is the CPU dry run).
if [ "$DEVICE" != cpu ]; then
  probe="$(timeout 60 "$PYTHON" -c 'from benchmarks.perf.gpu_check import no_cuda_reason as r; print(r() or "")')"
  if [ -n "$probe" ]; then
    echo "gpu check skipped: $probe"
    exit 0
  fi
fi

start=$SECONDS
summary=()
failed=0
for step in "${STEPS[@]}"; do
  t0=$SECONDS
  status=0
  timeout --kill-after=10 "${LIMIT[$step]}" "$PYTHON" -m benchmarks.perf.gpu_check --device "$DEVICE" --step "$step" \
    || status=$?
  took=$((SECONDS - t0))
  if [ "$status" -eq 0 ]; then
    summary+=("$(printf '%-11s ok         %4d s' "$step" "$took")")
  elif [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    summary+=("$(printf '%-11s TIMED OUT  %4d s (limit %d s)' "$step" "$took" "${LIMIT[$step]}")")
    failed=$((failed + 1))
  else
    summary+=("$(printf '%-11s FAILED     %4d s (exit %d)' "$step" "$took" "$status")")
    failed=$((failed + 1))
  fi
done

echo
echo "== gpu check summary (device $DEVICE, $((SECONDS - start)) s in all)"
printf '%s\n' "${summary[@]}"
if [ "$failed" -gt 0 ]; then
  echo "gpu check: $failed of ${#STEPS[@]} steps failed"
  exit 1
fi
echo "gpu check: all ${#STEPS[@]} steps ok"
