"""Resuming an interrupted run: only its own last.pt, teacher (by sha256) and dataset, the settings a resume may
change checked as a new run checks them, and the rest refused at any other value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import yaml

from yolodistill.config import resolve
from yolodistill.errors import UserError
from yolodistill.resume import check_resume
from yolodistill.train import DistillationTrainer, train

from .conftest import Interrupt, interrupt_after_first_epoch
from .test_train import FAST, make_trainer


def test_resumed_settings_are_checked_as_a_new_run_checks_them(interrupted_last):
    """patience=abc on a resume was a TypeError traceback; --batch 0 ran with AutoBatch's default, where a new run
    refuses it."""
    for overrides, message in [({"batch": 0}, "--batch must be a whole number of images >= 1"),
                               ({"workers": -1}, "--workers must be 0 or more"), ({"patience": "abc"}, "'patience=abc'"),
                               ({"imgsz": 70}, "--imgsz 70 is not a positive multiple of 32")]:
        with pytest.raises(UserError, match=message):
            check_resume(interrupted_last, overrides)


def test_a_save_period_checkpoint_of_a_run_that_went_on_is_not_resumed(teacher26, synth_data, tmp_path):
    """--resume epoch0.pt of a finished 2-epoch run trained epoch 2 again over its best.pt, last.pt and results.csv;
    epoch1.pt (its last epoch) rewrote args.yaml and distill.yaml, then failed with Ultralytics' AssertionError."""
    from typer.testing import CliRunner

    from yolodistill.cli import app

    from .conftest import assert_one_line_error

    run = train(teacher26, "yolo26n.yaml", synth_data, **{**FAST, "epochs": 2}, save_period=1, val=False,
                project=str(tmp_path), name="sp").save_dir
    kept = {p: p.read_bytes() for p in [*run.glob("*.yaml"), *run.glob("*.csv"), *(run / "weights").iterdir()]}
    result = CliRunner().invoke(app, ["train", "--resume", str(run / "weights" / "epoch0.pt")])
    assert_one_line_error(result, "is older than the last.pt beside it (its run went on")
    result = CliRunner().invoke(app, ["train", "--resume", str(run / "weights" / "epoch1.pt")])
    assert_one_line_error(result, "was saved after the run's last epoch (2): nothing to resume")
    assert {p: p.read_bytes() for p in kept} == kept


def test_a_last_pt_behind_its_folder_s_results_is_not_resumed(interrupted_last, tmp_path):
    """train --exist-ok over a stopped run, itself stopped before its first checkpoint, leaves the old last.pt beside
    the new run's results.csv: the resume was taken, and results.csv spliced the two runs' rows."""
    import shutil

    run = shutil.copytree(interrupted_last.parent.parent, tmp_path / "run")
    header = (run / "results.csv").read_text().splitlines()[0]
    check_resume(run / "weights" / "last.pt", {})  # its own results.csv: epoch 1, as last.pt
    (run / "results.csv").unlink()  # a new run deletes it at its start, and writes it again at its first epoch's end
    with pytest.raises(UserError, match="was saved after epoch 1, and the results.csv of its run folder is gone: a "
                                        "later run started there"):
        check_resume(run / "weights" / "last.pt", {})
    (run / "results.csv").write_text(header + "\n")
    with pytest.raises(UserError, match="results.csv of its run folder ends at epoch 0: a later run started there"):
        check_resume(run / "weights" / "last.pt", {})
    alone = tmp_path / "alone"  # copied into a folder of its own, as the message says: no records to keep whole
    alone.mkdir()
    check_resume(shutil.copy(run / "weights" / "last.pt", alone / "last.pt"), {})
    shutil.copy(run / "args.yaml", alone / "args.yaml")  # with its run's own args.yaml: still its run's
    check_resume(alone / "last.pt", {})


def test_a_last_pt_put_in_another_run_s_folder_is_not_resumed_over_it(interrupted_last, tmp_path):
    """A last.pt outside weights/ resumes into the folder it is in: put beside another run's weights/ and
    results.csv it trained over that run's best.pt, last.pt and results.csv rows, silently."""
    import shutil

    run = tmp_path / "other"
    (run / "weights").mkdir(parents=True)
    (run / "weights" / "best.pt").write_bytes(b"theirs")
    (run / "results.csv").write_text("epoch\n1\n")
    loose = shutil.copy(interrupted_last, run / "last.pt")
    with pytest.raises(UserError, match="which already holds a run's weights: resuming would write over it"):
        check_resume(loose, {})
    shutil.rmtree(run / "weights")
    with pytest.raises(UserError, match="holds a run's results.csv"):
        check_resume(loose, {})
    assert (run / "results.csv").read_text() == "epoch\n1\n"
    mine = tmp_path / "mine"  # a folder of the user's, with a recipe of theirs: the run writes its own there
    for name in ("distill.yaml", "args.yaml"):
        mine.mkdir(exist_ok=True)
        (mine / name).write_text("my recipe")
        with pytest.raises(UserError, match=rf"whose {name} is not its run's \(a recipe of yours\?\): resuming would write"):
            check_resume(shutil.copy(interrupted_last, mine / "last.pt"), {})
        assert (mine / name).read_text() == "my recipe"
        shutil.rmtree(mine)
    alone = tmp_path / "alone"
    alone.mkdir()
    args, _, _ = check_resume(shutil.copy(interrupted_last, alone / "last.pt"), {})
    assert args["save_dir"] == str(alone.resolve())
    args, _, _ = check_resume(alone / "last.pt", {"save_dir": str(tmp_path / "there")})  # Ultralytics' own key
    assert args["save_dir"] == str(tmp_path / "there")


