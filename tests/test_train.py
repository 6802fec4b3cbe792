"""Real Ultralytics training steps at imgsz 64: columns, portable checkpoints, resume, and the DDP entry."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner
from ultralytics.utils.torch_utils import unwrap_model

from yolodistill.balance import MEASURED
from yolodistill.checks import preflight
from yolodistill.cli import app
from yolodistill.config import resolve
from yolodistill.errors import UserError
from yolodistill.model import KD_TERMS, KDModel
from yolodistill.recipe import check_recipe
from yolodistill.resume import check_resume
from yolodistill.start import starts_from_teacher
from yolodistill.ddp import SETTINGS_ENV, environment
from yolodistill.train import DistillationTrainer, train

from .conftest import PYTHON, Interrupt, interrupt_after_first_epoch, unusable_val_split

FAST = dict(epochs=1, imgsz=64, batch=8, workers=0, device="cpu", plots=False)
ALL_TERMS = dict(kd_cls=1.0, kd_box=1.0, kd_feat=1.0)  # every term on (the default recipe leaves features off)


def rows(csv_path: Path) -> list[dict[str, float]]:
    with open(csv_path) as f:
        return [{k.strip(): float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def make_trainer(teacher, data, project, name, **kw) -> DistillationTrainer:
    distill, args = resolve(None, **{**FAST, **ALL_TERMS, "project": str(project), "name": name, **kw})
    plan = preflight(teacher, "yolo26n.yaml", data, args)
    return DistillationTrainer(overrides=plan.args, distill=distill, teacher=plan.teacher, pretrained=plan.pretrained)


@pytest.mark.parametrize(
    "teacher_fixture, student, feat_loss",
    [("teacher26", "yolo26n.yaml", "cwd"), ("teacher11", "yolo26n.yaml", "mgd"), ("teacher26", "yolo11n.yaml", "l2")],
    ids=["yolo26-pair", "yolo11-teacher-yolo26-student", "yolo26-teacher-yolo11-student"],
)
def test_one_epoch_writes_a_column_per_term(request, teacher_fixture, student, feat_loss, synth_data, tmp_path):
    teacher = request.getfixturevalue(teacher_fixture)
    result = train(teacher, student, synth_data, project=tmp_path, name="run", feat_loss=feat_loss, **FAST,
                   **ALL_TERMS)
    assert result.save_dir == tmp_path / "run" and result.best.exists() and result.last.exists()
    weights = result.save_dir / "weights"
    assert (result.best, result.last) == (weights / "best.pt", weights / "last.pt")  # not one for the other
    (row,) = rows(result.save_dir / "results.csv")
    for k in KD_TERMS:
        assert math.isfinite(row[f"train/{k}"]) and row[f"train/{k}"] > 0, k
        assert row[f"val/{k}"] == 0, k  # validation runs the student alone, as the README says
    assert {"train/box_loss", "train/cls_loss"} <= set(row)
    recipe = yaml.safe_load((result.save_dir / "distill.yaml").read_text())
    assert recipe["distill"]["feat_loss"] == feat_loss
    assert recipe["teacher"] == str(Path(teacher).resolve())
    trained_on = len(list((Path(synth_data).parent / "images" / "train").glob("*.png")))
    assert recipe["images"] == {"labelled": trained_on, "unlabeled": 0}  # the recipe says what the run trained on
    assert recipe["start"] == "teacher" and recipe["distill"]["init_from_teacher"] is True
    ran = yaml.safe_load((result.save_dir / "args.yaml").read_text())  # Ultralytics' distiller off, as it is: it
    assert ran["distill_model"] == str(Path(teacher).resolve()) and ran["dis"] == 0.0  # read dis: 6.0 beside it


@pytest.mark.parametrize("teacher_fixture, student, lacking", [("teacher11", "yolo26n.yaml", "teacher"),
                                                               ("teacher26", "yolo11n.yaml", "student"),
                                                               ("teacher11", "yolo11n.yaml", "teacher and the student")])
def test_kd_one2one_on_a_pair_without_the_branch_is_refused(request, teacher_fixture, student, lacking, synth_data,
                                                            tmp_path):
    """The one-to-one terms need YOLO26's NMS-free branch in both models; without it the run trained as if the flag
    were off, and said kd_one2one: true in distill.yaml. compare refuses it before plain and builtin train."""
    teacher = request.getfixturevalue(teacher_fixture)
    for command in ("train", "compare"):
        result = CliRunner().invoke(app, [command, "--teacher", str(teacher), "--student", student, "--data",
                                          str(synth_data), "--imgsz", "64", "--epochs", "1", "--device", "cpu",
                                          "--project", str(tmp_path), "--kd-one2one"])
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        verb = "lack" if " and " in lacking else "lacks"  # both: "the teacher and the student lacks" was said
        assert (f"Error: kd_one2one distils YOLO26's one-to-one (NMS-free) branch, which the {lacking} {verb}: drop "
                "--kd-one2one") in " ".join(result.output.split())
    assert not list(tmp_path.iterdir())


def test_student_from_yaml_starts_from_the_teacher(teacher26, synth_data, tmp_path):
    """Weight selection at build time, also where a DDP worker loads the teacher itself; off when asked."""
    import copy

    from ultralytics.nn.tasks import load_checkpoint

    from yolodistill.start import select_weights

    teacher = load_checkpoint(teacher26)[0]
    given = make_trainer(teacher26, synth_data, tmp_path, "given")
    distill, args = resolve(None, **{**FAST, "project": str(tmp_path), "name": "worker"})
    worker = DistillationTrainer(overrides=preflight(teacher26, "yolo26n.yaml", synth_data, args).args,
                                 distill=distill)
    off = make_trainer(teacher26, synth_data, tmp_path, "off", init_from_teacher=False)
    for trainer in (given, worker, off):
        trainer.setup_model()
    selected = copy.deepcopy(off.model)  # Ultralytics' own start, then the selection: what `given` must hold
    assert select_weights(teacher, selected) == (18, 18)
    for trainer in (given, worker):
        assert all(torch.equal(a, b) for a, b in zip(trainer.model.state_dict().values(),
                                                     selected.state_dict().values()))
    assert worker.teacher is not None  # loaded by the worker, handed on to KDModel
    assert not torch.equal(off.model.model[0].conv.weight, selected.model[0].conv.weight)


def test_student_with_weights_of_its_own_keeps_them(teacher26, synth_data, tmp_path):
    """A .pt student, or a yaml with pretrained=PATH, is never overwritten by the teacher start."""
    from ultralytics.nn.tasks import load_checkpoint

    from .conftest import save_checkpoint

    own = save_checkpoint("yolo26n.yaml", tmp_path / "own.pt", seed=1)  # not the weights of a fresh yolo26n
    expected = load_checkpoint(own)[0].model[0].conv.weight
    distill, args = resolve(None, student=str(own), **{**FAST, "project": str(tmp_path), "name": "pt"})
    from_pt = DistillationTrainer(overrides=preflight(teacher26, str(own), synth_data, args).args, distill=distill)
    pretrained = make_trainer(teacher26, synth_data, tmp_path, "pretrained", pretrained=str(own))
    for trainer in (from_pt, pretrained):
        trainer.setup_model()
        assert torch.equal(trainer.model.model[0].conv.weight, expected)
        assert not starts_from_teacher(trainer.distill.init_from_teacher, trainer.args.model, trainer.args.pretrained)


def test_pretrained_weights_are_read_once(teacher26, synth_data, tmp_path, monkeypatch):
    """pretrained= was read twice, once here and once by Ultralytics' setup_model: a yolo26x checkpoint is 100+ MB.
    The checks load it (a garbage file was a traceback after the run folder), and the trainer takes their model."""
    import ultralytics.engine.trainer as engine
    import ultralytics.nn.tasks as tasks

    from yolodistill import train as train_module

    from .conftest import save_checkpoint

    own = save_checkpoint("yolo26n.yaml", tmp_path / "own.pt", seed=1)  # not the weights of a fresh yolo26n
    expected = engine.load_checkpoint(own)[0].model[0].conv.weight
    reads = []
    for module in (train_module, engine, tasks):
        def counted(path, *a, _load=module.load_checkpoint, **kw):
            reads.append(Path(path).name)
            return _load(path, *a, **kw)

        monkeypatch.setattr(module, "load_checkpoint", counted)
    trainer = make_trainer(teacher26, synth_data, tmp_path, "once", pretrained=str(own))
    trainer.setup_model()
    assert reads.count("own.pt") == 1
    assert torch.equal(trainer.model.model[0].conv.weight, expected)


def test_single_cls_trains_a_one_class_student_from_a_teacher_of_several(teacher26, synth_data, tmp_path):
    """single_cls=True was refused with a teacher of the data's 3 classes; its scores are now read as one class."""
    from ultralytics import YOLO

    result = train(teacher26, "yolo26n.yaml", synth_data, project=tmp_path, name="one", single_cls=True, **FAST)
    (row,) = rows(result.save_dir / "results.csv")
    assert all(math.isfinite(row[f"train/{k}"]) and row[f"train/{k}"] > 0 for k in ("kd_cls", "kd_box"))
    student = YOLO(result.best)
    assert student.names == {0: "item"} and student.model.model[-1].nc == 1


