"""The benchmark scripts end to end at smoke scale, in subprocesses as users run them: every number in their records
must come from the runs they made, and the page they write must show both."""

from __future__ import annotations

import csv
import importlib
import json
import statistics
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import PYTHON, REPO

SCRIPTS = REPO / "scripts"
METHODS = ("plain", "builtin", "ours")
KD_KEYS = ("kd_cls", "kd_box", "kd_feat")
INIT = "init_from_teacher"


def run_script(name: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, str(SCRIPTS / name), *map(str, args)], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """One results folder and page for both scripts, as in the repository."""
    return tmp_path_factory.mktemp("bench")


CANDIDATE = "kd_feat=1,temperature=4"  # a recipe variant the study tries beside the ablation
REMARK = "ran at smoke scale inside the test suite"


def efficacy_args(out: Path, *extra) -> list:
    return ["--scale", "smoke", "--src", "synth", "--work", out / "work", "--results", out / "results",
            "--docs", out / "docs.md", "--candidates", CANDIDATE, "--threads", 1, "--note", REMARK, *extra]


@pytest.fixture(scope="module")
def efficacy(out) -> dict:
    proc = run_script("bench_efficacy.py", *efficacy_args(out))
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads((out / "results" / "efficacy-smoke.json").read_text())


@pytest.fixture(scope="module")
def overhead(out, teacher26, synth_data) -> dict:
    proc = run_script("bench_overhead.py", "--data", synth_data, "--teacher", teacher26, "--imgsz", 64, "--batch", 8,
                      "--epochs", 2, "--device", "cpu", "--workers", 0, "--work", out / "overhead",
                      "--results", out / "results", "--docs", out / "docs.md")
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads((out / "results" / "overhead-cpu.json").read_text())


def recipe() -> dict:
    return yaml.safe_load((REPO / "configs" / "default.yaml").read_text())


def epoch_times(run_dir: str) -> list[float]:
    with open(Path(run_dir) / "results.csv") as f:
        cumulative = [float(r["time"]) for r in csv.DictReader(f)]
    return [b - a for a, b in zip([0.0, *cumulative], cumulative)]


@pytest.mark.parametrize("script, options", [
    ("bench_efficacy.py", ("--scale", "--src", "--work", "--name", "--results", "--docs", "--config", "--student",
                           "--teacher-model", "--teacher", "--teacher-epochs", "--epochs", "--imgsz", "--batch",
                           "--seeds", "--ablation-seeds", "--skip-ablation", "--candidates", "--device", "--workers",
                           "--threads", "--note")),
    ("bench_overhead.py", ("--data", "--images", "--teacher", "--teacher-model", "--student", "--imgsz", "--batch",
                           "--epochs", "--device", "--workers", "--work", "--results", "--docs", "--threads")),
])
def test_help_explains_every_option(script, options):
    proc = run_script(script, "--help")
    assert proc.returncode == 0
    for option in options:
        assert f"  {option} " in proc.stdout or f"  {option}\n" in proc.stdout, option
    assert "--worker-out" not in proc.stdout and "--worker {" not in proc.stdout


def test_efficacy_record_holds_the_study(efficacy, out):
    assert {"kind", "scale", "command", "settings", "environment", "teacher", "compare", "ablation", "targets",
            "missed"} <= set(efficacy)
    assert efficacy["kind"] == "efficacy" and efficacy["scale"] == "smoke"
    assert "bench_efficacy.py --scale smoke" in efficacy["command"]
    s = efficacy["settings"]
    assert (s["seeds"], s["ablation_seeds"], s["imgsz"], s["epochs"], s["threads"]) == ([0, 1], [0], 64, 1, 1)
    assert s["train_images"] + s["val_images"] == 32 and len(s["names"]) == 3
    assert efficacy["teacher"]["trained_here"] and Path(efficacy["teacher"]["checkpoint"]).is_file()
    assert (out / "work" / ".gitignore").read_text() == "*\n"


def test_compare_summary_is_the_runs_it_made(efficacy):
    compare = efficacy["compare"]
    assert [(r["seed"], r["method"]) for r in compare["runs"]] == [(s, m) for s in (0, 1) for m in METHODS]
    for r in compare["runs"]:
        assert r["epoch_time_s"] == pytest.approx(statistics.fmean(epoch_times(r["run_dir"])), abs=1e-6)
    for method in METHODS:
        values = [r["map50_95"] for r in compare["runs"] if r["method"] == method]
        assert compare["summary"][method]["map50_95_mean"] == pytest.approx(statistics.fmean(values))
    # per seed: one compare of the baselines, one of ours (kept per recipe)
    assert len(compare["commands"]) == 4 and all("--seeds" in c for c in compare["commands"])
    assert [c.split("--methods ")[1].split()[0] for c in compare["commands"]] == ["plain,builtin", "ours"] * 2