def test_resume_with_a_teacher_that_does_not_fit_is_refused(interrupted_last, teacher26, tmp_path):
    """A moved teacher is found with --teacher; one of other classes or other neck widths would fail mid-setup."""
    from typer.testing import CliRunner

    from yolodistill.cli import app

    from .conftest import assert_one_line_error, save_checkpoint

    det80 = save_checkpoint("yolo26s.yaml", tmp_path / "det80.pt", names={i: f"c{i}" for i in range(80)})
    result = CliRunner().invoke(app, ["train", "--resume", str(interrupted_last), "--teacher", str(det80)])
    assert_one_line_error(result, f"teacher '{det80}' does not fit the resumed run", "teacher has 80 classes")
    narrow = save_checkpoint("yolo26n.yaml", tmp_path / "narrow.pt")  # the run's classes, yolo26s' strides
    # named as the wrong teacher, not by the feature adapters a run without kd_feat never used (walkthrough review)
    with pytest.raises(UserError, match=r"is not the run's teacher: its neck widths are \[64, 128, 256\], the run's "
                                        r"teacher's \[128, 256, 512\]: resume with the run's own teacher"):
        check_resume(interrupted_last, {"distill_model": str(narrow)})
    url = "http://127.0.0.1:9/t.pt"  # a URL typed with --teacher is fetched on a resume too, as on a new run
    result = CliRunner().invoke(app, ["train", "--resume", str(interrupted_last), "--teacher", url])
    assert_one_line_error(result, f"teacher URL '{url}' could not be downloaded")
    moved = tmp_path / "moved.pt"
    moved.write_bytes(teacher26.read_bytes())
    args, _, _ = check_resume(interrupted_last, {"distill_model": str(moved)})  # the run's own teacher, moved: fits
    assert args["distill_model"] == str(moved)


def test_resume_distils_from_the_run_s_own_teacher_file_not_another_of_its_shape(interrupted_last, teacher26, tmp_path):
    """Another yolo26s of the run's classes passes every fit check: given with --teacher, or written over the recorded
    path since the run started. The checkpoints hold the teacher's sha256; a byte copy of it resumes."""
    import hashlib

    from typer.testing import CliRunner

    from yolodistill.cli import app

    from .conftest import assert_one_line_error, save_checkpoint

    ckpt = torch.load(interrupted_last, map_location="cpu", weights_only=False)
    assert ckpt["ema"].yolodistill_teacher == hashlib.sha256(teacher26.read_bytes()).hexdigest()
    other = save_checkpoint("yolo26s.yaml", tmp_path / "other.pt", seed=1)  # other weights: another teacher
    result = CliRunner().invoke(app, ["train", "--resume", str(interrupted_last), "--teacher", str(other)])
    assert_one_line_error(result, f"teacher '{other}' is not the file '{interrupted_last}' was distilled from",
                          "resume with the run's own teacher")
    copy = tmp_path / "copy.pt"
    copy.write_bytes(teacher26.read_bytes())
    assert check_resume(interrupted_last, {"distill_model": str(copy)})[0]["distill_model"] == str(copy)

    ckpt["train_args"]["distill_model"] = str(other)  # the recorded path now holds another file
    torch.save(ckpt, tmp_path / "overwritten.pt")
    with pytest.raises(UserError, match=f"teacher '{other}' is not the file"):
        check_resume(tmp_path / "overwritten.pt", {})

    ckpt["train_args"]["distill_model"] = str(teacher26)  # a run saved before checkpoints held the sha256
    ckpt["ema"].yolodistill_teacher = None
    torch.save(ckpt, tmp_path / "older.pt")
    with pytest.raises(UserError, match=f"--teacher '{other}' is not the run's teacher, which is still at "):
        check_resume(tmp_path / "older.pt", {"distill_model": str(other)})
    assert check_resume(tmp_path / "older.pt", {"distill_model": str(copy)})[0]["distill_model"] == str(copy)


def test_a_resumed_teacher_is_kept_absolute_and_a_lost_one_points_to_teacher(interrupted_last, teacher26, tmp_path,
                                                                             monkeypatch):
    """A relative --teacher stored as typed broke the next resume from another folder; a lost teacher's error did not
    say that --teacher finds it."""
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "moved.pt").write_bytes(teacher26.read_bytes())
    monkeypatch.chdir(tmp_path)
    args, _, _ = check_resume(interrupted_last, {"distill_model": "t/moved.pt"})
    assert args["distill_model"] == str(tmp_path / "t" / "moved.pt")
    ckpt = torch.load(interrupted_last, map_location="cpu", weights_only=False)
    ckpt["train_args"]["distill_model"] = str(tmp_path / "gone" / "teacher.pt")
    torch.save(ckpt, tmp_path / "last.pt")
    with pytest.raises(UserError, match=r"teacher of the resumed run '.*gone.teacher\.pt' does not exist: if it moved, "
                                        r"add --teacher NEW_PATH\.pt to --resume"):
        check_resume(tmp_path / "last.pt", {})


def test_resume_with_a_teacher_of_another_architecture_is_refused(interrupted_last, tmp_path):
    """yolo11s has the run's classes, strides and neck widths; but the saved optimizer holds the teacher's parameters
    too, and restoring it failed mid-setup, after distill.yaml had been rewritten to name the wrong teacher."""
    from .conftest import save_checkpoint

    other = save_checkpoint("yolo11s.yaml", tmp_path / "y11s.pt")
    with pytest.raises(UserError, match=r"another model than the run's teacher \(\d+ parameter tensors against"):
        check_resume(interrupted_last, {"distill_model": str(other)})


def test_resume_finds_a_moved_dataset_with_data(interrupted_last, synth_data, tmp_path):
    """Ultralytics takes data= on a resume; a dataset that moved was a traceback, and --data was refused."""
    from ultralytics.utils.patches import torch_load

    ckpt = torch_load(interrupted_last, map_location="cpu", weights_only=False)
    ckpt["train_args"]["data"] = str(tmp_path / "gone" / "data.yaml")
    last = tmp_path / "run" / "weights" / "last.pt"
    last.parent.mkdir(parents=True)
    torch.save(ckpt, last)
    with pytest.raises(UserError, match=r"the run's data '.*gone.*' is gone: put it back, or pass --data"):
        check_resume(last, {})
    args, _, _ = check_resume(last, {"data": str(synth_data)})
    assert args["data"] == str(synth_data.resolve())
    other = tmp_path / "two.yaml"
    other.write_text(yaml.safe_dump({"path": str(synth_data.parent), "train": "images/train", "val": "images/val",
                                     "names": ["a", "b"]}))
    with pytest.raises(UserError, match="resumed student"):
        check_resume(last, {"data": str(other)})