def test_a_single_cls_run_resumes_and_may_take_a_one_class_teacher(teacher26, synth_data, tmp_path):
    """A single_cls run stopped mid-way was refused on resume: its one-class student was checked against its
    teacher's three classes (and against --data's). A teacher Ultralytics trained single_cls on the data (one class)
    was refused for a new single_cls run, and without single_cls told 'train the teacher on this dataset first'."""
    from yolodistill.checks import preflight
    from yolodistill.config import resolve
    from yolodistill.resume import check_resume

    from .conftest import Interrupt, interrupt_after_first_epoch, save_checkpoint

    distill, args = resolve(None, **{**FAST, "epochs": 2}, single_cls=True, project=str(tmp_path), name="run")
    plan = preflight(teacher26, "yolo26n.yaml", synth_data, args)
    trainer = DistillationTrainer(overrides=plan.args, distill=distill, teacher=plan.teacher)
    trainer.add_callback("on_model_save", interrupt_after_first_epoch)
    with pytest.raises(Interrupt):
        trainer.train()
    last = tmp_path / "run" / "weights" / "last.pt"
    for overrides in ({}, {"data": str(synth_data)}):
        assert check_resume(last, overrides)[0]["resume"] == str(last)
    one = save_checkpoint("yolo26s.yaml", tmp_path / "one.pt", names={0: "item"})
    fresh = resolve(None, **FAST, single_cls=True, project=str(tmp_path), name="fresh")[1]
    assert preflight(one, "yolo26n.yaml", synth_data, fresh).args["single_cls"] is True
    for classes in (2, [0, 2]):  # its one score masked by the data's ids: all background, or the dropped kept
        kept = resolve(None, **FAST, single_cls=True, classes=classes, project=str(tmp_path), name="kept")[1]
        with pytest.raises(UserError, match=r"^teacher was trained with single_cls=True \(one class, 'item'\), so it "
                                            rf"cannot tell the classes that classes={re.escape(str(classes))} keeps "
                                            "from those it drops"):
            preflight(one, "yolo26n.yaml", synth_data, kept)
    for every in ([0, 1, 2], (0, 1, 2)):  # drops none: nothing to tell apart (classes=0,1,2 is a tuple)
        args = resolve(None, **FAST, single_cls=True, classes=every, project=str(tmp_path), name="every")[1]
        assert preflight(one, "yolo26n.yaml", synth_data, args).args["classes"] == every
    with pytest.raises(UserError, match=r"^teacher was trained with single_cls=True \(one class, 'item'\) and the data "
                                        "has 3: add single_cls=True"):  # not single_cls: refused, saying the fix
        preflight(one, "yolo26n.yaml", synth_data, resolve(None, **FAST, project=str(tmp_path), name="other")[1])
    face = save_checkpoint("yolo26s.yaml", tmp_path / "face.pt", names={0: "face"})  # another data's one class
    with pytest.raises(UserError, match="teacher has 1 class but the data has 3"):
        preflight(face, "yolo26n.yaml", synth_data, fresh)


def test_autobatch_profiles_the_teacher_s_pass_with_the_student_s(teacher26, synth_data, tmp_path, monkeypatch):
    """batch=-1: Ultralytics sized the batch by `model(images)`, which runs the student alone: a large teacher's
    activations, there at every step, were left out of the GPU memory it measured."""
    import ultralytics.engine.trainer as engine

    from yolodistill.model import detect_head

    calls = []

    def profile(model, **kw):
        heads = {"teacher": detect_head(model.pair.teacher_model), "student": detect_head(model.pair.student_model)}
        hooks = [h.register_forward_hook(lambda *a, who=who: calls.append(who)) for who, h in heads.items()]
        model(torch.zeros(2, 3, 64, 64))
        for hook in hooks:
            hook.remove()
        # what AutoBatch and, on a GPU, its profiler read of the model (names: the loss memory it adds)
        calls.append((model.yaml.get("channels", 3), len(model.stride.tolist()), len(model.names)))
        return 8

    monkeypatch.setattr(engine, "check_train_batch_size", profile)
    trainer = make_trainer(teacher26, synth_data, tmp_path, "auto", batch=-1)
    trainer.train()
    assert calls == ["teacher", "student", (3, 3, 3)] and trainer.batch_size == 8
    assert isinstance(unwrap_model(trainer.model), KDModel)  # the pair is back for training