def test_ablation_runs_one_term_at_a_time(efficacy):
    """The default recipe is the teacher start with every loss off: each term runs alone at weight 1 from that
    start, and `init` (the start alone) is the recipe itself, so its runs are ours."""
    ablation, weights = efficacy["ablation"], recipe()
    assert weights[INIT] is True and not any(weights[k] for k in KD_KEYS)
    assert list(ablation["summary"]) == ["plain", "cls", "box", "feat", "init", "all", "feat1-temperature4"]
    compare_runs = {(r["method"], r["seed"]): r for r in efficacy["compare"]["runs"]}
    for term in ("cls", "box", "feat"):
        key = f"kd_{term}"
        expected = {**{k: 1.0 if k == key else 0.0 for k in KD_KEYS}, INIT: True}  # off in the recipe: 1
        (run,) = [r for r in ablation["runs"] if r["method"] == term]
        assert ablation["weights"][term] == expected == run["weights"] and run["seed"] == 0
        saved = yaml.safe_load((Path(run["run_dir"]) / "distill.yaml").read_text())["distill"]
        assert {k: saved[k] for k in expected} == expected  # what the run actually trained with
        assert f"--kd-{term} 1 " in run["command"] and "--init-from-teacher " in run["command"]
        assert f"{term} alone runs at {key}=1: the recipe turns it off" in ablation["notes"]
    for label in ("init", "all"):  # the recipe itself: reused, not trained again
        (run,) = [r for r in ablation["runs"] if r["method"] == label]
        assert run["run_dir"] == compare_runs[("ours", 0)]["run_dir"] and "weights" not in run
    assert "no-init" not in ablation["weights"]  # no loss to run from a random start
    assert ablation["weights"]["plain"] == {**{k: 0.0 for k in KD_KEYS}, INIT: False}
    assert ablation["summary"]["plain"]["map50_95_mean"] == compare_runs[("plain", 0)]["map50_95"]


def test_candidate_recipes_train_with_their_settings(efficacy, out):
    ablation, weights = efficacy["ablation"], recipe()
    (run,) = [r for r in ablation["runs"] if r["method"] == "feat1-temperature4"]
    expected = {"kd_cls": float(weights["kd_cls"]), "kd_box": float(weights["kd_box"]), "kd_feat": 1.0,
                INIT: weights[INIT], "temperature": 4.0}  # the recipe with the candidate's two settings
    assert ablation["candidates"] == ["feat1-temperature4"] and run["weights"] == expected
    saved = yaml.safe_load((Path(run["run_dir"]) / "distill.yaml").read_text())["distill"]
    assert {k: saved[k] for k in expected} == expected and saved["feat_loss"] == weights["feat_loss"]
    assert "--kd-feat 1 " in run["command"] and "--temperature 4 " in run["command"]
    assert ablation["summary"]["feat1-temperature4"]["map50_95_mean"] == run["map50_95"]
    assert "`feat1-temperature4`" in (out / "docs.md").read_text()


@pytest.mark.parametrize("candidates, message", [
    ("kd_cls", "'kd_cls' is not KEY=VALUE"),
    ("lr0=0.1", "'lr0=0.1' is not KEY=VALUE with a distillation key"),
    ("kd_cls=-1", "kd_cls must be a number >= 0"),
    ("feat_loss=l1", "feat_loss must be one of"),
])
def test_bad_candidates_stop_before_any_training(candidates, message, tmp_path):
    proc = run_script("bench_efficacy.py", "--scale", "smoke", "--src", "synth", "--work", tmp_path / "work",
                      "--results", tmp_path / "results", "--docs", tmp_path / "docs.md", "--candidates", candidates)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "work" / "teachers").exists() and not (tmp_path / "results").exists()


