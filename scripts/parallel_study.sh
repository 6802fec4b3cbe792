#!/usr/bin/env bash
# A study's arms trained at the same time, one process each, then its record: for a GPU lease of minutes, where
# running the arms one after another would not fit. The arms share the machine alike, so their epoch times stand
# side by side (each is slower than it would be alone).
#
#   scripts/parallel_study.sh STUDY ARMS OUT [bench_efficacy.py options...]
#   e.g. scripts/parallel_study.sh benchmarks/kd-study-gpu640.yaml plain,builtin,ours "$OUT" --device 0 --workers 4
#
# Steps: convert the data and validate the teacher once (bench_efficacy.py --report-only), so the arms do not race for
# them; train each arm in its own process, cut off after ARM_TIMEOUT seconds (default 420); write the record from the
# runs that finished (--report-only again). OUT gets the record and its plot (--results OUT; copy them to
# benchmarks/results to keep them), each arm's log, steps.log and record.log, and runs.tgz with each run's
# results.csv, args.yaml and run.json (a run cut off still has its epochs' times there): eight files. WORK (default
# /tmp/yolodistill-bench) is bench_efficacy.py's --work; PYTHON (default python3) runs it.
set -u
if [ $# -lt 3 ]; then
    sed -n '2,14p' "$0" | cut -c3-
    exit 2
fi
study=$1 arms=$2 out=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python3}
work=${WORK:-/tmp/yolodistill-bench}
limit=${ARM_TIMEOUT:-420}
name=$("$py" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["name"])' "$study") || exit 2
mkdir -p "$out" "$work"
common=(--work "$work" --results "$out" --docs "$work/benchmarks.md" "$@")
export PYTHONUNBUFFERED=1

stamp() { echo "$(date -u +%H:%M:%S) $*" | tee -a "$out/steps.log"; }

stamp "prepare: data and teacher"
"$py" "$here/bench_efficacy.py" "$study" --report-only "${common[@]}" > "$out/record.log" 2>&1
stamp "prepare: exit $?"
if command -v nvidia-smi > /dev/null; then  # how busy the GPU is while the arms train: is it the GPU or the CPUs?
    (while sleep 30; do
        echo "$(date -u +%H:%M:%S) gpu $(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader)"
    done >> "$out/steps.log") &
    sampler=$!
fi
pids=()
for arm in ${arms//,/ }; do
    stamp "train $arm"
    timeout -k 15 "$limit" "$py" "$here/bench_efficacy.py" "$study" --arms "$arm" "${common[@]}" \
        > "$out/$arm.log" 2>&1 &
    pids+=("$!:$arm")
done
for p in "${pids[@]}"; do
    wait "${p%%:*}"
    stamp "${p#*:}: exit $? (124: cut off at ${limit} s)"
done
[ -n "${sampler:-}" ] && kill "$sampler" 2>/dev/null
stamp "record"
"$py" "$here/bench_efficacy.py" "$study" --report-only "${common[@]}" >> "$out/record.log" 2>&1
stamp "record: exit $?"
(cd "$work" && tar -czf "$out/runs.tgz" "$name"/teacher.json \
    $(ls -d "$name"/*/seed*/{results.csv,args.yaml,run.json} 2>/dev/null))
stamp "done"