def test_pt_student_is_distilled_with_every_term_live(teacher26, trained_student, synth_data, tmp_path):
    """A student the user already trained (.pt) keeps its weights and, with the default recipe (whose trained_student
    block gates the head terms by the labels) and the feature term on, learns from every distillation term: the loss
    columns are live, not the zeros of plain fine-tuning."""
    from ultralytics.nn.tasks import load_checkpoint

    own = load_checkpoint(trained_student)[0].model[0].conv.weight.clone()
    seen = {}
    trainer_cls = DistillationTrainer

    def capture(t):
        seen["first"] = unwrap_model(t.model).student_model.model[0].conv.weight.detach().clone()

    distill, args = resolve(None, student=str(trained_student), **{**FAST, "project": str(tmp_path), "name": "pt",
                                                                   "plots": True}, kd_feat=1.0)
    assert distill.kd_cls > 0 and distill.kd_box > 0 and distill.kd_gate  # the default recipe, for a .pt
    trainer = trainer_cls(overrides=preflight(teacher26, str(trained_student), synth_data, args).args, distill=distill)
    trainer.add_callback("on_train_start", capture)
    trainer.train()
    assert torch.equal(seen["first"], own.to(seen["first"].dtype))  # its own start, not the teacher's
    (row,) = rows(tmp_path / "pt" / "results.csv")
    for k in KD_TERMS:
        assert math.isfinite(row[f"train/{k}"]) and row[f"train/{k}"] > 0, k
    assert (tmp_path / "pt" / "results.png").is_file() and (tmp_path / "pt" / "distill.png").is_file()  # plots=True
    recipe = yaml.safe_load((tmp_path / "pt" / "distill.yaml").read_text())  # init_from_teacher true alone read as
    assert recipe["start"] == "own weights" and recipe["distill"]["init_from_teacher"] is True  # the teacher start


@pytest.mark.parametrize("student, extra, why", [
    ("own.pt", {}, "the student is a .pt, which keeps its own weights, so the teacher would never be used"),
    ("yolo26n.yaml", {"init_from_teacher": False}, "init_from_teacher is off, so no distillation term would use the "
                                                   "teacher \\(it would only rank the student's anchors"),  # LAD
    ("yolo26n.yaml", {"pretrained": "own.pt"}, "pretrained= gives the student its own weights, so the teacher would "
                                              "never be used"),  # its own weights: kd_assign student, as a .pt
])
def test_run_that_never_uses_its_teacher_is_refused(teacher26, synth_data, tmp_path, student, extra, why):
    from .conftest import save_checkpoint

    save_checkpoint("yolo26n.yaml", tmp_path / "own.pt")
    student = str(tmp_path / student) if student.endswith(".pt") else student
    extra = {k: str(tmp_path / v) if k == "pretrained" else v for k, v in extra.items()}
    with pytest.raises(UserError, match=f"every distillation weight .* is 0 and {why}"):
        train(teacher26, student, synth_data, project=tmp_path, name="noop", kd_cls=0, kd_box=0, kd_feat=0,
              **FAST, **extra)
    assert not (tmp_path / "noop").exists()  # refused before anything was written
    start_alone = resolve(None, kd_cls=0, kd_box=0, kd_feat=0)[0]
    check_recipe(start_alone, "yolo26n.yaml", {})  # the teacher start alone uses its teacher: allowed


@pytest.mark.parametrize("given", ["word", "config"])
def test_ultralytics_dis_weight_is_refused_as_train_never_reads_it(teacher26, synth_data, tmp_path, given):
    """dis= weighs Ultralytics' built-in distiller: train wrote it into args.yaml and trained exactly as without it,
    while compare's builtin method uses it."""
    (recipe := tmp_path / "rec.yaml").write_text("dis: 3.0\n")
    kwargs = {"dis": 3.0} if given == "word" else {"config": recipe}
    named = "dis=3.0" if given == "word" else f"dis: 3.0 in {re.escape(str(recipe))}"  # the file's key, as the CLI
    with pytest.raises(UserError, match=rf"^{named} weighs Ultralytics' built-in distiller.*--kd-cls, --kd-box"):
        train(teacher26, "yolo26n.yaml", synth_data, project=tmp_path, name="dis", **FAST, **kwargs)
    assert not (tmp_path / "dis").exists()


@pytest.mark.parametrize("fail_at, then", [  # each epoch's results.csv row is written before its checkpoints
    (1, "continue with: a new run (epoch 1 is in results.csv, but no checkpoint of it was saved)"),
    (3, "continue with (epoch 2 is in results.csv, but last.pt holds epoch 1: epoch 2 trains again): yolodistill "
        "train --resume")])
def test_a_full_disk_mid_run_is_one_line_saying_how_to_go_on(teacher26, synth_data, tmp_path, monkeypatch, fail_at,
                                                             then):
    """Ultralytics writes each checkpoint with Path.write_bytes, which on a full disk raises ENOSPC naming no file.
    Epoch 1 writes last.pt and best.pt; the third write is epoch 2's last.pt, and epoch 1's must stay resumable."""
    import errno

    write_bytes, writes = Path.write_bytes, []

    def full_disk(self, data):
        if self.name.endswith(".pt.partial"):
            writes.append(self.name)
            if len(writes) == fail_at:
                raise OSError(errno.ENOSPC, "No space left on device")
        return write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    result = CliRunner().invoke(app, ["train", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data",
                                      str(synth_data), "--imgsz", "64", "--epochs", "2", "--workers", "0",
                                      "--device", "cpu", "--project", str(tmp_path), "--name", "full"])
    run = tmp_path / "full"
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert f"Error: no space left on the device to write {run}: free some space and {then}" in " ".join(
        result.output.split())
    assert not list(run.glob("weights/.*.partial"))  # no half-written twin left to fill the disk
    if fail_at == 3:
        monkeypatch.undo()
        last = run / "weights" / "last.pt"
        assert torch.load(last, weights_only=False)["epoch"] == 0  # epoch 1's, whole, and resumable as the line says
        assert check_resume(last, {})[0]["resume"] == str(last)


def test_a_last_batch_of_one_at_a_small_size_is_one_line_and_leaves_no_folder(teacher26, tmp_path):
    """Ultralytics refuses it (BatchNorm gets one value per channel) with a ValueError once the run folder exists:
    a traceback, and a folder a rerun with the same --name was refused over. Four train images, batch 3: one left."""
    from yolodistill.data import make_synthetic

    data = make_synthetic(tmp_path / "d", images=6, imgsz=32)
    result = CliRunner().invoke(app, ["train", "--teacher", str(teacher26), "--student", "yolo26n.yaml", "--data",
                                      str(data), "--imgsz", "32", "--batch", "3", "--epochs", "1", "--workers", "0",
                                      "--device", "cpu", "--project", str(tmp_path), "--name", "one"])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "Error: final batch=1 training at imgsz=32 gives BatchNorm a single value per channel" in result.output
    assert not (tmp_path / "one").exists()


