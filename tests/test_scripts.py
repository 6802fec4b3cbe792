"""The benchmark scripts end to end on synthetic data, in subprocesses as users run them: every number in their
records must come from the runs they made, and the page they write must show it."""

from __future__ import annotations

import copy
import csv
import hashlib
import importlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import PYTHON, REPO, logged_by_ultralytics, save_checkpoint

SCRIPTS = REPO / "scripts"
METHODS = ("plain", "builtin", "ours")
KD_KEYS = ("kd_cls", "kd_box", "kd_feat")
INIT = "init_from_teacher"
REMARK = "ran on synthetic data inside the test suite"
# A study as small as the runner allows: the teacher's checkpoint is missing, so the runner trains one (the
# "rebuild what is missing" path); pt-plain starts from plain's best.pt and trains 2 epochs where the rest train 1.
STUDY = {
    "name": "tiny", "description": "Every kind of arm and target, one epoch each.", "data": "synth",
    "teacher": {"checkpoint": "missing/teacher.pt", "model": "yolo26s.yaml", "epochs": 1},
    "student": "yolo26n.yaml", "imgsz": 64, "batch": 8, "epochs": 1, "seeds": [0, 1],
    "arms": {
        "plain": {"method": "plain"},
        "builtin": {"method": "builtin"},
        "start": {"method": "ours", "distill": {"kd_cls": 0, "kd_box": 0, "kd_feat": 0},
                  "note": "the teacher start alone"},
        "ours": {"method": "ours"},
        "pt-plain": {"method": "plain", "student": "plain", "epochs": 2},
        "pt-ours": {"method": "ours", "student": "plain", "epochs": 2},
    },
    "candidates": {"cls-box-feat": {"method": "ours", "seeds": [0], "distill": {"kd_feat": 1.0}}},
    "targets": [
        {"arm": "ours", "above": "start", "by": 0.01, "per_seed": "at_least"},
        {"arm": "ours", "above": "builtin", "per_seed": "above"},
        {"arm": "ours", "gap": 0.3, "aim": 0.5},
        {"arm": "cls-box-feat", "above": "plain"},
    ],
}
ARM_SEEDS = [(arm, seed) for arm in [*STUDY["arms"], *STUDY["candidates"]]
             for seed in {**STUDY["arms"], **STUDY["candidates"]}[arm].get("seeds", STUDY["seeds"])]


def run_script(name: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, str(SCRIPTS / name), *map(str, args)], capture_output=True, text=True, timeout=600)


def in_process(name: str, *args, monkeypatch, capsys=None) -> subprocess.CompletedProcess:
    """A script's main() run in this process, its sys.argv as a user's (records keep the command): a second Python
    start costs about 4 s (torch and Ultralytics imported again), most of a refusal or of a rerun that trains nothing.
    Each script's first run in these tests is a real process (run_script). Its stdout and stderr come back through
    capsys (without it, as ""); Ultralytics' logger is in neither."""
    argv = [*map(str, args)]
    monkeypatch.syspath_prepend(str(SCRIPTS))
    monkeypatch.setattr(sys, "argv", [str(SCRIPTS / name), *argv])
    if capsys:
        capsys.readouterr()
    try:
        status = importlib.import_module(name.removesuffix(".py")).main(argv)
    except SystemExit as e:  # argparse's errors
        status = e.code
    out, err = capsys.readouterr() if capsys else ("", "")
    return subprocess.CompletedProcess(sys.argv, status, out, err)


def refused(name: str, *args, monkeypatch, capsys) -> tuple[int, str]:
    """in_process, for a refusal: its exit status and what it wrote to stderr."""
    proc = in_process(name, *args, monkeypatch=monkeypatch, capsys=capsys)
    return proc.returncode, proc.stderr


def write_study(path: Path, study: dict) -> Path:
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def study_args(out: Path, study_file: Path, *extra) -> list:
    return [study_file, "--work", out / "work", "--results", out / "results", "--docs", out / "docs.md",
            "--threads", 1, "--note", REMARK, *extra]


def read_record(out: Path) -> dict:
    return json.loads((out / "results" / "study-tiny.json").read_text())


def results_csvs(out: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in sorted((out / "work" / "tiny").rglob("results.csv"))}


def csv_rows(run_dir: str | Path) -> list[dict]:
    with open(Path(run_dir) / "results.csv", newline="") as f:
        return list(csv.DictReader(f, skipinitialspace=True))


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """One results folder and page for both scripts, as in the repository."""
    return tmp_path_factory.mktemp("bench")


@pytest.fixture(scope="module")
def study(out) -> dict:
    """The study run twice: first a part (--arms/--seeds), as a user runs it, then the whole, which trains only what
    the part left (in this process)."""
    study_file = write_study(out / "study.yaml", STUDY)
    proc = run_script("bench_efficacy.py", *study_args(out, study_file, "--arms", "plain,pt-plain", "--seeds", 0))
    assert proc.returncode == 0, proc.stderr[-4000:]
    part, part_csvs = read_record(out), results_csvs(out)
    with pytest.MonkeyPatch.context() as monkeypatch, logged_by_ultralytics() as logged:
        proc = in_process("bench_efficacy.py", *study_args(out, study_file), monkeypatch=monkeypatch)
    assert proc.returncode == 0  # its output is in the test's captured output
    return {"part": part, "part_csvs": part_csvs, "record": read_record(out), "file": study_file, "logged": logged}


@pytest.fixture(scope="module")
def overhead(out, teacher26, synth_data) -> dict:
    """Every method trained once, each in its own process; rounds (--repeats) are tested without training in
    test_overhead_rounds_turn_the_order_and_take_medians, as each round costs four more processes."""
    proc = run_script("bench_overhead.py", "--data", synth_data, "--teacher", teacher26, "--imgsz", 64, "--batch", 8,
                      "--epochs", 2, "--device", "cpu", "--workers", 0, "--threads", 1,
                      "--work", out / "overhead", "--results", out / "results", "--docs", out / "docs.md")
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads((out / "results" / "overhead-cpu.json").read_text())


@pytest.fixture
def bench(monkeypatch):
    """scripts/bench_efficacy.py as a module, for its pure helpers."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    return importlib.import_module("bench_efficacy")


@pytest.mark.parametrize("script, options", [
    ("bench_efficacy.py", ("study", "--arms", "--seeds", "--report-only", "--prepare-only", "--work", "--teacher", "--results", "--docs",
                           "--device", "--workers", "--threads", "--note")),
    ("bench_overhead.py", ("--data", "--images", "--teacher", "--teacher-model", "--student", "--imgsz", "--batch",
                           "--epochs", "--repeats", "--device", "--workers", "--work", "--results", "--docs",
                           "--threads")),
    ("bench_feature_shares.py", ("--data", "--teacher", "--student", "--imgsz", "--batch", "--batches", "--threads",
                                 "--results", "--docs")),
    ("bench_drift.py", ("--data", "--teacher", "--student", "--name", "--imgsz", "--batch", "--start-epochs",
                        "--epochs", "--balance", "--val-batches", "--train-every", "--seed", "--threads", "--work", "--results",
                        "--docs")),
])
def test_help_explains_every_option(script, options):
    proc = run_script(script, "--help")
    assert proc.returncode == 0
    for option in options:
        assert re.search(rf"^  {re.escape(option)}( [A-Z_]+)?( +|\n +)\S", proc.stdout, re.M), option
    assert "--worker-out" not in proc.stdout and "--worker {" not in proc.stdout


def test_a_part_of_the_study_trains_only_that_part(study, out):
    part = study["part"]
    assert [(r["arm"], r["seed"]) for r in part["runs"]] == [("plain", 0), ("pt-plain", 0)]
    assert part["pending"] == [f"{arm} seed {seed}" for arm, seed in ARM_SEEDS if (arm, seed) not in
                               {("plain", 0), ("pt-plain", 0)}]
    assert all(t["met"] is None for t in part["targets"].values()) and part["missed"] == []
    assert sorted(p.parent.name + "/" + p.parent.parent.name for p in study["part_csvs"]) == ["seed0/plain",
                                                                                              "seed0/pt-plain"]
    # the whole study reused the part's runs, and its command names the whole study, not the part
    assert {p: p.stat().st_mtime_ns for p in study["part_csvs"]} == study["part_csvs"]
    assert "--arms" in part["invocation"] and "--arms" not in part["command"] and "--seeds" not in part["command"]
    assert part["command"] == study["record"]["command"]


def test_every_arm_ran_once_per_seed(study, out):
    record = study["record"]
    assert record["kind"] == "study" and record["name"] == "tiny" and record["pending"] == []
    assert [(r["arm"], r["seed"]) for r in record["runs"]] == ARM_SEEDS  # the candidate on its seed only
    assert list(record["arms"]) == [*STUDY["arms"], *STUDY["candidates"]]
    assert record["study"]["candidates"] == STUDY["candidates"] and record["remarks"] == [REMARK]
    assert record["threads"] == 1 and record["workers"] == 2 and (out / "work" / ".gitignore").read_text() == "*\n"
    # the command is relative to where it ran: the record says where, and which study file it read
    assert record["cwd"] == os.getcwd() and record["study_path"] == str(study["file"].resolve())
    assert record["data_fingerprints"]["full"] == record["arms"]["plain"]["dataset"]
    for run in record["runs"]:
        run_dir = Path(run["run_dir"])
        assert run_dir == out.resolve() / "work" / "tiny" / run["arm"] / f"seed{run['seed']}"
        assert json.loads((run_dir / "run.json").read_text())["map50_95"] == run["map50_95"]
        assert json.loads((run_dir / "spec.json").read_text()) == record["arms"][run["arm"]] == run["spec"]
        if run["spec"]["from_arm"]:  # what its start was, so a source trained again makes it stale
            source = run_dir.parent.parent / run["spec"]["student"] / f"seed{run['seed']}" / "weights" / "best.pt"
            assert run["source_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    teacher = json.loads((out / "work" / "tiny" / "teacher.json").read_text())
    assert teacher["used"]["sha256"] == record["teacher"]["sha256"]  # what --report-only falls back on


def test_fresh_runs_do_not_say_they_replace_the_study_s_own_files(study):
    """Each fresh ours run's folder holds the study's spec.json, and train said at every one that it writes into a
    folder holding files, which it replaces none of; the whole study trained ours arms fresh."""
    assert any(r["spec"]["method"] == "ours" for r in study["record"]["runs"])
    assert any("Starting training" in m or "epochs..." in m for m in study["logged"])  # the logger was heard
    assert not [m for m in study["logged"] if "--exist-ok" in m]


def test_numbers_are_those_of_the_runs(study):
    record = study["record"]
    for run in record["runs"]:
        rows = csv_rows(run["run_dir"])
        curve = [float(r["metrics/mAP50-95(B)"]) for r in rows]
        assert run["curve"] == curve and run["epochs"] == len(rows) == record["arms"][run["arm"]]["epochs"]
        assert run["best_epoch"] == max(i + 1 for i, v in enumerate(curve) if v == max(curve))
        # best.pt's final validation: the curve's value at the best epoch, up to best.pt's half precision
        assert run["map50_95"] == pytest.approx(curve[run["best_epoch"] - 1], abs=0.01)
        cumulative = [float(r["time"]) for r in rows]
        assert run["epoch_time_s"] == pytest.approx(statistics.median(
            b - a for a, b in zip([0.0, *cumulative], cumulative)))
    for arm, s in record["summary"].items():
        runs = [r for r in record["runs"] if r["arm"] == arm]
        assert s["seeds"] == [r["seed"] for r in runs]
        assert s["map50_95_mean"] == pytest.approx(statistics.fmean(r["map50_95"] for r in runs))
        assert s["map50_mean"] == pytest.approx(statistics.fmean(r["map50"] for r in runs))
        assert s["map50_95_min"] == min(r["map50_95"] for r in runs)
        assert s["epoch_time_s"] == pytest.approx(statistics.fmean(r["epoch_time_s"] for r in runs))


def test_arms_train_with_their_settings(study, out):
    from yolodistill.config import resolve

    record = study["record"]
    teacher = record["teacher"]
    assert teacher["trained_here"] and Path(teacher["checkpoint"]).is_relative_to(out.resolve() / "work" / "teachers")
    assert json.loads((out / "work" / "tiny" / "teacher.json").read_text())["map50_95"] == teacher["map50_95"]
    default, trained = resolve()[0].to_dict(), resolve(student="best.pt")[0].to_dict()
    assert record["default_recipe"] == default and record["default_recipe_trained"] == trained != default
    for run in record["runs"]:
        run_dir, arm = Path(run["run_dir"]), run["arm"]
        args = yaml.safe_load((run_dir / "args.yaml").read_text())
        assert (args["seed"], args["imgsz"], args["batch"], args["epochs"]) == (run["seed"], 64, 8, run["epochs"])
        assert args["distill_model"] == (teacher["checkpoint"] if arm in ("builtin", "ours", "start", "cls-box-feat",
                                                                         "pt-ours") else None)
        source = out.resolve() / "work" / "tiny" / "plain" / f"seed{run['seed']}" / "weights" / "best.pt"
        assert args["model"] == (str(source) if arm.startswith("pt-") else "yolo26n.yaml")
        saved = (yaml.safe_load((run_dir / "distill.yaml").read_text())["distill"]
                 if (run_dir / "distill.yaml").exists() else None)
        expected = {"start": {**default, **{k: 0 for k in KD_KEYS}}, "ours": default, "pt-ours": trained,
                    "cls-box-feat": {**default, "kd_feat": 1.0}}.get(arm)  # a .pt student: the trained_student block
        assert saved == expected, arm  # plain, builtin and pt-plain train without yolodistill
    assert record["arms"]["start"]["distill"][INIT] is True


def expected_met(target: dict, runs: list[dict], teacher: float) -> bool:
    """A target decided from the runs alone, as the study file's comments define it."""
    values = {(r["arm"], r["seed"]): r["map50_95"] for r in runs}

    def mean(arm):
        return statistics.fmean(v for (a, _), v in values.items() if a == arm)

    arm = target["arm"]
    if "gap" in target:
        plain = mean("plain")
        return teacher > plain and (mean(arm) - plain) / (teacher - plain) >= target["gap"]
    other, by = target["above"], target.get("by", 0)
    pairs = [(v, values[(other, s)]) for (a, s), v in values.items() if a == arm]
    diff = sum(a - b for a, b in pairs) / len(pairs)
    per_seed = {"at_least": all(a >= b for a, b in pairs), "above": all(a > b for a, b in pairs), None: True}
    return (diff >= by if by else diff > 0) and per_seed[target.get("per_seed")]


def test_targets_follow_from_the_numbers(study):
    record = study["record"]
    targets = list(record["targets"].values())
    assert len(targets) == len(STUDY["targets"])
    for target, t in zip(STUDY["targets"], targets):
        assert t["met"] is expected_met(target, record["runs"], record["teacher"]["map50_95"]), t
    assert record["missed"] == [k for k, t in record["targets"].items() if t["met"] is False]


def test_targets_judge_means_seeds_and_pending(bench):
    """Numbers a one-epoch study cannot give: a margin met on the mean but not on every seed, a gap, a pending arm."""
    from yolodistill.report import summarize

    study = {"seeds": [0, 1], "arms": {"plain": {}, "start": {}, "ours": {}, "cand": {"seeds": [0]},
                                       "other": {"seeds": [1]}}, "targets": [
        {"arm": "ours", "above": "start", "by": 0.01, "per_seed": "at_least"},
        {"arm": "ours", "above": "start", "per_seed": "above"},
        {"arm": "ours", "gap": 0.4},
        {"arm": "cand", "above": "plain"},
        {"arm": "cand", "gap": 0.1},
        {"arm": "plain", "above": "cand", "per_seed": "above"},
        {"arm": "cand", "above": "other", "per_seed": "above"},
    ]}
    values = {("plain", 0): 0.30, ("plain", 1): 0.34, ("start", 0): 0.40, ("start", 1): 0.42, ("ours", 0): 0.45,
              ("ours", 1): 0.42, ("cand", 0): 0.29, ("other", 1): 0.20}
    runs = [{"arm": a, "method": a, "seed": s, "map50": v, "map50_95": v, "epoch_time_s": 1.0}
            for (a, s), v in values.items()]
    goals = bench.judge(study, summarize(runs, 0.60)[0], runs, teacher=0.60)
    assert list(goals) == ["ours-above-start", "ours-above-start-2", "ours-gap", "cand-above-plain", "cand-gap",
                           "plain-above-cand", "cand-above-other"]
    assert [g["met"] for g in goals.values()] == [True, False, True, False, False, True, None]  # 0.42 ties on seed 1
    assert goals["ours-above-start"]["value"] == pytest.approx(0.025)
    assert goals["ours-above-start"]["worst_seed_diff"] == pytest.approx(0.0)
    assert goals["ours-gap"]["value"] == pytest.approx((0.435 - 0.32) / (0.60 - 0.32))
    assert goals["cand-above-plain"]["value"] == pytest.approx(-0.01)  # seed 0's pair, not 0.29 against the mean
    assert goals["cand-above-plain"]["shown"] == "-0.010 (worst seed -0.010, seed 0 only)"
    # a gap on the seeds both ran: seed 0's plain 0.30, not the mean 0.32 (which would make it -10 %)
    assert goals["cand-gap"]["value"] == pytest.approx((0.29 - 0.30) / (0.60 - 0.30))
    assert goals["cand-gap"]["shown"] == "-3%, seed 0 only"
    # the arm with more seeds first: still compared, and said, on the one seed both ran
    assert goals["plain-above-cand"]["shown"] == "+0.010 (worst seed +0.010, seed 0 only)"
    assert goals["cand-above-other"]["shown"] == "no seed in common"  # no verdict, where all([]) would have passed
    partial = [r for r in runs if (r["arm"], r["seed"]) != ("ours", 1)]
    goals = bench.judge(study, summarize(partial, 0.60)[0], partial, teacher=0.60)
    assert [g["met"] for g in goals.values()][:4] == [None, None, None, False]
    assert goals["ours-gap"]["shown"].endswith("so far")
    assert bench.signed(-0.0001) == "-0.0001" and bench.signed(0.0123) == "+0.012" and bench.signed(0.0) == "+0.000"


