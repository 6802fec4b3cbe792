"""`compare` end to end at tiny scale: every number in compare.json must come from the runs it made."""

from __future__ import annotations

import csv
import json
import os
import shlex
import shutil
import statistics
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from yolodistill.cli import app
from yolodistill.compare import compare, compare_dir
from yolodistill.errors import UserError

from .conftest import TRAINED_IMGSZ, assert_one_line_error, unusable_val_split

FAST = dict(imgsz=64, batch=8, workers=0, device="cpu", plots=False)
SEEDS = (0, 1)
METHODS = ("plain", "builtin", "ours")
RECORD_KEYS = {
    "created", "command", "argv", "args", "train_args", "methods", "environment", "definitions", "teacher", "runs",
    "summary", "notes",
}
SUMMARY_KEYS = {
    "seeds", "map50_mean", "map50_std", "map50_95_mean", "map50_95_std", "map50_95_min", "epoch_time_s",
    "gap_recovered", "seeds_below_plain",
}


@dataclass
class Ran:
    """Where the comparison run through the command line wrote its files."""

    save_dir: Path
    output: str
    log: list[str]  # Ultralytics' log lines

    json_path = property(lambda self: self.save_dir / "compare.json")
    md_path = property(lambda self: self.save_dir / "compare.md")
    plot_path = property(lambda self: self.save_dir / "compare.png")


@pytest.fixture(scope="module")
def result(tmp_path_factory, trained_student, synth_data):
    """`yolodistill compare` with train's own flags, the shared trained model as teacher: its students start from a
    real detector (ours) or from scratch (plain, builtin), so the summary's numbers differ from each other."""
    import logging

    from ultralytics.utils import LOGGER

    project = tmp_path_factory.mktemp("compare")
    log: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = log.append
    LOGGER.addHandler(handler)
    run = CliRunner().invoke(app, [
        "compare", "--teacher", str(trained_student), "--student", "yolo26n.yaml", "--data", str(synth_data),
        "--epochs", "1", "--seeds", ",".join(map(str, SEEDS)), "--imgsz", str(TRAINED_IMGSZ), "--batch", "8",
        "--workers", "0", "--device", "cpu", "--project", str(project), "--name", "cmp", "plots=False",
    ], terminal_width=200)
    LOGGER.removeHandler(handler)
    assert run.exit_code == 0, run.output
    return Ran(project / "cmp", run.output, [r.getMessage() for r in log])


@pytest.fixture(scope="module")
def record(result):
    return json.loads(result.json_path.read_text())


def csv_epoch_times(run_dir: Path) -> list[float]:
    with open(run_dir / "results.csv") as f:
        cumulative = [float(r["time"]) for r in csv.DictReader(f)]
    return [b - a for a, b in zip([0.0, *cumulative], cumulative)]


def test_record_is_complete(result, record):
    assert RECORD_KEYS <= set(record)
    assert result.save_dir.name == "cmp" and result.json_path == result.save_dir / "compare.json"
    assert record["args"]["seeds"] == list(SEEDS) and record["args"]["methods"] == list(METHODS)
    assert record["command"].startswith("yolodistill compare --teacher ") and "--seeds 0,1" in record["command"]
    assert f"imgsz={TRAINED_IMGSZ}" in record["command"] and "--methods plain,builtin,ours" in record["command"]
    versions, machine = record["environment"]["versions"], record["environment"]["machine"]
    assert set(versions) >= {"yolodistill", "ultralytics", "torch"} and machine["cpu_count"] >= 1
    assert record["methods"]["builtin"]["dis"] == 6.0 and record["methods"]["ours"]["distill"]["feat_loss"] == "cwd"
    assert set(record["summary"]) == set(METHODS)
    for s in record["summary"].values():
        assert set(s) == SUMMARY_KEYS and s["seeds"] == list(SEEDS)
    assert 0.05 < record["teacher"]["map50_95"] < record["teacher"]["map50"]  # the trained teacher's real numbers
    assert Path(record["teacher"]["val_dir"]).is_dir()
    assert "ours seed 1: mAP50-95" in result.output  # progress lines and the table reach the terminal


def test_the_frozen_teachers_are_not_one_log_line_per_tensor(result):
    """Ultralytics logs 'Freezing layer' for each of ours' teacher tensors (KDModel wraps the student before
    Ultralytics freezes; its built-in distiller wraps after, so that arm logs none)."""
    assert not [m for m in result.log if m.startswith("Freezing layer 'teacher_model.")]
    assert len([m for m in result.log if m.startswith("Teacher frozen: ")]) == len(SEEDS)  # ours says it once a run
    assert any("Starting training for" in m for m in result.log)  # the rest of the log is there


def test_runs_are_the_folders_it_trained(result, record):
    runs = record["runs"]
    assert [(r["seed"], r["method"]) for r in runs] == [(s, m) for s in SEEDS for m in METHODS]
    folders = sorted(p.name for p in result.save_dir.iterdir() if p.is_dir())
    assert folders == sorted([f"{m}-seed{s}" for m in METHODS for s in SEEDS] + ["teacher-val"])
    for r in runs:
        run_dir = Path(r["run_dir"])
        assert run_dir == result.save_dir / f"{r['method']}-seed{r['seed']}" and Path(r["best"]).is_file()
        times = csv_epoch_times(run_dir)
        assert r["epochs"] == len(times) == 1
        assert r["epoch_time_s"] == pytest.approx(statistics.fmean(times), abs=1e-6) and r["epoch_time_s"] > 0


def test_map_is_the_final_validation_of_best(record):
    """Validating each best.pt again gives the numbers in the record (the runs' own final validation)."""
    from ultralytics import YOLO

    for r in record["runs"]:
        m = YOLO(r["best"]).val(data=record["train_args"]["data"], imgsz=TRAINED_IMGSZ, batch=16, device="cpu",
                                plots=False,
                                project=str(Path(r["run_dir"]) / "recheck"), name="val", verbose=False)
        assert (r["map50"], r["map50_95"]) == pytest.approx((m.box.map50, m.box.map), abs=1e-6)


def test_methods_share_every_setting_but_the_teacher(record):
    """Per seed, the Ultralytics args of the three runs differ only in name, folder, (for distillers) teacher and dis,
    the built-in distiller's weight: 0 for ours, which does not run it."""
    teacher = str(Path(record["args"]["teacher"]).resolve())
    for seed in SEEDS:
        args = {m: yaml.safe_load((Path(record["train_args"]["project"]) / f"{m}-seed{seed}" / "args.yaml").read_text())
                for m in METHODS}
        strip = lambda a: {k: v for k, v in a.items()  # noqa: E731
                           if k not in ("name", "save_dir", "distill_model", "dis")}
        assert strip(args["plain"]) == strip(args["builtin"]) == strip(args["ours"])
        assert (args["builtin"]["dis"], args["ours"]["dis"]) == (6.0, 0.0)
        assert (args["plain"]["seed"], args["plain"]["epochs"], args["plain"]["imgsz"]) == (seed, 1, TRAINED_IMGSZ)
        assert (args["plain"]["batch"], args["plain"]["workers"], args["plain"]["device"]) == (8, 0, "cpu")
        assert args["plain"]["distill_model"] is None
        assert args["builtin"]["distill_model"] == args["ours"]["distill_model"] == teacher
    assert (Path(record["train_args"]["project"]) / "ours-seed0" / "distill.yaml").is_file()


def test_each_run_records_the_optimizer_it_took(record):
    """args.yaml keeps optimizer: auto; Ultralytics' choice (by the run's steps) is in its checkpoint, which the record
    quotes, so that a note can say where the runs took different ones."""
    import torch

    for run in record["runs"]:
        args = torch.load(run["best"], map_location="cpu", weights_only=False)["train_args"]
        assert (run["optimizer"], run["lr0"]) == (args["optimizer"], args["lr0"]) and run["optimizer"] != "auto"
    assert len({(r["optimizer"], r["lr0"]) for r in record["runs"]}) == 1 and not [
        n for n in record["notes"] if "different optimizers" in n]  # the same steps: the same choice, no note