def test_schedule_applied_by_the_trainer_and_kd_ratio_on_backbone_does_not_grow(teacher26, synth_data, tmp_path):
    """Over a YOLO26 run Ultralytics' E2ELoss moves the one2many weight from 0.8 to 0.1, which made the KD/detection
    gradient ratio on the backbone grow 8 times. At each epoch start, on the trainer's own weights and one batch, the
    ratio at the trainer's one2many weight must equal the ratio at 0.8: the terms follow that weight. What is left
    is the student's own drift, which no weight can remove: head terms up to about 2 times here (with CWD features
    on, the adapters learning, up to 6 times); the cosine decay of the default recipe takes 10 times off."""
    from .test_model import make_batch

    trainer = make_trainer(teacher26, synth_data, tmp_path, "ratio", epochs=3, kd_feat=0.0, kd_warmup=0.0,
                           kd_schedule="constant", warmup_epochs=0, nbs=8)
    batch = make_batch(b=4, size=64)
    seen = []

    def ratio(model) -> float:
        backbone = [p for layer in model.student_model.model[:11] for p in layer.parameters()]
        loss, _ = model.loss(batch)
        norms = []
        for part in (loss[:3].sum(), loss[3:].sum()):
            grads = torch.autograd.grad(part, backbone, retain_graph=True, allow_unused=True)
            norms.append(sum(g.pow(2).sum() for g in grads if g is not None).sqrt().item())
        return norms[1] / norms[0]

    def measure(t):
        model = unwrap_model(t.model)
        now = {"ratio": ratio(model)}  # the first loss makes the criterion
        criterion = model.student_model.criterion
        now.update(o2m=criterion.o2m, scale=model.kd_scale)
        kept = criterion.o2m, criterion.o2o
        criterion.o2m, criterion.o2o = 0.8, 0.2  # the same weights, at the run's first one2many weight
        seen.append({**now, "at_start_weight": ratio(model)})
        criterion.o2m, criterion.o2o = kept

    trainer.add_callback("on_train_epoch_start", measure)
    trainer.train()
    assert [round(s["o2m"], 2) for s in seen] == [0.8, 0.45, 0.1]
    assert [s["scale"] for s in seen] == [1.0, 1.0, 1.0]
    print("KD/detection gradient ratio on the backbone by epoch:", seen)
    for s in seen:  # untied, the later epochs would read 0.8 / 0.45 and 0.8 / 0.1 times their start-weight ratio
        assert s["ratio"] == pytest.approx(s["at_start_weight"], rel=0.02), seen
    drift = [s["at_start_weight"] / seen[0]["at_start_weight"] for s in seen]
    assert max(drift) < 3.0, drift  # below the 8 times the weight change alone made

    cosine = make_trainer(teacher26, synth_data, tmp_path, "cosine", epochs=3, kd_feat=0.0, kd_warmup=1.0,
                          kd_schedule="cosine", kd_final=0.2)
    scales = []
    cosine.add_callback("on_train_epoch_end", lambda t: scales.append(unwrap_model(t.model).kd_scale))
    cosine.train()
    assert scales == pytest.approx([0.5 * 1.0, 1.0 * 0.6, 1.0 * 0.2])  # warm-up x cosine from 1 to 0.2


def test_balance_epoch_measures_again_at_every_epoch_start(teacher26, synth_data, tmp_path):
    """kd_balance epoch holds each term's pull through the run: the trainer measures it again on the first batches
    of every epoch (auto measures the first epoch's alone), and each epoch's last.pt carries the multipliers in
    force, which a resume takes up."""
    trainer = make_trainer(teacher26, synth_data, tmp_path, "hold", epochs=2, kd_balance="epoch")
    measured, multipliers = [], []

    def count(t):
        balance = unwrap_model(t.model).balance
        if not measured:
            update = balance.update
            balance.update = lambda *a, **k: (measured.__setitem__(-1, measured[-1] + 1), update(*a, **k))
        measured.append(0)

    trainer.add_callback("on_train_epoch_start", count)
    trainer.add_callback("on_train_epoch_end", lambda t: multipliers.append(dict(unwrap_model(t.model).balance.multipliers)))
    saved = []  # last.pt's, at each epoch's save (the finished run's is stripped to the student)
    trainer.add_callback("on_model_save", lambda t: saved.append(torch.load(t.last, weights_only=False)["ema"].yolodistill_balance))
    trainer.train()
    batches = min(MEASURED["epoch"], len(trainer.train_loader))
    assert measured == [batches, batches], measured
    assert set(multipliers[0]) == set(KD_TERMS) and multipliers[0] != multipliers[1]
    assert saved == [pytest.approx(m) for m in multipliers]


def test_the_balance_measures_at_the_trainer_s_loss_scale(teacher26, synth_data, tmp_path):
    """Under fp16 AMP Ultralytics scales the loss before backward; the balance's own backward passes must use the
    same scale or small terms underflow. CPU trains without a scaler, so the test gives the trainer an enabled one."""
    trainer = make_trainer(teacher26, synth_data, tmp_path, "scaled", epochs=1, kd_balance="auto")
    scales = []

    def scaled(t):
        t.scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
        balance = unwrap_model(t.model).balance
        update = balance.update
        balance.update = lambda *a, **k: (scales.append(k.get("scale")), update(*a, **k))

    trainer.add_callback("on_train_start", scaled)
    trainer.train()
    assert scales and all(s == 1024.0 for s in scales), scales
    multipliers = unwrap_model(trainer.model).balance.multipliers
    assert multipliers and all(math.isfinite(m) and m > 0 for m in multipliers.values())


def test_the_balance_says_its_multipliers_and_warns_of_one_at_its_bound(teacher26, synth_data, tmp_path):
    """kd_balance auto set its multipliers in silence, and one held at its 1e3 bound (a term a thousandth as strong
    as the detection loss or weaker) pulled less than its weight said."""
    from .conftest import logged_by_ultralytics

    trainer = make_trainer(teacher26, synth_data, tmp_path, "told", epochs=2, kd_balance="auto")

    def weak_feat(t):  # a feature term whose gradient is a millionth of what it was: its multiplier would be ~1e6
        update = unwrap_model(t.model).balance.update
        unwrap_model(t.model).balance.update = lambda det, terms, *a, **k: update(
            det, {**terms, "kd_feat": terms["kd_feat"] * 1e-6}, *a, **k)

    trainer.add_callback("on_train_start", weak_feat)
    with logged_by_ultralytics() as logged:
        trainer.train()
    told = [m for m in logged if "kd_balance auto" in m]
    assert len(told) == 2, told  # the multipliers once (not at every epoch end), the bound once
    multipliers = unwrap_model(trainer.model).balance.multipliers
    assert all(f"{k} x{m:.3g}" in told[0] for k, m in multipliers.items())
    named = told[1].split("kd_balance auto: ")[1].split(" held at")[0].split(", ")
    assert "kd_feat" in named and set(named) == {k for k, m in multipliers.items() if m == 1e3}, (named, multipliers)