def test_plot_is_a_png(study, out):
    assert study["record"]["plot"] == "study-tiny.png"
    assert (out / "results" / "study-tiny.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rerun_trains_nothing(study, out, monkeypatch, capsys):
    before = results_csvs(out)
    proc = in_process("bench_efficacy.py", *study_args(out, study["file"]), monkeypatch=monkeypatch, capsys=capsys)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert results_csvs(out) == before and len(before) == len(ARM_SEEDS)
    assert read_record(out)["runs"] == study["record"]["runs"]


def test_a_run_killed_in_its_final_validation_is_validated_not_trained_again(study, out, monkeypatch, capsys):
    """Training finished, run.json not written (a kill during the final validation): the rerun deleted the folder and
    trained the run again. Its best.pt is validated instead."""
    before, recorded = results_csvs(out), {(r["arm"], r["seed"]): r for r in study["record"]["runs"]}
    for arm in ("plain", "ours"):
        (out / "work" / "tiny" / arm / "seed1" / "run.json").unlink()
    with logged_by_ultralytics() as logged:
        proc = in_process("bench_efficacy.py", *study_args(out, study["file"]), monkeypatch=monkeypatch, capsys=capsys)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert results_csvs(out) == before and "holds files already" not in " ".join([proc.stdout, proc.stderr, *logged])
    for run in read_record(out)["runs"]:
        was = recorded[(run["arm"], run["seed"])]
        assert run["map50_95"] == pytest.approx(was["map50_95"], abs=1e-3) and run["curve"] == was["curve"]


def test_a_run_another_process_finishes_meanwhile_is_in_the_record(study, out, bench, monkeypatch, capsys, tmp_path):
    """Processes sharing one --work, one per arm (scripts/README.md): each wrote the record from the states it settled
    at its start, so the last to finish dropped the runs the other had finished meanwhile, as "not run yet"."""
    run_dir, aside = out / "work" / "tiny" / "builtin" / "seed0", out / "aside"
    shutil.move(run_dir, aside)  # not run yet when this process starts; the other process finishes it after our last
    calls, arm = [], bench.run_arm

    def finished_meanwhile(*args, **kwargs):
        calls.append(args[1:3])
        if len(calls) == len(ARM_SEEDS):
            shutil.move(aside, run_dir)
        return arm(*args, **kwargs)

    monkeypatch.setattr(bench, "run_arm", finished_meanwhile)
    try:
        proc = in_process("bench_efficacy.py", study["file"], "--work", out / "work", "--results", tmp_path, "--docs",
                          tmp_path / "docs.md", "--threads", 1, "--arms", "plain", "--seeds", 0,
                          monkeypatch=monkeypatch, capsys=capsys)
    finally:
        if aside.exists():
            shutil.move(aside, run_dir)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert calls.index(("builtin", 0)) < len(ARM_SEEDS) - 1  # its turn came before the other process finished it
    record = json.loads((tmp_path / "study-tiny.json").read_text())
    assert record["pending"] == [] and record["runs"] == study["record"]["runs"]


@pytest.mark.parametrize("arm, change", [("ours", {"distill": {"kd_cls": 0.5}}), ("pt-plain", {"epochs": 3})])
def test_a_changed_arm_is_refused(study, out, arm, change, monkeypatch, capsys):
    changed = copy.deepcopy(STUDY)
    changed["arms"][arm].update(change)
    stamp = (out / "results" / "study-tiny.json").stat().st_mtime_ns
    status, err = refused("bench_efficacy.py", *study_args(out, write_study(out / "changed.yaml", changed)),
                          monkeypatch=monkeypatch, capsys=capsys)
    assert status == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"arm '{arm}' changed since" in err
    assert (out / "results" / "study-tiny.json").stat().st_mtime_ns == stamp


def mutate(path: list, value) -> dict:
    """STUDY with the setting at `path` (keys into the nested study) replaced; value None deletes it."""
    study = copy.deepcopy(STUDY)
    *parents, last = path
    node = study
    for key in parents:
        node = node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return study


LATER_ARM = {**STUDY, "arms": {"pt-first": {"method": "plain", "student": "plain"}, **STUDY["arms"]}}


@pytest.mark.parametrize("bad, extra, message", [
    (mutate(["arms", "plain", "colour"], "red"), (), "arm 'plain': unknown key(s) colour"),
    (mutate(["arms", "builtin", "method"], "magic"), (), "arm 'builtin': method must be one of"),
    (LATER_ARM, (), "arm 'pt-first' starts from arm 'plain', which must be listed before it"),
    (mutate(["arms", "plain", "distill"], {"kd_cls": 1}), (), "arm 'plain': distillation settings"),
    (mutate(["arms", "ours", "distill"], {"kd_cls": -1}), (), "arm 'ours': kd_cls must be a finite number >= 0"),
    (mutate(["arms", "ours", "distill"], {"lr0": 0.1}), (), "arm 'ours': lr0 is not a distillation setting"),
    (mutate(["targets", 0, "above"], "nobody"), (), "no arm 'nobody'"),
    (mutate(["candidates", "cls-box-feat", "seeds"], [5]), (), "seeds [5] are not among the study's [0, 1]"),
    (mutate(["seeds"], None), (), "lacks seeds"),
    (mutate(["arms", "ours", "unlabeled"], True), (), "arm 'ours': data and unlabeled need the study's labelled"),
    ({**STUDY, "labelled": 1.5}, (), "labelled must be a share between 0 and 1"),
    ({**STUDY, "labelled": 0.5, "arms": {**STUDY["arms"], "u": {"method": "plain", "unlabeled": True}}}, (),
     "unlabeled images are for method ours"),
    (mutate(["targets", 0], {"arm": "ours", "between": ["plain"], "share": 0.5}), (), "between needs two arm names"),
    (STUDY, ("--arms", "plain,nobody"), "--arms: no arm nobody"),
    (STUDY, ("--seeds", "7"), "--seeds 7: not among the study's seeds"),
    (mutate(["student"], "yolo26q.yaml"), (), "student 'yolo26q.yaml' is neither a model yaml Ultralytics knows"),
    (mutate(["teacher", "model"], "yolo26z.yaml"), (), "teacher model 'yolo26z.yaml' is neither a model yaml"),
    (mutate(["student"], "yolo26n-cls.yaml"), (), "student 'yolo26n-cls.yaml' is a classify model: yolodistill"),
    (mutate(["teacher", "model"], "yolo26s-seg.yaml"), (), "teacher model 'yolo26s-seg.yaml' is a segment model"),
    (mutate(["targets", 2, "gap"], 50), (), "gap is a share, at most 2 (0.5 for 50 %; above 1 to beat"),
    (mutate(["targets", 2, "aim"], 70), (), "aim is a share, at most 2 (0.5 for 50 %; above 1 to beat"),
    (mutate(["targets", 0], {"arm": "ours", "between": ["plain", "builtin"], "share": 2.5}), (), "share is a share, at most 2"),
    (STUDY, ("--report-only", "--prepare-only"), "--report-only and --prepare-only: choose one"),
    (STUDY, ("--device", "foo"), "--device 'foo' is not a device"),
    (STUDY, ("--device", "7"), "--device 7"),
    (STUDY, ("--teacher", "study.yaml"), "--teacher study.yaml is not a checkpoint (.pt)"),
    (STUDY, ("--teacher", "nope.pt"), "--teacher nope.pt does not exist"),
    (mutate(["teacher"], {"checkpoint": "nope.pt"}), (), f"teacher {REPO / 'nope.pt'} does not exist"),
], ids=["arm-key", "method", "later-arm", "distill-not-ours", "distill-value", "distill-key", "target-arm",
        "candidate-seeds", "no-seeds", "unlabeled-without-split", "labelled-share", "unlabeled-plain", "between",
        "arms-option", "seeds-option", "student-yaml", "teacher-yaml", "student-cls", "teacher-seg", "gap-percent",
        "aim-percent", "share-percent", "report-and-prepare", "device-name",
        "device-index", "teacher-not-pt", "teacher-missing", "study-teacher-missing"])
def test_bad_studies_stop_before_any_training(bench, capsys, bad, extra, message, tmp_path):
    """In this process, to keep the suite short (test_a_changed_arm_is_refused runs a refusal as a subprocess): an
    exception other than the one-line error would fail the test here as a traceback would there."""
    argv = study_args(tmp_path, write_study(tmp_path / "study.yaml", bad), *extra)
    assert bench.main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("Error: "), err
    assert not (tmp_path / "work").exists() and not (tmp_path / "results").exists()  # no teacher, no record


STUDY_TEXT = """name: tiny
data: synth
teacher:
  checkpoint: missing/teacher.pt
student: yolo26n.yaml
imgsz: 64
batch: 8
epochs: 1
seeds: [0]
train_args: {}
recipe: &recipe {kd_cls: 1.0, kd_box: 1.0}
arms:
  plain: {method: plain}
  ours: {method: ours, distill: {<<: *recipe, kd_cls: 2.0}}
targets:
  - {arm: ours, above: plain}
"""


@pytest.mark.parametrize("old, new, message", [
    ("targets:", "target:", "unknown key(s) target (known: name,"),
    ("seeds: [0]", "seeds: [0]\nlabeled: 0.25", "unknown key(s) labeled"),
    ("train_args: {}", "train_arg: {warmup_epochs: 0}", "unknown key(s) train_arg"),
    ("  checkpoint: missing", "  checkpont: missing", "teacher: unknown key(s) checkpont (known: checkpoint, model"),
    ("  checkpoint: missing/teacher.pt", "  checkpoint: missing/teacher.pt\n  epoch: 5",
     "teacher: unknown key(s) epoch"),
    ("seeds: [0]", "seeds: [0]\nsplit_seed: 3", "split_seed needs labelled"),
    ("  plain: {method: plain}", "  ours: {method: plain}\n  plain: {method: plain}", "key 'ours' is given twice"),
    ("epochs: 1", "epochs: 1\nepochs: 5", "key 'epochs' is given twice (line 9)"),
], ids=["targets", "labelled", "train-args", "teacher-checkpoint", "teacher-epochs", "split-seed", "arm-twice",
        "key-twice"])
def test_a_study_file_with_an_unknown_or_repeated_key_is_refused(bench, old, new, message, tmp_path):
    """A misspelt optional key (target:, labeled:, a teacher's checkpont:) was dropped in silence, and a key given
    twice kept its last value: the study ran something other than what was written. The shipped studies' recipe:
    anchor, merged into an arm and a key of it set again, is allowed."""
    path = tmp_path / "study.yaml"
    path.write_text(STUDY_TEXT)
    assert bench.load_study(path)["arms"]["ours"]["distill"] == {"kd_cls": 2.0, "kd_box": 1.0}
    assert_study_refused(bench, path, old, new, message)


def assert_study_refused(bench, path: Path, old: str, new: str, message: str) -> None:
    """STUDY_TEXT with `old` written as `new` is refused by load_study in one line holding `message`."""
    assert old in STUDY_TEXT
    path.write_text(STUDY_TEXT.replace(old, new, 1))
    with pytest.raises(bench.UserError) as e:
        bench.load_study(path)
    assert message in str(e.value) and "\n" not in str(e.value), e.value


@pytest.mark.parametrize("old, new, message", [
    ("student: yolo26n.yaml", "student: nope.pt", "student 'nope.pt' does not exist"),
    ("train_args: {}", "train_args: {lr0: abc}", "train_args: 'lr0=abc' is of invalid type str"),
    ("  ours: {method: ours, distill", "  ours: {method: ours, train_args: {mosaic: 2.0}, distill",
     "arm 'ours': train_args: 'mosaic=2.0' is an invalid value"),
    ("data: synth", "data: null", "data must be a dataset folder or yaml, or synth, got None"),
    ("data: synth", "data: 5", "data must be a dataset folder or yaml, or synth, got 5"),
    ("train_args: {}", "train_args: {optimizer: Foo}", "train_args optimizer=Foo is not one Ultralytics trains with"),
    ("  ours: {method: ours, distill", "  ours: {method: ours, train_args: {pretrained: /nope/x.pt}, distill",
     "arm 'ours': train_args pretrained=/nope/x.pt does not exist"),
    ("seeds: [0]", "seeds: [0]\ndescription: 5", "description must be text, got 5"),
    ("  plain: {method: plain}", "  plain: {method: plain, note: 5}", "arm 'plain': note must be text, got 5"),
    ("data: synth", "data: synth\nformat: voc2", "format must be voc, coco, yolo, got 'voc2'"),
    ("data: synth", "data: datasets/mine", "format missing: say which format the data 'datasets/mine' is in "
     "(format: voc, coco, yolo)"),
], ids=["student-pt", "train-args-value", "arm-train-args-value", "data-null", "data-number", "optimizer",
        "pretrained", "description", "note", "format", "format-missing"])
def test_study_values_that_would_fail_later_are_refused_first(bench, old, new, message, tmp_path):
    """Each failed with a traceback once the data was converted and the teacher validated or trained: an unknown
    optimizer or a missing pretrained= when its arm began, a description that is not text when the page was written
    after every arm had trained (and at every later rebuild of the page). A study of real data without format: was
    read as VOC, and a YOLO dataset got convert's line on VOC annotations; " COCO " made a data cache of its own."""
    assert_study_refused(bench, tmp_path / "study.yaml", old, new, message)
    path = tmp_path / "fine.yaml"  # their good forms pass
    path.write_text(STUDY_TEXT.replace("train_args: {}", "train_args: {optimizer: sgd, pretrained: true}")
                    .replace("seeds: [0]", "seeds: [0]\ndescription: ''\nformat: YOLO"))
    study = bench.load_study(path)
    assert study["train_args"] == {"optimizer": "sgd", "pretrained": True} and study["format"] == "yolo"


def test_arms_prepared_to_train_side_by_side_cannot_start_from_each_other(bench, monkeypatch, capsys, tmp_path):
    """parallel_study.sh's --prepare-only passed plain,pt-plain; plain then trained for the whole lease, and pt-plain's
    own process was refused with "include it in --arms", which it was."""
    study_file = write_study(tmp_path / "study.yaml", STUDY)
    status, err = refused("bench_efficacy.py", *study_args(tmp_path, study_file, "--prepare-only", "--arms",
                                                           "plain,pt-plain", "--seeds", 0),
                          monkeypatch=monkeypatch, capsys=capsys)
    assert status == 2 and err == ("Error: arm 'pt-plain' starts from the best.pt of arm 'plain' (seed 0), which is "
                                   "not finished: with the arms in processes side by side (parallel_study.sh), finish "
                                   "'plain' first, then 'pt-plain'\n")
    assert not (tmp_path / "work" / "tiny" / "teacher.json").exists()  # before any teacher work
    status, _ = refused("bench_efficacy.py", *study_args(tmp_path, study_file, "--prepare-only", "--arms", "pt-plain",
                                                         "--seeds", 0), monkeypatch=monkeypatch, capsys=capsys)
    assert status == 2  # alone, its source not run, as before: plan_runs' own refusal


def test_a_work_folder_that_is_a_file_is_one_line(bench, capsys, tmp_path):
    (tmp_path / "afile").write_text("")
    argv = study_args(tmp_path, write_study(tmp_path / "study.yaml", STUDY), "--work", tmp_path / "afile")
    assert bench.main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err == f"Error: --work '{tmp_path / 'afile'}' is a file: pass a folder\n"
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("script", ["bench_efficacy", "bench_drift", "bench_overhead", "bench_feature_shares"])
def test_argument_errors_are_one_line(script, monkeypatch, capsys):
    """argparse printed its usage block before the error; bench_drift took --seed -1, which Ultralytics refused with a
    traceback."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    module = importlib.import_module(script)
    argv = {"bench_efficacy": ["s.yaml", "--threads", "0"], "bench_drift": ["--data", "d", "--teacher", "t", "--seed",
                                                                           "-1"],
            "bench_overhead": ["--threads", "0"], "bench_feature_shares": ["--data", "d", "--teacher", "t",
                                                                          "--threads", "0"]}[script]
    with pytest.raises(SystemExit) as e:
        module.parse_args(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1, err
    flag, low = ("--seed", 0) if script == "bench_drift" else ("--threads", 1)
    assert err == f"Error: argument {flag}: must be a whole number >= {low}, got '{argv[-1]}': see --help\n"


def test_labelled_split_withholds_the_rest_of_the_train_labels(bench, synth_data, tmp_path):
    """A study's `labelled: 0.5`: half the train images keep their labels, the other half becomes a folder of images
    without labels; val untouched; the same seed gives the same split, and the source dataset is not written to."""

    full = tmp_path / "synth" / "data.yaml"
    shutil.copytree(synth_data.parent, full.parent)
    d = yaml.safe_load(full.read_text())
    full.write_text(yaml.safe_dump({**d, "path": str(full.parent)}))
    before = sorted(p.name for p in full.parent.rglob("*"))
    split = bench.split_labelled(full, 0.5, seed=3)
    assert sorted(p.name for p in full.parent.rglob("*")) == before
    labelled = {p.name for p in (split["labelled"].parent / "images" / "train").iterdir()}
    unlabelled = {p.name for p in split["unlabeled"].iterdir()}
    train = {p.name for p in (full.parent / "images" / "train").iterdir()}
    assert len(labelled) == len(unlabelled) == 12 and labelled | unlabelled == train and not labelled & unlabelled
    assert {p.stem for p in (split["labelled"].parent / "labels" / "train").glob("*.txt")} == {Path(n).stem
                                                                                             for n in labelled}
    assert not [p for p in split["unlabeled"].rglob("*") if p.suffix == ".txt"]  # labels withheld
    from ultralytics.data.utils import check_det_dataset

    info = check_det_dataset(str(split["labelled"]))
    assert len(list(Path(info["val"]).iterdir())) == 8
    assert bench.split_labelled(full, 0.5, seed=3) == split  # built once, then reused
    other = bench.split_labelled(full, 0.5, seed=4)
    assert {p.name for p in other["unlabeled"].iterdir()} != unlabelled


def test_between_target_is_the_share_of_the_way(bench):
    from yolodistill.report import summarize

    study = {"seeds": [0, 1], "arms": {"plain": {}, "ours-u": {}, "upper": {}},
             "targets": [{"arm": "ours-u", "between": ["plain", "upper"], "share": 0.5}]}
    values = {("plain", 0): 0.30, ("plain", 1): 0.32, ("ours-u", 0): 0.36, ("ours-u", 1): 0.35, ("upper", 0): 0.40,
              ("upper", 1): 0.42}
    runs = [{"arm": a, "method": a, "seed": s, "map50": v, "map50_95": v, "epoch_time_s": 1.0}
            for (a, s), v in values.items()]
    (goal,) = bench.judge(study, summarize(runs, 0.5)[0], runs).values()
    assert goal["value"] == pytest.approx((0.355 - 0.31) / (0.41 - 0.31)) and goal["met"] is False  # 45 %
    study["targets"][0]["share"] = 0.4
    (goal,) = bench.judge(study, summarize(runs, 0.5)[0], runs).values()
    assert goal["met"] is True


def test_overhead_ratio_is_of_the_recorded_times(overhead, out):
    runs = overhead["runs"]
    assert list(runs) == [*METHODS, "ours-full"] and overhead["settings"]["epochs"] == 2
    assert overhead["settings"]["seed"] == 0 and overhead["cwd"] == os.getcwd() and overhead["environment"]["git"]
    assert overhead["repeats"] == 1 and "rounds" not in overhead
    for method, run in runs.items():
        assert len(run["epoch_times_s"]) == 2 and run["epoch_time_s"] == run["epoch_times_s"][1] > 0
        assert run["round_epoch_time_s"] == [run["epoch_time_s"]]
        assert run["peak_memory_mib"] == run["peak_rss_mib"] > 100 and run["cuda_max_allocated_mib"] is None
        assert (run["teacher"] is None) == (method == "plain")  # both of our recipes have loss terms on
        assert Path(run["run_dir"]).name == f"{method.split('-')[0]}-seed0"
        folder = out / "overhead" / ("runs-cpu" + ("-full" if method == "ours-full" else ""))
        assert Path(run["run_dir"]) == folder / Path(run["run_dir"]).name
        assert (folder / Path(run["run_dir"]).name / "weights" / "last.pt").is_file()
    full = yaml.safe_load((Path(runs["ours-full"]["run_dir"]) / "distill.yaml").read_text())["distill"]
    assert all(full[k] > 0 for k in KD_KEYS)  # every term on: what the terms cost

    def within(a, b):
        return runs[a]["epoch_time_s"] / runs[b]["epoch_time_s"]

    assert overhead["ratios"]["ours-full/builtin"] == pytest.approx(within("ours-full", "builtin"))
    assert runs["plain"]["vs_builtin"] == pytest.approx(within("plain", "builtin"))
    slower = max(("ours", "ours-full"), key=lambda m: within(m, "builtin"))
    ratio = within(slower, "builtin")
    assert overhead["ratios"][f"{slower}/builtin"] == pytest.approx(ratio) == overhead["target"]["value"]
    assert runs[slower]["vs_builtin"] == pytest.approx(ratio) and overhead["target"]["method"] == slower
    assert overhead["target"]["met"] == (ratio <= 1.10) and overhead["target"]["threshold"] == 1.10


def test_overhead_takes_the_median_of_ratios_within_rounds(monkeypatch):
    """A slow spell that lands on one method in one round must not decide the ratio; the ratio of medians would
    mix rounds (here 8/5 = 1.6 against a 1.0 that every calm round shows)."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    summarize = importlib.import_module("bench_overhead").summarize
    times = [{"plain": 3, "builtin": 5, "ours": 5, "ours-full": 5}, {"plain": 3, "builtin": 8, "ours": 8,
             "ours-full": 16}, {"plain": 3, "builtin": 4, "ours": 8, "ours-full": 4}]
    rounds = [{m: {"epoch_time_s": t, "round": i} for m, t in r.items()} for i, r in enumerate(times)]
    runs, ratios = summarize(rounds)
    assert {m: (run["epoch_time_s"], run["round"]) for m, run in runs.items()} == {
        "plain": (3, 0), "builtin": (5, 0), "ours": (8, 1), "ours-full": (5, 0)}
    assert ratios == {"ours/builtin": 1.0, "builtin/plain": 5 / 3, "ours/plain": 8 / 3, "ours-full/builtin": 1.0}
    assert runs["ours"]["vs_builtin"] == 1.0 and runs["plain"]["round_epoch_time_s"] == [3, 3, 3]
    one, one_ratios = summarize(rounds[2:])
    assert one["ours"]["epoch_time_s"] == 8 and one_ratios["ours/builtin"] == 2.0


def test_overhead_rounds_turn_the_order_and_take_medians(monkeypatch, synth_data, teacher26, tmp_path):
    """--repeats trains every method once a round, starting one method later each round (a method always trained
    first would always meet the machine in one state); the record keeps each round's times in one order, and the page
    shows them. The children are stood in for here: the overhead fixture trains them."""
    from yolodistill.report import fmt

    monkeypatch.syspath_prepend(str(SCRIPTS))
    overhead = importlib.import_module("bench_overhead")
    times = [{"plain": 3, "builtin": 5, "ours": 5, "ours-full": 6}, {"plain": 3, "builtin": 8, "ours": 9,
             "ours-full": 16}, {"plain": 4, "builtin": 4, "ours": 6, "ours-full": 4}]
    calls = []

    def child(method, args, data, teacher, round_=0):
        calls.append((round_, method))
        t = times[round_][method]
        return {"epoch_times_s": [9.0, t], "epoch_time_s": t, "amp": False, "teacher": None, "peak_rss_mib": 200.0,
                "cuda_max_allocated_mib": None, "peak_memory_mib": 200.0,
                "run_dir": str(tmp_path / f"{method}-{round_}")}

    monkeypatch.setattr(overhead, "run_child", child)
    argv = ["--data", str(synth_data), "--teacher", str(teacher26), "--device", "cpu", "--imgsz", "64", "--threads",
            "1", "--repeats", "3", "--work", str(tmp_path / "work"), "--results", str(tmp_path / "results"),
            "--docs", str(tmp_path / "docs.md")]
    assert overhead.main(argv) == 0
    methods = list(overhead.METHODS)
    assert calls == [(r, m) for r in range(3) for m in methods[r:] + methods[:r]]
    record = json.loads((tmp_path / "results" / "overhead-cpu.json").read_text())
    assert record["repeats"] == 3 and [list(t) for t in record["rounds"]] == [methods] * 3 and record["rounds"] == times
    assert record["ratios"]["ours-full/builtin"] == 1.2 and record["ratios"]["ours/builtin"] == 1.125  # medians
    assert record["target"] == {**record["target"], "method": "ours-full", "value": 1.2, "met": False}
    assert record["runs"]["ours"]["run_dir"] == str(tmp_path / "ours-2")  # its median round: 6 s, of 5, 9 and 6
    assert table((tmp_path / "docs.md").read_text(), "Seconds per epoch by round:") == [
        [str(i), *(fmt(t, 2) for t in r.values()), f"{r['ours-full'] / r['builtin']:.3f}×"]
        for i, r in enumerate(times, 1)]


def test_overhead_children_train_each_round_into_folders_of_their_own(monkeypatch, synth_data, teacher26, tmp_path):
    """A later round trained into an earlier round's folders would find its runs there: each round's are kept as
    they were trained, and ours-full's apart from ours'."""
    import yolodistill.compare
    from ultralytics.utils.callbacks import base as callbacks

    monkeypatch.syspath_prepend(str(SCRIPTS))
    overhead = importlib.import_module("bench_overhead")
    for event in ("on_train_epoch_start", "on_train_epoch_end"):  # the child adds its clock to them
        monkeypatch.setitem(callbacks.default_callbacks, event, list(callbacks.default_callbacks[event]))
    projects = []

    def train_run(method, seed, base, ours):
        projects.append((method, ours["config"], Path(base["project"]).relative_to(tmp_path).as_posix()))
        raise overhead.UserError("stopped before training")

    monkeypatch.setattr(yolodistill.compare, "train_run", train_run)
    for method, round_ in (("plain", 0), ("builtin", 1), ("ours", 1), ("ours-full", 0), ("ours-full", 2)):
        args = overhead.parse_args(["--data", str(synth_data), "--teacher", str(teacher26), "--device", "cpu",
                                    "--work", str(tmp_path), "--worker", method, "--round", str(round_)])
        with pytest.raises(overhead.UserError):
            overhead.worker(args)
    assert projects == [("plain", None, "runs-cpu"), ("builtin", None, "runs-cpu-round2"),
                        ("ours", None, "runs-cpu-round2"), ("ours", "full", "runs-cpu-full"),
                        ("ours", "full", "runs-cpu-full-round3")]


@pytest.mark.parametrize("bad, needle", [
    (("--device", "foo"), "Error: --device 'foo' is not a device"),
    (("--teacher", "/nope.pt"), "Error: --teacher /nope.pt not found"),
    (("--teacher", "SYNTH"), "is not a checkpoint (.pt)"),
    (("--data", "/nope.yaml"), "Error: data '/nope.yaml' does not exist"),
    (("--batch", "0"), "argument --batch"),
    (("--workers", "-3"), "argument --workers"),
    (("--teacher-model", "yolo26z.yaml"), "--teacher-model 'yolo26z.yaml' is neither a model yaml"),
], ids=["device", "teacher", "teacher-yaml", "data", "batch", "workers", "teacher-model"])
def test_overhead_refuses_bad_input_before_training(bad, needle, synth_data, tmp_path, monkeypatch, capsys):
    """Each was found by a child process after the methods before it had trained (or was a traceback)."""
    bad = [str(synth_data) if word == "SYNTH" else word for word in bad]
    status, err = refused("bench_overhead.py", "--epochs", 2, "--threads", 1, "--work", tmp_path / "work",
                          "--results", tmp_path / "results", "--docs", tmp_path / "docs.md", *bad,
                          monkeypatch=monkeypatch, capsys=capsys)
    assert status == 2 and needle in err and "Traceback" not in err, err
    assert not (tmp_path / "work").exists()


def test_overhead_keeps_its_untrained_teacher_by_classes(monkeypatch, tmp_path):
    """The untrained teacher was kept under the data folder's name alone: a 5-class dataset in a folder of that name
    took a 3-class teacher; plain and builtin trained with it, then ours failed. Its work folder was in the
    repository."""
    import torch

    from yolodistill.data import make_synthetic

    monkeypatch.syspath_prepend(str(SCRIPTS))
    overhead = importlib.import_module("bench_overhead")
    assert not overhead.parse_args([]).work.is_relative_to(REPO)
    teachers = []

    def child(method, args, data, teacher, round_=0):
        teachers.append(teacher)
        raise overhead.UserError("stopped before training")

    monkeypatch.setattr(overhead, "run_child", child)
    for n, classes in enumerate((3, 5)):
        data = make_synthetic(tmp_path / f"d{n}" / "ds", images=8, classes=classes, imgsz=32)
        argv = ["--data", str(data), "--device", "cpu", "--work", str(tmp_path / "work"), "--imgsz", "32",
                "--results", str(tmp_path / "results"), "--docs", str(tmp_path / "docs.md"), "--threads", "1"]
        assert overhead.main(argv) == 2
    assert teachers[0] != teachers[1]
    assert [len(torch.load(t, weights_only=False)["model"].names) for t in teachers] == [3, 5]


def table(page: str, heading: str) -> list[list[str]]:
    """The cells of the markdown table under `heading`, header and rule left out."""
    lines = page.split(heading + "\n", 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| "))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("| "):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split(" | ")])
    return rows


def test_docs_name_the_train_arguments_an_arm_sets(study, out, monkeypatch):
    """Two arms that differ only in an Ultralytics argument (optimizer=SGD) read the same in the Arms table without
    it; the study's own arguments apply to every arm and go in the line above the tables instead."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    docs = importlib.import_module("_docs")
    record = read_record(out)
    record["study"]["train_args"] = {"amp": False}
    for spec in record["arms"].values():
        spec["train_args"] = {"amp": False}
    record["arms"]["pt-plain"]["train_args"] = {"amp": False, "optimizer": "SGD"}
    record["arms"]["pt-ours"]["train_args"] = {"amp": True}
    settings = {row["arm"]: row["settings"] for row in docs.arm_rows(record, list(record["arms"]))}
    assert settings["pt-plain"] == "optimizer=SGD" and settings["plain"] is None
    assert settings["pt-ours"] == "amp=True default recipe" and settings["start"] == "cls=0, box=0"
    assert ", 1 epoch, amp=False; seeds 0, 1;" in docs.study_section("study-tiny.json", record)
    record["study"]["description"] = 5  # a record written before load_study refused it: the page was a traceback
    assert "\n5\n" in docs.study_section("study-tiny.json", record)


def test_docs_show_every_record(study, overhead, out):
    from yolodistill.report import fmt

    record, page = read_record(out), (out / "docs.md").read_text()
    assert page.index("## Study: tiny") < page.index("## Overhead")
    assert STUDY["description"] in page and f"- {REMARK}" in page and "`start`: the teacher start alone" in page
    assert record["command"] in page and overhead["command"] in page
    arms = {row[0]: row for row in table(page, "### Arms")}
    assert list(arms) == list(STUDY["arms"])  # the candidate has a table of its own
    assert "gap recovered = (arm − plain) / (teacher − plain) on mean mAP50-95, plain taken over the arm's seeds;" in page
    assert arms["start"][2:5] == ["teacher start", "1", "cls=0, box=0"] and arms["ours"][4] == "default recipe"
    assert arms["plain"][2] == "yaml" and arms["pt-plain"][2:4] == ["from arm plain best.pt", "2"]
    assert arms["pt-ours"][4] == "default recipe"  # measured against the default for a student with its own weights
    for arm, cells in arms.items():
        s = record["summary"][arm]
        assert cells[5] == f"{s['map50_95_mean']:.3f} ± {s['map50_95_std']:.3f}"
    (candidate,) = table(page, "### Recipe study (candidates)")
    assert candidate[0] == "cls-box-feat" and candidate[4] == "feat=1" and candidate[5].endswith("(seed 0)")
    assert table(page, "### Runs") == [[r["arm"], str(r["seed"]), fmt(r["map50"]), fmt(r["map50_95"]),
                                        str(r["best_epoch"]), str(r["epochs"]), fmt(r["epoch_time_s"], 2)]
                                       for r in record["runs"]]
    plain = [r["curve"][0] for r in record["runs"] if r["arm"] == "plain"]
    assert table(page, "### Plain student's validation curve") == [["1", fmt(statistics.fmean(plain)), "2"]]
    targets = {row[0]: row for row in table(page, "### Targets")}
    for t in record["targets"].values():
        assert targets[t["description"]][1:] == [t["shown"], t["needed"], {True: "yes", False: "**NO**"}[t["met"]]]
    verdict = page.split("### Targets")[1].split("### Arms")[0]
    for key in record["missed"]:
        assert record["targets"][key]["description"] in verdict.split("**Missed:**")[1]
    plot = re.search(r"!\[[^]]*\]\(([^)]+)\)", page.split("## Study: tiny")[1]).group(1)
    assert (out / plot).resolve() == (out / "results" / "study-tiny.png").resolve()
    assert f"Measured {overhead['target']['value']:.3f}×" in page and "Seconds per epoch by round:" not in page
    shown = {row[0]: row[3] for row in table(page, "## Overhead: CPU, yolo26n.yaml with teacher " +
                                                  Path(overhead["settings"]["teacher"]).name)}
    assert shown == {m: f"{run['vs_builtin']:.2f}×" for m, run in overhead["runs"].items()}


def test_docs_say_which_reproduce_commands_predate_study_files(monkeypatch):
    """The page offered the efficacy records' `--scale cpu --name ...` commands as the way to rerun them; today's
    script takes a study file and refuses each of those options."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    from _docs import before_study_files

    assert before_study_files("python scripts/bench_efficacy.py --scale cpu --name cpu --seeds 0,1,2")
    assert not before_study_files("python scripts/bench_efficacy.py benchmarks/kd-study.yaml --threads 1")
    assert not before_study_files("cd /w && python /w/scripts/bench_efficacy.py 'my study.yaml'")
    assert not before_study_files("python scripts/bench_efficacy.py --threads 1 benchmarks/kd-study.yaml")
    page = (REPO / "docs" / "benchmarks.md").read_text()
    records = [json.loads(p.read_text()) for p in (REPO / "benchmarks" / "results").glob("*.json")]
    old = sum(before_study_files(r.get("command", "")) for r in records)
    assert old == 4 and page.count("this command no longer runs as written") == old


def test_docs_leave_out_files_that_are_not_records(tmp_path, monkeypatch):
    """Any other JSON under --results (a list, a broken file) stopped the page with a traceback, after the record
    was written; _docs.py also regenerates the page on its own."""
    results = tmp_path / "results"
    results.mkdir()
    (results / "list.json").write_text("[1, 2]")
    (results / "broken.json").write_text("{")
    (results / "other.json").write_text('{"kind": "something else"}')
    (results / "half.json").write_text('{"kind": "study", "name": "x"}')  # a record by hand, or cut short
    (tmp_path / "page.md").write_text("the committed page")
    proc = run_script("_docs.py", "--results", results, "--docs", tmp_path / "page.md")
    assert proc.returncode == 2 and f"Error: --results {results} holds no whole records" in proc.stderr, proc.stderr
    assert (tmp_path / "page.md").read_text() == "the committed page"  # a mistyped --results emptied it
    monkeypatch.syspath_prepend(str(SCRIPTS))
    from _docs import write_docs  # as a study writes it, after its record: the others are left off, not a traceback

    page = write_docs(results, tmp_path / "page.md").read_text()
    assert "No results yet." in page and f"from the JSON records in `{results.as_posix()}/`;" in page
    shutil.copy(REPO / "benchmarks" / "results" / "feature-shares.json", results)
    proc = run_script("_docs.py", "--results", results, "--docs", tmp_path / "page.md")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "half.json: left off the page: not a whole study record (KeyError: 'study')" in proc.stderr
    proc = run_script("_docs.py", "--results", results, "--docs", tmp_path)  # a folder: was an IsADirectoryError
    assert proc.returncode == 2 and proc.stderr == (f"Error: --docs '{tmp_path}' is a folder: pass the page's file "
                                                    f"name, e.g. {tmp_path / 'benchmarks.md'}\n"), proc.stderr
    proc = run_script("_docs.py", "--results", tmp_path / "none", "--docs", tmp_path / "page.md")
    assert proc.returncode == 2 and proc.stderr.startswith("Error: --results") and proc.stderr.count("\n") == 1


def test_commands_in_benchmark_files_parse(bench):
    """short-schedule.yaml said to run bench_efficacy.py --config, an option that script does not have: every
    command a comment of benchmarks/*.yaml quotes (in parentheses or backquotes) parses as written."""
    import shlex

    from typer.testing import CliRunner

    from yolodistill.cli import app

    quoted = 0
    for path in sorted((REPO / "benchmarks").glob("*.yaml")):
        comments = " ".join(line for line in path.read_text().splitlines() if line.lstrip().startswith("#"))
        for words in re.findall(r"[(`]scripts/bench_efficacy\.py ([^)`]*)[)`]", comments):
            try:
                assert (REPO / bench.parse_args(shlex.split(words)).study).is_file(), (path.name, words)
            except SystemExit:  # argparse's exit 2
                pytest.fail(f"{path.name}: scripts/bench_efficacy.py {words} does not parse")
            quoted += 1
        for words in re.findall(r"`yolodistill ([^`]+)`", comments):
            result = CliRunner().invoke(app, [*shlex.split(words), "--help"])  # options checked, then help
            assert result.exit_code == 0, (path.name, words, result.output[-2000:])
            quoted += 1
    assert quoted >= 4


@pytest.mark.parametrize("study_file", sorted((REPO / "benchmarks").glob("*study*.yaml")), ids=lambda p: p.name)
def test_shipped_study_files_pass_the_schema(study_file, monkeypatch, tmp_path):
    """A misspelt key or an arm naming a missing arm in a shipped study would fail an hour into a run, or never; nor
    is a shipped study's name one of its data's cache folders."""
    from yolodistill.config import resolve

    monkeypatch.syspath_prepend(str(SCRIPTS))
    study_mod = importlib.import_module("_study")
    study = study_mod.load_study(study_file)
    importlib.import_module("_cache").check_study_folder(study, tmp_path)
    assert study["arms"] and study["targets"]
    keys = set(resolve()[0].to_dict())
    for name in {**study["arms"], **study.get("candidates", {})}:
        spec = study_mod.arm_spec(study, name)
        assert set(spec.get("distill") or {}) <= keys, name


def test_feature_shares_are_recorded_and_shown(teacher26, synth_data, tmp_path, monkeypatch, capsys):
    """The calibration script on synthetic batches: a share per loss for each start and batch, spread as their
    max/min, the page shows the record; a missing teacher is one line and exit 2."""
    args = ["--data", synth_data, "--imgsz", 64, "--batch", 4, "--batches", 2, "--threads", 1,
            "--results", tmp_path / "results", "--docs", tmp_path / "docs.md"]
    proc = run_script("bench_feature_shares.py", "--teacher", teacher26, *args)
    assert proc.returncode == 0, proc.stderr[-4000:]
    record = json.loads((tmp_path / "results" / "feature-shares.json").read_text())
    assert [(r["batch"], r["start"]) for r in record["rows"]] == [(0, "teacher"), (0, "random"), (1, "teacher"),
                                                                  (1, "random")]
    for row in record["rows"]:
        shares = [row[k] for k in ("l2", "cwd", "mgd", "cross")]
        assert all(v > 0 for v in shares) and row["spread"] == pytest.approx(max(shares) / min(shares))
    assert record["max_spread"] == max(r["spread"] for r in record["rows"])
    page = (tmp_path / "docs.md").read_text()
    assert "## Feature-loss calibration" in page and record["command"] in page
    assert f"Largest spread {record['max_spread']:.2f}" in page
    status, err = refused("bench_feature_shares.py", "--teacher", tmp_path / "none.pt", *args, monkeypatch=monkeypatch,
                          capsys=capsys)
    assert status == 2 and err.strip().splitlines() == [
        f"Error: teacher {tmp_path / 'none.pt'} not found: pass a trained checkpoint with --teacher"]
    status, err = refused("bench_feature_shares.py", "--teacher", synth_data, *args, monkeypatch=monkeypatch,
                          capsys=capsys)  # a data.yaml: was an AssertionError
    assert status == 2 and err.strip().splitlines() == [
        f"Error: teacher {synth_data} is not a checkpoint (.pt): pass a trained checkpoint with --teacher"]
    assert record["settings"]["batches"] == 2 and record["cwd"] == os.getcwd()
    for bad in (("--batches", 0), ("--batch", -2), ("--imgsz", 0)):  # were tracebacks
        status, err = refused("bench_feature_shares.py", "--teacher", teacher26, *args, *bad, monkeypatch=monkeypatch,
                              capsys=capsys)
        assert status == 2 and "Traceback" not in err and f"argument {bad[0]}" in err


def test_drift_is_measured_per_balance_mode_kept_and_shown(teacher26, synth_data, tmp_path, monkeypatch, capsys):
    """The pull on the backbone script, tiny: a row per epoch and mode, on training batches and on validation images,
    whose figures hold together; a rerun trains nothing; the page shows the record; a bad mode is refused with exit 2."""
    args = ["--data", synth_data, "--teacher", teacher26, "--imgsz", 64, "--batch", 8, "--start-epochs", 1,
            "--epochs", 2, "--threads", 1, "--train-every", 1, "--val-batches", 1, "--work", tmp_path / "work",
            "--results", tmp_path / "results", "--docs", tmp_path / "docs.md", "--name", "tiny"]
    proc = run_script("bench_drift.py", *args)
    assert proc.returncode == 0, proc.stderr[-4000:]
    record = json.loads((tmp_path / "results" / "drift-tiny.json").read_text())
    assert list(record["modes"]) == ["fixed", "cap"]
    for mode, m in record["modes"].items():
        assert [r["epoch"] for r in m["rows"]] == [0, 1]
        for row in m["rows"]:
            assert row["det"] > 0 and all(row[k] >= 0 for k in ("kd_cls", "kd_box", "kd_feat")) and row["all/det"] > 0
            assert row["all/det at 1"] == pytest.approx(row["all/det"] / row["scale"])
            assert row["train batches"] == m["rows"][0]["train batches"] > 0 and row["train all/det"] > 0
            assert row["train all/det at 1"] == pytest.approx(row["train all/det"] / row["scale"])
            assert (row["multipliers"] is None) == (mode == "fixed") and row["val_images"] == 8  # synth's val split
        for key in ("", "train "):
            drift = [r[f"{key}all/det at 1"] for r in m["rows"]]
            assert m[f"{key}growth"] == pytest.approx(max(drift) / drift[0])
            assert m[f"{key}thirds"] == [None, pytest.approx(drift[0]), pytest.approx(drift[1])]  # 2 epochs in 3
    assert [r["scale"] for r in record["modes"]["fixed"]["rows"]] == pytest.approx([0.5, 0.1])  # warm-up x cosine
    cap = record["modes"]["cap"]["rows"][-1]["multipliers"]
    assert 0 < cap["factor"] <= 1 and cap["seen"] >= 1 and cap["reference_det"] > 0
    page = (tmp_path / "docs.md").read_text()
    assert "## Distillation pull through a `.pt` fine-tune" in page and record["command"] in page
    from yolodistill.config import resolve

    trained = resolve(None, student="best.pt")[0].to_dict()  # what the page says it measured, as the record keeps it
    assert all(m["recipe"] == {**trained, "kd_balance": mode} for mode, m in record["modes"].items())
    assert "the default recipe for a trained student (kd_cls 1, kd_box 1, gated, assignment student)" in page
    assert "### kd_balance cap" in page and "train all/det at 1" in page and "each third of the epochs" in page
    csvs = {p: p.stat().st_mtime_ns for p in (tmp_path / "work").rglob("results.csv")}
    assert len(csvs) == 3  # the trained student and one fine-tune per mode
    proc = in_process("bench_drift.py", *args, monkeypatch=monkeypatch, capsys=capsys)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "work").rglob("results.csv")} == csvs  # nothing trained
    assert json.loads((tmp_path / "results" / "drift-tiny.json").read_text())["modes"] == record["modes"]
    status, err = refused("bench_drift.py", *args, "--balance", "fixed,hold", monkeypatch=monkeypatch, capsys=capsys)
    assert status == 2 and "--balance takes modes among fixed, auto, epoch, cap" in err
    assert record["cwd"] == os.getcwd() and record["settings"]["batch"] == 8
    # killed after the plain student finished, before done.json: kept (its resume fell back to coco8.yaml)
    (student,) = (tmp_path / "work").glob("plain-*-seed0")
    (student / "done.json").unlink()
    proc = in_process("bench_drift.py", *args, "--balance", "fixed", monkeypatch=monkeypatch, capsys=capsys)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "work").rglob("results.csv")} == csvs
    # another batch: trained, not taken from the batch-8 runs its record would have named batch 4; another teacher
    # (the same weights elsewhere): fine-tuned from the same student. Each in folders of their own (-KEY), beside
    # the runs made otherwise, which were deleted
    def trained(*extra) -> list[str]:
        before = {p: p.stat().st_mtime_ns for p in (tmp_path / "work").rglob("results.csv")}
        proc = in_process("bench_drift.py", *args, "--balance", "fixed", *extra, monkeypatch=monkeypatch,
                          capsys=capsys)
        assert proc.returncode == 0, proc.stderr[-4000:]
        now = {p: p.stat().st_mtime_ns for p in (tmp_path / "work").rglob("results.csv")}
        assert {p: now.get(p) for p in before} == before  # none replaced
        return sorted(re.sub(r"-[0-9a-f]{8}", "-KEY", p.parent.name) for p in set(now) - set(before))

    assert trained("--batch", 4) == [f"{student.name}-KEY", f"{student.name}-KEY-ft2-fixed"]
    assert json.loads((tmp_path / "results" / "drift-tiny.json").read_text())["settings"]["batch"] == 4
    shutil.copy(teacher26, tmp_path / "other.pt")
    assert trained("--teacher", tmp_path / "other.pt") == [f"{student.name}-ft2-fixed-KEY"]
    assert trained() == []  # the first teacher's: still there
    (tmp_path / "notdata.yaml").write_text("colour: red\n")
    status, err = refused("bench_drift.py", *args[:1], tmp_path / "notdata.yaml", *args[2:], monkeypatch=monkeypatch,
                          capsys=capsys)
    assert status == 2 and err.startswith("Error: data") and err.count("\n") == 1