def test_summary_is_the_mean_over_seeds(record):
    for method, s in record["summary"].items():
        runs = [r for r in record["runs"] if r["method"] == method]
        assert s["map50_mean"] == pytest.approx(statistics.fmean(r["map50"] for r in runs))
        assert s["map50_95_mean"] == pytest.approx(statistics.fmean(r["map50_95"] for r in runs))
        assert s["map50_95_std"] == pytest.approx(statistics.stdev(r["map50_95"] for r in runs))
        assert s["map50_95_min"] == pytest.approx(min(r["map50_95"] for r in runs))
        assert s["epoch_time_s"] == pytest.approx(statistics.fmean(r["epoch_time_s"] for r in runs))
    # Real numbers, so a swapped column shows: ours starts from the trained teacher and detects from its first epoch
    # (how well varies with the machine's float sums: 0.023 on a 2-core AMD EPYC), the others do not yet
    ours, plain = record["summary"]["ours"], record["summary"]["plain"]
    assert ours["map50_mean"] > ours["map50_95_mean"] > 0.005 and ours["map50_95_std"] > 0  # seeds differ
    assert ours["map50_95_mean"] > plain["map50_95_mean"] and ours["seeds_below_plain"] == 0
    teacher = record["teacher"]["map50_95"]
    assert teacher > plain["map50_95_mean"] and not record["notes"]
    assert ours["gap_recovered"] == pytest.approx(
        (ours["map50_95_mean"] - plain["map50_95_mean"]) / (teacher - plain["map50_95_mean"]))
    assert plain["gap_recovered"] == 0 and plain["seeds_below_plain"] is None


def test_markdown_and_plot(result):
    md = result.md_path.read_text()
    for method in (*METHODS, "teacher"):
        assert f"| {method} |" in md
    assert "ours-seed1" in md and result.plot_path.read_bytes()[:4] == b"\x89PNG"


def test_methods_can_be_skipped(teacher26, synth_data, tmp_path):
    out = compare(teacher26, "yolo26n.yaml", synth_data, epochs=1, seeds="3", methods="plain,ours",
                  project=tmp_path, name="sub", console=Console(width=200), **FAST)
    assert sorted(p.name for p in out.save_dir.iterdir() if p.is_dir()) == ["ours-seed3", "plain-seed3", "teacher-val"]
    assert list(out.summary) == ["plain", "ours"] and [r["seed"] for r in out.runs] == [3, 3]
    assert "builtin" not in json.loads(out.json_path.read_text())["methods"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"methods": "plain,kd"}, "unknown method"),
        ({"methods": ""}, "no methods"),
        ({"methods": None}, "--methods must be some of plain, builtin, ours"),  # from Python: a TypeError
        ({"seeds": ""}, "no seeds"),
        ({"seeds": []}, "no seeds"),
        ({"seeds": "0,0"}, "repeats a seed"),
        ({"seeds": "0,x"}, "whole numbers"),
        ({"seeds": None}, "whole numbers"),  # from Python: a TypeError
        ({"seeds": b"0"}, "whole numbers"),  # trained seed 48
        ({"data": {"train": "images"}}, "data must be the path of a dataset .yaml, got a dict"),
        ({"seeds": (-1,)}, "between 0 and 4294967295"),
        ({"seeds": "4294967296"}, "between 0 and 4294967295"),  # NumPy's traceback, after the teacher's val
        ({"device": "gpu"}, "is not a device"),
        ({"seed": 3}, "compare sets seed"),
        ({"resume": True}, "compare does not take resume=: run the same compare command again with --exist-ok"),
        ({"seeds": "0,,1"}, "--seeds must be whole numbers separated by commas"),  # a seed left out, not two
        ({"epochs": 0}, "--epochs"),
        ({"teacher": "missing.pt"}, "does not exist"),
        ({"kd_cls": -1}, "kd_cls"),
        # ours' recipe is checked before plain and builtin train, not after them
        ({"kd_cls": 0, "kd_box": 0, "kd_feat": 0, "init_from_teacher": False}, "no distillation term would use"),
        ({"kd_prefit": 3, "kd_feat": 0}, "kd_prefit"),
        ({"kd_cls": 0, "kd_box": 0, "kd_schedule": "constant"}, "kd_schedule constant changes nothing here"),
        # AutoBatch picks ours' batch by the teacher's memory too: the methods would train at different batches
        ({"batch": -1}, "--batch -1 \\(AutoBatch\\) picks each method's batch"),
        ({"batch": 0.7}, "a comparison trains every method at one: pass a whole batch"),
        ({"batch": 0}, "--batch must be a whole number of images >= 1"),  # no AutoBatch: named as bad
        ({"unlabeled": ["no-such-footage"]}, "does not exist"),
        # distillation flags set ours alone: with ours left out they changed nothing, silently
        ({"methods": "plain,builtin", "kd_cls": 2}, "--kd-cls sets ours, which --methods plain,builtin leaves out"),
        ({"methods": "plain", "config": "full"}, "--config full sets ours, which --methods plain leaves out"),
        ({"methods": "plain", "cwd_tau": 2.0}, "^cwd_tau= sets ours"),  # a key without a flag, named as typed
    ],
)
def test_bad_input_fails_before_anything_is_written(teacher26, synth_data, tmp_path, kwargs, message):
    args = dict(teacher=teacher26, student="yolo26n.yaml", data=synth_data, epochs=1, project=tmp_path / "p", **FAST)
    with pytest.raises(UserError, match=message):
        compare(**{**args, **kwargs})
    assert not (tmp_path / "p").exists()


def test_a_seed_in_the_config_is_refused_not_left_out(teacher26, synth_data, tmp_path):
    """compare trained seeds 0,1,2 without a word where --config set seed: 3, which train takes."""
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("seed: 3\nkd_cls: 1.0\n")
    args = dict(teacher=teacher26, student="yolo26n.yaml", data=synth_data, epochs=1, project=tmp_path / "p", **FAST)
    with pytest.raises(UserError, match=r"seed: 3 in .*recipe.yaml: compare trains each method once per --seeds; "
                                        "pass --seeds 3"):
        compare(**args, config=recipe)
    assert not (tmp_path / "p").exists()


def test_one_seed_may_be_a_number():
    from yolodistill.compare import parse_seeds

    import numpy as np

    assert parse_seeds(0) == [0] and parse_seeds(np.int64(3)) == [3] and parse_seeds((2, 1)) == [2, 1]
    assert parse_seeds(" 0, 1,") == [0, 1]  # a trailing comma is no slip
    from yolodistill.compare import parse_methods

    for bad in (",0,1", "0,,1"):
        with pytest.raises(UserError, match="--seeds must be whole numbers"):
            parse_seeds(bad)
    with pytest.raises(UserError, match="--methods must be some of"):
        parse_methods("plain,,ours")


