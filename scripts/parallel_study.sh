#!/usr/bin/env bash
# A study's arms trained at the same time, one process each, then its record: for a GPU lease of minutes, where
# running the arms one after another would not fit. The arms share the machine alike, so their epoch times stand
# side by side (each is slower than it would be alone).
#
#   scripts/parallel_study.sh STUDY ARMS OUT [bench_efficacy.py options...]
#   e.g. scripts/parallel_study.sh benchmarks/kd-study-gpu640.yaml plain,builtin,ours "$OUT" --device 0 --workers 4
#
# Steps: convert the data and take, train or validate the teacher once (bench_efficacy.py --prepare-only), so the
# arms do not race for them, and stop there if that fails; train each arm in its own process, cut off after
# ARM_TIMEOUT seconds (default 420); write the record from the runs that finished (--report-only). OUT gets the
# record and its plot (--results OUT: copy them to benchmarks/results to keep them), a log per arm, steps.log (with
# the GPU's load every 30 s) and record.log, and runs.tgz with each run's results.csv, args.yaml and run.json (a run
# cut off still has its epochs' times there). WORK (default /tmp/yolodistill-bench) is bench_efficacy.py's --work;
# PYTHON (default python3) runs it.
set -u
case "${1:-}" in -h|--help) sed -n '2,15p' "$0" | cut -c3-; exit 0;; esac
fail() { echo "Error: $*" >&2; exit 2; }
[ $# -ge 3 ] || fail "give STUDY ARMS OUT, e.g. benchmarks/kd-study-gpu640.yaml plain,builtin,ours out (see --help)"
study=$1 arms=$2 out=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python3}
work=${WORK:-/tmp/yolodistill-bench}
limit=${ARM_TIMEOUT:-420}
[[ $limit =~ ^[1-9][0-9]*$ ]] || fail "ARM_TIMEOUT must be a whole number of seconds, got '$limit'"
[ -f "$study" ] || fail "study file '$study' does not exist"
[ -n "${arms//[ ,]/}" ] || fail "ARMS is empty: name the arms to train, comma-separated"
name=$("$py" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["name"])' "$study" 2>/dev/null) ||
    fail "'$study' is not a study file with a name (see benchmarks/kd-study.yaml)"
mkdir -p "$out" "$work"
common=(--work "$work" --results "$out" --docs "$work/benchmarks.md" "$@")
export PYTHONUNBUFFERED=1

stamp() { echo "$(date -u +%H:%M:%S) $*" | tee -a "$out/steps.log"; }

stamp "prepare: data and teacher"
"$py" "$here/bench_efficacy.py" "$study" --prepare-only --arms "$arms" "${common[@]}" > "$out/record.log" 2>&1
status=$?
if [ $status -ne 0 ]; then  # a bad study, arm or option: its one line, as bench_efficacy.py gave it
    stamp "prepare: exit $status" > /dev/null
    tail -n 1 "$out/record.log" >&2
    exit $status
fi
stamp "prepare: done"
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