RESUME = "Interrupted. Rerun the same command to continue: "


@pytest.mark.parametrize("script, work, argv, said", [
    ("bench_efficacy", "run_study", ["study.yaml"],
     RESUME + "finished runs are kept and the one cut off resumes."),
    ("bench_drift", "measure", ["--data", "d.yaml", "--teacher", "t.pt"],
     RESUME + "the trained student and each finished fine-tune are kept; the student cut off resumes, a fine-tune cut "
     "off starts again."),
    ("bench_feature_shares", "measure", ["--data", "d.yaml", "--teacher", "t.pt"],
     "Interrupted. Nothing was written: rerun the same command to measure again (nothing trains, so nothing is lost)."),
    ("bench_overhead", "benchmark", ["--device", "cpu"],
     "Interrupted. Nothing was written to --results: rerun the same command to measure every method again (the "
     "data and teacher under --work are kept)."),
    ("bench_overhead", "worker", ["--device", "cpu", "--worker", "plain", "--worker-out", "x.json"], ""),
], ids=["efficacy", "drift", "feature-shares", "overhead", "overhead-child"])
@pytest.mark.parametrize("stop", ["ctrl-c", "training-interrupted"])
def test_a_ctrl_c_is_one_line_saying_how_to_go_on(script, work, argv, said, stop, monkeypatch, capsys):
    """Ctrl-C printed a traceback (exit -2), or in an `ours` run the library's advice to finish it with yolodistill
    train --resume, outside the study: one line, true of the script, exit 130. An overhead child says nothing, its
    parent says it."""
    from yolodistill.resume import TrainingInterrupted

    monkeypatch.syspath_prepend(str(SCRIPTS))
    module = importlib.import_module(script)

    def cut_off(*_):
        raise KeyboardInterrupt if stop == "ctrl-c" else TrainingInterrupted(Path("runs/x/weights/last.pt"))

    monkeypatch.setattr(module, work, cut_off)
    try:
        assert module.main([*argv, "--threads", "1"]) == 130
    except KeyboardInterrupt:  # fails this test, not the session
        pytest.fail("Ctrl-C came out of main(): a traceback")
    assert capsys.readouterr().err == (said and said + "\n")