def test_targets_follow_from_the_numbers(efficacy):
    summary, t = efficacy["compare"]["summary"], efficacy["targets"]
    plain, builtin, ours = (summary[m]["map50_95_mean"] for m in METHODS)
    assert t["ours_above_plain"]["met"] == (ours > plain) and t["ours_above_plain"]["value"] == ours
    assert t["ours_above_builtin"]["met"] == (ours > builtin) and t["ours_above_builtin"]["threshold"] == builtin
    assert t["no_seed_below_plain"]["met"] == (summary["ours"]["seeds_below_plain"] == 0)
    gap = summary["ours"]["gap_recovered"]
    assert t["gap_recovered"]["value"] == gap and t["gap_recovered"]["met"] == (gap is not None and gap >= 0.30)
    assert efficacy["missed"] == [k for k, v in t.items() if not v["met"]]


def test_rerun_skips_finished_steps_and_refuses_other_settings(efficacy, out):
    csvs = sorted((out / "work").rglob("results.csv"))
    stamps = [p.stat().st_mtime_ns for p in csvs]
    proc = run_script("bench_efficacy.py", *efficacy_args(out))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert [p.stat().st_mtime_ns for p in csvs] == stamps and sorted((out / "work").rglob("results.csv")) == csvs
    again = json.loads((out / "results" / "efficacy-smoke.json").read_text())
    assert again["compare"]["runs"] == efficacy["compare"]["runs"]

    # another recipe in the same study: only ours trains again, against the same baselines
    recipe_file = out / "cls2.yaml"
    recipe_file.write_text("kd_cls: 2.0\n")
    proc = run_script("bench_efficacy.py", *efficacy_args(out, "--config", recipe_file, "--seeds", 0,
                                                          "--skip-ablation", "--candidates", "", "--name", "smoke"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    other = json.loads((out / "results" / "efficacy-smoke.json").read_text())["compare"]["runs"]
    before = {r["method"]: r for r in efficacy["compare"]["runs"] if r["seed"] == 0}
    assert [r["method"] for r in other] == list(METHODS)
    for r in other:
        assert (r["run_dir"] == before[r["method"]]["run_dir"]) == (r["method"] != "ours")
    assert yaml.safe_load((Path(other[2]["run_dir"]) / "distill.yaml").read_text())["distill"]["kd_cls"] == 2.0
    assert [p.stat().st_mtime_ns for p in csvs] == stamps  # the baselines were not trained again
    # leave the record of the default recipe for the tests that read the page
    assert run_script("bench_efficacy.py", *efficacy_args(out)).returncode == 0

    proc = run_script("bench_efficacy.py", *efficacy_args(out, "--epochs", 2))
    assert proc.returncode == 2 and "epochs: 1 -> 2" in proc.stderr and "--name" in proc.stderr
    proc = run_script("bench_efficacy.py", *efficacy_args(out, "--ablation-seeds", 3))
    assert proc.returncode == 2 and "--ablation-seeds" in proc.stderr
    proc = run_script("bench_efficacy.py", *efficacy_args(out, "--teacher", out / "missing.pt"))
    assert proc.returncode == 2 and "missing.pt' does not exist" in proc.stderr


def test_overhead_ratio_is_of_the_recorded_times(overhead):
    runs = overhead["runs"]
    assert list(runs) == [*METHODS, "ours-full"] and overhead["settings"]["epochs"] == 2
    for method, run in runs.items():
        assert len(run["epoch_times_s"]) == 2 and run["epoch_time_s"] == run["epoch_times_s"][1] > 0
        assert run["peak_memory_mib"] == run["peak_rss_mib"] > 100 and run["cuda_max_allocated_mib"] is None
        assert (run["teacher"] is None) == (method in ("plain", "ours"))  # the default recipe releases it
        assert Path(run["run_dir"]).name == f"{method.split('-')[0]}-seed0"
    full = yaml.safe_load((Path(runs["ours-full"]["run_dir"]) / "distill.yaml").read_text())["distill"]
    assert all(full[k] > 0 for k in KD_KEYS)  # every term on: what the terms cost
    assert overhead["ratios"]["ours-full/builtin"] == pytest.approx(runs["ours-full"]["epoch_time_s"]
                                                                    / runs["builtin"]["epoch_time_s"])
    slower = max(("ours", "ours-full"), key=lambda m: runs[m]["epoch_time_s"])
    ratio = runs[slower]["epoch_time_s"] / runs["builtin"]["epoch_time_s"]
    assert overhead["ratios"][f"{slower}/builtin"] == pytest.approx(ratio) == overhead["target"]["value"]
    assert overhead["target"]["method"] == slower
    assert overhead["target"]["met"] == (ratio <= 1.10) and overhead["target"]["threshold"] == 1.10


def test_docs_show_every_record(efficacy, overhead, out):
    page = (out / "docs.md").read_text()
    assert page.index("## Efficacy") < page.index("## Overhead")
    for heading in ("### Targets", "### Methods", "### Ablation", "### Runs", "### Teacher", "### Reproduce"):
        assert heading in page
    assert "**Smoke scale**" in page and "CPU only" in page
    assert f"Measured {overhead['target']['value']:.3f}×" in page
    assert efficacy["command"] in page and overhead["command"] in page
    assert efficacy["remarks"] == [REMARK] and f"- {REMARK}" in page
    for name in efficacy["missed"]:
        assert efficacy["targets"][name]["description"] in page.split("**Missed:**")[1].split("\n")[0]


@pytest.fixture
def study(monkeypatch):
    """scripts/bench_efficacy.py as a module, for its pure helpers."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    return importlib.import_module("bench_efficacy")


def test_ablation_runs_a_term_the_recipe_turns_off_at_weight_1(study):
    recipe_ = {"kd_cls": 2.0, "kd_box": 0.0, "kd_feat": 1.0, INIT: False}
    assert study.ablation_weights(recipe_, "kd_box") == {"kd_cls": 0.0, "kd_box": 1.0, "kd_feat": 0.0, INIT: False}
    assert study.ablation_weights(recipe_, "kd_cls") == {"kd_cls": 2.0, "kd_box": 0.0, "kd_feat": 0.0, INIT: False}
    assert study.ablation_weights({**recipe_, INIT: True}, "")[INIT] is True  # from the recipe's start


def test_start_variants_split_the_teacher_start_from_the_losses(study):
    losses = {"kd_cls": 0.5, "kd_box": 0.0, "kd_feat": 1.0}
    assert study.start_variants({**losses, INIT: False}) == {}  # random start: nothing to split
    assert study.start_variants({**losses, INIT: True}) == {
        "init": {"kd_cls": 0.0, "kd_box": 0.0, "kd_feat": 0.0, INIT: True},
        "no-init": {**losses, INIT: False},
    }
    assert list(study.start_variants({"kd_cls": 0.0, "kd_box": 0.0, "kd_feat": 0.0, INIT: True})) == ["init"]


def test_candidates_with_any_distillation_key_render_and_reproduce(study, tmp_path):
    from _docs import ablation_rows

    from yolodistill.cli import parse_overrides

    (label, changes), = study.parse_candidates("feat_loss=l2,cwd_tau=2").items()
    assert label == "feat_loss-l2-cwd_tau2" and changes == {"feat_loss": "l2", "cwd_tau": 2.0}
    settings = study.variant_settings({"kd_cls": 1, "kd_box": 1, "kd_feat": 1, INIT: True}, changes)
    args = study.parse_args(["--scale", "smoke", "--work", str(tmp_path)])
    words = study.train_command("t.pt", Path("d.yaml"), 0, tmp_path / "run", settings, args).split()
    assert words[words.index("--feat-loss") + 1] == "l2" and "--kd-cls" in words
    assert parse_overrides([w for w in words if w.startswith("cwd_tau")]) == {"cwd_tau": 2}  # no --cwd-tau flag
    row = ablation_rows({"summary": {label: {"map50_95_mean": 0.5, "map50_95_std": 0.0, "map50_95_min": 0.5,
                                             "gap_recovered": None, "seeds_below_plain": 0, "seeds": [0],
                                             "epoch_time_s": 1.0}},
                         "weights": {label: settings}})[0]
    assert (row["term"], row["kd_cls"], row["feat_loss"], row["init"]) == (label, "1", "l2", "teacher")
    (label, changes), = study.parse_candidates("init_from_teacher=false,kd_cls=0.5").items()
    assert label == "no-init-from-teacher-cls0.5" and changes == {INIT: False, "kd_cls": 0.5}
    words = study.train_command("t.pt", Path("d.yaml"), 0, tmp_path / "run", changes, args).split()
    assert "--no-init-from-teacher" in words and words[words.index("--kd-cls") + 1] == "0.5"


def test_recipe_tag_names_settings_not_their_spelling(study):
    assert study.recipe_tag({"kd_cls": 2, "feat_loss": "cwd"}) == study.recipe_tag({"kd_cls": 2.0, "feat_loss": "cwd"})
    assert study.recipe_tag({"kd_cls": 2.0}) != study.recipe_tag({"kd_cls": 3.0})