def test_balance_cap_measures_the_backbone_on_schedule_and_saves_its_state(teacher26, synth_data, tmp_path):
    """kd_balance cap measures the first 5 training batches, then every 10th, through epochs (its count does not
    restart), and each epoch's last.pt carries its state, from which a resumed run's balance carries on."""
    from yolodistill.balance import BackboneCap

    trainer = make_trainer(teacher26, synth_data, tmp_path, "cap", epochs=2, kd_balance="cap")
    saved, factors = [], []
    trainer.add_callback("on_model_save", lambda t: saved.append(torch.load(t.last, weights_only=False)["ema"].yolodistill_balance))
    trainer.add_callback("on_train_epoch_end", lambda t: factors.append(unwrap_model(t.model).balance.factor))
    trainer.train()
    n = len(trainer.train_loader)
    measured = [sum(1 for i in range(1, calls + 1) if i <= 5 or i % 10 == 0) for calls in (n, 2 * n)]
    assert [s["calls"] for s in saved] == [n, 2 * n] and [s["seen"] for s in saved] == measured
    assert [s["factor"] for s in saved] == factors and all(0 < f <= 1 for f in factors)
    assert saved[0]["reference_det"] > 0 and saved[0]["reference_kd"] > 0
    resumed = BackboneCap({"kd_cls": 1.0}, state=saved[0])
    assert resumed.calls == n and resumed.factor == factors[0] and resumed.measuring == (measured[0] < 5)


def test_a_nan_rollback_takes_the_balance_back_to_last_pt(teacher26, synth_data, tmp_path, monkeypatch):
    """Ultralytics answers a NaN loss by reloading last.pt and running the epoch again: the balance goes back with
    the weights, or the discarded epoch's measurements, the bad batch among them, would stay in force."""
    from yolodistill import model as model_module

    trainer = make_trainer(teacher26, synth_data, tmp_path, "nan", epochs=2, kd_balance="cap")
    terms, calls, fired, saved, starts = model_module.KDModel.distill_terms, [], [], [], []

    def poisoned(self, *args):  # the last batch of the second epoch (the first cannot be recovered), whose loss
        out = terms(self, *args)  # Ultralytics checks at the epoch's end
        calls.append(trainer.epoch)
        if calls.count(1) == len(trainer.train_loader) and not fired:
            fired.append(trainer.epoch)
            out["kd_cls"] = out["kd_cls"] * float("nan")
        return out

    monkeypatch.setattr(model_module.KDModel, "distill_terms", poisoned)
    trainer.add_callback("on_model_save", lambda t: saved.append(torch.load(t.last, weights_only=False)["ema"].yolodistill_balance))
    trainer.add_callback("on_train_epoch_start", lambda t: starts.append(unwrap_model(t.model).balance.state()))
    trainer.train()
    assert fired == [1] and len(starts) == 3  # epoch 0, epoch 1, epoch 1 again after the rollback
    assert starts[2] == saved[0] and starts[2]["calls"] == len(trainer.train_loader)


def test_ddp_settings_reach_the_workers_environment_through_train(teacher26, synth_data, tmp_path, monkeypatch):
    """DistillationTrainer.train() itself puts the settings where Ultralytics' DDP command inherits them."""
    from yolodistill import ddp

    trainer = make_trainer(teacher26, synth_data, tmp_path, "ddp", kd_cls=0.3, feat_loss="mgd")
    trainer.ddp, trainer.world_size = True, 2
    launched = {}

    def fake_run(cmd):
        launched.update(cmd=cmd, settings=os.environ.get(SETTINGS_ENV), entry=Path(cmd[-1]).is_file())

    monkeypatch.delenv(SETTINGS_ENV, raising=False)
    monkeypatch.setattr(ddp, "supervised", fake_run)
    trainer.train()
    assert "torch.distributed.run" in " ".join(launched["cmd"]) and launched["entry"]
    assert not Path(launched["cmd"][-1]).exists()  # the entry file removed after the launch, as Ultralytics does
    assert json.loads(launched["settings"]) == trainer.distill.to_dict()
    assert SETTINGS_ENV not in os.environ  # a later trainer in this process would take them for its own


def test_a_worker_s_full_disk_keeps_its_exit_status(teacher26, synth_data, tmp_path, monkeypatch):
    """A worker's refusal is said by the launching process: a full disk came back as bad input (exit status 2)."""
    from yolodistill import ddp
    from yolodistill.errors import DiskFull

    trainer = make_trainer(teacher26, synth_data, tmp_path, "full")
    trainer.ddp, trainer.world_size = True, 2

    def out_of_space():
        raise DiskFull("no space left on the device to write x")

    def worker_out_of_space(cmd):
        with pytest.raises(SystemExit) as stopped:
            ddp.in_worker(out_of_space)
        raise subprocess.CalledProcessError(stopped.value.code, cmd)

    monkeypatch.setattr(ddp, "supervised", worker_out_of_space)
    with pytest.raises(DiskFull, match="^no space left on the device to write x$") as e:
        trainer.train()
    assert e.value.exit_code == 1 and not list((tmp_path / "full").glob(".ddp-refusal*"))


def test_numpy_values_from_a_sweep_train(teacher26, synth_data, tmp_path):
    """np.float64 passed the checks, then yaml refused it writing distill.yaml: a traceback, the run folder left."""
    import numpy as np

    result = train(teacher26, "yolo26n.yaml", synth_data, project=tmp_path / "日本", name="np", kd_cls=np.float64(0.5),
                   **{**FAST, "epochs": np.int64(1), "lr0": np.float64(0.02), "optimizer": "SGD"})
    assert yaml.safe_load((result.save_dir / "distill.yaml").read_text())["distill"]["kd_cls"] == 0.5
    assert "/日本\n" in (result.save_dir / "distill.yaml").read_text(encoding="utf-8")  # as written, not \u65E5\u672C
    assert yaml.safe_load((result.save_dir / "args.yaml").read_text())["lr0"] == 0.02 and result.best.is_file()


def emulated_ddp(monkeypatch) -> list[list[str]]:
    """Several GPUs on this machine: the trainer takes Ultralytics' DDP branch (what --device 0,1 sets there), and its
    launch of torch.distributed.run runs the generated entry file once, as rank 0 of a one-process gloo group."""
    from yolodistill import ddp

    launched, train_ = [], DistillationTrainer.train

    def as_ddp(self):
        self.ddp, self.world_size = True, 2
        return train_(self)

    def run(cmd):
        launched.append(cmd)
        group = ("import sys, torch.distributed as dist; dist.init_process_group('gloo', init_method='tcp://127.0.0.1:"
                 f"{cmd[cmd.index('--master_port') + 1]}', rank=0, world_size=1); "
                 "import ultralytics.engine.validator as v; v.RANK = -1; "  # its device: the args', not a CUDA rank's
                 "exec(open(sys.argv[1]).read(), {'__name__': '__main__'})")
        subprocess.run([sys.executable, "-c", group, cmd[-1]], check=True, timeout=600,
                       env={**os.environ, "RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2"})

    monkeypatch.setattr(DistillationTrainer, "train", as_ddp)
    monkeypatch.setattr(ddp, "supervised", run)
    return launched