def test_an_overhead_child_stopped_by_ctrl_c_stops_the_benchmark(monkeypatch, tmp_path):
    """A child ended by Ctrl-C is an interruption, not a method whose training failed."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    overhead = importlib.import_module("bench_overhead")
    args = overhead.parse_args(["--device", "cpu", "--work", str(tmp_path), "--threads", "1"])
    for status in (130, -2):
        monkeypatch.setattr(overhead.subprocess, "run", lambda cmd: subprocess.CompletedProcess(cmd, status))
        with pytest.raises(KeyboardInterrupt):
            overhead.run_child("plain", args, tmp_path / "data.yaml", tmp_path / "t.pt")
    monkeypatch.setattr(overhead.subprocess, "run", lambda cmd: subprocess.CompletedProcess(cmd, 1))
    with pytest.raises(overhead.UserError, match="training plain failed"):
        overhead.run_child("plain", args, tmp_path / "data.yaml", tmp_path / "t.pt")


@pytest.mark.parametrize("script, work, bad, said", [
    ("bench_drift", "trained_student", ("--student", "yolo99.yaml"),
     "Error: bench_drift.py: --student 'yolo99.yaml' is neither a model yaml"),
    ("bench_feature_shares", "load_batches", ("--student", "yolo99.yaml"),
     "Error: bench_feature_shares.py: --student 'yolo99.yaml' is neither a model yaml"),
    ("bench_drift", "trained_student", ("--results", "FILE/results"), "Error: --results 'FILE/results' cannot be"),
    ("bench_feature_shares", "load_batches", ("--docs", "FILE/docs.md"), "Error: --docs 'FILE/docs.md' cannot be"),
    ("bench_overhead", "prepare_data", ("--results", "FILE"), "Error: --results 'FILE' is a file"),
    ("bench_overhead", "prepare_data", ("--work", "FILE"), "Error: --work 'FILE' is a file: pass a folder"),
    ("bench_drift", "trained_student", ("--work", "FILE"), "Error: --work 'FILE' is a file: pass a folder"),
    ("bench_drift", "trained_student", ("--student", "nope.pt"),
     "Error: bench_drift.py: --student 'nope.pt' does not exist"),
    ("bench_overhead", "prepare_data", ("--student", "nope.pt"),
     "Error: bench_overhead.py: --student 'nope.pt' does not exist"),
    ("bench_feature_shares", "load_batches", ("--student", "FILE.pt"),
     "Error: bench_feature_shares.py: --student 'FILE.pt' is not a model yaml"),
    ("bench_drift", "trained_student", ("--val-batches", "3", "--batch", "4"),
     "Error: --val-batches 3: the val split holds 8 images, 2 batches of --batch 4: pass --val-batches 2 or fewer"),
    ("bench_overhead", "prepare_data", ("--docs", "DIR"), "Error: --docs 'DIR' is a folder: pass the page's file "
     "name, e.g. DIR/benchmarks.md"),
    ("bench_overhead", "prepare_data", ("--teacher-model", "yolo26s.pt"), "Error: bench_overhead.py: "
     "--teacher-model 'yolo26s.pt' is not a model yaml: it builds an untrained teacher from one"),
    ("bench_drift", "trained_student", ("--data", "DIR"), "Error: --data DIR is a folder: pass an existing file (a "
     "data.yaml)"),
    ("bench_drift", "trained_student", ("--student", "yolo26n-cls.yaml"),
     "Error: bench_drift.py: --student 'yolo26n-cls.yaml' is a classify model: yolodistill distills detection"),
    ("bench_feature_shares", "load_batches", ("--student", "yolo26n-pose.yaml"),
     "Error: bench_feature_shares.py: --student 'yolo26n-pose.yaml' is a pose model"),
    ("bench_drift", "trained_student", ("--teacher", "CLS"), "Error: --teacher 'CLS' is a classify model"),
    ("bench_feature_shares", "load_batches", ("--teacher", "CLS"), "Error: --teacher 'CLS' is a classify model"),
], ids=["drift-student", "shares-student", "drift-results", "shares-docs", "overhead-results", "overhead-work",
        "drift-work", "drift-student-pt", "overhead-student-pt", "shares-student-pt", "drift-val-batches",
        "overhead-docs-folder", "overhead-teacher-model-pt", "drift-data-folder", "drift-student-cls",
        "shares-student-pose", "drift-teacher-cls", "shares-teacher-cls"])
def test_measuring_scripts_refuse_bad_input_before_any_work(script, work, bad, said, monkeypatch, capsys, synth_data,
                                                            teacher26, tmp_path):
    """An unknown --student was a FileNotFoundError traceback (bench_drift's after making its run folder), and an
    output path that cannot be written failed only once everything had run: one line, exit 2, nothing made."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    module = importlib.import_module(script)
    monkeypatch.setattr(module, work, lambda *_: pytest.fail(f"{work} ran before the input was checked"))
    (tmp_path / "file").write_text("")
    if "CLS" in bad:  # a classifier's checkpoint passes for a teacher until the first batch, or the first fine-tune
        save_checkpoint("yolo26n-cls.yaml", tmp_path / "cls.pt")
    bad = [word.replace("FILE", str(tmp_path / "file")).replace("DIR", str(tmp_path)).replace("CLS", str(
        tmp_path / "cls.pt")) for word in bad]
    said = said.replace("FILE", str(tmp_path / "file")).replace("DIR", str(tmp_path)).replace("CLS", str(
        tmp_path / "cls.pt"))
    argv = ["--results", tmp_path / "results", "--docs", tmp_path / "docs.md", "--threads", 1]
    if script == "bench_drift":  # synth's val split: 8 images, one batch of the default 16
        argv += ["--val-batches", 1]
    if script != "bench_feature_shares":
        argv += ["--work", tmp_path / "work"]
    argv += ["--device", "cpu"] if script == "bench_overhead" else ["--data", synth_data, "--teacher", teacher26]
    assert module.main([*map(str, argv), *bad]) == 2
    err = capsys.readouterr().err
    assert err.startswith(said) and err.count("\n") == 1, err
    assert not (tmp_path / "work").exists() and not (tmp_path / "results").exists()


def test_empty_arms_and_a_record_name_with_a_folder_are_refused(bench, monkeypatch, capsys, tmp_path):
    """--arms "" (an unset shell variable) trained every arm; bench_drift --name a/b wrote its record into a folder
    the page never reads."""
    monkeypatch.setattr(bench, "prepare_data", lambda *_: pytest.fail("prepared with no arm named"))
    study_file = write_study(tmp_path / "study.yaml", STUDY)
    for arms in ("", " , "):
        assert bench.main([str(a) for a in study_args(tmp_path, study_file, "--arms", arms)]) == 2
        assert capsys.readouterr().err == ("Error: --arms names no arm: name the arms to train, comma-separated, or "
                                           "leave --arms out for all\n")
    for seeds in ("", " "):  # --seeds "" trained every seed
        assert bench.main([str(a) for a in study_args(tmp_path, study_file, "--seeds", seeds)]) == 2
        assert capsys.readouterr().err == ("Error: --seeds names no seed: name the seeds to train, comma-separated, "
                                           "or leave --seeds out for all\n")
    drift = importlib.import_module("bench_drift")
    with pytest.raises(SystemExit):
        drift.parse_args(["--data", "d.yaml", "--teacher", "t.pt", "--name", "a/b"])
    assert capsys.readouterr().err == ("Error: --name must be a file name (letters, digits, . _ -), got 'a/b': see "
                                       "--help\n")


def test_a_study_named_like_a_data_cache_is_refused(bench, monkeypatch, capsys, synth_data, tmp_path):
    """A study named as its data's cache folder under --work (syn_c on syn_c/, synth-64 on synth at 64 px, a split's
    folder) kept its runs inside that cache, and the next edit of the source replaced the cache whole: every finished
    run deleted without a word. Refused before any data is prepared, as is a folder that holds another's cache."""
    monkeypatch.setattr(bench, "prepare_data", lambda *_: pytest.fail("data prepared for a refused study name"))
    source = yolo_source(synth_data, tmp_path / "Syn_C")
    for name, data in (("synth-64", "synth"), ("synth-64-0123abcd-l25-s0", "synth"), ("teachers", "synth"),
                       ("syn_c", str(source)), ("SYN_C-l50-s3", str(source)), ("old", "synth")):
        (tmp_path / "work" / "old").mkdir(parents=True, exist_ok=True)
        (tmp_path / "work" / "old" / "made.json").write_text("{}")  # another study's data cache
        study_file = write_study(tmp_path / "study.yaml", {**STUDY, "name": name, "data": data, "format": "yolo"})
        assert bench.main([str(a) for a in study_args(tmp_path, study_file)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"Error: study name '{name}' would put its runs in '{tmp_path / 'work' / name}', among "
                              "--work's caches") and err.count("\n") == 1, err
        assert err.endswith(f"name the study otherwise, e.g. {name}-study\n")
    assert not (tmp_path / "results").exists()
    for name, data in (("synth-640", "synth"), ("synth-64-study", "synth"), ("syn_c-kd60", str(source))):
        bench.check_study_folder({"name": name, "data": data, "imgsz": 64}, tmp_path / "work")  # beside them: fine


def test_a_teacher_of_other_classes_is_refused_before_anything_trains(bench, monkeypatch, capsys, tmp_path):
    """--teacher was checked for its suffix alone: one of other classes was validated (mAP 0), written into
    teacher.json as the study's, the plain arms trained, and only the first arm that distils refused it."""
    from .conftest import save_checkpoint

    monkeypatch.setattr(bench, "get_teacher", lambda *_, **__: pytest.fail("the teacher was taken"))
    teacher = save_checkpoint("yolo26n.yaml", tmp_path / "two.pt", names={0: "circle", 1: "square"})
    study_file = write_study(tmp_path / "study.yaml", {**STUDY, "arms": {"plain": {"method": "plain"}},
                                                       "candidates": {}, "targets": []})
    assert bench.main([str(a) for a in study_args(tmp_path, study_file, "--teacher", teacher)]) == 2
    err = capsys.readouterr().err
    assert err == (f"Error: --teacher {teacher} has 2 classes but the data has 3: train or fine-tune the teacher on "
                   "this dataset first, or pass another\n")
    assert not (tmp_path / "work" / "tiny").exists() and not (tmp_path / "results").exists()


def test_a_teacher_no_run_distilled_from_does_not_lock_the_study(bench, monkeypatch, capsys, tmp_path):
    """teacher.json held the first teacher given, and every other was refused with "delete the study folder", though
    only plain runs (which use none) had trained: the finished runs were the price of a wrong --teacher. A teacher
    that no run distilled from is replaced, as said; one that a run finished or started with still holds."""
    import argparse

    import yolodistill.compare

    monkeypatch.setattr(yolodistill.compare, "validate_teacher",
                        lambda *_: {"map50": 0.6, "map50_95": 0.4, "val_dir": "v"})
    root, args = tmp_path / "tiny", argparse.Namespace(device="cpu", workers=0)
    study = {"name": "tiny", "imgsz": 64, "batch": 8}
    root.mkdir()
    (root / "teacher.json").write_text(json.dumps({"map50": 0.1, "map50_95": 0.0, "sha256": "a" * 64}))
    (root / "plain" / "seed0").mkdir(parents=True)
    (root / "plain" / "seed0" / "run.json").write_text(json.dumps({"spec": {"method": "plain"}}))
    bench.check_no_runs_need(root, study, {"epochs": 5}, drop=False)  # a teacher trained again: plain runs stand
    metrics = bench.teacher_metrics({"checkpoint": "b.pt", "sha256": "b" * 64}, study, tmp_path, root, args)
    assert metrics["map50_95"] == 0.4 and json.loads((root / "teacher.json").read_text())["sha256"] == "b" * 64
    assert f"'{root / 'teacher.json'}' named a teacher no run distilled from (sha256 aaaaaaaaaaaa)" in capsys.readouterr().out
    (root / "ours" / "seed1" / "weights").mkdir(parents=True)  # cut off: it resumes with the teacher it began with
    (root / "ours" / "seed1" / "weights" / "last.pt").write_bytes(b"an epoch")
    (root / "ours" / "seed1" / "spec.json").write_text(json.dumps({"method": "ours"}))
    with pytest.raises(bench.UserError, match=r"\(sha256 bbbbbbbbbbbb in .*\), which ours seed 1 distilled from: "
                                              "give the study that teacher, or delete those run folders"):
        bench.teacher_metrics({"checkpoint": "c.pt", "sha256": "c" * 64}, study, tmp_path, root, args)
    with pytest.raises(bench.UserError, match="ran with a teacher that is gone"):
        bench.check_no_runs_need(root, study, {"epochs": 5})


def test_the_gap_is_taken_against_plain_on_the_arm_s_own_seeds(monkeypatch):
    """An arm run on seed 0 alone was set against plain's mean over every seed in the Arms and candidates tables,
    while the targets compared it on its own seed: a candidate near the 50 % target read below it in one and above it
    in the other. Records written before report.summarize did so keep the old figure in their summary; the page takes
    it from their runs, and the summary's only where the runs cannot give it."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    docs = importlib.import_module("_docs")
    spec = {"method": "plain", "student": "yolo26n.yaml", "from_arm": False, "epochs": 1}
    # runs as bench_efficacy records them: each arm its own method
    runs = [{"arm": arm, "method": arm, "seed": seed, "map50": value, "map50_95": value, "epoch_time_s": 1.0}
            for arm, seed, value in (("plain", 0, 0.2), ("plain", 1, 0.24), ("one", 0, 0.22))]
    stored = {"seeds": [0], "map50_95_mean": 0.22, "map50_95_std": 0.0, "map50_95_min": 0.22, "epoch_time_s": 1.0,
              "seeds_below_plain": 0, "gap_recovered": 0.0}  # against plain's 0.22 over seeds 0 and 1
    record = {"arms": {"plain": spec, "one": spec, "unrun": spec}, "runs": runs, "teacher": {"map50_95": 0.3},
              "summary": {"plain": {**stored, "seeds": [0, 1], "gap_recovered": 0.0}, "one": stored,
                          "unrun": {**stored, "gap_recovered": 0.5}}}
    gaps = {row["arm"]: row["gap recovered"] for row in docs.arm_rows(record, ["plain", "one", "unrun"])}
    assert gaps == {"plain": "0.0%", "one": "20.0%", "unrun": "50.0%"}  # unrun: no runs in the record, its summary's


def test_feature_shares_read_lists_and_segment_labels(monkeypatch, tmp_path):
    """The batches come from any train split Ultralytics accepts: a .txt list of images, and polygon label rows,
    which give their bounding box."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    shares = importlib.import_module("bench_feature_shares")
    (tmp_path / "images").mkdir()
    for name in ("b.jpg", "a.jpg"):
        (tmp_path / "images" / name).write_bytes(b"")
    listing = tmp_path / "train.txt"
    listing.write_text("./images/b.jpg\n\n./images/a.jpg\n")
    assert shares.split_images(str(listing)) == [tmp_path / "images" / "b.jpg", tmp_path / "images" / "a.jpg"]
    assert shares.split_images([str(tmp_path / "images")]) == [tmp_path / "images" / "a.jpg",
                                                                tmp_path / "images" / "b.jpg"]
    label = tmp_path / "a.txt"
    label.write_text("1 0.5 0.5 0.2 0.4\n2 0.1 0.2 0.3 0.2 0.3 0.6\n")
    (box, polygon) = shares.label_rows(label)
    assert box == (1.0, [0.5, 0.5, 0.2, 0.4])
    assert polygon[0] == 2.0 and polygon[1] == pytest.approx([0.2, 0.4, 0.2, 0.4])
    assert shares.label_rows(tmp_path / "none.txt") == []


def yolo_source(synth_data: Path, folder: Path) -> Path:
    """A copy of the synthetic dataset as a YOLO source folder to convert, its data.yaml naming the copy."""
    shutil.copytree(synth_data.parent, folder)
    d = yaml.safe_load((folder / "data.yaml").read_text())
    (folder / "data.yaml").write_text(yaml.safe_dump({**d, "path": str(folder)}))
    return folder


def test_data_cache_is_kept_by_what_made_it(bench, synth_data, tmp_path):
    """The converted data was found by the source folder's name alone: another source of that name trained on the
    first one's data, an edited source was never converted again, and a conversion cut off (images, no data.yaml)
    stopped every rerun with "is not empty"."""
    work = tmp_path / "work"
    (work / "ds" / "images" / "train").mkdir(parents=True)  # a kill during the conversion
    shutil.copy(next((synth_data.parent / "images" / "train").iterdir()), work / "ds" / "images" / "train")
    (work / ".ds.partial" / "labels").mkdir(parents=True)
    study = {"data": str(yolo_source(synth_data, tmp_path / "a" / "ds")), "format": "yolo", "imgsz": 64}
    first = bench.prepare_data(study, work)["full"]
    assert first == work / "ds" / "data.yaml" and yaml.safe_load(first.read_text())["path"] == str(work / "ds")
    assert not (work / ".ds.partial").exists() and len(list((work / "ds" / "images" / "train").iterdir())) == 24
    made = json.loads((work / "ds" / "made.json").read_text())
    assert (made["source"], made["format"]) == (study["data"], "yolo")
    fingerprint = bench.dataset_fingerprint(first)
    other = tmp_path / "b" / "ds"
    yolo_source(synth_data, other)
    (other / "labels" / "train" / "00010.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    second = bench.prepare_data({**study, "data": str(other)}, work)["full"]
    assert second.parent.name.startswith("ds-") and bench.dataset_fingerprint(second) != fingerprint
    assert bench.prepare_data(study, work)["full"] == first and bench.dataset_fingerprint(first) == fingerprint
    label = Path(study["data"]) / "labels" / "train" / "00010.txt"
    label.write_text(label.read_text() + "1 0.3 0.3 0.1 0.1\n")  # edited in place: converted again
    assert bench.prepare_data(study, work)["full"] == first and bench.dataset_fingerprint(first) != fingerprint


def fake_teacher(folder: Path, **args) -> Path:
    """A teacher folder as a run before made.json left it: weights, args.yaml, teacher.done."""
    (folder / "weights").mkdir(parents=True)
    (folder / "weights" / "best.pt").write_bytes(b"weights " + folder.name.encode())
    (folder / "args.yaml").write_text(yaml.safe_dump(args))
    (folder / "teacher.done").write_text("")
    return folder / "weights" / "best.pt"


def test_teacher_cache_is_kept_by_what_made_it(bench, synth_data, tmp_path):
    """A teacher trained at another batch (or data) was reused under the same folder name, while the record's
    teacher command named the study's batch; a teacher that is gone made --report-only fail, and a run without it
    retrain the teacher, only to refuse it for its sha256 afterwards."""
    import argparse

    study = {"name": "s", "teacher": {"model": "yolo26s.yaml", "epochs": 1}, "imgsz": 64, "batch": 8}
    root, data = tmp_path / "work" / "s", synth_data
    folder = tmp_path / "work" / "teachers" / f"{data.parent.name}-yolo26s-64px-1ep"
    fake_teacher(folder, model="yolo26s.yaml", epochs=1, imgsz=64, batch=16, data=str(data))
    args = argparse.Namespace(teacher=None, work=tmp_path / "work", report_only=True, results=tmp_path / "results")
    with pytest.raises(bench.UserError, match="no teacher yet"):  # not the batch-16 teacher
        bench.get_teacher(study, data, args, root)
    teacher = bench.get_teacher({**study, "batch": 16}, data, args, root)
    assert teacher["checkpoint"] == str(folder / "weights" / "best.pt") and "batch=16" in teacher["command"]
    assert json.loads((folder / "made.json").read_text())["batch"] == 16
    # gone, but recorded: --report-only takes the recorded teacher; a run refuses before training another
    root.mkdir(parents=True)
    (root / "teacher.json").write_text(json.dumps({"map50_95": 0.5, "sha256": teacher["sha256"], "used": teacher}))
    shutil.rmtree(folder)
    again = bench.get_teacher({**study, "batch": 16}, data, args, root)
    assert again["sha256"] == teacher["sha256"] and again["map50_95"] == 0.5 and "recorded_in" in again
    (root / "plain" / "seed0").mkdir(parents=True)
    (root / "plain" / "seed0" / "run.json").write_text("{}")
    args.report_only = False
    with pytest.raises(bench.UserError, match="ran with a teacher that is gone"):
        bench.get_teacher({**study, "batch": 16}, data, args, root)
    assert not folder.exists()  # nothing trained
    # every run finished: nothing needs the teacher, so the recorded one stands, as with --report-only
    assert bench.get_teacher({**study, "batch": 16}, data, args, root, needed=False)["sha256"] == teacher["sha256"]
    # the study's teacher settings changed: said so, not that the teacher is gone
    with pytest.raises(bench.UserError, match=r"changed its teacher's settings since its runs \(batch 16 -> 8"):
        bench.get_teacher(study, data, args, root, needed=False)
    # teacher.done without weights/best.pt (was a FileNotFoundError from its sha256): not a teacher
    fake_teacher(folder, model="yolo26s.yaml", epochs=1, imgsz=64, batch=16, data=str(data))
    (folder / "weights" / "best.pt").unlink()
    assert "recorded_in" in bench.get_teacher({**study, "batch": 16}, data, args, root, needed=False)


def test_finished_runs_are_checked_against_their_data_and_source(bench, tmp_path):
    """A run's spec held neither its data nor the best.pt it started from: runs on other data, or from a source arm
    trained again, were reused as finished."""
    study_file = write_study(tmp_path / "study.yaml", {**STUDY, "arms": {"plain": {"method": "plain"},
                                                                        "pt-plain": {"method": "plain",
                                                                                     "student": "plain"}},
                                                           "candidates": {}, "targets": []})
    study, root = bench.load_study(study_file), tmp_path / "work" / "tiny"
    data, prints = {"labelled": tmp_path / "d.yaml", "full": tmp_path / "d.yaml"}, {"labelled": "a1", "full": "a1"}
    for arm in ("plain", "pt-plain"):
        run_dir = root / arm / "seed0"
        (run_dir / "weights").mkdir(parents=True)
        (run_dir / "weights" / "best.pt").write_bytes(arm.encode())
        record = {"spec": bench.arm_spec(study, arm, prints)}
        if arm == "pt-plain":
            record["source_sha256"] = bench.sha256(root / "plain" / "seed0" / "weights" / "best.pt")
        (run_dir / "run.json").write_text(json.dumps(record))

    def plan(train=False, new_prints=prints):
        return bench.plan_runs(study, root, list(study["arms"]), [0], train, data, new_prints)

    assert plan() == {("plain", 0): "done", ("pt-plain", 0): "done", ("plain", 1): "pending",
                      ("pt-plain", 1): "pending"}
    with pytest.raises(bench.UserError, match=r"arm 'plain' changed since .* \(dataset\)"):
        plan(new_prints={"labelled": "b2", "full": "b2"})
    # a run recorded before its spec held the data: no dataset key, checked by the data.yaml it trained on
    old = {"spec": {k: v for k, v in bench.arm_spec(study, "plain").items()}}
    (root / "plain" / "seed0" / "run.json").write_text(json.dumps(old))
    assert plan()[("plain", 0)] == "done"
    (root / "plain" / "seed0" / "args.yaml").write_text(yaml.safe_dump({"data": str(tmp_path / "other.yaml")}))
    with pytest.raises(bench.UserError, match=r"\(data\)"):
        plan()
    (root / "plain" / "seed0" / "args.yaml").write_text(yaml.safe_dump({"data": str(data["full"])}))
    (root / "plain" / "seed0" / "weights" / "best.pt").write_bytes(b"trained again")
    assert plan()[("pt-plain", 0)] == "stale" and plan(train=True)[("pt-plain", 0)] == "retrain"


def test_a_run_that_failed_before_its_first_epoch_does_not_block_the_mended_study(bench, tmp_path):
    """A study with a bad value failed before any epoch, leaving spec.json and no checkpoint: the mended study was
    refused as 'changed since its run was made', though nothing had trained. A run with a checkpoint still is."""
    study = bench.load_study(write_study(tmp_path / "study.yaml", {**STUDY, "arms": {"plain": {"method": "plain"}},
                                                                   "candidates": {}, "targets": []}))
    root, data, prints = tmp_path / "work" / "tiny", {"labelled": tmp_path / "d.yaml"}, {"labelled": "a1", "full": "a1"}
    run_dir = root / "plain" / "seed0"
    (run_dir / "weights").mkdir(parents=True)
    (run_dir / "spec.json").write_text(json.dumps({**bench.arm_spec(study, "plain", prints), "student": "nope.pt"}))
    plan = bench.plan_runs(study, root, ["plain"], [0], True, data, prints)
    assert plan == {("plain", 0): "train", ("plain", 1): "pending"}
    (run_dir / "weights" / "last.pt").write_bytes(b"an epoch")
    with pytest.raises(bench.UserError, match=r"arm 'plain' changed since .* \(student\)"):
        bench.plan_runs(study, root, ["plain"], [0], True, data, prints)


def test_a_pt_student_replaced_at_its_path_is_a_changed_arm(bench, tmp_path):
    """A study's .pt student was recorded by its path alone: another checkpoint copied over it left every finished
    run standing for the new student. Its sha256 is in the spec now, so the arm is refused as changed."""
    student = tmp_path / "stud.pt"
    student.write_bytes(b"one student")
    study = bench.load_study(write_study(tmp_path / "study.yaml", {
        **STUDY, "student": str(student), "arms": {"plain": {"method": "plain"}}, "candidates": {}, "targets": []}))
    root, data, prints = tmp_path / "work" / "tiny", {"labelled": tmp_path / "d.yaml"}, {"labelled": "a1", "full": "a1"}
    spec = bench.arm_spec(study, "plain", prints)
    assert spec["student_sha256"] == hashlib.sha256(b"one student").hexdigest()
    (root / "plain" / "seed0").mkdir(parents=True)
    (root / "plain" / "seed0" / "run.json").write_text(json.dumps({"spec": spec}))
    assert bench.plan_runs(study, root, ["plain"], [0], True, data, prints)[("plain", 0)] == "done"
    student.write_bytes(b"another student")
    with pytest.raises(bench.UserError, match=r"arm 'plain' changed since .* \(student_sha256\)"):
        bench.plan_runs(study, root, ["plain"], [0], True, data, prints)


def model_yaml(path: Path, width: str = "0.25") -> Path:
    """A copy of Ultralytics' yolo26.yaml, as a user edits one: its first scale (n) at `width`."""
    import ultralytics

    text = (Path(ultralytics.__file__).parent / "cfg" / "models" / "26" / "yolo26.yaml").read_text()
    path.write_text(text.replace("n: [0.50, 0.25, 1024]", f"n: [0.50, {width}, 1024]"))
    return path


def test_a_model_yaml_edited_in_place_is_a_changed_arm(bench, tmp_path):
    """A yaml student was recorded by its path alone: one edited in place (a wider model: 2.5 M parameters became
    10 M) left every finished run standing for the new model. What it describes is in the spec now (comments
    aside, a built-in name's too); a run recorded before that still stands."""
    student = model_yaml(tmp_path / "stud.yaml")
    study = bench.load_study(write_study(tmp_path / "study.yaml", {
        **STUDY, "student": str(student), "arms": {"plain": {"method": "plain"}}, "candidates": {}, "targets": []}))
    root, data, prints = tmp_path / "work" / "tiny", {"labelled": tmp_path / "d.yaml"}, {"labelled": "a1", "full": "a1"}
    spec = bench.arm_spec(study, "plain", prints)
    assert spec["student_sha256"] and bench.arm_spec({**study, "student": "yolo26n.yaml"}, "plain")["student_sha256"]
    (root / "plain" / "seed0").mkdir(parents=True)
    (root / "plain" / "seed0" / "run.json").write_text(json.dumps({"spec": spec}))

    def plan() -> str:
        return bench.plan_runs(study, root, ["plain"], [0], True, data, prints)[("plain", 0)]

    student.write_text(student.read_text() + "# a remark\n")
    assert plan() == "done"
    model_yaml(student, "0.5")
    with pytest.raises(bench.UserError, match=r"arm 'plain' changed since .* \(student_sha256\)"):
        plan()
    old = {k: v for k, v in spec.items() if k != "student_sha256"}  # recorded before yamls were kept by content
    (root / "plain" / "seed0" / "run.json").write_text(json.dumps({"spec": old}))
    assert plan() == "done"


def test_a_teacher_yaml_edited_in_place_is_another_teacher(bench, synth_data, tmp_path):
    """The teacher cache was kept by the yaml's path: one edited in place (a 40 M-parameter model) found the old
    2.5 M-parameter teacher and the study distilled from it. The yaml's content is in made.json now; a teacher
    cached before that stands for the yaml as it is only where its weights say they were built from it: then it is
    stamped. 6cd2405 stamped it unchecked: an edited yaml's old teacher was reused and its record claimed the new
    yaml's sha256. Weights that cannot be read stand, unstamped, and the record claims no yaml content."""
    import argparse

    teach = model_yaml(tmp_path / "teach.yaml")
    study = {"name": "s", "teacher": {"model": str(teach), "epochs": 1}, "imgsz": 64, "batch": 8}
    root, data = tmp_path / "work" / "s", synth_data
    folder = tmp_path / "work" / "teachers" / f"{data.parent.name}-teach-64px-1ep"
    best = fake_teacher(folder, model=str(teach), epochs=1, imgsz=64, batch=8, data=str(data))
    save_checkpoint(str(teach), best)  # trained from the narrow yaml
    old = {"model": str(teach), "epochs": 1, "imgsz": 64, "batch": 8, "seed": 0,
           "data": bench.dataset_fingerprint(data)}  # made.json before the yaml's content was kept
    (folder / "made.json").write_text(json.dumps(old))
    args = argparse.Namespace(teacher=None, work=tmp_path / "work", report_only=True, results=tmp_path / "results")
    model_yaml(teach, "1.00")  # edited since: the narrow teacher is not its teacher, nor stamped as one
    with pytest.raises(bench.UserError, match="no teacher yet"):
        bench.get_teacher(study, data, args, root)
    assert json.loads((folder / "made.json").read_text()) == old
    (folder / "made.json").write_text(json.dumps({**old, "model_sha256": bench.model_sha256(str(teach))}))
    with pytest.raises(bench.UserError, match="no teacher yet"):  # as 6cd2405 stamped it: not taken either
        bench.get_teacher(study, data, args, root)
    model_yaml(teach)  # as it was: the teacher stands, and is stamped with what it was checked to be
    (folder / "made.json").write_text(json.dumps(old))
    teacher = bench.get_teacher(study, data, args, root)
    assert teacher["checkpoint"] == str(best)
    assert json.loads((folder / "made.json").read_text())["model_sha256"] == bench.model_sha256(str(teach))
    assert teacher["made"]["model_sha256"] == bench.model_sha256(str(teach))
    model_yaml(teach, "1.00")
    with pytest.raises(bench.UserError, match="no teacher yet"):  # not the narrow teacher
        bench.get_teacher(study, data, args, root)
    root.mkdir(parents=True)  # a study distilled from the narrow one: the edit is named, in a line
    (root / "teacher.json").write_text(json.dumps({"map50_95": 0.5, "sha256": teacher["sha256"], "used": teacher}))
    (root / "ours" / "seed0").mkdir(parents=True)
    (root / "ours" / "seed0" / "run.json").write_text("{}")
    args.report_only = False
    with pytest.raises(bench.UserError, match=r"changed its teacher's settings since its runs \(model_sha256 "
                                              r"[0-9a-f]{12} -> [0-9a-f]{12};"):
        bench.get_teacher(study, data, args, root, needed=False)
    assert best.exists()
    # weights that cannot be read (no checkpoint to check by): taken as before, but no content claimed
    shutil.rmtree(root)
    args.report_only = True
    best.write_bytes(b"weights")
    (folder / "made.json").write_text(json.dumps(old))
    teacher = bench.get_teacher(study, data, args, root)
    assert teacher["checkpoint"] == str(best) and "model_sha256" not in teacher["made"]
    assert json.loads((folder / "made.json").read_text()) == old


def test_a_model_yaml_matches_the_checkpoint_trained_from_it(bench, tmp_path):
    """made_from: a checkpoint's model.yaml against the yaml as Ultralytics reads it, less what a build sets (nc from
    the data, channels, the file's path): an unedited built-in yaml and a copy of it match, an edit does not, and
    what cannot be read is None. model_sha256 drops the same keys: nc edited in the yaml changes no model."""
    from _cache import made_from

    teacher = save_checkpoint("yolo26s.yaml", tmp_path / "s.pt")  # 3 classes, where yolo26.yaml says nc: 80
    assert made_from([tmp_path / "none.pt", teacher], "yolo26s.yaml") is True
    assert made_from([teacher], "yolo26n.yaml") is False  # another scale
    narrow = save_checkpoint(str(model_yaml(tmp_path / "teach.yaml")), tmp_path / "n.pt")
    assert made_from([narrow], str(tmp_path / "teach.yaml")) is True
    assert made_from([narrow], str(model_yaml(tmp_path / "teach.yaml", "1.00"))) is False
    (tmp_path / "fake.pt").write_bytes(b"weights")
    assert made_from([tmp_path / "fake.pt"], "yolo26s.yaml") is None
    assert made_from([tmp_path / "none.pt"], "yolo26s.yaml") is None
    assert made_from([teacher], "yolo26s.pt") is None
    text = (tmp_path / "teach.yaml").read_text()
    first = bench.model_sha256(str(tmp_path / "teach.yaml"))
    (tmp_path / "other.yaml").write_text(text.replace("nc: 80", "nc: 3"))
    assert bench.model_sha256(str(tmp_path / "other.yaml")) == first


def test_drift_reuses_an_old_student_only_if_built_from_its_yaml(synth_data, tmp_path, monkeypatch):
    """bench_drift's trained student, cached before its yaml's content was kept, was stamped with the yaml as it is
    now: one trained from a yaml edited since was reused, said to be from the new one."""
    import argparse

    import ultralytics

    monkeypatch.syspath_prepend(str(SCRIPTS))
    drift = importlib.import_module("bench_drift")
    stud = model_yaml(tmp_path / "stud.yaml")
    args = argparse.Namespace(data=synth_data, student=str(stud), start_epochs=1, imgsz=64, batch=8, seed=0,
                              work=tmp_path / "work")
    folder = args.work / "plain-stud-64px-1ep-seed0"
    (folder / "weights").mkdir(parents=True)
    best = save_checkpoint(str(stud), folder / "weights" / "best.pt")
    old = {"data": str(synth_data.resolve()), "dataset": drift_fingerprint(synth_data), "student": str(stud),
           "epochs": 1, "imgsz": 64, "batch": 8, "seed": 0}
    (folder / "made.json").write_text(json.dumps(old))
    (folder / "done.json").write_text(json.dumps(old))

    class Trains(Exception):
        pass

    def trains(*_, **__):
        raise Trains

    monkeypatch.setattr(ultralytics, "YOLO", trains)
    model_yaml(stud, "1.00")
    with pytest.raises(Trains):  # another student: trained, in a folder of its own
        drift.trained_student(args)
    assert json.loads((folder / "made.json").read_text()) == old
    assert [p.name for p in args.work.iterdir() if p.name.startswith("plain-stud-64px-1ep-seed0-")]
    model_yaml(stud)
    assert drift.trained_student(args) == best
    assert "student_sha256" in json.loads((folder / "made.json").read_text())


def drift_fingerprint(data: Path) -> str:
    from _cache import dataset_fingerprint

    return dataset_fingerprint(data)


def test_a_student_checkpoint_of_another_task_is_one_line_at_load(bench, capsys, tmp_path, monkeypatch):
    """A classifier's .pt as the study's student passed the study check (only yamls were checked for their task):
    training started, then 'Classify' object has no attribute 'stride', exit 1, a run folder left behind."""
    monkeypatch.setattr(bench, "prepare_data", lambda *_: pytest.fail("the data was prepared first"))
    cls = save_checkpoint("yolo26n-cls.yaml", tmp_path / "cls.pt")
    argv = study_args(tmp_path, write_study(tmp_path / "study.yaml", {**STUDY, "student": str(cls)}))
    assert bench.main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"student '{cls}' is a classify model" in err, err
    detector = save_checkpoint("yolo26n.yaml", tmp_path / "det.pt")  # a detector's .pt, and bytes that are none
    assert bench.load_study(write_study(tmp_path / "study.yaml", {**STUDY, "student": str(detector)}))
    (tmp_path / "bytes.pt").write_bytes(b"one student")
    assert bench.load_study(write_study(tmp_path / "study.yaml", {**STUDY, "student": str(tmp_path / "bytes.pt")}))


def test_a_target_may_ask_a_little_above_one(bench, tmp_path):
    """The cap of 1 on gap, aim and share refused a deliberate 'beat the teacher' target (gap 1.0, aim 1.1); a
    percent (50) is still refused, with the share it meant."""
    for target in ({"arm": "ours", "gap": 1.0, "aim": 1.1}, {"arm": "ours", "between": ["plain", "builtin"],
                                                              "share": 1.5}):
        study = bench.load_study(write_study(tmp_path / "study.yaml", {**STUDY, "targets": [target]}))
        assert study["targets"] == [target]
    with pytest.raises(bench.UserError, match=r"aim is a share, at most 2 \(0.5 for 50 %"):
        bench.load_study(write_study(tmp_path / "study.yaml", {**STUDY, "targets": [
            {"arm": "ours", "gap": 0.3, "aim": 50}]}))


def test_a_record_claims_no_student_content_its_runs_were_not_checked_by(bench):
    """A record regenerated from runs recorded before student_sha256 existed gave their arm the yaml's sha256 of
    today, as if the runs had been checked against it."""
    spec = {"method": "plain", "student": "yolo26n.yaml", "student_sha256": "8c92"}
    old = {"spec": {k: v for k, v in spec.items() if k != "student_sha256"}}
    assert "student_sha256" not in bench.recorded_spec(spec, [{"spec": spec}, old])
    assert bench.recorded_spec(spec, [{"spec": spec}]) == spec
    assert bench.recorded_spec(spec, []) == spec  # no run yet: the arm as it stands, which its runs will hold


def test_a_finished_source_arm_without_its_best_pt_is_one_line(bench, tmp_path, capsys):
    """plain's best.pt deleted: pt-plain's finished run was said to stand on 'a best.pt other than the one this run
    started from: training it again', then its start failed on the missing file (FileNotFoundError, exit 1). Then
    it was refused everywhere, --report-only and other --arms too, advising to delete finished runs. Now: a
    finished run stands, said in a line (and the record's notes); only a run to start from the file now is refused,
    the file's return advised first."""
    study = bench.load_study(write_study(tmp_path / "study.yaml", {
        **STUDY, "arms": {"plain": {"method": "plain"}, "pt-plain": {"method": "plain", "student": "plain"}},
        "candidates": {}, "targets": []}))
    root, data, prints = tmp_path / "work" / "tiny", {"labelled": tmp_path / "d.yaml"}, {"labelled": "a1", "full": "a1"}
    for arm in ("plain", "pt-plain"):
        run_dir = root / arm / "seed0"
        (run_dir / "weights").mkdir(parents=True)
        (run_dir / "weights" / "best.pt").write_bytes(arm.encode())
        (run_dir / "run.json").write_text(json.dumps({"spec": bench.arm_spec(study, arm, prints), "source_sha256":
                                                      bench.sha256(root / "plain" / "seed0" / "weights" / "best.pt")}))
    (root / "plain" / "seed0" / "weights" / "best.pt").unlink()
    capsys.readouterr()
    for train, arms in ((False, ["plain", "pt-plain"]), (True, ["plain"]), (True, ["plain", "pt-plain"])):
        plan = bench.plan_runs(study, root, arms, [0], train, data, prints)  # --report-only, --arms plain, all
        assert plan[("pt-plain", 0)] == "done" and plan[("plain", 0)] == "done"
    err = capsys.readouterr().err
    assert err.count("\n") <= 1 and "arm 'pt-plain' seed 0: its source arm 'plain' best.pt is missing" in err
    runs = [{"arm": "pt-plain", "seed": 0, **json.loads((root / "pt-plain" / "seed0" / "run.json").read_text())}]
    assert ["cannot be checked" in note for note in bench.unchecked_notes(root, runs)] == [True]
    shutil.rmtree(root / "pt-plain")  # to start from it now: refused, the file's return first
    with pytest.raises(bench.UserError, match=r"arm 'plain' seed 0 is finished but its best.pt is missing \('.*"
                                              r"best.pt'\), which arm 'pt-plain' seed 0 would start from now: put the "
                                              r"file back; or leave 'pt-plain' out of --arms"):
        bench.plan_runs(study, root, list(study["arms"]), [0], True, data, prints)
    assert bench.plan_runs(study, root, ["plain"], [0], True, data, prints)[("pt-plain", 0)] == "pending"
    assert bench.plan_runs(study, root, list(study["arms"]), [0], False, data, prints)[("pt-plain", 0)] == "pending"


def test_plain_runs_record_no_teacher(study):
    """A plain run's record named the teacher's sha256, though it used none (the study itself says so)."""
    runs = study["record"]["runs"]
    assert {r["spec"]["method"] for r in runs} == set(METHODS)
    assert all(("teacher_sha256" in r) == (r["spec"]["method"] != "plain") for r in runs)


def test_epoch_times_survive_a_resumed_run(bench, tmp_path):
    """Ultralytics restarts results.csv's clock at a resumed epoch: 10, 20, 30, then 12 and 22. The differences gave
    a -18 s epoch, dropped, where that epoch took 12 s."""
    rows = ["epoch,time,metrics/mAP50-95(B)", "1,10,0.1", "2,20,0.2", "3,30,0.3", "4,12,0.4", "5,22,0.5"]
    (tmp_path / "results.csv").write_text("\n".join(rows) + "\n")
    curve, times = bench.read_curve(tmp_path / "results.csv")
    assert curve == [0.1, 0.2, 0.3, 0.4, 0.5] and times == [10, 10, 10, 12, 10]
    # cut off after one 60 s epoch, resumed for two of 61 s and 60 s: the clock did not go down at the restart
    rows = ["epoch,time,metrics/mAP50-95(B)", "1,60,0.1", "2,61,0.2", "3,121,0.3"]
    (tmp_path / "results.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "restarts.json").write_text("[1]")  # as train_run records it before resuming
    assert bench.read_curve(tmp_path / "results.csv")[1] == [60, 61, 60]


def test_a_resumed_run_starts_where_its_checkpoint_ends(bench, tmp_path, monkeypatch):
    """A kill after results.csv got epoch 3's row but before last.pt held epoch 3: the resumed run wrote epoch 3
    again (the record said 9 epochs of 8) and restarts.json pointed at the wrong row, giving a negative epoch time.
    The rows past the checkpoint go before any method resumes."""
    import argparse

    import torch

    run_dir = tmp_path / "plain" / "seed0"
    (run_dir / "weights").mkdir(parents=True)
    torch.save({"epoch": 1, "optimizer": {"param_groups": []}}, run_dir / "weights" / "last.pt")  # 2 epochs held
    rows = ["epoch,time,metrics/mAP50-95(B)", "1,10,0.1", "2,20,0.2", "3,30,0.3"]
    (run_dir / "results.csv").write_text("\n".join(rows) + "\n")
    seen = []

    class Trainer:  # Ultralytics' trainer, resuming: appends epochs 3 and 4 on a clock started again
        def __init__(self, overrides):
            seen.append(overrides)
            self.metrics = {}

        def train(self):
            with open(run_dir / "results.csv", "a") as f:
                f.write("3,12,0.3\n4,22,0.4\n")

    monkeypatch.setattr("ultralytics.models.yolo.detect.DetectionTrainer", Trainer)
    spec = {"method": "plain", "train_args": {}, "epochs": 4, "imgsz": 64, "batch": 8}
    args = argparse.Namespace(device="cpu", workers=0)
    bench.train_run(spec, 0, run_dir, "t.pt", {"labelled": tmp_path / "d.yaml"}, "yolo26n.yaml", args)
    assert seen[0]["resume"] == str(run_dir / "weights" / "last.pt")
    assert json.loads((run_dir / "restarts.json").read_text()) == [2]
    curve, times = bench.read_curve(run_dir / "results.csv")
    assert curve == [0.1, 0.2, 0.3, 0.4] and times == [10, 10, 12, 10] and bench.best_epoch(curve) == 4
    # a run resumed the old way (its extra row kept, restarts.json one row late): no epoch time below zero
    (run_dir / "results.csv").write_text("\n".join([*rows, "3,12,0.3", "4,22,0.4"]) + "\n")
    (run_dir / "restarts.json").write_text("[3]")
    assert min(bench.read_curve(run_dir / "results.csv")[1]) >= 0


def test_cached_data_is_made_again_when_its_files_change(bench, tmp_path, capsys):
    """Images deleted from the converted (or drawn) data, or from a split, went unseen: only the source's stamp was
    checked, so the study trained on part of its data. made.json now holds the cache's own fingerprint."""
    work = tmp_path / "work"
    study = {"data": "synth", "imgsz": 32, "labelled": 0.5, "split_seed": 0}
    first = bench.prepare_data(study, work)
    full, labelled = first["full"].parent, first["labelled"].parent
    prints = {k: bench.dataset_fingerprint(first[k]) for k in ("full", "labelled")}
    assert json.loads((full / "made.json").read_text())["content"] == prints["full"]
    for image in sorted((full / "images" / "train").iterdir())[:3]:
        image.unlink()
    again = bench.prepare_data(study, work)
    assert "no longer holds the data it was made with" in capsys.readouterr().out
    assert {k: bench.dataset_fingerprint(again[k]) for k in ("full", "labelled")} == prints
    next((labelled / "labels" / "train").iterdir()).write_text("0 0.5 0.5 0.1 0.1\n")
    bench.prepare_data(study, work)
    assert "no longer holds the split" in capsys.readouterr().out
    assert bench.dataset_fingerprint(again["labelled"]) == prints["labelled"]
    stamp = json.loads((full / "made.json").read_text())  # a cache made before `content` was kept: taken as it is
    (full / "made.json").write_text(json.dumps({k: v for k, v in stamp.items() if k != "content"}))
    bench.prepare_data(study, work)
    assert json.loads((full / "made.json").read_text()) == stamp and capsys.readouterr().out == ""


def test_a_cache_folder_is_replaced_whole_or_not_at_all(bench, tmp_path, monkeypatch):
    """A kill while the old converted data was being deleted left a part of it, with its made.json, which the next run
    took as made and then failed on (no data.yaml). The old folder goes aside first and is deleted after."""
    import shutil as real

    cache = importlib.import_module("_cache")
    out, tmp = tmp_path / "bccd", tmp_path / ".bccd.partial"
    for folder, text in ((out, "old"), (tmp, "new")):
        (folder / "labels").mkdir(parents=True)
        for name in ("made.json", "data.yaml", "labels/a.txt"):
            (folder / name).write_text(text)
    rmtree = real.rmtree

    def killed_midway(path, ignore_errors=False):  # deletes one file of a folder that exists, then the kill
        if Path(path).exists():
            next(p for p in sorted(Path(path).rglob("*")) if p.is_file()).unlink()
            raise KeyboardInterrupt
        rmtree(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(cache.shutil, "rmtree", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        cache.place(tmp, out)
    assert {p.relative_to(out).as_posix(): p.read_text() for p in out.rglob("*") if p.is_file()} == {
        "made.json": "new", "data.yaml": "new", "labels/a.txt": "new"}


def test_study_processes_on_one_work_folder_take_turns_at_its_caches(bench, tmp_path):
    """Two study processes started together converted the data into the same hidden folder at once; the second failed
    on the first's files (FileExistsError, then SameFileError). The second now waits for the first's lock."""
    import threading
    import time

    cache = importlib.import_module("_cache")
    events, trying = [], threading.Event()

    def second():
        trying.set()
        with cache.work_lock(tmp_path / "work"):
            events.append("second in")

    with cache.work_lock(tmp_path / "work"):
        thread = threading.Thread(target=second)
        thread.start()
        trying.wait(5)
        time.sleep(0.5)  # unlocked, the second would be in by now
        events.append("first out")
    thread.join(5)
    assert events == ["first out", "second in"]


def test_a_run_recorded_on_the_same_data_elsewhere_is_not_a_change(bench, tmp_path):
    """A run recorded before specs held the data's fingerprint is checked by the data.yaml it trained on; the source
    moved (another repository path), converted again into a folder of its own, holds the same data: not a change."""
    from yolodistill.data import make_synthetic

    first = make_synthetic(tmp_path / "bccd", images=4, classes=2, imgsz=32)
    moved = tmp_path / "bccd-1a2b3c4d"
    shutil.copytree(first.parent, moved)
    other = make_synthetic(tmp_path / "other", images=4, classes=2, imgsz=32, seed=1)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "args.yaml").write_text(f"data: {first}\n")
    spec, old = {"epochs": 1, "dataset": "f"}, {"spec": {"epochs": 1}}
    assert bench.spec_change(old, spec, run_dir, moved / "data.yaml") is None
    assert bench.spec_change(old, spec, run_dir, other) == "data"


def test_a_setting_newer_than_a_run_stands_only_at_its_old_behaviour(bench):
    """A run recorded before kd_gate existed was ungated: it stands for an arm with kd_gate false, not for one where
    the setting (or a changed default, as the trained-student block's) turns the gate on. A setting the run had and
    the arm no longer has is a change too."""
    old = {"method": "ours", "epochs": 30, "distill": {"kd_cls": 1.0, "kd_assign": "student"}}
    arm = {"method": "ours", "epochs": 30, "distill": {"kd_cls": 1.0, "kd_assign": "student", "kd_gate": False}}
    assert bench.same_spec(old, arm)
    assert not bench.same_spec(old, {**arm, "distill": {**arm["distill"], "kd_gate": True}})
    assert not bench.same_spec(old, {**arm, "distill": {"kd_cls": 1.0, "kd_gate": False}})  # kd_assign gone
    assert not bench.same_spec(old, {**arm, "distill": {**arm["distill"], "kd_new": 1}})  # not a known addition
    assert not bench.same_spec(old, {**arm, "epochs": 60})


def test_a_run_distilled_from_another_teacher_is_refused(bench, tmp_path):
    """Runs are kept by their settings; the teacher they distilled from is checked by its sha256, so a study given
    another teacher file (its teacher.json gone, another --teacher) does not take them for its own."""
    study = {"arms": {"plain": {"method": "plain"}, "ours": {"method": "ours"}}}
    for arm in study["arms"]:
        (tmp_path / arm / "seed0").mkdir(parents=True)
        (tmp_path / arm / "seed0" / "run.json").write_text(json.dumps({"teacher_sha256": "a" * 64}))
    plan = {("plain", 0): "done", ("ours", 0): "done"}
    bench.check_runs_teacher(study, tmp_path, plan, {"checkpoint": "t.pt", "sha256": "a" * 64})
    with pytest.raises(bench.UserError, match=r"arm 'ours' seed 0 .* distilled from another teacher \(sha256 a{12}\)"):
        bench.check_runs_teacher(study, tmp_path, plan, {"checkpoint": "t.pt", "sha256": "b" * 64})
    bench.check_runs_teacher(study, tmp_path, {**plan, ("ours", 0): "pending"}, {"checkpoint": "t.pt", "sha256": "b" * 64})


def test_a_record_is_not_replaced_by_one_with_fewer_runs(tmp_path, monkeypatch, capsys):
    """--report-only in a fresh checkout (no runs in --work) wrote an empty study over the committed record."""
    results = tmp_path / "results"
    results.mkdir()
    record = results / "study-tiny.json"
    record.write_text(json.dumps({"kind": "study", "name": "tiny", "runs": [{"arm": "plain", "seed": 0}] * 3}))
    before = record.read_text()
    study = write_study(tmp_path / "s.yaml", STUDY)
    status, err = refused("bench_efficacy.py", *study_args(tmp_path, study, "--report-only"), monkeypatch=monkeypatch,
                          capsys=capsys)
    assert status == 2 and "records 1 finished run(s) that are not in --work" in err
    assert "(plain seed 0)" in err and err.count("\n") == 1
    assert record.read_text() == before and not (tmp_path / "work" / "teachers").exists()  # before any teacher


def test_a_record_may_lose_runs_the_study_dropped_or_that_wait_on_their_source(monkeypatch, tmp_path, capsys):
    """Only runs missing from --work keep a record from being written over: a seed dropped from the study, or a run
    waiting on its source arm trained again (--arms plain after plain's run was deleted), was refused as 'not in
    --work', though the runs were there."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    common = importlib.import_module("_common")
    record = tmp_path / "study-tiny.json"
    record.write_text(json.dumps({"runs": [{"arm": arm, "seed": seed, "run_dir": str(tmp_path / "tiny" / arm /
                                                                                   f"seed{seed}")}
                                           for arm, seed in (("plain", 0), ("pt-ours", 0), ("plain", 5))]}))
    common.keep_record(record, {("plain", 0): "train", ("pt-ours", 0): "stale"}, tmp_path)
    out = capsys.readouterr().out
    assert "drops plain seed 5: no longer in the study" in out and "drops pt-ours seed 0 until trained again" in out
    assert "drops plain seed 0 until trained again: its run is gone from --work" in out
    with pytest.raises(common.UserError, match=r"records 1 finished run\(s\) that are not in --work .* \(plain seed 0"):
        common.keep_record(record, {("plain", 0): "pending", ("pt-ours", 0): "stale"}, tmp_path)


def test_a_record_says_how_its_runs_were_trained_not_how_it_was_written(bench, tmp_path):
    """The record took threads, workers, device and commit from the process that wrote it: a --report-only (or
    parallel_study.sh's record step) said 2 threads where every run had trained on 1. Each run keeps them in its
    run.json; the record gives their one value, or the values they differ by, and the page says so."""
    study_file = write_study(tmp_path / "study.yaml", {**STUDY, "arms": {"plain": {"method": "plain"}},
                                                       "candidates": {}, "targets": []})
    study, work = bench.load_study(study_file), tmp_path / "work"
    teacher, root = tmp_path / "t.pt", work / "tiny"
    teacher.write_bytes(b"teacher")
    data = bench.prepare_data(study, work)
    prints = {kind: bench.dataset_fingerprint(data[kind]) for kind in ("labelled", "full")}
    root.mkdir()
    (root / "teacher.json").write_text(json.dumps({"map50": 0.5, "map50_95": 0.3, "sha256": bench.sha256(teacher)}))
    env = bench.environment()
    ran = {0: {"threads": 1, "workers": 0, "device": "cpu", "environment": {**env, "git": {"commit": "a" * 40}}},
           1: {"threads": 4, "workers": 0, "device": "0", "environment": {**env, "git": {"commit": "b" * 40}}}}
    for seed, made in ran.items():
        run_dir = root / "plain" / f"seed{seed}"
        run_dir.mkdir(parents=True)
        (run_dir / "results.csv").write_text("epoch,time,metrics/mAP50-95(B)\n1,10,0.2\n")
        (run_dir / "run.json").write_text(json.dumps({
            "arm": "plain", "method": "plain", "seed": seed, "spec": bench.arm_spec(study, "plain", prints),
            "map50": 0.4, "map50_95": 0.2, "epochs": 1, "curve": [0.2], "run_dir": str(run_dir), **made}))
    argv = study_args(tmp_path, study_file, "--report-only", "--teacher", teacher, "--device", "cpu", "--workers", 3)
    assert bench.main([str(a) for a in argv]) == 0
    record = read_record(tmp_path)
    assert (record["threads"], record["workers"], record["device"]) == ([1, 4], 0, ["cpu", "0"])
    assert [e["git"]["commit"] for e in record["environment"]] == ["a" * 40, "b" * 40]
    page = (tmp_path / "docs.md").read_text()
    assert "1 or 4 threads, device cpu or 0. Machine: " in page and "commit aaaaaaaaaaaa" in page


def test_a_record_is_not_replaced_by_runs_trained_in_another_work_folder(monkeypatch, tmp_path):
    """A record whose finished runs live in another --work was replaced by runs trained again in the new one, with no
    word, though the README says it is not written over while it holds runs that are not in --work."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    common = importlib.import_module("_common")
    record = tmp_path / "study-tiny.json"
    record.write_text(json.dumps({"runs": [{"arm": "plain", "seed": 0,
                                            "run_dir": str(tmp_path / "work" / "tiny" / "plain" / "seed0")}]}))
    with pytest.raises(common.UserError, match=r"records 1 finished run\(s\) that are not in --work .* \(plain seed 0"):
        common.keep_record(record, {("plain", 0): "train"}, tmp_path / "other")
    common.keep_record(record, {("plain", 0): "train"}, tmp_path / "work")  # its folder deleted to train it again
    common.keep_record(record, {("plain", 0): "done"}, tmp_path / "moved")  # the work folder moved, its runs in it


def test_records_say_how_to_run_them_again(monkeypatch, tmp_path):
    """A record's command ran from neither place when made outside the repository (script relative to the repository,
    study file relative to the working folder); it now runs as written. The environment names the commit (and
    whether files had changed) and the CPU."""
    import sys

    monkeypatch.syspath_prepend(str(SCRIPTS))
    common = importlib.import_module("_common")
    monkeypatch.setattr(sys, "argv", [str(SCRIPTS / "bench_efficacy.py"), "s1.yaml", "--note", "a b"])
    monkeypatch.chdir(tmp_path)
    assert common.command_line() == f"cd {tmp_path} && python {SCRIPTS / 'bench_efficacy.py'} s1.yaml --note 'a b'"
    monkeypatch.chdir(REPO)
    assert common.command_line(["s1.yaml"]) == "python scripts/bench_efficacy.py s1.yaml"
    env = common.environment()
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert env["git"]["commit"] == head and isinstance(env["git"]["dirty"], bool) and env["machine"]["cpu"]
    monkeypatch.setattr(sys, "argv", ["/usr/bin/pytest", "x.yaml"])  # a program outside the repository, run from it
    assert common.command_line() == f"cd {REPO} && python /usr/bin/pytest x.yaml"  # was a ValueError

    # dirty means the code changed, not the records and plots a study rewrites
    repo = tmp_path / "repo"
    for f in ("yolodistill/a.py", "benchmarks/results/r.json", "docs/benchmarks.md"):
        (repo / f).parent.mkdir(parents=True, exist_ok=True)
        (repo / f).write_text("0\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    for words in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "x"]):
        subprocess.run([*git, *words], check=True, capture_output=True)
    monkeypatch.setattr(common, "REPO", repo)
    (repo / "benchmarks/results/r.json").write_text("1\n")
    (repo / "docs/benchmarks.md").write_text("1\n")
    assert common.environment()["git"]["dirty"] is False
    (repo / "yolodistill/a.py").write_text("1\n")
    assert common.environment()["git"]["dirty"] is True


def test_a_record_that_cannot_be_read_is_not_written_over(monkeypatch, tmp_path):
    """Cut short or mid-merge, it was read as holding no runs and replaced in silence."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    common = importlib.import_module("_common")
    record = tmp_path / "study-x.json"
    record.write_text('{"runs": [<<<<<<< HEAD')
    with pytest.raises(common.UserError, match=f"'{record}' is not a readable record: mend it"):
        common.keep_record(record, {("plain", 0): "train"}, tmp_path)


def parallel_study(study_file: Path, arms: str, out: str, work: Path, cwd: Path, *extra, timeout: int = 300):
    env = {**os.environ, "WORK": str(work), "PYTHON": PYTHON, "ARM_TIMEOUT": str(timeout)}
    return subprocess.run(["bash", str(SCRIPTS / "parallel_study.sh"), str(study_file), arms, out, "--threads", "1",
                           *extra], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_parallel_arms_share_one_prepared_teacher_and_one_record(study, out, tmp_path):
    """scripts/parallel_study.sh as the GPU seed ran: the finished study with one arm added, trained beside a finished
    arm; the teacher is prepared once, the record holds every run, the archive the new run's epochs; an arm named
    twice trains once; OUT relative to where it runs. Near the end of this file: the added arm's run would change what
    test_rerun_trains_nothing compares."""
    import tarfile

    study_file = write_study(tmp_path / "study.yaml", {**STUDY, "arms": {**STUDY["arms"], "again": {
        "method": "plain", "seeds": [0]}}})
    proc = parallel_study(study_file, "plain,again,plain", "got", out / "work", tmp_path, "--note", REMARK)
    assert proc.returncode == 0, proc.stderr[-4000:]
    got = tmp_path / "got"
    steps = (got / "steps.log").read_text()
    assert all(what in steps for what in ("prepare: done", "plain: done", "again: done", "record: exit 0"))
    assert steps.count("train plain") == 1 and "Prepared tiny" in (got / "record.log").read_text()
    assert "0 to train now" in (got / "plain.log").read_text()  # finished before: not trained again
    record = json.loads((got / "study-tiny.json").read_text())
    assert {(r["arm"], r["seed"]) for r in record["runs"]} == {*ARM_SEEDS, ("again", 0)} and not record["pending"]
    assert record["remarks"][0] == REMARK and "plain,again trained at the same time" in record["remarks"][1]
    with tarfile.open(got / "runs.tgz") as tar:
        names = set(tar.getnames())
    assert {"tiny/teacher.json", "tiny/again/seed0/results.csv", "tiny/plain/seed1/run.json"} <= names
    assert len(csv_rows(out / "work" / "tiny" / "again" / "seed0")) == 1


def test_an_arm_killed_is_not_said_cut_off_and_a_rerun_keeps_the_logs(study, out, tmp_path):
    """An arm killed by SIGKILL (the OOM killer on a GPU lease) read "cut off at 420 s" after 10 s, and a rerun
    overwrote the logs that said what the first attempt did."""
    fake = tmp_path / "python"  # the arm's process dies of SIGKILL at once; prepare and the record run as they do
    fake.write_text(f'#!/bin/bash\ncase " $* " in *" --prepare-only "*|*" --report-only "*) ;;\n'
                    f'  *" --arms "*) kill -KILL $$;;\nesac\nexec {PYTHON} "$@"\n')
    fake.chmod(0o755)
    for _ in range(2):
        proc = subprocess.run(["bash", str(SCRIPTS / "parallel_study.sh"), str(write_study(tmp_path / "study.yaml",
                               STUDY)), "plain", "got", "--threads", "1"], cwd=tmp_path, capture_output=True, text=True,
                              timeout=600, env={**os.environ, "WORK": str(out / "work"), "PYTHON": str(fake)})
        assert proc.returncode == 1 and proc.stderr.startswith(
            "Error: not finished: plain (killed by SIGKILL, not cut off: the kernel's out-of-memory killer, or kill "
            "-9)"), proc.stderr
    got = tmp_path / "got"
    assert (got / "plain.log").read_text().count("=== ") == 2 and (got / "record.log").read_text().count("=== ") == 4
    assert "cut off" not in (got / "steps.log").read_text()


def test_an_arm_cut_off_is_named_and_the_record_still_written(study, out, tmp_path):
    """An arm past ARM_TIMEOUT: the script ends with status 1 and one line naming it, after the record and the
    archive of what finished. Last of the tests on the study: its cut-off run stays in the study's folder."""
    study_file = write_study(tmp_path / "study.yaml", {**STUDY, "arms": {**STUDY["arms"], "cut": {
        "method": "ours", "seeds": [1]}}})
    proc = parallel_study(study_file, "cut", str(tmp_path / "got"), out / "work", tmp_path, timeout=1)
    assert proc.returncode == 1, proc.stderr[-4000:]
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("Error: not finished: cut (cut off at 1 s)")
    record = json.loads((tmp_path / "got" / "study-tiny.json").read_text())
    assert record["pending"] == ["cut seed 1"] and (tmp_path / "got" / "runs.tgz").stat().st_size > 0


@pytest.mark.parametrize("argv, env, needle", [
    ([], {}, "give STUDY ARMS OUT"),
    (["missing.yaml", "plain", "o"], {}, "study file 'missing.yaml' does not exist"),
    (["benchmarks/kd-study-gpu640.yaml", " , ", "o"], {}, "ARMS is empty"),
    (["benchmarks/kd-study-gpu640.yaml", "plain", "o"], {"ARM_TIMEOUT": "10m"}, "ARM_TIMEOUT must be a whole number"),
    (["benchmarks/kd-study-gpu640.yaml", "nope", "o"], {}, "no arm nope"),
    (["benchmarks/kd-study-gpu640.yaml", "plain", "o", "--work", "w2"], {}, "--work is set by the script"),
    (["benchmarks/kd-study-gpu640.yaml", "plain", "o", "--arms=ours"], {}, "--arms is set by the script"),
    (["benchmarks/kd-study-gpu640.yaml", "plain", "file/o"], {}, "cannot write into"),
    (["benchmarks/kd-study-gpu640.yaml", "plain", "o", "--device", "foo"], {}, "--device 'foo' is not a device"),
    (["benchmarks/kd-study-gpu640.yaml", "plain", "o"], {"PYTHON": "/nonexistent/python"},
     "PYTHON='/nonexistent/python' cannot import yolodistill: set PYTHON to the python of its environment"),
], ids=["no-arguments", "no-study", "no-arms", "timeout", "unknown-arm", "work-option", "arms-option", "out-file",
        "device", "python"])
def test_parallel_study_refuses_bad_input_in_one_line(argv, env, needle, tmp_path):
    (tmp_path / "file").write_text("")
    argv = [str(tmp_path / a) if a in ("o", "file/o") else a for a in argv]
    proc = subprocess.run(["bash", str(SCRIPTS / "parallel_study.sh"), *argv], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHON": PYTHON, "WORK": str(tmp_path / "w"),
                                                       **env})
    assert proc.returncode == 2 and needle in proc.stderr and proc.stderr.count("\n") == 1, (proc.stdout, proc.stderr)


def test_the_drift_page_shows_small_ratios_and_every_script_that_writes_it(monkeypatch, tmp_path):
    """A drift of ratios near 1e-4 read "0.00 → 0.00 → 0.00" (and 0.000 in its tables); the page's first line left
    out bench_drift.py, which writes it too."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    shown = importlib.import_module("_pages").shown
    assert [shown(v, 2) for v in (1.234e-4, -3e-5, 0.0, 0.004, 0.005, 2.654)] == [
        "0.00012", "-3e-05", "0.00", "0.004", "0.01", "2.65"]
    assert shown(4e-4, 3) == "0.0004" and shown(None, 3) == shown(float("nan"), 2) and shown(7, 2) == "7"
    first = (REPO / "docs" / "benchmarks.md").read_text().splitlines()[2]
    assert all(f"`scripts/{name}`" in first for name in ("bench_efficacy.py", "bench_overhead.py",
                                                         "bench_feature_shares.py", "bench_drift.py"))


def test_runs_recorded_before_they_kept_their_settings_count_with_this_process_s(monkeypatch):
    """A record mixing runs that kept their threads with older runs that did not credited every run with the newer
    ones' value: the older count with this process's, as the record said of every run before."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    made_with = importlib.import_module("_common").made_with
    own = {"threads": 2, "device": "cpu"}
    assert made_with([{"threads": 1, "device": "0"}, {}, {}], own) == {"threads": [1, 2], "device": ["0", "cpu"]}
    assert made_with([{"threads": 1, "device": "cpu"}] * 2, own) == {"threads": 1, "device": "cpu"}
    assert made_with([{}, {}], own) == made_with([], own) == own