def test_named_folder_is_not_reused_without_exist_ok(teacher26, synth_data, tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(UserError, match="exist-ok"):
        compare(teacher26, "yolo26n.yaml", synth_data, epochs=1, project=tmp_path, name="taken", **FAST)
    with pytest.raises(UserError, match="^exist_ok must be True or False, got 'no'$"):  # read as true: written over
        compare(teacher26, "yolo26n.yaml", synth_data, epochs=1, project=tmp_path, name="taken", exist_ok="no", **FAST)
    with pytest.raises(UserError, match="^--config must be the path of a recipe yaml, got 5$"):  # a TypeError
        compare(teacher26, "yolo26n.yaml", synth_data, epochs=1, project=tmp_path, name="other", config=5, **FAST)
    assert list((tmp_path / "taken").iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


@pytest.mark.parametrize("method, role", [("plain", "student"), ("ours", "teacher"), ("builtin", "pretrained")])
def test_inputs_in_a_weights_folder_the_comparison_writes_are_refused(teacher26, trained_student, synth_data, tmp_path,
                                                                       method, role):
    """--exist-ok on a comparison whose run folder holds the teacher or student: that run's best.pt replaced it, and
    for ours the check came only once plain and builtin had trained."""
    inside = tmp_path / "cmp" / f"{method}-seed0" / "weights" / "best.pt"
    inside.parent.mkdir(parents=True)
    source = teacher26 if role == "teacher" else trained_student
    shutil.copy2(source, inside)
    inputs = {"teacher": teacher26, "student": "yolo26n.yaml" if role == "pretrained" else trained_student, role: inside}
    flag = "pretrained=" if role == "pretrained" else f"--{role}"
    with pytest.raises(UserError, match=f"{flag} '{inside}' is in the weights folder this comparison writes"):
        compare(**inputs, data=synth_data, epochs=1, seeds="0", project=tmp_path, name="cmp", exist_ok=True, **FAST)
    assert inside.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in (tmp_path / "cmp").iterdir()) == [f"{method}-seed0"]  # nothing trained or validated


def test_inputs_in_the_folder_of_a_method_not_compared_are_kept(teacher26, trained_student, synth_data, tmp_path,
                                                                 monkeypatch):
    """Only the weights folders of the methods and seeds this comparison trains are off limits."""
    import yolodistill.compare as cmp_module

    inside = tmp_path / "cmp" / "builtin-seed0" / "weights" / "best.pt"
    inside.parent.mkdir(parents=True)
    shutil.copy2(teacher26, inside)
    class Checked(Exception):
        """Raised where work would begin: every check before it passed."""

    def stop(*args):
        raise Checked

    monkeypatch.setattr(cmp_module, "validate_teacher", stop)
    with pytest.raises(Checked):
        compare(teacher=inside, student=trained_student, data=synth_data, epochs=1, seeds="0", methods="plain,ours",
                project=tmp_path, name="cmp", exist_ok=True, **FAST)


def test_a_comparison_folder_with_an_apostrophe_is_refused(teacher26, synth_data, tmp_path):
    """Ultralytics drops the ' when it loads each run's best.pt: a traceback after the first run had trained."""
    with pytest.raises(UserError, match="run folder '.*Bob's runs.*' has an apostrophe"):
        compare(teacher26, "yolo26n.yaml", synth_data, epochs=1, project=tmp_path / "Bob's runs", **FAST)
    assert not (tmp_path / "Bob's runs").exists()


def test_the_exp_an_unnamed_comparison_picks_is_held(teacher26, synth_data, tmp_path):
    """An unnamed comparison held nothing, so an unnamed `compare --exist-ok` beside it wrote into its exp. Held by
    such a one (not yet made), exp is passed over for the next; an unnamed --exist-ok one holds its own exp once, where
    a second lock on it refused the command as 'being written by another'."""
    from yolodistill.locks import exclusive

    fast = dict(epochs=1, seeds=[0], methods=["plain"], **FAST)
    with exclusive(tmp_path / "runs" / "exp", "--name"):  # as an unnamed --exist-ok comparison holds it
        result = compare(teacher26, "yolo26n.yaml", synth_data, project=tmp_path / "runs", **fast)
    assert result.save_dir == (tmp_path / "runs" / "exp-2").resolve() and result.json_path.is_file()
    assert not list((tmp_path / "runs" / "exp").iterdir())  # made, and left to the one that holds it
    reused = compare(teacher26, "yolo26n.yaml", synth_data, project=tmp_path / "fresh", exist_ok=True, **fast)
    assert reused.save_dir == (tmp_path / "fresh" / "exp").resolve() and reused.json_path.is_file()
    with exclusive(tmp_path / "runs" / "exp-2", "--name"):  # released when compare returned: taken again here
        pass


def test_unnamed_comparisons_take_the_next_free_folder(tmp_path):
    assert compare_dir(tmp_path, None, exist_ok=False) == tmp_path / "exp"
    (tmp_path / "exp").mkdir()
    assert compare_dir(tmp_path, None, exist_ok=False) == tmp_path / "exp-2"
    assert compare_dir(tmp_path, None, exist_ok=True) == tmp_path / "exp"
    assert compare_dir(tmp_path, "exp", exist_ok=True) == tmp_path / "exp"
    with pytest.raises(UserError, match=f"compare folder '{tmp_path / 'exp'}' exists"):  # x does not exist
        compare_dir(tmp_path, "x/../exp", exist_ok=False)
    with pytest.raises(UserError, match=r"--name must be a folder name, got \[1\]"):  # a folder named [1]
        compare_dir(tmp_path, [1], exist_ok=False)
    assert compare_dir(tmp_path, Path("named"), exist_ok=False) == tmp_path / "named"  # a Path is a name too
    (tmp_path / "afile").write_text("mine")  # was said to exist (pass --exist-ok), which then blamed --project
    for project, name, said in ((tmp_path, "afile", "compare folder '.*afile' is a file: pick another --name or "
                                 "--project"), (tmp_path / "afile", None, "--project '.*afile' is a file: pass a folder")):
        for exist_ok in (False, True):
            with pytest.raises(UserError, match=said):
                compare_dir(project, name, exist_ok=exist_ok)
    (tmp_path / "exp" / "compare.md").write_text("my analysis")  # replaced silently under --exist-ok
    for name in ("exp", None):
        with pytest.raises(UserError, match="holds compare.md, which compare did not write .no compare.json beside "):
            compare_dir(tmp_path, name, exist_ok=True)
    (tmp_path / "exp" / "compare.json").write_text("{}")  # an earlier comparison's report: replaced, and said so
    assert compare_dir(tmp_path, "exp", exist_ok=True) == tmp_path / "exp"
    # name=5 and project=7 as key=value are numbers (a TypeError on the old code); Ultralytics takes them as names
    assert compare_dir(7, 5, exist_ok=False) == Path("7").resolve() / "5"
    assert compare_dir(tmp_path, 0, exist_ok=False) == tmp_path / "0"


@pytest.mark.parametrize("method", ["plain", "builtin"])
def test_ultralytics_arms_strip_their_checkpoints_whole(method, monkeypatch, tmp_path):
    """plain and builtin train with Ultralytics' own trainer: its in-place strip of best.pt is held against Ctrl-C
    as ours is (train.whole_strips, tested in test_train)."""
    from collections import defaultdict

    from ultralytics.engine import trainer as engine

    import yolodistill.train
    from yolodistill.compare import train_run

    seen = {}

    class Trainer:  # stands in for DetectionTrainer: records which strip its final_eval would call
        def __init__(self, overrides):
            self.save_dir, self.metrics, self.args = tmp_path / overrides["name"], {"fitness": 0.0}, overrides
            self.callbacks = defaultdict(list)

        def train(self):
            seen["strip"] = engine.strip_optimizer.__name__

    original = engine.strip_optimizer
    monkeypatch.setattr(yolodistill.train, "UltralyticsTrainer", Trainer)
    save_dir, _ = train_run(method, 0, {"project": str(tmp_path)}, {"teacher": "t.pt"})
    assert seen["strip"] == "held_strip" and save_dir == tmp_path / f"{method}-seed0"
    assert engine.strip_optimizer is original


def test_an_ultralytics_arm_s_batch_of_one_refusal_is_bad_input(tmp_path):
    """compare's plain and builtin arms are Ultralytics' own trainer, which refuses a last batch of one image at a
    small size with a ValueError: a traceback mid-comparison."""
    from yolodistill.compare import train_run
    from yolodistill.data import make_synthetic

    data = make_synthetic(tmp_path / "d", images=6, imgsz=32)
    base = {"project": str(tmp_path), "model": "yolo26n.yaml", "data": str(data), "imgsz": 32, "batch": 3,
            "epochs": 1, "workers": 0, "device": "cpu", "plots": False}
    with pytest.raises(UserError, match="final batch=1 training at imgsz=32"):
        train_run("plain", 0, base, {"teacher": "t.pt"})
    assert not (tmp_path / "plain-seed0").exists()  # a rerun would otherwise resume into a folder with no run


def test_a_builtin_teacher_gone_when_its_run_starts_leaves_no_half_folder(tmp_path, monkeypatch):
    """Ultralytics loads builtin's teacher (distill_model=) only as its run starts: deleted mid-comparison, the
    FileNotFoundError left a folder of args.yaml and an empty weights/, which a rerun would take for a run."""
    from collections import defaultdict

    import yolodistill.train
    from yolodistill.compare import train_run

    class Trainer:  # writes what DetectionTrainer writes before _setup_train loads the teacher
        def __init__(self, overrides):
            self.save_dir = tmp_path / overrides["name"]
            (self.save_dir / "weights").mkdir(parents=True)
            (self.save_dir / "args.yaml").write_text("model: yolo26n.yaml\n")
            self.callbacks = defaultdict(list)

        def train(self):
            raise FileNotFoundError(2, "No such file or directory", overrides_teacher)

    overrides_teacher = str(tmp_path / "gone.pt")
    monkeypatch.setattr(yolodistill.train, "UltralyticsTrainer", Trainer)
    with pytest.raises(FileNotFoundError):
        train_run("builtin", 0, {"project": str(tmp_path)}, {"teacher": overrides_teacher})
    assert not (tmp_path / "builtin-seed0").exists()


def test_an_input_deleted_mid_comparison_is_one_line_with_what_was_kept(teacher26, synth_data, tmp_path, monkeypatch):
    """The teacher deleted while the comparison ran ended in a FileNotFoundError traceback, and a refusal found
    mid-comparison said nothing of the runs that had finished, nor how to go on without retraining them."""
    from yolodistill import compare as cmp

    teacher = Path(shutil.copy2(teacher26, tmp_path / "teacher.pt"))
    args = ["compare", "--teacher", str(teacher), "--student", "yolo26n.yaml", "--data", str(synth_data),
            "--epochs", "1", "--seeds", "0", "--imgsz", "64", "--batch", "8", "--workers", "0", "--device", "cpu",
            "--project", str(tmp_path), "--name", "cmp"]
    fake = FakeRuns(monkeypatch, stop_at="builtin-seed0",
                    stop_with=FileNotFoundError(2, "No such file or directory", str(teacher)))
    cut = CliRunner().invoke(app, args)
    assert cut.exit_code == 2 and fake.trained == ["plain-seed0"], cut.output
    assert "Traceback" not in cut.output and isinstance(cut.exception, (SystemExit, type(None)))
    said = " ".join(cut.output.split())
    assert f"Error: {teacher} is gone: it was moved or deleted while the comparison ran; put it back. 1 of 3 runs " \
           f"finished, kept in {tmp_path / 'cmp'}" in said, said
    command = said.split("Once fixed, continue with: ")[1]
    assert command.startswith("yolodistill compare --teacher") and command.endswith(" --exist-ok")
    fake = FakeRuns(monkeypatch)
    rerun = CliRunner().invoke(app, shlex.split(command)[1:])
    assert rerun.exit_code == 0 and fake.trained == ["builtin-seed0", "ours-seed0"], rerun.output

    data = Path(shutil.copy2(synth_data, tmp_path / "data.yaml"))  # deleted once plain has trained: Ultralytics'
    fake = FakeRuns(monkeypatch)  # constructor of builtin's trainer was a RuntimeError traceback, its folder left
    train_run = fake.train_run

    def then_delete(method, *a):
        done = train_run(method, *a)
        data.unlink()
        return done

    monkeypatch.setattr(cmp, "train_run", then_delete)
    cut = CliRunner().invoke(app, [*args[:6], str(data), *args[7:-1], "data-gone"])
    said = " ".join(cut.output.split())
    assert cut.exit_code == 2 and fake.trained == ["plain-seed0"], said
    assert f"Error: {data} is gone: it was moved or deleted while the comparison ran; put it back. 1 of 3" in said

    recipe = tmp_path / "recipe.yaml"  # edited once plain has trained: ours read it again, and trained with other
    recipe.write_text("mosaic: 1.0\n")  # settings than plain and builtin while the records gave the first ones
    fake = FakeRuns(monkeypatch)
    train_run = fake.train_run

    def then_edit(method, *a):
        done = train_run(method, *a)
        recipe.write_text("mosaic: 0.0\nkd_cls: 3\n")
        return done

    monkeypatch.setattr(cmp, "train_run", then_edit)
    cut = CliRunner().invoke(app, [*args[:-1], "edited", "--config", str(recipe)])
    said = " ".join(cut.output.split())
    assert cut.exit_code == 2 and fake.trained == ["plain-seed0"], said
    assert f"Error: {recipe} changed while the comparison ran, and every method trains with the same inputs" in said

    fake = FakeRuns(monkeypatch, stop_at="plain-seed0", stop_with=UserError("data broken: fix it"))
    first = CliRunner().invoke(app, [*args[:-1], "first"])  # refused at the first run: nothing of it is left
    assert first.exit_code == 2 and not (tmp_path / "first").exists()
    assert first.output.splitlines()[-1] == "Error: data broken: fix it", first.output


def test_a_split_only_ultralytics_loader_refuses_is_one_line_as_in_train(teacher26, synth_data, tmp_path):
    """Every val label with a negative class id: the checks pass it, the teacher's validation (and plain's and
    builtin's Ultralytics trainer) stopped with RuntimeError 'No valid images found', a traceback, leaving the folder
    that made the rerun 'compare folder exists'."""
    data = unusable_val_split(synth_data, tmp_path / "mine")
    result = CliRunner().invoke(app, ["compare", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data",
                                      str(data), "--epochs", "1", "--seeds", "0", "--imgsz", "64", "--batch", "8",
                                      "--workers", "0", "--device", "cpu", "--project", str(tmp_path), "--name", "c",
                                      "plots=False"])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: data ") and "No valid images found" in last and "data convert" in last, last
    assert not (tmp_path / "c").exists()


def test_a_ctrl_c_before_any_run_wrote_weights_removes_the_new_folder(teacher26, synth_data, tmp_path, monkeypatch):
    """A Ctrl-C during the teacher's validation said '0 of 3 runs finished, kept in DIR ... --exist-ok' and left the
    folder; the same command starts again now, as after train's stop before its first epoch."""
    from yolodistill import compare as cmp

    args = ["compare", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data", str(synth_data),
            "--epochs", "1", "--seeds", "0", "--imgsz", "64", "--batch", "8", "--workers", "0", "--device", "cpu",
            "--project", str(tmp_path), "--name", "cmp"]
    fake = FakeRuns(monkeypatch)

    def validate(teacher, data, args, save_dir):
        (save_dir / "teacher-val").mkdir(parents=True)
        raise KeyboardInterrupt

    monkeypatch.setattr(cmp, "validate_teacher", validate)
    cut = CliRunner().invoke(app, args)
    said = " ".join(cut.output.split())
    assert cut.exit_code == 130 and not (tmp_path / "cmp").exists(), said
    assert f"Interrupted. No run finished and {tmp_path / 'cmp'} was removed. Start again with: " in said
    command = said.split("Start again with: ")[1]
    assert not command.endswith("--exist-ok")
    fake = FakeRuns(monkeypatch)
    again = CliRunner().invoke(app, shlex.split(command)[1:])
    assert again.exit_code == 0 and fake.trained == ["plain-seed0", "builtin-seed0", "ours-seed0"], again.output


@pytest.mark.parametrize("method", ["ours", "plain"])
def test_a_full_disk_keeps_what_trained_and_says_to_rerun_the_comparison(teacher26, synth_data, tmp_path, monkeypatch,
                                                                         method):
    """The third checkpoint write (epoch 2's last.pt) meets a full disk. Ours' train() said 'train --resume', and the
    comparison then removed its own new folder, that last.pt with it."""
    import errno

    write_bytes, writes = Path.write_bytes, []

    def full_disk(self, data):
        if ".pt" in self.name:
            writes.append(self.name)
            if len(writes) == 3:
                raise OSError(errno.ENOSPC, "No space left on device")
        return write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    result = CliRunner().invoke(app, ["compare", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data",
                                      str(synth_data), "--imgsz", "64", "--epochs", "2", "--seeds", "0", "--methods",
                                      method, "--workers", "0", "--device", "cpu", "--project", str(tmp_path),
                                      "--name", "full", "plots=False"])
    text = " ".join(result.output.split())
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert (f"Error: no space left on the device to write {tmp_path / 'full'}: free some space and continue with (0 of "
            "1 runs finished, kept by it): yolodistill compare") in text and text.endswith("--exist-ok")
    assert (tmp_path / "full" / f"{method}-seed0" / "weights" / "last.pt").is_file()


def test_a_comparison_refused_before_any_run_finished_leaves_no_folder(teacher26, tmp_path):
    """The batch-of-one refusal comes once the plain run's folder exists: a new comparison folder went with it (a rerun
    was refused as 'exists'), and one reused with --exist-ok keeps what was there."""
    from yolodistill.data import make_synthetic

    data = make_synthetic(tmp_path / "d", images=6, imgsz=32)
    argv = ["compare", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data", str(data), "--imgsz", "32",
            "--batch", "3", "--epochs", "1", "--seeds", "0", "--workers", "0", "--device", "cpu", "--project",
            str(tmp_path)]
    result = CliRunner().invoke(app, [*argv, "--name", "new"])
    assert result.exit_code == 2 and "final batch=1 training at imgsz=32" in result.output, result.output
    assert not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "notes.txt").write_text("mine")
    result = CliRunner().invoke(app, [*argv, "--name", "kept", "--exist-ok"])
    assert result.exit_code == 2, result.output
    assert (tmp_path / "kept" / "notes.txt").read_text() == "mine" and not (tmp_path / "kept" / "plain-seed0").exists()