def test_resume_with_data_takes_the_run_s_dataset_moved_and_refuses_another(interrupted_last, synth_data, tmp_path):
    """--data is for a dataset that moved: another one with the same classes (more images) trained on without a
    word. Checked by the images' count and file names the run recorded, or, for a run saved before it did, against
    its yaml while that still reads."""
    import shutil

    from ultralytics.utils.patches import torch_load

    from yolodistill.data import make_synthetic

    moved = tmp_path / "moved"
    shutil.copytree(synth_data.parent, moved)
    (moved / "data.yaml").write_text(synth_data.read_text().replace(str(synth_data.parent), str(moved)))
    args, _, _ = check_resume(interrupted_last, {"data": str(moved / "data.yaml")})
    assert args["data"] == str((moved / "data.yaml").resolve())
    bigger = make_synthetic(tmp_path / "bigger", images=len(list((synth_data.parent / "images").rglob("*.*"))) + 8,
                            imgsz=64)
    ckpt = torch_load(interrupted_last, map_location="cpu", weights_only=False)
    assert ckpt["ema"].yolodistill_data["train"][0] > 0
    run_data = ckpt["train_args"]["data"]
    for recorded in (True, False):
        # with the record, the run's own yaml need not read (it moved too); without it, that yaml is the reference
        ckpt["train_args"]["data"] = str(tmp_path / "gone" / "data.yaml") if recorded else run_data
        if not recorded:  # a run saved before checkpoints held the record
            del ckpt["ema"].yolodistill_data
        last = tmp_path / f"run-{recorded}" / "weights" / "last.pt"
        last.parent.mkdir(parents=True)
        torch.save(ckpt, last)
        with pytest.raises(UserError, match=rf"^--data '{re.escape(str(bigger))}' is not the dataset the run trained "
                                            r"on: its train split has \d+ images where the run's had \d+: resume "
                                            r"with the run's own dataset \(moved is fine\), or start a new run$"):
            check_resume(last, {"data": str(bigger)})
    # an old run whose yaml is still there, its images gone, declaring a download: nothing is fetched to compare
    marker = tmp_path / "downloaded"
    old = tmp_path / "old.yaml"
    old.write_text(yaml.safe_dump({"path": str(tmp_path / "gone"), "train": "images/train", "val": "images/val",
                                   "names": {0: "circle", 1: "square", 2: "triangle"},
                                   "download": f"open({str(marker)!r}, 'w').write('fetched')"}))
    ckpt["train_args"]["data"] = str(old)
    torch.save(ckpt, last)
    args, _, _ = check_resume(last, {"data": str(moved / "data.yaml")})
    assert args["data"] == str((moved / "data.yaml").resolve()) and not marker.exists()


def test_a_copied_run_resumes_in_its_own_folder(interrupted_last, tmp_path):
    """Resume wrote into the folder recorded in last.pt, so resuming a copy overwrote the original run's files."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(interrupted_last.parent.parent, copy)
    before = {p.name: p.read_bytes() for p in interrupted_last.parent.iterdir()}
    result = train(resume=copy / "weights" / "last.pt")
    assert result.save_dir.resolve() == copy.resolve() and result.best.is_file()
    assert {p.name: p.read_bytes() for p in interrupted_last.parent.iterdir()} == before
    # its distill.yaml, named after the folder it was made in, is still the run's own (kill hunt: it was read as
    # another run's, and the resume recorded "start: own weights" and the optimizer auto chose)
    was, now = (yaml.safe_load((run / "distill.yaml").read_text()) for run in (interrupted_last.parents[1], copy))
    assert now["start"] == was["start"] == "teacher" and now["train_args"]["model"] == was["train_args"]["model"]
    assert {k: now["train_args"][k] for k in ("optimizer", "lr0", "warmup_bias_lr")} == {
        k: was["train_args"][k] for k in ("optimizer", "lr0", "warmup_bias_lr")}
    backup = tmp_path / "backup"  # a last.pt kept outside any weights/ folder writes beside itself
    backup.mkdir()
    (backup / "last.pt").write_bytes(interrupted_last.read_bytes())
    assert check_resume(backup / "last.pt", {})[0]["save_dir"] == str(backup.resolve())


def test_a_copied_run_cut_in_its_first_resume_resumes_again_with_its_own_record(interrupted_last, tmp_path,
                                                                                 monkeypatch):
    """The first resume rewrote distill.yaml under the copy's name before it was cut (no save): the second took the
    file for another run's and recorded start: own weights and the optimizer auto chose (review)."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(interrupted_last.parent.parent, copy)
    was = yaml.safe_load((interrupted_last.parents[1] / "distill.yaml").read_text())

    def cut(self):
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(DistillationTrainer, "save_model", cut)
        with pytest.raises(KeyboardInterrupt):
            train(resume=copy / "weights" / "last.pt")
    train(resume=copy / "weights" / "last.pt")
    now = yaml.safe_load((copy / "distill.yaml").read_text())
    assert now["start"] == was["start"] == "teacher" and now["train_args"]["model"] == was["train_args"]["model"]
    assert now["train_args"]["optimizer"] == was["train_args"]["optimizer"]


def test_a_loose_last_pt_cut_in_its_first_resume_resumes_again(interrupted_last, tmp_path, monkeypatch):
    """A last.pt outside a weights/ folder resumes beside itself; a resume cut before its first save left an empty
    weights/ there, and the next resume was refused as a folder that holds a run's weights (review)."""
    from yolodistill.resume import check_not_behind

    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "last.pt").write_bytes(interrupted_last.read_bytes())
    (loose / "weights").mkdir()  # what the cut resume left
    ckpt = torch.load(loose / "last.pt", map_location="cpu", weights_only=False)
    check_not_behind(loose / "last.pt", ckpt)
    (loose / "weights" / "best.pt").write_bytes(b"a run's")
    with pytest.raises(UserError, match="which already holds a run's weights"):
        check_not_behind(loose / "last.pt", ckpt)


