"""The options train and compare share, defined once as data: a flag added here appears in both commands with the
same help (tests/test_cli.py holds them equal); each command adds its own (TRAIN_ONLY, COMPARE_ONLY)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

from .words import Opt, opt


def inputs(resume: bool) -> tuple[Opt, ...]:
    """--teacher, --student and --data; train's help says what each means with --resume, which compare lacks."""
    moved = lambda what: f" (with --resume: only where the run's {what} moved)" if resume else ""  # noqa: E731
    return (
        opt("teacher", Optional[str], "Teacher checkpoint (.pt path, an official name such as yolo26x.pt, or a URL "
            f"you trust). Frozen during training. Required{moved('teacher')}."),
        opt("student", Optional[str], "Student model: a .yaml (started from the teacher's weights, see "
            f"--init-from-teacher) or a .pt to fine-tune. Required{' (not with --resume)' if resume else ''}."),
        opt("data", Optional[str], "Dataset yaml in Ultralytics format (train/val paths and names); check or "
            f"convert yours with yolodistill data convert. Required{moved('data')}."),
    )


RUN_OPTIONS = (
    opt("epochs", Optional[int], "Epochs to train. [default: from the config, 100]"),
    opt("imgsz", Optional[int], "Train and val image size in pixels, a multiple of 32. [default: from the config, "
        "640]"),
    opt("batch", Optional[float], "Batch size; in train -1 for AutoBatch at 60 % of GPU memory, or a fraction such "
        "as 0.7 for AutoBatch at that share, on one GPU (compare refuses AutoBatch: it would pick each method's own); "
        "with several GPUs a multiple of their count, split among them. [default: from the config, 16]"),
    opt("device", Optional[str], "Device: cpu, mps, 0, or 0,1 for multi-GPU DDP; auto: Ultralytics' choice (a GPU "
        "if there is one); checked against this machine's GPUs. [default: auto]"),
    opt("workers", Optional[int], "Dataloader workers per rank. [default: 8]"),
    opt("project", Optional[str], "Parent folder of the runs. [default: runs/distill for train, runs/compare for "
        "compare]"),
    opt("name", Optional[str], "Folder name under --project. [default: exp, exp-2, ...]"),
    opt("exist_ok", bool, "Write into an existing folder instead of a new one: train replaces the weights, "
        "results.csv and the plots it makes there (with a warning); compare keeps the runs whose settings match and "
        "trains the rest.", "--exist-ok", default=False),
    opt("config", Optional[Path], "Recipe yaml, or a shipped recipe's name: default, features-l2, full or logits (a "
        "run's distill.yaml gives that run's distillation settings): its distillation keys set the distilled run, its "
        "Ultralytics args every run; flags override it, it overrides the default recipe."),
)
DISTILL_OPTIONS = (
    opt("kd_cls", Optional[float], "Weight of class-score distillation on every anchor, background included; 1 pulls "
        "about as hard as Ultralytics' class loss (0 turns it off). [default: from the recipe, 1]"),
    opt("kd_box", Optional[float], "Weight of box distillation on the student's positives (and, by --kd-box-ring, "
        "on the anchors around them): CIoU to the teacher's box, plus DFL-bin KL for DFL heads; 1 pulls like "
        "Ultralytics' box loss. [default: from the recipe, 1]"),
    opt("kd_feat", Optional[float], "Weight of neck-feature distillation through adapters, calibrated so 1 pulls "
        "about like the detection loss for every --feat-loss. [default: from the recipe, 0]"),
    opt("temperature", Optional[float], "Temperature of the KL between DFL bin distributions: kd_box's where teacher "
        "and student both have DFL heads (YOLO11, YOLOv8), --feat-loss cross's with a DFL teacher; refused where no "
        "term has them (a YOLO26 pair). [default: 2]"),
    opt("feat_loss", Optional[str], "Feature loss: l2 (Ultralytics score-weighted L2), cwd, mgd, or cross (CrossKD: "
        "student features through the teacher's head). [default: cwd]"),
    opt("kd_warmup", Optional[float], "Epochs over which the distillation weights ramp up linearly, from 1/(E+1) "
        "of their value in the first epoch to all of it (by the last epoch at the latest); 0 = none. [default: 1]"),
    opt("kd_schedule", Optional[str], "Decay of the distillation weights over the run: constant, linear or cosine "
        "(to --kd-final). [default: cosine]"),
    opt("kd_final", Optional[float], "Share of the distillation weights left at the last epoch under a linear or "
        "cosine --kd-schedule. [default: 0.1]"),
    opt("kd_balance", Optional[str], "fixed: the weights as given; auto: scale each term from its gradient on the "
        "first 10 batches so weight 1 pulls as hard as the detection loss; epoch: the same, measured again on the "
        "first 5 batches of every epoch, so each term's pull on the neck holds through the run; cap: the weights "
        "as given, their sum's pull on the backbone capped at its ratio to the detection loss's over the first 5 "
        "batches (measured again every 10th batch). [default: fixed]"),
    opt("kd_assign", Optional[str], "Whose predictions rank anchors in the student's label assigner: student "
        "(Ultralytics) or teacher (label assignment distillation; on YOLO26 the one-to-many branch's assigner, and "
        "the one-to-one's too with --kd-one2one). [default: teacher, or student for a student "
        "with weights of its own (.pt)]"),
    opt("kd_one2one", Optional[bool], "Also distill YOLO26's one-to-one branch (validation uses one-to-many). "
        "[default: off]", "--kd-one2one/--no-kd-one2one"),
    opt("kd_gate", Optional[bool], "Teacher-bounded distillation: the class term only where the teacher's score is "
        "closer to the label's than the student's, the box term only on positives where the teacher's box fits the "
        "label's better (no ring), so the terms never pull against the labels. [default: off, or on for a student "
        "with weights of its own (.pt)]", "--kd-gate/--no-kd-gate"),
    opt("kd_box_ring", Optional[float], "Box-distillation weight of anchors inside a ground-truth box that the "
        "assigner did not pick, times the teacher's confidence (0: positives only); refused with --kd-gate, which has "
        "no ring. [default: 0.5]"),
    opt("kd_prefit", Optional[int], "Batches over which the feature adapters train alone, the student frozen, "
        "before the first epoch (needs --kd-feat above 0 and --feat-loss l2, cwd or mgd; not on resume). "
        "[default: 0]"),
    opt("init_from_teacher", Optional[bool], "Start a student built from a .yaml from the teacher's weights, thinned "
        "by weight selection (layers that do not match start random; a .pt student keeps its own). [default: on]",
        "--init-from-teacher/--no-init-from-teacher"),
    opt("unlabeled", Optional[List[str]], "Folder of images without labels, distilled on beside the labelled set "
        "(repeat for several). Without it, the data yaml's 'unlabeled:' folders, which it replaces."),
    opt("unlabeled_ratio", Optional[float], "Share of each batch taken by unlabelled images. [default: 0.5]"),
    opt("unlabeled_mode", Optional[str], "soft: distillation terms on the unlabelled images; pseudo: the teacher's "
        "detections as their labels; both. [default: soft]"),
    opt("unlabeled_conf", Optional[float], "Teacher confidence above which an unlabelled anchor's box is distilled, or "
        "a detection becomes a pseudo-label. [default: 0.5]"),
)


def as_typed(key: str) -> str:
    """A distillation key as the command line takes it: its flag, or `key=` where it has none (cwd_tau=), so a
    message names what the user can type."""
    return f"--{key.replace('_', '-')}" if any(o.name == key for o in DISTILL_OPTIONS) else f"{key}="


TRAIN_ONLY = (
    opt("seed", Optional[int], "Random seed. [default: from the config, 0]"),
    opt("resume", Optional[Path], "Resume an interrupted run from its weights/last.pt. Other settings given with "
        "it must be the run's own (--config is refused), except --imgsz, --batch, --device, --workers, cache=, "
        "patience=, save_period=, close_mosaic=, val=, plots=, channels_last=, augmentations= and a moved --teacher "
        "or --data."),
)
COMPARE_ONLY = (
    opt("seeds", str, "Comma-separated seeds; each method trains once per seed.", default="0,1,2"),
    opt("methods", str, "Which of plain, builtin (Ultralytics' distiller), ours.", default="plain,builtin,ours"),
)


RUN_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True}