def test_under_ddp_a_run_s_metrics_are_best_pt_s_epoch_in_results_csv(monkeypatch, tmp_path):
    """Under DDP the final validation runs in the workers and the launching trainer's metrics stay None: the record
    takes best.pt's epoch from results.csv, the first with the highest mAP50-95 (Ultralytics' fitness)."""
    from collections import defaultdict

    import yolodistill.train
    from yolodistill.compare import train_run
    from yolodistill.resume import MAP50, MAP50_95

    class Trainer:  # stands in for DetectionTrainer in the launching process of a DDP run
        def __init__(self, overrides):
            self.save_dir, self.metrics, self.args = tmp_path / overrides["name"], None, overrides
            self.callbacks = defaultdict(list)

        def train(self):
            self.save_dir.mkdir(parents=True)
            (self.save_dir / "results.csv").write_text(
                f"epoch,time,train/box_loss,{MAP50},{MAP50_95},val/box_loss,lr/pg0\n"
                "1,5.1,1.9,0.2,0.1,2.1,0.01\n2,10.3,1.7,0.5,0.3,1.8,0.01\n3,15.2,1.6,0.6,0.3,1.7,0.01\n")

    monkeypatch.setattr(yolodistill.train, "UltralyticsTrainer", Trainer)
    _, metrics = train_run("plain", 0, {"project": str(tmp_path)}, {"teacher": "t.pt"})
    assert metrics == {MAP50: 0.5, MAP50_95: 0.3, "val/box_loss": 1.8}  # epoch 2: the first of the two at 0.3