def test_a_ddp_run_keeps_the_exist_ok_folder_and_returns_its_metrics(teacher26, synth_data, tmp_path, monkeypatch):
    """Ultralytics' DDP launch removed the run folder whole: --exist-ok's files were lost (with --name ., the
    project), where one device keeps them. Its launching process gets no metrics: train() returned {}."""
    from yolodistill.resume import best_epoch_metrics

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "NOTES.txt").write_text("mine")
    launched = emulated_ddp(monkeypatch)
    result = train(teacher26, "yolo26n.yaml", synth_data, project=tmp_path, name="run", exist_ok=True, **FAST)
    assert len(launched) == 1 and (tmp_path / "run" / "NOTES.txt").read_text() == "mine"
    assert result.best.is_file() and result.metrics == best_epoch_metrics(tmp_path / "run" / "results.csv")
    assert result.metrics["metrics/mAP50-95(B)"] >= 0 and SETTINGS_ENV not in os.environ
    assert "YOLODISTILL_REFUSAL" not in os.environ and not list((tmp_path / "run").glob(".ddp-refusal"))


def test_a_refusal_a_ddp_worker_finds_is_one_line_and_leaves_no_run(teacher26, synth_data, tmp_path, monkeypatch):
    """A split only Ultralytics' loader refuses is found in the workers: two tracebacks (the worker's UserError,
    then the launch's CalledProcessError), exit 1 and the run folder left, where one device says one line."""
    data = unusable_val_split(synth_data, tmp_path / "mine")
    launched = emulated_ddp(monkeypatch)
    with pytest.raises(UserError, match="No valid images found.*data convert") as e:
        train(teacher26, "yolo26n.yaml", data, project=tmp_path, name="run", **FAST)
    assert len(launched) == 1 and "\n" not in str(e.value) and not (tmp_path / "run").exists()


PORTABLE_CHECK = """
import sys
sys.modules["yolodistill"] = None  # yolodistill is not installed here: any reference to it fails to import
from ultralytics import YOLO
for w in sys.argv[2:]:
    assert type(YOLO(w).model).__module__.startswith("ultralytics"), w
    m = YOLO(w).val(data=sys.argv[1], imgsz=64, batch=8, device="cpu", plots=False, verbose=False)
    assert 0 <= m.box.map <= 1
    YOLO(w).predict(sys.argv[1].replace("data.yaml", "images/val"), imgsz=64, verbose=False)
    print("EXPORTED", YOLO(w).export(format="onnx", imgsz=64))
"""