def test_ctrl_c_early_in_a_resumed_run_still_says_resume(interrupted_last, tmp_path, monkeypatch):
    """Its last.pt predates the resumed run and is still resumable: not 'a new run' (a reused folder's is)."""
    import shutil

    from typer.testing import CliRunner

    from yolodistill.cli import app

    copy = tmp_path / "copy"
    shutil.copytree(interrupted_last.parent.parent, copy)

    def ctrl_c(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(DistillationTrainer, "save_model", ctrl_c)
    result = CliRunner().invoke(app, ["train", "--resume", str(copy / "weights" / "last.pt")])
    assert result.exit_code == 130, result.output
    flat = " ".join(result.output.split())
    # stopped in the checkpoint's save, after the epoch's results.csv row: that epoch trains again, and it says so
    assert flat.endswith(f"but last.pt holds epoch 1: epoch 2 trains again): yolodistill train --resume "
                         f"{copy / 'weights' / 'last.pt'}"), flat


def test_a_run_s_distill_yaml_is_a_recipe_and_its_args_yaml_is_refused(interrupted_last):
    # --config runs/distill/exp/distill.yaml to train again with a run's recipe was "unknown setting(s) distill, ..."
    run = interrupted_last.parent.parent
    saved = yaml.safe_load((run / "distill.yaml").read_text())
    distill, args = resolve(run / "distill.yaml", student="yolo26n.yaml")
    assert distill.to_dict() == saved["distill"] and distill.feat_loss == "l2"
    assert args == resolve(None, student="yolo26n.yaml")[1]  # the run's train arguments, model, data: not taken
    with pytest.raises(UserError, match="is a run's args.yaml .*pass the distill.yaml beside it"):
        resolve(run / "args.yaml")
    saved["distill"]["unlabeled"] = ["/elsewhere/footage"]  # that run's data, not this one's
    (run.parent / "with-footage.yaml").write_text(yaml.safe_dump(saved))
    assert resolve(run.parent / "with-footage.yaml", student="yolo26n.yaml")[0].unlabeled == []


def test_resume_takes_the_run_s_own_settings_given_again(interrupted_last, synth_data, monkeypatch):
    # the run's command run again with --resume added: repeating a setting at its own value changes nothing
    args, distill, _ = check_resume(interrupted_last, {"student": "yolo26n.yaml", "epochs": 2.0, "feat_loss": "l2",
                                                       "seed": 0, "imgsz": 64, "data": str(synth_data)})
    assert not {"student", "epochs", "seed", "feat_loss"} & set(args) and args["imgsz"] == 64
    assert distill.feat_loss == "l2" and args["resume"] == str(interrupted_last)
    project = interrupted_last.parent.parent.parent  # the run stores it resolved; typed relative, it is the same
    monkeypatch.chdir(project.parent)
    assert "project" not in check_resume(interrupted_last, {"project": project.name, "name": "run"})[0]
    for changed in ({"epochs": 3}, {"feat_loss": "cwd"}, {"student": "yolo26s.yaml"}, {"seed": 1}, {"config": "x"}):
        with pytest.raises(UserError, match=f"cannot change {next(iter(changed))}"):
            check_resume(interrupted_last, changed)


def test_resume_changes_the_settings_the_readme_says_it_may(interrupted_last, tmp_path):
    """--imgsz, --batch, --workers, patience= and close_mosaic= as the README lists them, into the resumed trainer."""
    import shutil

    from yolodistill.train import DistillationTrainer

    shutil.copytree(interrupted_last.parents[1], tmp_path / "run")  # the trainer writes its args.yaml there
    interrupted_last = tmp_path / "run" / "weights" / "last.pt"
    changed = {"imgsz": 96, "batch": 4, "workers": 1, "patience": 7, "close_mosaic": 1}
    run = {k: torch.load(interrupted_last, map_location="cpu", weights_only=False)["train_args"][k] for k in changed}
    assert all(run[k] != v for k, v in changed.items()), run  # each one a change
    args, distill, teacher = check_resume(interrupted_last, dict(changed))
    assert {k: args[k] for k in changed} == changed
    trainer = DistillationTrainer(overrides=args, distill=distill, teacher=teacher)
    on_cpu = {"workers": 0} if trainer.device.type == "cpu" else {}  # Ultralytics' own rule for a CPU trainer
    assert {k: getattr(trainer.args, k) for k in changed} == {**changed, **on_cpu} and trainer.resume


def test_resume_takes_optimizer_auto_and_the_lr0_it_overrode_as_typed_twice_over(teacher26, synth_data, tmp_path):
    """optimizer=auto writes AdamW, its own lr0 and warmup_bias_lr 0 into the checkpoint's args: the run's command with
    --resume added was refused ('cannot change lr0, optimizer'), and after one resume so was the next."""
    typed = {"optimizer": "auto", "lr0": 0.01, "warmup_bias_lr": 0.1}
    first = make_trainer(teacher26, synth_data, tmp_path, "run", epochs=3, **typed)
    first.add_callback("on_model_save", interrupt_after_first_epoch)
    with pytest.raises(Interrupt):
        first.train()
    last = tmp_path / "run" / "weights" / "last.pt"
    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    assert ckpt["train_args"]["optimizer"] != "auto" and ckpt["train_args"]["lr0"] != 0.01  # what Ultralytics does
    loose = tmp_path / "loose"  # a last.pt outside a weights/ folder resumes in its own folder: its distill.yaml is there
    loose.mkdir()
    for name in ("weights/last.pt", "distill.yaml"):
        (loose / Path(name).name).write_bytes((tmp_path / "run" / name).read_bytes())
    args, _, _ = check_resume(loose / "last.pt", dict(typed))
    assert not set(typed) & set(args) and args["save_dir"] == str(loose)
    for _ in range(2):  # resumed, stopped after its next epoch, then resumed again
        args, distill, teacher = check_resume(last, dict(typed))
        assert not set(typed) & set(args)
        with pytest.raises(UserError, match="cannot change lr0"):
            check_resume(last, {**typed, "lr0": 0.02})
        resumed = DistillationTrainer(overrides=args, distill=distill, teacher=teacher)
        resumed.add_callback("on_model_save", lambda trainer: (_ for _ in ()).throw(Interrupt()))
        with pytest.raises(Interrupt):
            resumed.train()
    assert yaml.safe_load((tmp_path / "run" / "distill.yaml").read_text())["train_args"]["optimizer"] == "auto"


@pytest.mark.parametrize("flag, value", [("--student", "yolo26s.yaml"), ("--config", "nope.yaml")])
def test_resume_refuses_another_student_or_config(interrupted_last, flag, value):
    from typer.testing import CliRunner

    from yolodistill.cli import app

    from .conftest import assert_one_line_error

    result = CliRunner().invoke(app, ["train", "--resume", str(interrupted_last), flag, value])
    assert_one_line_error(result, f"a resumed run keeps its settings; cannot change {flag[2:]} (start a new run)")
    with pytest.raises(UserError, match=f"cannot change {flag[2:]}"):  # the function behind it alike
        train(resume=interrupted_last, **{flag[2:]: value})



def test_same_value_takes_a_setting_as_typed_but_not_another_one():
    """The run's command again with --resume: 3 and 3.0 alike, but a list of another length or a number for a bool
    setting is a change (Ultralytics refuses val=1 where it wants True)."""
    from yolodistill.resume import same_value

    assert same_value(3, 3.0) and same_value([64, 64], (64, 64.0)) and same_value(True, True)
    assert not same_value([64, 64], [64, 64, 64]) and not same_value([64, 64, 64], [64, 64])
    assert not same_value(1, True) and not same_value(False, 0)


def test_an_earlier_checkpoint_is_resumable_unless_its_run_went_on(tmp_path):
    """epochN.pt of the epoch last.pt also holds is that run's own state (resuming it loses nothing); one of a later
    last.pt is not, nor a checkpoint of the run's last epoch."""
    from yolodistill.resume import check_not_behind

    weights = tmp_path / "run" / "weights"
    weights.mkdir(parents=True)
    run = {"optimizer": {"param_groups": []}, "train_args": {"epochs": 3}}
    torch.save({**run, "epoch": 1}, weights / "last.pt")
    check_not_behind(weights / "epoch1.pt", {**run, "epoch": 1})
    with pytest.raises(UserError, match=r"is older than the last.pt beside it \(its run went on"):
        check_not_behind(weights / "epoch0.pt", {**run, "epoch": 0})
    torch.save({**run, "epoch": -1, "optimizer": None}, weights / "last.pt")  # finished since: stripped, epoch -1
    with pytest.raises(UserError, match="is older than the last.pt beside it"):
        check_not_behind(weights / "epoch1.pt", {**run, "epoch": 1})
    with pytest.raises(UserError, match=r"was saved after the run's last epoch \(3\): nothing to resume"):
        check_not_behind(weights / "last.pt", {**run, "epoch": 2})


def test_after_ctrl_c_the_message_names_what_to_run_next(tmp_path):
    """--resume for a run that saved an epoch; a new run where none finished or last.pt is an earlier run's; the
    weights (best.pt first) where the run had finished and only the final validation was cut short."""
    from yolodistill.resume import after_interrupt

    last = tmp_path / "run" / "weights" / "last.pt"
    new_run = f"a new run (no epoch had finished): the same command with --exist-ok reuses this run folder, {last.parents[1]}"
    assert after_interrupt(last).endswith(new_run) and after_interrupt(last, name="run").endswith(new_run)
    numbered = tmp_path / "exp-2" / "weights" / "last.pt"  # exp was taken: --exist-ok alone wrote into exp
    assert after_interrupt(numbered, name="exp").endswith(f"the same command with --exist-ok --name exp-2 reuses this "
                                                          f"run folder, {numbered.parents[1]}")
    last.parent.mkdir(parents=True)
    torch.save({"epoch": 0, "optimizer": {"param_groups": []}}, last)
    assert after_interrupt(last) == f"Continue with: yolodistill train --resume {last}"
    assert after_interrupt(last, earlier=True).endswith(new_run)
    last.write_bytes(b"torn")  # unreadable: --resume says what is wrong with it
    (tmp_path / "nosave" / "weights").mkdir(parents=True)  # save=False: epochs finished, and none was kept
    (tmp_path / "nosave" / "args.yaml").write_text("epochs: 4\nsave: false\n")
    assert after_interrupt(tmp_path / "nosave" / "weights" / "last.pt").startswith(
        "Continue with: a new run (save=False saves no checkpoint before the last epoch: leave it out to be able "
        "to resume): the same command")
    assert after_interrupt(last) == f"Continue with: yolodistill train --resume {last}"
    # Ultralytics logs an epoch's results.csv row, then saves its checkpoint: a Ctrl-C between said "no epoch had
    # finished" beside the row, and --resume trained the epoch seen validated again without a word
    (tmp_path / "run" / "results.csv").write_text("epoch,time\n1,2.0\n2,4.0\n")
    torch.save({"epoch": 0, "optimizer": {"param_groups": []}}, last)  # epoch 1's checkpoint (0-based)
    assert after_interrupt(last) == ("Continue with (epoch 2 is in results.csv, but last.pt holds epoch 1: epoch 2 "
                                     f"trains again): yolodistill train --resume {last}")  # a full disk says it too
    last.unlink()
    assert after_interrupt(last).startswith("Continue with: a new run (epoch 2 is in results.csv, but no checkpoint "
                                            "of it was saved): the same command with --exist-ok")
    assert after_interrupt(last, earlier=True).endswith(new_run)  # an earlier run's rows say nothing of this one
    torch.save({"epoch": 1, "optimizer": {"param_groups": []}}, last)
    assert after_interrupt(last) == f"Continue with: yolodistill train --resume {last}"  # row and checkpoint agree
    last.write_bytes(b"torn")
    last_epoch = {"epoch": 2, "optimizer": {"param_groups": []}, "train_args": {"epochs": 3}}  # Ctrl-C before the
    for stripped in ({"epoch": -1, "optimizer": None}, {"epoch": 1, "optimizer": None}, last_epoch):  # final strip:
        torch.save(stripped, last)  # --resume refuses it (check_not_behind), the run had finished its epochs
        assert f"its weights are {last}, but the final validation was cut short" in after_interrupt(last)
    (last.parent / "best.pt").write_bytes(b"best")
    assert f"check them with yolodistill bench {last.parent / 'best.pt'}" in after_interrupt(last)


def test_an_older_run_s_moved_teacher_is_taken_with_teacher(tmp_path):
    """A run saved before checkpoints held its teacher's sha256, whose teacher moved (the recorded path is gone):
    --teacher NEW_PATH is what the error for a lost teacher says to add, so it must be taken."""
    from yolodistill.resume import check_same_teacher

    moved = tmp_path / "moved.pt"
    moved.write_bytes(b"teacher")
    check_same_teacher(str(moved), None, "last.pt", str(moved), str(tmp_path / "gone.pt"))
    (tmp_path / "other.pt").write_bytes(b"another")
    with pytest.raises(UserError, match="is not the run's teacher, which is still at"):
        check_same_teacher(str(moved), None, "last.pt", str(moved), str(tmp_path / "other.pt"))


def test_a_run_s_dataset_named_by_name_is_not_taken_for_gone(tmp_path):
    """data=coco8.yaml is found by Ultralytics, not in the working folder: only a lost absolute path is 'gone'."""
    from yolodistill.resume import resumed_data

    assert resumed_data(None, {"data": "coco8.yaml"}, None) == {}
    with pytest.raises(UserError, match="is gone: put it back, or pass --data"):
        resumed_data(None, {"data": str(tmp_path / "gone.yaml")}, None)


def test_resume_checks_typos_devices_and_lost_unlabelled_folders_as_a_new_run_does(interrupted_last, tmp_path):
    """A typo is named as one (not 'cannot change'), a device this machine lacks is refused before any work, 'auto'
    is handed on as Ultralytics' own default, a run's unlabelled folder that is gone is named, and a finished run's
    last.pt (which holds its settings still) is refused as finished."""
    with pytest.raises(UserError, match="unknown setting.s. epochz"):
        check_resume(interrupted_last, {"epochz": 3})
    with pytest.raises(UserError, match="--device 99"):
        check_resume(interrupted_last, {"device": "99"})
    assert check_resume(interrupted_last, {"device": "auto"})[0]["device"] is None
    ckpt = torch.load(interrupted_last, map_location="cpu", weights_only=False)
    ckpt["ema"].yolodistill = {**ckpt["ema"].yolodistill, "unlabeled": [str(tmp_path / "footage")]}
    torch.save(ckpt, tmp_path / "last.pt")
    with pytest.raises(UserError, match=r"the resumed run's unlabelled folder '.*footage' does not exist"):
        check_resume(tmp_path / "last.pt", {})
    ckpt["ema"].yolodistill = {**ckpt["ema"].yolodistill, "unlabeled": []}
    ckpt.update(epoch=-1, optimizer=None)  # stripped for shipping as a finished run's last.pt is
    torch.save(ckpt, tmp_path / "last.pt")
    with pytest.raises(UserError, match="is from a finished run .nothing to resume.: start a new run, e.g. with "
                                        "--student"):
        check_resume(tmp_path / "last.pt", {})


def test_a_resumed_run_s_unlabelled_folder_is_checked_as_a_new_run_s_is(interrupted_last, tmp_path):
    """A val image copied into the footage since the run started (trained on, it flatters the mAP that picks
    best.pt), or a run moved inside its own footage (the next run reads its plots), is refused as at the start."""
    import shutil

    import cv2
    import numpy as np

    ckpt = torch.load(interrupted_last, map_location="cpu", weights_only=False)
    footage = tmp_path / "footage"
    footage.mkdir()
    cv2.imwrite(str(footage / "street.png"), np.full((64, 64, 3), 7, np.uint8))
    ckpt["ema"].yolodistill = {**ckpt["ema"].yolodistill, "unlabeled": [str(footage)]}
    last = tmp_path / "run" / "weights" / "last.pt"
    last.parent.mkdir(parents=True)
    torch.save(ckpt, last)
    assert check_resume(last, {})[1].unlabeled == [str(footage)]
    val = sorted((Path(ckpt["train_args"]["data"]).parent / "images" / "val").glob("*.png"))
    shutil.copy(val[0], footage / "copied.png")
    with pytest.raises(UserError, match=r"the resumed run's unlabelled folder .*footage holds 1 of the data's "
                                        r"val/test images"):
        check_resume(last, {})
    (footage / "copied.png").unlink()
    moved = footage / "run" / "weights" / "last.pt"
    moved.parent.mkdir(parents=True)
    shutil.move(last, moved)
    with pytest.raises(UserError, match="inside the unlabelled folder .* move the run folder out of it"):
        check_resume(moved, {})


def test_a_resumed_teacher_of_a_run_whose_optimizer_lacks_it_is_not_counted(interrupted_last, teacher26):
    """teacher_params 0: the optimizer holds no teacher tensors to compare (nothing to restore for it)."""
    from yolodistill.resume import check_resumed_teacher

    saved = torch.load(interrupted_last, map_location="cpu", weights_only=False)["ema"]
    assert check_resumed_teacher(teacher26, saved, str(interrupted_last), 0) is not None
    with pytest.raises(UserError, match="another model than the run's teacher"):
        check_resumed_teacher(teacher26, saved, str(interrupted_last), 1)


def test_the_run_s_own_data_edited_since_the_stop_is_refused_as_data_given_again(interrupted_last, synth_data,
                                                                                   tmp_path):
    """Without --data (the command the stop prints) the run's yaml went unchecked: broken, a traceback; with images
    taken out, the run finished on fewer, silently."""
    import shutil

    moved = shutil.copytree(synth_data.parent, tmp_path / "data")
    (moved / "data.yaml").write_text(synth_data.read_text().replace(str(synth_data.parent), str(moved)))
    ckpt = torch.load(interrupted_last, map_location="cpu", weights_only=False)
    ckpt["train_args"]["data"] = str(moved / "data.yaml")
    last = tmp_path / "run" / "weights" / "last.pt"
    last.parent.mkdir(parents=True)
    torch.save(ckpt, last)
    check_resume(last, {})  # as the run had it
    for image in sorted((moved / "images" / "train").iterdir())[:2]:
        image.unlink()
    with pytest.raises(UserError, match=rf"^the run's data '{re.escape(str(moved / 'data.yaml'))}' is not the dataset "
                                        r"the run trained on: its train split has \d+ images where the run's had \d+: "
                                        r"put the dataset back as the run had it, or start a new run$"):
        check_resume(last, {})
    (moved / "data.yaml").write_text("train: [unclosed\n")
    with pytest.raises(UserError) as e:
        check_resume(last, {})
    assert "\n" not in str(e.value) and "data.yaml" in str(e.value), e.value


def test_a_relative_data_given_on_resume_is_kept_absolute(interrupted_last, synth_data, monkeypatch):
    """Stored as typed, a relative --data broke the next resume from another folder (as a relative --teacher did)."""
    from yolodistill.resume import resumed_data

    saved = torch.load(interrupted_last, map_location="cpu", weights_only=False)["ema"]
    monkeypatch.chdir(synth_data.parent)
    assert resumed_data(synth_data.name, {}, saved) == {"data": str(synth_data.resolve())}


def test_a_resume_drops_the_results_rows_after_its_checkpoint_s_epoch(interrupted_last, tmp_path, monkeypatch):
    """A kill after results.csv got epoch 2's row but before last.pt held epoch 2: the resumed run trains epoch 2
    again and listed it twice. The header and the rows of the epochs last.pt holds stay."""
    import shutil

    from ultralytics.models.yolo.detect import DetectionTrainer

    shutil.copytree(interrupted_last.parents[1], tmp_path / "run")
    last = tmp_path / "run" / "weights" / "last.pt"
    csv_path = tmp_path / "run" / "results.csv"
    saved = csv_path.read_text()
    header, *done = saved.splitlines(keepends=True)
    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    assert len(done) == ckpt["epoch"] + 1  # one row per epoch the checkpoint holds
    epoch, rest = done[-1].split(",", 1)
    csv_path.write_text(saved + f"{int(float(epoch)) + 1},{rest}")  # the next epoch's row, written before the kill
    args, distill, teacher = check_resume(last, {})
    trainer = DistillationTrainer(overrides=args, distill=distill, teacher=teacher)
    # Ultralytics' own part restores the optimizer into the model setup_model builds: not the part under test
    monkeypatch.setattr(DetectionTrainer, "resume_training", lambda self, ckpt: None)
    trainer.resume_training(ckpt)
    assert trainer.csv == csv_path and csv_path.read_text() == saved


def test_ctrl_c_before_the_first_epoch_in_a_reused_folder_does_not_offer_its_earlier_last_pt(interrupted_last,
                                                                                            teacher26, synth_data,
                                                                                            tmp_path, monkeypatch):
    """--exist-ok over a run folder whose last.pt is an earlier run's: a Ctrl-C before this run saved anything said
    '--resume' that last.pt, which would continue the earlier run, not this one; its best.pt is left as it was."""
    import shutil

    from yolodistill.resume import TrainingInterrupted

    shutil.copytree(interrupted_last.parents[1], tmp_path / "run")
    last, best = tmp_path / "run" / "weights" / "last.pt", tmp_path / "run" / "weights" / "best.pt"
    earlier_best = best.read_bytes()  # the earlier run's, in training form

    def ctrl_c(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(DistillationTrainer, "_setup_train", ctrl_c)
    with pytest.raises(TrainingInterrupted) as stopped:
        train(teacher26, "yolo26n.yaml", synth_data, project=tmp_path, name="run", exist_ok=True, **FAST)
    assert stopped.value.last == last and stopped.value.earlier
    assert "--resume" not in str(stopped.value) and "a new run (no epoch had finished)" in str(stopped.value)
    assert best.read_bytes() == earlier_best  # a best.pt this run did not write is not stripped


def test_a_trainer_given_only_resume_takes_the_run_s_settings_from_last_pt(interrupted_last, tmp_path):
    """Ultralytics' own way to resume builds the trainer from its args alone: the run's distillation settings come
    from last.pt, not the defaults (which would distil another recipe on the run's weights)."""
    import shutil

    from yolodistill.config import DistillConfig

    shutil.copytree(interrupted_last.parents[1], tmp_path / "run")
    args, distill, _ = check_resume(tmp_path / "run" / "weights" / "last.pt", {})
    assert distill.to_dict() != DistillConfig().to_dict()  # the run's recipe is not the default one
    assert DistillationTrainer(overrides=args).distill.to_dict() == distill.to_dict()


def test_a_run_an_older_version_recorded_without_its_start_resumes_as_it_started(interrupted_last, tmp_path):
    """Runs recorded before distill.yaml held `start:` were recorded on resume as `start: own weights`: the start was
    worked out from the resumed trainer's model, which is last.pt, not the yaml student the run began from."""
    import shutil

    import yaml

    shutil.copytree(interrupted_last.parents[1], tmp_path / "run")
    record = tmp_path / "run" / "distill.yaml"
    older = yaml.safe_load(record.read_text())
    assert older.pop("start") == "teacher"
    record.write_text(yaml.safe_dump(older))
    args, distill, teacher = check_resume(tmp_path / "run" / "weights" / "last.pt", {})
    DistillationTrainer(overrides=args, distill=distill, teacher=teacher)
    assert yaml.safe_load(record.read_text())["start"] == "teacher"


def test_a_run_started_with_pretrained_weights_resumes_its_own_weights(interrupted_last, tmp_path):
    """pretrained=PATH stays in the checkpoint's args: on resume the student is last.pt's, with its epoch and
    optimizer, never a fresh start from PATH's weights (which would train the run again from its first epoch)."""
    import shutil

    from .conftest import save_checkpoint

    shutil.copytree(interrupted_last.parents[1], tmp_path / "run")
    last = tmp_path / "run" / "weights" / "last.pt"
    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    ckpt["train_args"]["pretrained"] = str(save_checkpoint("yolo26n.yaml", tmp_path / "own.pt", seed=1))
    torch.save(ckpt, last)
    args, distill, teacher = check_resume(last, {})
    trainer = DistillationTrainer(overrides=args, distill=distill, teacher=teacher)
    assert trainer.args.pretrained == ckpt["train_args"]["pretrained"]
    resumed = trainer.setup_model()
    assert resumed is not None and resumed["epoch"] == ckpt["epoch"]  # Ultralytics resumes from what it returns
    run_weights = ckpt["ema"].student_model.state_dict()
    assert all(torch.equal(v.float(), run_weights[k].float()) for k, v in trainer.model.state_dict().items())


def test_resuming_the_best_pt_of_a_stopped_run_points_at_its_last_pt(interrupted_last, tmp_path):
    """best.pt is stripped at every stop, a Ctrl-C's too: --resume best.pt said the run had finished and to start a
    new one, which loses the schedule and optimizer state that last.pt resumes. The command it names is quoted."""
    import shutil

    run = tmp_path / "my run"
    shutil.copytree(interrupted_last.parents[1], run)
    best, last = run / "weights" / "best.pt", run / "weights" / "last.pt"
    stripped = {**torch.load(best, map_location="cpu", weights_only=False), "epoch": -1, "optimizer": None}
    torch.save(stripped, best)  # as a stop leaves it
    with pytest.raises(UserError) as refused:
        check_resume(best, {})
    assert str(refused.value).endswith(f"resume its last.pt, with yolodistill train --resume '{last}'")
    torch.save({**stripped, "train_results": {}}, last)  # a run that did finish: nothing to resume
    with pytest.raises(UserError, match="is from a finished run"):
        check_resume(best, {})


def test_the_commands_users_paste_are_quoted(tmp_path):
    """A run folder with a space: the printed --resume command split into two words, and a pasted one failed as
    'not a key=value override'; the same for the data-cleaning hint."""
    import os
    import shlex

    from yolodistill.layout import convert_hint
    from yolodistill.resume import after_interrupt

    last = tmp_path / "my run" / "weights" / "last.pt"
    last.parent.mkdir(parents=True)
    torch.save({"epoch": 0, "optimizer": {"param_groups": []}}, last)
    assert shlex.split(after_interrupt(last))[-2:] == ["--resume", str(last)]
    data = tmp_path / "my data" / "data.yaml"
    data.parent.mkdir()
    data.write_text("train: images/train\nval: images/val\nnames: [a]\n")
    words = shlex.split(convert_hint(data).split(": ", 1)[1])
    assert words[:3] == ["yolodistill", "data", "convert"] and words[3] == str(data) and words[-2:] == [
        "--out", os.path.relpath(tmp_path / "my data-clean")]


def test_a_failed_start_removes_only_a_run_folder_nothing_was_saved_in(tmp_path):
    """train() removes the folder a loader's UserError leaves (args.yaml, distill.yaml, an empty weights/), or the rerun
    is 'run folder exists'; a folder holding a checkpoint or any other file (a reused run's) must stay whole."""
    from yolodistill.resume import remove_unstarted

    def run_folder(name: str, *files: str) -> Path:
        run = tmp_path / name
        (run / "weights").mkdir(parents=True)
        for f in files:
            (run / f).write_text("x")
        return run

    for unstarted in (run_folder("fresh", "args.yaml", "distill.yaml"), run_folder("early", "args.yaml")):
        remove_unstarted(unstarted)
        assert not unstarted.exists(), unstarted.name
    for kept in (run_folder("saved", "args.yaml", "distill.yaml", "weights/last.pt"),
                 run_folder("trained", "args.yaml", "distill.yaml", "results.csv")):
        before = sorted(kept.rglob("*"))
        remove_unstarted(kept)
        assert sorted(kept.rglob("*")) == before, kept.name
    remove_unstarted(tmp_path / "never")  # no folder: nothing to remove, no error


def test_a_resumed_run_keeps_the_start_it_recorded(tmp_path):
    """A resumed trainer cannot tell how its student started: distill.yaml, rewritten on resume, went from
    `start: random` (weight selection fitting no layer) back to `teacher`. The run's own record is read once."""
    import yaml

    from yolodistill.resume import own_record

    run = tmp_path / "exp"
    (run / "weights").mkdir(parents=True)
    args = {"project": str(tmp_path), "name": "exp", "seed": 0}
    (run / "distill.yaml").write_text(yaml.safe_dump({"start": "random", "train_args": args}))
    assert own_record(run / "weights" / "last.pt", args)["start"] == "random"
    assert own_record(run / "weights" / "last.pt", {**args, "seed": 1}) == {}  # a later run's record there
    (run / "distill.yaml").write_text("[not, a, record")
    assert own_record(run / "weights" / "last.pt", args) == {}


def test_a_run_killed_before_its_final_strip_has_its_best_pt_finished(interrupted_last, tmp_path):
    """A kill between the last epoch's save and the final strip (the OOM killer, a power cut) left best.pt in
    training form (`YOLO("best.pt").info()` failed), and --resume only said there was nothing to resume."""
    import shutil

    from typer.testing import CliRunner

    from yolodistill.cli import app

    from .conftest import assert_one_line_error

    run = shutil.copytree(interrupted_last.parent.parent, tmp_path / "run")
    ckpt = torch.load(interrupted_last, map_location="cpu", weights_only=False)
    ckpt["train_args"]["epochs"] = ckpt["epoch"] + 1  # saved at the last epoch, not yet stripped
    for name in ("last.pt", "best.pt"):
        torch.save(ckpt, run / "weights" / name)
    result = CliRunner().invoke(app, ["train", "--resume", str(run / "weights" / "last.pt")])
    assert_one_line_error(result, "nothing to resume (the run was stopped before its end; its best.pt is now "
                                  "stripped, as the end would have left it)")
    best = torch.load(run / "weights" / "best.pt", map_location="cpu", weights_only=False)
    assert best["optimizer"] is None and best["epoch"] == -1 and type(best["model"]).__name__ == "DetectionModel"
    last = torch.load(run / "weights" / "last.pt", map_location="cpu", weights_only=False)
    assert last["optimizer"] is not None  # left as it was


def test_only_the_run_s_own_best_pt_is_finished_and_only_said_when_it_was(interrupted_last, tmp_path, monkeypatch):
    """Through a link, the best.pt beside the link was rewritten and the run's own left as it was; a kill between
    the two final strips (last.pt stripped, best.pt not) was "a finished run" with best.pt left in training form; and
    a best.pt that could not be rewritten was said to be stripped."""
    import shutil

    from yolodistill.resume import check_resume

    ckpt = torch.load(interrupted_last, map_location="cpu", weights_only=False)
    ckpt["train_args"]["epochs"] = ckpt["epoch"] + 1
    run = shutil.copytree(interrupted_last.parent.parent, tmp_path / "run")
    for name in ("last.pt", "best.pt"):
        torch.save(ckpt, run / "weights" / name)
    (links := tmp_path / "links").mkdir()
    (links / "latest.pt").symlink_to(run / "weights" / "last.pt")
    torch.save(ckpt, links / "best.pt")  # not the run's
    stranger = (links / "best.pt").read_bytes()
    with pytest.raises(UserError, match="its best.pt is now stripped"):
        check_resume(links / "latest.pt", {})
    assert (links / "best.pt").read_bytes() == stranger
    assert torch.load(run / "weights" / "best.pt", map_location="cpu", weights_only=False)["optimizer"] is None

    torch.save(ckpt, run / "weights" / "best.pt")  # killed between the strips: last.pt finished, best.pt not
    torch.save({**ckpt, "optimizer": None, "epoch": -1}, run / "weights" / "last.pt")
    with pytest.raises(UserError, match=r"is from a finished run \(nothing to resume\) \(the run was stopped before "
                                        r"its end; its best.pt is now stripped"):
        check_resume(run / "weights" / "last.pt", {})
    assert torch.load(run / "weights" / "best.pt", map_location="cpu", weights_only=False)["optimizer"] is None

    torch.save(ckpt, run / "weights" / "best.pt")
    import errno

    import yolodistill.strips

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(yolodistill.strips, "renamed_strip", read_only)  # a read-only mount (root writes 0o555)
    with pytest.raises(UserError) as e:
        check_resume(run / "weights" / "last.pt", {})
    assert "now stripped" not in str(e.value) and "nothing to resume" in str(e.value)