def test_plain_and_builtin_on_several_gpus_are_launched_as_ours_is(synth_data, tmp_path, monkeypatch):
    """Their DDP launch was Ultralytics' subprocess.run, which a Ctrl-C killed, leaving their workers training."""
    from yolodistill import ddp
    from yolodistill.train import UltralyticsTrainer

    trainer = UltralyticsTrainer(overrides={"model": "yolo26n.yaml", "data": str(synth_data), "imgsz": 64, "batch": 8,
                                            "epochs": 1, "workers": 0, "device": "cpu", "project": str(tmp_path),
                                            "name": "plain-seed0", "exist_ok": True})
    trainer.ddp, trainer.world_size = True, 2
    launched = []
    monkeypatch.setattr(ddp, "supervised", launched.append)
    trainer.train()
    assert len(launched) == 1 and "torch.distributed.run" in " ".join(launched[0])


def test_repeat_command_names_the_config_file_by_its_absolute_path(tmp_path, monkeypatch):
    """compare.json's command repeats the comparison from any folder: a relative --config did not."""
    from yolodistill.compare import cli_command

    monkeypatch.chdir(tmp_path)
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "mine.yaml").write_text("kd_cls: 2\n")
    line = cli_command("t.pt", "s.yaml", "d.yaml", 3, [0], ["ours"], "cfg/mine.yaml", tmp_path / "runs" / "exp", {})
    assert f"--config {tmp_path / 'cfg' / 'mine.yaml'} " in line
    named = cli_command("t.pt", "s.yaml", "d.yaml", 3, [0], ["ours"], "full", tmp_path / "runs" / "exp", {})
    assert "--config full " in named  # a shipped recipe's name works from anywhere


class FakeRuns:
    """Stands in for training (train_run) and the teacher's validation: writes what a finished run leaves
    (weights/best.pt, results.csv) and records which runs trained; Ctrl-C (or `stop_with`) lands in the run named
    `stop_at`."""

    def __init__(self, monkeypatch, stop_at: str | None = None, stop_with: BaseException | None = None):
        from yolodistill import compare as cmp

        self.trained, self.stop_at, self.stop_with, self.calls = [], stop_at, stop_with, {}
        monkeypatch.setattr(cmp, "train_run", self.train_run)
        monkeypatch.setattr(cmp, "validate_teacher", lambda *a: {"map50": 0.9, "map50_95": 0.6, "val_dir": "v"})

    def train_run(self, method, seed, base, ours):
        name = f"{method}-seed{seed}"
        self.calls[name] = (base, ours)
        run_dir = Path(base["project"]) / name
        if name == self.stop_at and self.stop_with is not None:  # as train_run: an error leaves no half folder
            raise self.stop_with
        (run_dir / "weights").mkdir(parents=True, exist_ok=True)
        if name == self.stop_at:  # cut after an epoch or more: Ultralytics has written a best.pt already
            (run_dir / "weights" / "best.pt").write_bytes(b"half-trained")
            raise KeyboardInterrupt
        (run_dir / "weights" / "best.pt").write_bytes(name.encode())
        (run_dir / "results.csv").write_text("epoch,time\n1,2.0\n")
        footage = sum(len(list(Path(f).iterdir())) for f in ours.get("unlabeled") or []) if method == "ours" else 0
        images = {"labelled": 9, "unlabeled": footage, "batch_labelled": 4, "batch_unlabeled": 4} if footage else {}
        (run_dir / "distill.yaml").write_text(yaml.safe_dump({"images": images}))  # as train records them
        self.trained.append(name)
        score = 0.3 + 0.1 * METHODS.index(method) + 0.01 * seed
        return run_dir, {"metrics/mAP50(B)": score + 0.2, "metrics/mAP50-95(B)": score}


def test_ctrl_c_keeps_finished_runs_and_the_rerun_trains_the_rest(teacher26, synth_data, tmp_path, monkeypatch):
    """A Ctrl-C during compare printed nothing, and a rerun with --exist-ok retrained every run, overwriting the
    finished ones: hours lost on a 3-seed schedule. Finished runs are now kept when their settings match."""
    teacher = Path(shutil.copy2(teacher26, tmp_path / "teacher.pt"))  # its time is changed below
    args = ["compare", "--teacher", str(teacher), "--student", "yolo26n.yaml", "--data", str(synth_data),
            "--epochs", "1", "--seeds", "0,1", "--imgsz", "64", "--batch", "8", "--workers", "0", "--device", "cpu",
            "--project", str(tmp_path), "--name", "cmp"]
    fake = FakeRuns(monkeypatch, stop_at="builtin-seed0")
    cut = CliRunner().invoke(app, args)
    assert cut.exit_code == 130 and fake.trained == ["plain-seed0"]
    message = " ".join(cut.output.split())
    assert "Interrupted. 1 of 6 runs finished, kept in" in message and "Traceback" not in message
    command = message.split("Continue with: ")[1]  # the rest of the line, as the user would paste it
    assert command.startswith("yolodistill compare --teacher") and "--name cmp" in command
    assert command.endswith(" --exist-ok")

    fake = FakeRuns(monkeypatch)
    rerun = CliRunner().invoke(app, shlex.split(command)[1:])
    assert rerun.exit_code == 0, rerun.output
    assert fake.trained == ["builtin-seed0", "ours-seed0", "plain-seed1", "builtin-seed1", "ours-seed1"]
    assert "plain seed 0: finished earlier with these settings, kept" in rerun.output
    record = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert [(r["method"], r["seed"]) for r in record["runs"]] == [(m, s) for s in (0, 1) for m in METHODS]
    assert record["runs"][0]["map50_95"] == pytest.approx(0.3)  # the kept run's own record

    fake = FakeRuns(monkeypatch, stop_at="plain-seed1")  # other settings, cut: nothing finished with them
    changed = CliRunner().invoke(app, [*args, "--exist-ok", "lr0=0.02"])
    assert changed.exit_code == 130 and fake.trained == ["plain-seed0", "builtin-seed0", "ours-seed0"]
    said = " ".join(changed.output.split())  # it trained over finished runs and was to replace the report, silently
    assert "plain seed 0 ran earlier (other settings: lr0): trained again, over it" in said, said
    assert "This replaces the earlier compare.json, .md and .png there once it finishes" in said
    # cut before it did: the report left there still quoted the runs trained over as they were, and nothing said so
    assert ("The earlier compare.json, .md and .png there describe plain-seed0, builtin-seed0, ours-seed0, "
            "plain-seed1 as they were before this rerun trained over them. Continue with:") in said
    fake = FakeRuns(monkeypatch)  # back to the first settings: plain-seed1 holds half an lr0=0.02 run, not its own
    again = CliRunner().invoke(app, [*args, "--exist-ok"])
    assert again.exit_code == 0, again.output
    assert fake.trained == ["plain-seed0", "builtin-seed0", "ours-seed0", "plain-seed1"]

    fake = FakeRuns(monkeypatch)  # a teacher retrained into the same file: the runs that used it train again
    os.utime(teacher, ns=(teacher.stat().st_atime_ns, teacher.stat().st_mtime_ns + 10**9))
    retrained = CliRunner().invoke(app, [*args, "--exist-ok", "--seeds", "0"])
    assert fake.trained == ["builtin-seed0", "ours-seed0"]
    said = " ".join(retrained.output.split())
    assert "builtin seed 0 ran earlier (other settings: teacher file)" in said
    assert "runs it does not plan are left as they are (builtin-seed1, ours-seed1, plain-seed1)" in said