def test_checkpoints_are_plain_ultralytics(teacher26, synth_data, tmp_path):
    """best.pt, last.pt and a mid-training last.pt load, validate, predict and export without yolodistill."""
    # nbs=batch and no warm-up, so that each of the few batches is an optimizer step with a non-zero lr
    trainer = make_trainer(teacher26, synth_data, tmp_path, "run", epochs=2, feat_loss="mgd", nbs=8, warmup_epochs=0)
    mid = tmp_path / "mid.pt"
    start = {}

    def at_start(t):
        start["optimized"] = {id(p) for g in t.optimizer.param_groups for p in g["params"]}
        start["projector"] = {k: v.clone() for k, v in unwrap_model(t.model).projector.state_dict().items()}

    trainer.add_callback("on_train_start", at_start)
    trainer.add_callback("on_model_save", lambda t: t.epoch == 0 and mid.write_bytes(t.last.read_bytes()))
    trainer.train()
    projector = unwrap_model(trainer.model).projector  # adapters are optimized and move, generator included
    assert all(id(p) in start["optimized"] for p in projector.parameters())
    moved = [k for k, v in projector.state_dict().items() if not torch.equal(v, start["projector"][k])]
    assert any("align" in k for k in moved) and any("generator" in k for k in moved), (moved, list(start["projector"]))
    weights = [trainer.best, trainer.last, mid]
    out = subprocess.run([PYTHON, "-c", PORTABLE_CHECK, str(synth_data), *map(str, weights)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("EXPORTED") == 3
    ckpt = torch.load(mid, map_location="cpu", weights_only=False)
    assert ckpt["ema"].yolodistill["feat_loss"] == "mgd"  # the mid-run checkpoint carries its settings


def test_resume_restores_teacher_settings_and_adapters(teacher26, synth_data, tmp_path):
    first = make_trainer(teacher26, synth_data, tmp_path, "run", epochs=2, kd_cls=0.5, feat_loss="l2")
    first.add_callback("on_model_save", interrupt_after_first_epoch)
    with pytest.raises(Interrupt):
        first.train()
    last = tmp_path / "run" / "weights" / "last.pt"
    saved = torch.load(last, map_location="cpu", weights_only=False)
    with pytest.raises(UserError, match="cannot change kd_cls"):
        check_resume(last, {"kd_cls": 0.2})
    with pytest.raises(UserError, match="unknown setting.s. lr00: use a distillation key"):  # was 'cannot change'
        check_resume(last, {"lr00": 0.01})
    args, distill, _ = check_resume(last, {"workers": 0})
    assert distill.kd_cls == 0.5 and distill.feat_loss == "l2"
    seen = {}

    def capture(t):
        model = unwrap_model(t.model)
        seen.update(model=model, projector={k: v.clone() for k, v in model.projector.state_dict().items()})

    resumed = DistillationTrainer(overrides=args, distill=distill)
    resumed.add_callback("on_train_start", capture)
    resumed.train()
    assert isinstance(seen["model"], KDModel) and seen["model"].teacher_model is not None
    assert seen["model"].settings.kd_cls == 0.5
    for k, v in saved["ema"].projector.state_dict().items():
        torch.testing.assert_close(seen["projector"][k], v.float())
    epochs = [r["epoch"] for r in rows(tmp_path / "run" / "results.csv")]
    assert epochs == [1, 2]  # finished at the planned epoch, not one more
    with pytest.raises(UserError, match="from a finished run"):  # stripped to a plain checkpoint, still ours
        check_resume(last, {})


@pytest.mark.parametrize("name", ["last.pt", "best.pt"])
def test_a_mid_run_checkpoint_is_a_student_of_its_own(name, interrupted_last, teacher26, synth_data, tmp_path):
    """An interrupted run's best.pt or last.pt holds the distillation wrapper; as --student it was a state-dict
    traceback (Ultralytics rebuilt the old wrapper and loaded our adapters into its projector)."""
    from ultralytics.nn.tasks import DetectionModel, load_checkpoint

    student = interrupted_last.with_name(name)
    result = train(teacher=teacher26, student=student, data=synth_data, epochs=1, imgsz=64, batch=8, workers=0,
                   device="cpu", project=str(tmp_path), name="again", plots=False, val=False)
    weights, _ = load_checkpoint(result.best)
    assert type(weights) is DetectionModel and weights.names == load_checkpoint(student)[0].names
    saved = yaml.safe_load((result.save_dir / "distill.yaml").read_text())["distill"]
    assert saved["kd_gate"] and saved["kd_assign"] == "student"  # the recipe for a student with its own weights


def test_pretrained_false_starts_a_mid_run_student_from_random_weights(interrupted_last, teacher26, synth_data,
                                                                     tmp_path):
    """pretrained=False means a random start in Ultralytics, for a mid-run checkpoint as for any .pt student; and
    pretrained=PATH of a mid-run checkpoint gives a yaml student that checkpoint's student weights."""
    from ultralytics.nn.tasks import load_checkpoint

    saved = next(load_checkpoint(interrupted_last)[0].student_model.parameters()).float()
    for pretrained, same in ((True, True), (False, False)):
        distill, args = resolve(None, student=str(interrupted_last), **{**FAST, "project": str(tmp_path),
                                                                        "name": f"p{pretrained}", "pretrained": pretrained})
        plan = preflight(teacher26, str(interrupted_last), synth_data, args)
        trainer = DistillationTrainer(overrides=plan.args, distill=distill, teacher=plan.teacher)
        trainer.setup_model()
        assert torch.equal(next(trainer.model.parameters()).float(), saved) is same, pretrained
    # pretrained= the same checkpoint for a yaml student: its student's weights (was a state-dict traceback)
    distill, args = resolve(None, student="yolo26n.yaml", **{**FAST, "project": str(tmp_path), "name": "pyaml",
                                                            "pretrained": str(interrupted_last)})
    plan = preflight(teacher26, "yolo26n.yaml", synth_data, args)
    trainer = DistillationTrainer(overrides=plan.args, distill=distill, teacher=plan.teacher)
    assert trainer.setup_model() is None
    assert type(trainer.model).__name__ == "DetectionModel" and torch.equal(next(trainer.model.parameters()).float(), saved)


def test_ddp_entry_rebuilds_identical_configuration(teacher26, synth_data, tmp_path):
    """Ultralytics' generated DDP entry rebuilds our trainer class with our settings in a fresh process."""
    from ultralytics.utils.dist import generate_ddp_file

    trainer = make_trainer(teacher26, synth_data, tmp_path, "run", kd_cls=0.3, kd_feat=2.0, feat_loss="mgd",
                           temperature=3.0)
    entry = Path(generate_ddp_file(trainer))
    try:
        script = entry.read_text()
        assert "trainer.train()" in script
        probe = ("import json; print('ROUNDTRIP=' + json.dumps({'cls': type(trainer).__name__, "
                 "'distill': trainer.distill.to_dict(), 'teacher': trainer.args.distill_model, "
                 "'data': trainer.args.data}))")
        probe_file = tmp_path / "entry.py"
        probe_file.write_text(script.replace("trainer.train()", probe))
        env = {**os.environ, **environment(trainer.distill)}
        out = subprocess.run([sys.executable, str(probe_file)], capture_output=True, text=True, env=env, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        line = next(x for x in out.stdout.splitlines() if x.startswith("ROUNDTRIP="))
        got = json.loads(line.split("=", 1)[1])
        assert got == {
            "cls": "DistillationTrainer",
            "distill": trainer.distill.to_dict(),
            "teacher": trainer.args.distill_model,
            "data": trainer.args.data,
        }
        # without the environment the worker refuses to train with default settings by accident
        bare = {k: v for k, v in os.environ.items() if k != "YOLODISTILL_SETTINGS"}
        out = subprocess.run([sys.executable, str(probe_file)], capture_output=True, text=True, env=bare, timeout=300)
        assert out.returncode != 0 and "no distillation settings" in out.stderr
    finally:
        entry.unlink(missing_ok=True)
        entry.with_suffix(".pt").unlink(missing_ok=True)


def test_adapters_are_fitted_alone_before_the_first_epoch(teacher26, synth_data, tmp_path):
    """kd_prefit: the adapters train for that many batches before the first epoch, the student untouched; the EMA
    (what checkpoints hold) starts from the fitted adapters."""
    trainer = make_trainer(teacher26, synth_data, tmp_path, "prefit", kd_prefit=4)
    seen = {}

    def snapshot(t, key):
        m = unwrap_model(t.model)
        seen[key] = ([p.detach().clone() for p in m.projector.parameters()],
                     {k: v.clone() for k, v in m.student_model.state_dict().items()})

    trainer.callbacks["on_pretrain_routine_end"].insert(0, lambda t: snapshot(t, "fresh"))
    trainer.add_callback("on_train_start", lambda t: snapshot(t, "fitted"))
    trainer.add_callback("on_train_start",
                         lambda t: seen.update(ema=[p.detach().clone() for p in t.ema.ema.projector.parameters()]))
    trainer.train()
    (fresh, student), (fitted, student_after) = seen["fresh"], seen["fitted"]
    assert any(not torch.equal(a, b) for a, b in zip(fresh, fitted))
    assert all(torch.equal(v, student_after[k]) for k, v in student.items())
    assert all(torch.equal(a, b.to(a.dtype)) for a, b in zip(fitted, seen["ema"]))


def test_the_teacher_s_freezing_is_one_line_not_one_per_tensor(teacher26, synth_data, tmp_path):
    """Ultralytics logs 'Freezing layer' for each teacher tensor, hundreds of lines before the first epoch; the lines of
    the student's own layers that freeze= names still print, one each, and are not counted as the teacher's."""
    import logging

    from ultralytics.utils import LOGGER

    trainer = make_trainer(teacher26, synth_data, tmp_path, "frozen", freeze=1)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    LOGGER.addHandler(handler)
    try:
        trainer._setup_train()
    finally:
        LOGGER.removeHandler(handler)
    lines = [r.getMessage() for r in records]
    teacher = unwrap_model(trainer.model).teacher_model
    assert not [m for m in lines if m.startswith("Freezing layer 'teacher_model.")]
    student_lines = [m for m in lines if m.startswith("Freezing layer 'student_model.model.0.")]
    assert len(student_lines) == len(list(unwrap_model(trainer.model).student_model.model[0].parameters()))
    assert f"Teacher frozen: {len(list(teacher.parameters()))} tensors (teacher_model.*)" in lines
    assert not any(p.requires_grad for p in teacher.parameters())
    assert LOGGER.filters == []  # the folding ends with the setup: later lines print


def test_a_ctrl_c_that_a_plot_swallowed_still_stops_the_run(teacher26, synth_data, tmp_path, monkeypatch):
    """Ultralytics plots the labels under @TryExcept, which swallows KeyboardInterrupt: the run used to train on."""
    import signal

    from ultralytics.utils import TryExcept

    from yolodistill.resume import TrainingInterrupted

    @TryExcept(verbose=False)
    def pressed_while_plotting(self):
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(DistillationTrainer, "plot_training_labels", pressed_while_plotting)
    with pytest.raises(TrainingInterrupted):
        train(teacher26, "yolo26n.yaml", synth_data, project=tmp_path, name="run", **{**FAST, "plots": True})
    assert not (tmp_path / "run" / "results.csv").exists()  # stopped before its first epoch
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_cap_with_the_whole_backbone_frozen_says_it_caps_nothing(teacher26, synth_data, tmp_path):
    """freeze= of every backbone layer left kd_balance cap nothing to measure: the run equalled one without it,
    silently."""
    from .conftest import logged_by_ultralytics

    for freeze, expected in ((11, True), (3, False)):  # yolo26n's backbone is layers 0-10
        trainer = make_trainer(teacher26, synth_data, tmp_path, f"f{freeze}", kd_balance="cap", freeze=freeze)
        with logged_by_ultralytics() as logged:
            trainer.train()
        assert any("kd_balance cap has nothing to cap" in m for m in logged) is expected, freeze


@pytest.mark.parametrize("kw, message", [({"teacher": ["T"]}, "--teacher must be the path of a file, got ['T']"),
                                        # its printout of 752 lines was the "one line"
                                        ({"teacher": "YOLO"}, "--teacher must be the path of a file, got a YOLO object"),
                                        # an OSError from the first stat(), where the command printed one line
                                        ({"name": "n" * 300}, "is too long for the filesystem"),
                                        ({"student": ["yolo26n.yaml"]}, "--student must be the path of a file"),
                                        ({"name": ["a"]}, "--name must be a folder name, got ['a']"),  # "apostrophe"
                                        ({"name": [1]}, "--name must be a folder name, got [1]")])  # made [1]/
def test_python_values_the_command_line_cannot_give_are_one_line(kw, message, teacher26, synth_data, tmp_path):
    if kw.get("teacher") == "YOLO":
        from ultralytics import YOLO

        kw = {"teacher": YOLO(teacher26)}
    with pytest.raises(UserError, match=re.escape(message)) as e:
        train(**{"teacher": teacher26, "student": "yolo26n.yaml", "data": synth_data, "project": tmp_path, **FAST, **kw})
    assert list(tmp_path.iterdir()) == [] and len(str(e.value)) < 300


def test_a_trainer_built_without_a_teacher_is_refused_as_bad_input(synth_data, tmp_path):
    """The trainer built from Python (not through train()) without distill_model=: one line saying what to pass, not
    a traceback from deep in the model's setup."""
    from yolodistill.config import DistillConfig

    args = {**FAST, "model": "yolo26n.yaml", "data": str(synth_data), "project": str(tmp_path), "name": "alone"}
    with pytest.raises(UserError, match="no teacher: pass --teacher PATH.pt"):
        DistillationTrainer(overrides=args, distill=DistillConfig())
    assert not (tmp_path / "alone").exists()  # the folder Ultralytics made: a retry of that name went to alone2
    from ultralytics import YOLO

    with pytest.raises(UserError, match="^no distillation settings: start runs with yolodistill train"):
        YOLO("yolo26n.yaml").train(trainer=DistillationTrainer, distill_model="t.pt", **args)
    assert list(tmp_path.iterdir()) == []
    (mine := tmp_path / "mine").mkdir()  # exist_ok=True into a folder of the user's: kept, whatever it holds
    (mine / "distill.yaml").write_text("kd_cls: 2.0  # my tuned recipe\n")
    with pytest.raises(UserError, match="^no distillation settings"):
        YOLO("yolo26n.yaml").train(trainer=DistillationTrainer, **{**args, "name": "mine", "exist_ok": True})
    assert (mine / "distill.yaml").read_text() == "kd_cls: 2.0  # my tuned recipe\n"


def test_optimizer_auto_counts_a_mixed_run_s_steps_from_its_batches(teacher26, synth_data, tmp_path, monkeypatch):
    """optimizer=auto picks by the run's optimizer steps, which Ultralytics counts from the dataset's length; a mixed
    dataset also holds the unlabelled images, so the trainer counts them from the batches, nbs images a step."""
    import dataclasses

    from ultralytics.models.yolo.detect import DetectionTrainer

    seen = []
    monkeypatch.setattr(DetectionTrainer, "build_optimizer",
                        lambda self, model, name, lr, momentum, decay, iterations: seen.append(iterations))
    trainer = make_trainer(teacher26, synth_data, tmp_path, "mixed", epochs=3, batch=8, nbs=64)
    trainer.train_loader = range(50)  # 50 batches of labelled and unlabelled images
    trainer.distill = dataclasses.replace(trainer.distill, unlabeled=["footage"])
    trainer.build_optimizer(None, iterations=1e5)
    assert seen == [21]  # 50 batches of 8 is 400 images, 7 steps of nbs 64 (Ultralytics' rule), over 3 epochs
    trainer.distill = dataclasses.replace(trainer.distill, unlabeled=[])  # labelled only: Ultralytics' own count
    trainer.build_optimizer(None, iterations=123)
    assert seen[1] == 123


def test_a_resume_takes_a_whole_number_written_as_a_float(monkeypatch):
    """--resume's --batch 8.0, imgsz=64.0 reach check_resume, which refused them as 'must be a whole number'."""
    import yolodistill.resume

    seen = {}

    def stop(resume, overrides):
        seen.update(overrides)
        raise UserError("stop here")

    monkeypatch.setattr(yolodistill.resume, "check_resume", stop)
    with pytest.raises(UserError, match="stop here"):
        train(resume="run/weights/last.pt", batch=8.0, imgsz=64.0, workers=2.0, lr0=1.0)
    assert {k: (v, type(v)) for k, v in seen.items()} == {"batch": (8, int), "imgsz": (64, int), "workers": (2, int),
                                                          "lr0": (1.0, float)}


def test_results_csv_keeps_a_small_distillation_term_and_ultralytics_own_rounding():
    """Rounded to 5 decimals as Ultralytics rounds its losses, a term pulling at 1.3e-6 was 0 in results.csv and
    distill.png, read as off; Ultralytics' own columns keep its rounding."""
    trainer = DistillationTrainer.__new__(DistillationTrainer)  # label_loss_items reads loss_names alone
    trainer.loss_names = ("box_loss", "kd_cls", "kd_cls_u")
    items = {"box_loss": torch.tensor(1.234567891), "kd_cls": torch.tensor(1.316e-06), "kd_cls_u": torch.tensor(6.25e-6)}
    assert trainer.label_loss_items(items) == {"train/box_loss": 1.23457, "train/kd_cls": 1.316e-06,
                                               "train/kd_cls_u": 6.25e-06}
    assert trainer.label_loss_items(None, prefix="val") == ["val/box_loss", "val/kd_cls", "val/kd_cls_u"]
