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
# ARM_TIMEOUT seconds (default 420; GNU timeout); write the record from the runs that finished (--report-only). OUT
# gets the record and its plot (--results OUT: copy them to benchmarks/results to keep them), a log per arm, steps.log
# (with the GPU's load every 30 s) and record.log, each appended to by a rerun under a '=== DATE UTC: step' line, and
# runs.tgz with each run's results.csv, args.yaml and run.json (a run cut off still has its epochs' times there). An
# arm killed by SIGKILL (the out-of-memory killer) is said so, not cut off. WORK (default /tmp/yolodistill-bench) is
# bench_efficacy.py's --work; PYTHON (default python3, which must import yolodistill) runs it.
set -u
case "${1:-}" in -h|--help) sed -n '2,16p' "$0" | cut -c3-; exit 0;; esac
fail() { echo "Error: $*" >&2; exit 2; }
[ $# -ge 3 ] || fail "give STUDY ARMS OUT, e.g. benchmarks/kd-study-gpu640.yaml plain,builtin,ours out (see --help)"
study=$1 arms=$2 out=$3
shift 3
for word in "$@"; do  # what the script decides itself: an option given again would win and split the arms' runs
    case "${word%%=*}" in
        --arms|--work|--results|--docs|--report-only|--prepare-only)
            fail "${word%%=*} is set by the script: name the arms in ARMS, the folders in WORK and OUT";;
    esac
done
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python3}
"$py" -c 'import yaml, yolodistill' 2> /dev/null ||
    fail "PYTHON='$py' cannot import yolodistill: set PYTHON to the python of its environment (e.g. PYTHON=.venv/bin/python)"
work=${WORK:-/tmp/yolodistill-bench}
limit=${ARM_TIMEOUT:-420}
[[ $limit =~ ^[1-9][0-9]*$ ]] || fail "ARM_TIMEOUT must be a whole number of seconds, got '$limit'"
[ -f "$study" ] || fail "study file '$study' does not exist"
list=()
for arm in ${arms//,/ }; do  # each arm once: two processes would train one run folder
    [[ " ${list[*]-} " == *" $arm "* ]] || list+=("$arm")
done
[ ${#list[@]} -gt 0 ] || fail "ARMS is empty: name the arms to train, comma-separated"
arms=$(IFS=,; echo "${list[*]}")
name=$("$py" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["name"])' "$study" 2>/dev/null) ||
    fail "'$study' is not a study file with a name (see benchmarks/kd-study.yaml)"
mkdir -p "$out" "$work" 2>/dev/null && [ -w "$out" ] && [ -w "$work" ] ||
    fail "cannot write into '$out' and '$work': choose folders of your own for OUT and WORK"
out=$(cd "$out" && pwd) work=$(cd "$work" && pwd)  # absolute: the archive is made from inside WORK
common=(--work "$work" --results "$out" --docs "$work/benchmarks.md" "$@")
export PYTHONUNBUFFERED=1

stamp() { echo "$(date -u +%H:%M:%S) $*" | tee -a "$out/steps.log"; }
pids=() sampler=""
stop() {  # stopped: the arms (timeout passes the signal on) and the GPU sampler go too, not on in the background
    kill $sampler "${pids[@]}" 2>/dev/null
    wait 2>/dev/null
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

stamp "prepare: data and teacher"
attempt() { echo "=== $(date -u '+%F %T') UTC: $*"; }  # a rerun appends: the logs of the attempt before stay
attempt "prepare" >> "$out/record.log"
"$py" "$here/bench_efficacy.py" "$study" --prepare-only --arms "$arms" "${common[@]}" >> "$out/record.log" 2>&1
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
for arm in "${list[@]}"; do
    stamp "train $arm"
    attempt "train $arm" >> "$out/$arm.log"
    timeout --verbose -k 15 "$limit" "$py" "$here/bench_efficacy.py" "$study" --arms "$arm" "${common[@]}" \
        >> "$out/$arm.log" 2>&1 &
    pids+=("$!")  # in the order of list
done
failed=()
for i in "${!list[@]}"; do
    wait "${pids[i]}" 2> /dev/null  # not bash's own "Killed" line: the one below says it
    status=$? arm=${list[i]}
    # 137 is timeout's own kill only where it said it signalled (--verbose): else the kernel's OOM killer or kill -9
    if [ $status -eq 137 ] && ! sed -n '/^=== /h; /^=== /!H; ${x;p}' "$out/$arm.log" | grep -q '^timeout: sending'; then
        stamp "$arm: killed (SIGKILL)"
        failed+=("$arm (killed by SIGKILL, not cut off: the kernel's out-of-memory killer, or kill -9)")
        continue
    fi
    case $status in
        0) stamp "$arm: done";;
        124|137) stamp "$arm: cut off at $limit s"; failed+=("$arm (cut off at $limit s)");;
        *) stamp "$arm: exit $status"; failed+=("$arm (exit $status: $(tail -n 1 "$out/$arm.log"))");;
    esac
done
[ -n "$sampler" ] && kill "$sampler" 2>/dev/null
stamp "record"
attempt "record" >> "$out/record.log"
"$py" "$here/bench_efficacy.py" "$study" --report-only "${common[@]}" --note "The arms $arms trained at the same \
time, one process each (scripts/parallel_study.sh), so their epoch times share the machine alike; the command below \
trains them one after another." >> "$out/record.log" 2>&1
status=$?
stamp "record: exit $status"
[ $status -eq 0 ] || failed+=("the record (exit $status: $(tail -n 1 "$out/record.log"))")
(cd "$work" && shopt -s nullglob && files=("$name"/*/seed*/{results.csv,args.yaml,run.json}) &&
    tar -czf "$out/runs.tgz" "$name/teacher.json" "${files[@]}") || failed+=("the archive runs.tgz")
stamp "done"
if [ ${#failed[@]} -gt 0 ]; then
    printf -v what '%s; ' "${failed[@]}"
    echo "Error: not finished: ${what}logs in $out" >&2
    exit 1
fi