def test_a_ctrl_c_while_the_report_is_written_leaves_one_comparison_s_report(teacher26, synth_data, tmp_path,
                                                                              monkeypatch, python_sigint):
    """A Ctrl-C as compare.json was written left a new .json and .md beside an earlier comparison's .png."""
    import signal

    from yolodistill import compare as cmp

    args = ["compare", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data", str(synth_data),
            "--epochs", "1", "--seeds", "0", "--methods", "plain", "--imgsz", "64", "--workers", "0", "--device", "cpu",
            "--project", str(tmp_path), "--name", "cmp", "--exist-ok"]
    FakeRuns(monkeypatch)
    (tmp_path / "cmp").mkdir()
    for name in ("compare.json", "compare.md", "compare.png"):
        (tmp_path / "cmp" / name).write_text("the earlier comparison's")
    real = cmp.write_json

    def then_ctrl_c(path, record):
        written = real(path, record)
        if Path(path).name == "compare.json":  # not a run's own record
            signal.raise_signal(signal.SIGINT)  # held until the three are written
        return written

    monkeypatch.setattr(cmp, "write_json", then_ctrl_c)
    cut = CliRunner().invoke(app, args)
    assert cut.exit_code == 130, cut.output
    assert all((tmp_path / "cmp" / n).read_bytes() != b"the earlier comparison's" for n in ("compare.json", "compare.md",
                                                                                           "compare.png"))


def test_a_config_s_project_and_name_place_the_comparison_as_train_s_run(teacher26, synth_data, tmp_path,
                                                                          monkeypatch):
    """--config takes train's keys 'with the same meaning'; compare dropped its project:, name: and exist_ok: and
    wrote to runs/compare/exp. A flag still wins over the file."""
    monkeypatch.chdir(tmp_path)
    (recipe := tmp_path / "rec.yaml").write_text("project: myexp\nname: nm\nexist_ok: true\n")
    args = ["compare", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data", str(synth_data),
            "--epochs", "1", "--seeds", "0", "--methods", "plain", "--imgsz", "64", "--device", "cpu",
            "--config", str(recipe)]
    for extra, folder in (([], "myexp/nm"), ([], "myexp/nm"), (["--project", "flagged"], "flagged/nm")):
        FakeRuns(monkeypatch)
        result = CliRunner().invoke(app, [*args, *extra])  # the second reuses the folder: exist_ok from the file
        assert result.exit_code == 0, result.output
        assert (tmp_path / folder / "compare.json").is_file() and not (tmp_path / "runs").exists()
    result = CliRunner().invoke(app, [*args, "exist_ok=False"])  # a word overrides the file, as in train
    assert_one_line_error(result, "exists")
    recipe.write_text("project: runs/distill\n")  # train's folder, as configs/default.yaml names it: compare's own
    FakeRuns(monkeypatch)
    assert CliRunner().invoke(app, args).exit_code == 0
    assert (tmp_path / "runs" / "compare" / "exp" / "compare.json").is_file() and not (tmp_path / "runs" / "distill"
                                                                                         ).exists()


def test_dis_weighs_the_builtin_method_only(teacher26, synth_data, tmp_path, monkeypatch):
    """dis= is Ultralytics' built-in distiller's weight: compare gives it to builtin, as its record says. It reached
    plain's args.yaml, where it did nothing, and ours, whose train refuses it; from a --config, only after plain and
    builtin had trained."""
    from yolodistill.plans import RUN_RECORD, method_args

    assert [("dis" in method_args(m, {"dis": 3.0, "lr0": 0.1})) for m in METHODS] == [m == "builtin" for m in METHODS]
    args = ["compare", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data", str(synth_data),
            "--epochs", "1", "--seeds", "0", "--imgsz", "64", "--device", "cpu", "--project", str(tmp_path)]
    runs = FakeRuns(monkeypatch)
    result = CliRunner().invoke(app, [*args, "--name", "ok", "dis=3.0"])
    assert result.exit_code == 0, result.output
    plans = {m: json.loads((tmp_path / "ok" / f"{m}-seed0" / RUN_RECORD).read_text())["plan"] for m in METHODS}
    assert {m: p["train_args"].get("dis") for m, p in plans.items()} == {"plain": None, "builtin": 3.0, "ours": None}
    assert "dis" not in runs.calls["ours-seed0"][1]  # the keywords ours' train is called with
    (recipe := tmp_path / "r.yaml").write_text("dis: 3.0\n")
    for extra, needle in ((["--methods", "plain,ours", "dis=3.0"], "dis=3.0 weighs the builtin method, which "
                           "--methods plain,ours leaves out"),
                          (["--config", str(recipe)], "would reach ours too, which does not take it: give dis= on the "
                           "command line"),
                          (["--config", str(recipe), "dis=1.0"], "dis: 3.0 in")):  # the file's is still read by ours
        FakeRuns(monkeypatch)
        assert_one_line_error(CliRunner().invoke(app, [*args, "--name", "no", *extra]), needle)
        assert not (tmp_path / "no").exists()


def test_images_changed_under_the_same_yaml_are_another_plan(teacher26, tmp_path, monkeypatch):
    """--exist-ok kept a run as 'finished earlier with these settings' after train images were deleted or val images
    relabelled under an unchanged data.yaml, or images added to ours' unlabelled folder: one table mixed runs of
    different data."""
    from yolodistill.data import make_synthetic

    import cv2
    import numpy as np

    data = make_synthetic(tmp_path / "d", images=12, imgsz=64)
    foot, rng = tmp_path / "foot", np.random.default_rng(7)  # images of their own: footage may hold no copies
    foot.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        cv2.imwrite(str(foot / name), rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    args = ["compare", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data", str(data), "--epochs", "1",
            "--seeds", "0", "--methods", "plain,ours", "--imgsz", "64", "--device", "cpu", "--project",
            str(tmp_path), "--name", "c", "--exist-ok", "--unlabeled", str(foot)]
    runs = FakeRuns(monkeypatch)
    assert CliRunner().invoke(app, args).exit_code == 0
    assert runs.trained == ["plain-seed0", "ours-seed0"]
    cv2.imwrite(str(foot / "more.png"), rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))  # a readable one
    runs = FakeRuns(monkeypatch)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0 and runs.trained == ["ours-seed0"], result.output  # plain uses no footage
    assert "ours seed 0 ran earlier (other settings: unlabeled images): trained again" in result.output
    (note,) = [n for n in json.loads((tmp_path / "c" / "compare.json").read_text())["notes"] if "unlabelled" in n]
    assert note == ("ours also trained on 4 unlabelled images, 4 in each batch of 8: it made 3 batches (optimizer "
                    "steps) an epoch against the other methods' 2, and any gain it shows may come in part from those "
                    "steps")
    sorted((data.parent / "images" / "train").iterdir())[0].unlink()
    runs = FakeRuns(monkeypatch)
    result = CliRunner().invoke(app, args)
    assert runs.trained == ["plain-seed0", "ours-seed0"] and "(other settings: train images)" in result.output
    label = sorted((data.parent / "labels" / "val").glob("*.txt"))[0]  # relabelled under the same names: was kept
    label.write_text(label.read_text() + "0 0.5 0.5 0.2 0.2\n")
    runs = FakeRuns(monkeypatch)
    result = CliRunner().invoke(app, args)
    assert runs.trained == ["plain-seed0", "ours-seed0"] and "(other settings: val images)" in result.output
    for method in ("plain", "ours"):  # a run recorded before plans held images is kept, as it was then
        record = tmp_path / "c" / f"{method}-seed0" / "compare-run.json"
        saved = json.loads(record.read_text())
        del saved["plan"]["images"]
        record.write_text(json.dumps(saved))
    runs = FakeRuns(monkeypatch)
    assert CliRunner().invoke(app, args).exit_code == 0 and runs.trained == []


def test_the_continue_command_names_unlabelled_folders_by_their_absolute_path(teacher26, synth_data, tmp_path,
                                                                             monkeypatch):
    """A relative --unlabeled stayed relative in the printed command (and in the run plans): pasted in another
    folder it failed with 'does not exist'."""
    from .builders import image

    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    for i in range(4):
        image(work / "unl" / f"u{i}.png", w=64, h=64, seed=100 + i)
    elsewhere.mkdir()
    monkeypatch.chdir(work)
    args = ["compare", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data", str(synth_data),
            "--epochs", "1", "--seeds", "0", "--methods", "plain,ours", "--imgsz", "64", "--batch", "8", "--workers",
            "0", "--device", "cpu", "--project", str(tmp_path), "--name", "cmp", "--unlabeled", "unl"]
    FakeRuns(monkeypatch, stop_at="ours-seed0")
    cut = CliRunner().invoke(app, args)
    assert cut.exit_code == 130, cut.output
    command = " ".join(cut.output.split()).split("Continue with: ")[1]
    assert f"unlabeled={json.dumps([str(work / 'unl')])}" in command or str(work / "unl") in command, command
    monkeypatch.chdir(elsewhere)
    fake = FakeRuns(monkeypatch)
    rerun = CliRunner().invoke(app, shlex.split(command)[1:])
    assert rerun.exit_code == 0, rerun.output
    assert fake.trained == ["ours-seed0"]  # plain's run kept: the same plan, read from another folder


def test_the_repeat_command_reads_back_the_same_settings():
    """device=0 written bare came back the number 0, another plan than '0': the continue command kept nothing."""
    from yolodistill.words import parse_overrides
    from yolodistill.compare import cli_command, run_plan

    overrides = {"device": "0", "lr0": 0.01, "name_like": "1e3", "plots": False, "classes": [0, 2], "text": "a b",
                 "unlabeled": ["/日本/footage"]}
    command = cli_command("/t.pt", "s.yaml", "/d.yaml", 3, [0], ["plain"], None, Path("/r/cmp"), overrides)
    words = shlex.split(command)
    assert parse_overrides(words[words.index("cmp") + 1:], "compare") == overrides
    assert "日本" in command  # readable, not \u65e5\u672c
    assert run_plan("plain", 0, {"device": 0}, "t", {}) == run_plan("plain", 0, {"device": "0"}, "t", {})


def test_device_auto_wins_over_a_recipes_device_as_in_train(teacher26, synth_data, tmp_path, monkeypatch):
    """auto was made None before the recipe was read, and resolve drops None: a recipe's device: 0 then won, and on a
    machine without GPU 0 the comparison was refused although the user asked for auto."""
    import torch

    recipe = tmp_path / "gpu.yaml"
    recipe.write_text(f"device: {torch.cuda.device_count()}\n")  # a GPU this machine does not have
    FakeRuns(monkeypatch)
    result = compare(teacher26, "yolo26n.yaml", synth_data, epochs=1, seeds="0", methods="plain", config=recipe,
                     project=tmp_path / "p", **{**FAST, "device": "auto"})
    assert json.loads(result.json_path.read_text())["train_args"]["device"] is None  # Ultralytics' own choice


def test_a_torch_device_from_python_is_taken_as_its_words(teacher26, synth_data, tmp_path, monkeypatch):
    """train takes torch.device('cpu'); compare began, then stopped in a TypeError writing its repeat command."""
    import torch

    fake = FakeRuns(monkeypatch)
    result = compare(teacher26, "yolo26n.yaml", synth_data, epochs=1, seeds="0", methods="plain",
                     project=tmp_path / "p", **{**FAST, "device": torch.device("cpu")})
    record = json.loads(result.json_path.read_text())
    assert record["train_args"]["device"] == "cpu" and "device=cpu" in record["command"]
    assert fake.calls["plain-seed0"][0]["device"] == "cpu"


def test_methods_read_in_any_case_and_order_come_out_canonical():
    """Tables read plain, builtin, ours whichever way --methods listed them, and --methods Ours is ours."""
    from yolodistill.compare import parse_methods

    assert parse_methods("ours,PLAIN,builtin") == ["plain", "builtin", "ours"]
    assert parse_methods(["Ours", "plain", "ours"]) == ["plain", "ours"]


def test_a_leading_comma_is_a_slip_as_in_the_middle():
    """',1' is an item left out as '0,,1' is: not the single seed 1."""
    from yolodistill.compare import parse_methods, parse_seeds

    with pytest.raises(UserError, match="--seeds must be whole numbers"):
        parse_seeds(",1")
    with pytest.raises(UserError, match="--methods must be some of"):
        parse_methods(",ours")


def test_the_teacher_is_validated_as_the_students_were(monkeypatch, tmp_path):
    """The teacher's mAP is comparable only under the students' final-validation settings, at twice the train batch
    as Ultralytics' trainer validates; train-only settings stay out."""
    import types

    import ultralytics

    from yolodistill.compare import validate_teacher

    calls = []

    class YOLO:  # stands in for Ultralytics' model: records the validation it was asked for
        def __init__(self, weights):
            self.weights = weights

        def val(self, **kwargs):
            calls.append((self.weights, kwargs))
            return types.SimpleNamespace(box=types.SimpleNamespace(map50=0.5, map=0.25), save_dir=tmp_path / "v")

    monkeypatch.setattr(ultralytics, "YOLO", YOLO)
    args = {"imgsz": 64, "device": "cpu", "workers": 0, "batch": 8, "lr0": 0.02, "epochs": 3}
    assert validate_teacher("t.pt", "d.yaml", args, tmp_path) == {"map50": 0.5, "map50_95": 0.25,
                                                                  "val_dir": str(tmp_path / "v")}
    weights, kwargs = calls[-1]
    assert weights == "t.pt" and kwargs["data"] == "d.yaml" and kwargs["batch"] == 16
    assert {k: kwargs[k] for k in ("imgsz", "device", "workers")} == {"imgsz": 64, "device": "cpu", "workers": 0}
    assert "lr0" not in kwargs and "epochs" not in kwargs
    validate_teacher("t.pt", "d.yaml", {**args, "batch": -1}, tmp_path)  # AutoBatch: Ultralytics picks the size
    assert "batch" not in calls[-1][1]
    assert "quantize" not in kwargs  # on a CPU the students validated in fp32
    import torch  # on a GPU with AMP Ultralytics' validator keeps fp16 for the students' final validation: the
    # teacher in fp32 beside them moved the gap by that difference
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for device, amp, half in ((None, True, 16), ("0", True, 16), ("0,1", True, 16), ("0", False, None),
                              ("cpu", True, None), ("0", "fp32", None), ("0", "bf16", 16)):  # as Ultralytics reads amp
        validate_teacher("t.pt", "d.yaml", {**args, "device": device, "amp": amp}, tmp_path)
        assert calls[-1][1].get("quantize") == half, (device, amp)


def test_a_run_record_times_every_epoch_from_results_csv(tmp_path):
    """results.csv's time is cumulative: the first epoch is its own time, each later one the difference."""
    from yolodistill.plans import run_record
    from yolodistill.resume import MAP50, MAP50_95

    (tmp_path / "results.csv").write_text("epoch,time\n1,5.0\n2,12.0\n3,15.0\n")
    rec = run_record("ours", 1, tmp_path, {MAP50: 0.5, MAP50_95: 0.3})
    assert rec["epochs"] == 3 and rec["epoch_time_s"] == pytest.approx(statistics.fmean([5.0, 7.0, 3.0]))
    assert (rec["map50"], rec["map50_95"]) == (0.5, 0.3) and rec["best"] == str(tmp_path / "weights" / "best.pt")


def test_builtin_is_described_with_the_weight_it_trained_with():
    """The record says what builtin added: its `dis` weight as set, else Ultralytics' default."""
    from ultralytics.utils import DEFAULT_CFG

    from yolodistill.compare import method_descriptions

    assert method_descriptions(["builtin"], {"dis": 2.5}, {})["builtin"]["dis"] == 2.5
    assert method_descriptions(["builtin"], {}, {})["builtin"]["dis"] == DEFAULT_CFG.dis
    described = method_descriptions(["plain", "ours"], {}, {"kd_cls": 1.0})
    assert list(described) == ["plain", "ours"] and described["ours"]["distill"] == {"kd_cls": 1.0}


def test_an_empty_name_takes_the_next_free_folder(tmp_path):
    """name= left empty is no name: the comparison must not write into the project folder itself."""
    assert compare_dir(tmp_path, "", exist_ok=False) == tmp_path / "exp"


def test_relative_pretrained_and_unlabeled_paths_are_made_absolute(tmp_path, monkeypatch):
    """pretrained= relative to where compare was started meant another file (or none) in the continue command's
    folder; only what exists is resolved, so a shipped model's name stays a name."""
    from yolodistill.compare import absolute_paths

    monkeypatch.chdir(tmp_path)
    (tmp_path / "w.pt").write_bytes(b"w")
    (tmp_path / "unl").mkdir()
    out = absolute_paths({"pretrained": "w.pt", "unlabeled": ["unl", "none"], "lr0": 0.01})
    assert out == {"pretrained": str(tmp_path / "w.pt"), "unlabeled": [str(tmp_path / "unl"), "none"], "lr0": 0.01}
    assert absolute_paths({"unlabeled": ("unl",)}) == {"unlabeled": [str(tmp_path / "unl")]}  # a tuple from Python
    assert absolute_paths({"pretrained": "yolo26n.pt"}) == {"pretrained": "yolo26n.pt"}


def test_ctrl_c_counts_the_kept_runs_after_the_cut_too(teacher26, synth_data, tmp_path, monkeypatch):
    """A run that finished in an earlier comparison is kept by the rerun even when it comes after the cut one: the
    'N of M runs finished' must count it, or the user is told work was lost that was not."""
    from yolodistill.compare import CompareInterrupted

    args = dict(teacher=teacher26, student="yolo26n.yaml", data=synth_data, epochs=1, methods="plain",
                project=tmp_path, name="cmp", exist_ok=True, console=Console(quiet=True), **FAST)
    FakeRuns(monkeypatch)
    compare(**args, seeds="1")
    FakeRuns(monkeypatch, stop_at="plain-seed0")
    with pytest.raises(CompareInterrupted, match="1 of 2 runs finished"):
        compare(**args, seeds="0,1")


def test_a_ctrl_c_once_every_run_finished_says_so_and_what_the_report_is(teacher26, synth_data, tmp_path, monkeypatch,
                                                                          python_sigint):
    """It printed a bare "Interrupted.": no count of the runs, no command, and not that the report was written
    (kill hunt)."""
    import os
    import signal

    import yolodistill.compare as compare_module

    args = dict(teacher=teacher26, student="yolo26n.yaml", data=synth_data, epochs=1, seeds="0", methods="plain",
                project=tmp_path, exist_ok=True, console=Console(quiet=True), **FAST)
    FakeRuns(monkeypatch)
    real = compare_module.compare_plot

    def stopped(record, path):
        raise KeyboardInterrupt

    monkeypatch.setattr(compare_module, "compare_plot", stopped)
    with pytest.raises(compare_module.CompareInterrupted, match=r"1 of 1 runs finished, kept in .* Continue with: .* "
                                                                r"--exist-ok"):
        compare(**args, name="before")

    def ctrl_c_while_written(record, path):
        os.kill(os.getpid(), signal.SIGINT)  # held until the three files are written
        return real(record, path)

    monkeypatch.setattr(compare_module, "compare_plot", ctrl_c_while_written)
    with pytest.raises(KeyboardInterrupt) as e:
        compare(**args, name="after")
    written = tmp_path / "after" / "compare.json"
    assert str(e.value) == f"Every run had finished and the report is written: {written}, compare.md, compare.png"
    assert written.is_file() and (tmp_path / "after" / "compare.png").is_file()


def test_a_refusal_train_named_by_its_config_key_is_named_once(teacher26, synth_data, tmp_path, monkeypatch):
    """compare rebuilt train's refusal to add its advice, and its own wrapper named the --config key again: 'imgsz in
    a.yaml: 100 in a.yaml ...'."""
    from yolodistill.config import named_in_config

    config = tmp_path / "a.yaml"
    config.write_text("imgsz: 64\n")
    refused = named_in_config(UserError("--imgsz 64 is not what ours takes"), {"config": str(config)})
    assert str(refused) == f"imgsz: 64 in {config} is not what ours takes"
    FakeRuns(monkeypatch, stop_at="ours-seed0", stop_with=refused)
    with pytest.raises(UserError) as e:
        compare(teacher26, "yolo26n.yaml", synth_data, epochs=1, seeds="0", methods="plain,ours", config=config,
                project=tmp_path, name="c", **{k: v for k, v in FAST.items() if k != "imgsz"})
    assert str(e.value).startswith(f"imgsz: 64 in {config} is not what ours takes. 1 of 2 runs finished"), e.value


def test_the_models_the_checks_loaded_are_let_go_before_the_runs(teacher26, synth_data, tmp_path, monkeypatch):
    """compare held the teacher and student its checks loaded through every run, plain's included, beside each run's
    own: with a yolo26x teacher about 220 MB a run that nothing used."""
    import gc

    from yolodistill.checks import Plan

    fake, held = FakeRuns(monkeypatch), []
    train_run = fake.train_run

    def counted(*args):
        gc.collect()
        held.append(sum(isinstance(p, Plan) and (p.teacher is not None or p.student is not None)
                        for p in gc.get_objects()))
        return train_run(*args)

    monkeypatch.setattr("yolodistill.compare.train_run", counted)
    result = CliRunner().invoke(app, ["compare", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data",
                                      str(synth_data), "--epochs", "1", "--seeds", "0", "--project", str(tmp_path),
                                      "--name", "c", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert held == [0, 0, 0]


def test_a_kept_run_of_an_older_record_names_its_optimizer_and_a_full_disk_the_stale_report(teacher26, synth_data,
                                                                                           tmp_path, monkeypatch):
    """A run kept from a record written before runs named their optimizer had none: a kept plain (AdamW) beside a
    retrained ours (MuSGD) gave no note. A full disk in a rerun did not name the runs the earlier report describes."""
    import errno

    import torch

    args = ["compare", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data", str(synth_data),
            "--epochs", "1", "--seeds", "0", "--project", str(tmp_path), "--name", "c", "--device", "cpu"]
    FakeRuns(monkeypatch)
    assert CliRunner().invoke(app, args).exit_code == 0
    plain = tmp_path / "c" / "plain-seed0"
    torch.save({"train_args": {"optimizer": "AdamW", "lr0": 0.001429}}, plain / "weights" / "best.pt")
    saved = json.loads((plain / "compare-run.json").read_text())
    saved.pop("best_sha256")  # as an older yolodistill wrote it: no digest, no optimizer
    (plain / "compare-run.json").write_text(json.dumps(saved))
    FakeRuns(monkeypatch)
    assert CliRunner().invoke(app, [*args, "--exist-ok"]).exit_code == 0
    runs = json.loads((tmp_path / "c" / "compare.json").read_text())["runs"]
    assert (runs[0]["method"], runs[0]["optimizer"], runs[0]["lr0"]) == ("plain", "AdamW", 0.001429)

    FakeRuns(monkeypatch, stop_at="builtin-seed0", stop_with=OSError(errno.ENOSPC, "No space left on device"))
    full = CliRunner().invoke(app, [*args, "--exist-ok", "lr0=0.02"])
    said = " ".join(full.output.split())
    assert full.exit_code == 1 and ("kept by it (the earlier report still describes plain-seed0, builtin-seed0 as "
                                    "they were)): yolodistill compare") in said, said
