"""Checks before any training: teacher, student and data must fit together, and the arguments must make sense.

Each misfit is a `UserError` with one line saying what is wrong and how to fix it, raised before anything is written.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import torch

from .data import has_labels, list_lines, rescued_line, split_images
from .errors import (UserError, check_imgsz, check_name, check_no_quote, check_output, check_path,  # noqa: F401
                     check_seed, check_whole, check_writable, first_line, is_url, name_too_long, require_file,
                     shown)
from .devices import bf16_ready, check_device, device_words, gpu_count
from .layout import check_channels_key, check_not_pose, convert_hint
from .loading import build_student, load_detector, local_checkpoint
from .utils import local_path, no_blank_lines
from .runfolder import check_inputs_outside_run, check_run_dir, check_run_outside_splits, warn_replaced


@dataclass
class Plan:
    """A checked run: Ultralytics train args (with `distill_model=` the teacher) and the teacher, loaded once."""

    args: dict[str, Any]
    teacher: torch.nn.Module
    pretrained: torch.nn.Module | None = None  # pretrained=PATH's model, loaded once by the checks
    student: torch.nn.Module | None = None  # as checked: built from its yaml, or its .pt loaded


LOADER_FAILURES = ("No valid images found", "No labels found", "does not exist", "Error loading data from")
LOADER_ERRORS = (RuntimeError, ValueError, FileNotFoundError)  # what Ultralytics' dataset raises them as


def unusable_split(e: Exception, data: str | Path) -> UserError | None:
    """Ultralytics' dataset loader stopping on a split it cannot use (every image corrupt, every label beyond the
    names), as one line with the command that checks the data; None for any other error, also one that says the same
    words from outside Ultralytics' data package (a file gone mid-run is not a data problem)."""
    if not any(m in str(e) for m in LOADER_FAILURES) or not raised_in_loader(e):
        return None
    return UserError(f"data '{data}': {first_line(e).rstrip('.')}; {convert_hint(data)}")


def raised_in_loader(e: BaseException) -> bool:
    """Whether `e` was raised inside `ultralytics.data`, where the datasets are built."""
    import ultralytics.data

    tb, package = e.__traceback__, Path(ultralytics.data.__file__).resolve().parent
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(package)


@contextmanager
def split_refusals(data: str | Path | None) -> Iterator[None]:
    """Where Ultralytics builds a dataset from `data` (training, validation, INT8 calibration): its refusal of a split
    (unusable_split) is a UserError, not a traceback."""
    try:
        yield
    except LOADER_ERRORS as e:
        if data is None or (unusable := unusable_split(e, data)) is None:
            raise
        raise unusable from None


def check_data(data: str | Path) -> dict[str, Any]:
    """Resolve the data yaml with Ultralytics (which downloads datasets that declare a download)."""
    from ultralytics.data.utils import check_det_dataset

    if data is None:
        raise UserError("no dataset: pass --data DATA.yaml")
    if not isinstance(data, (str, Path)):  # from Python: a dict was a TypeError deep in pathlib
        raise UserError(f"data must be the path of a dataset .yaml, got a {type(data).__name__}: save it as a yaml")
    if Path(data).suffix.lower() not in (".yaml", ".yml"):
        raise UserError(f"data '{data}' should be a dataset .yaml file (train/val paths and names)")
    try:
        with no_blank_lines():
            info = check_det_dataset(str(data))
    except Exception as e:
        if isinstance(e, OSError) and (too_long := name_too_long(e)) is not None:  # 'fix it: a data yaml is a mapping'
            raise too_long from None
        if isinstance(e, FileNotFoundError) and not Path(data).exists():  # nor among Ultralytics' built-in datasets
            raise UserError(f"data '{data}' does not exist: check the path, or name a dataset yaml Ultralytics "
                            "ships (e.g. coco8.yaml)") from None
        fix = convert_hint(data)
        if isinstance(e, FileNotFoundError):  # its folders: data convert would fail on the same missing folder
            fix = "fix its 'path:', 'train:' and 'val:' so they point at the image folders"
        if isinstance(e, ConnectionError):  # Ultralytics' download failure: a yaml's download, on a machine offline
            fix = "connect this machine to the internet, or download the dataset by hand and set the yaml's 'path'"
        if "defined in your dataset YAML" in str(e):  # names keyed 1..N or with gaps: data convert refuses them too
            fix = "number the names 0 to N-1 in the yaml, and the class ids in the label files to match"
        raise UserError(f"data '{data}': {first_line(e).rstrip('.')}; {fix}") from None
    check_channels_key(f"data '{data}'", info)  # blamed on the student
    check_not_pose(f"data '{data}'", info, data)
    if not info.get("val"):
        raise UserError(f"data '{data}' has no val split: add a 'val:' path so runs can be validated, or "
                        f"{convert_hint(data)} (it makes a split)")
    for split in ("train", "val"):
        check_split(data, split, info[split])
    return info


def check_split(data: str | Path, split: str, source: str | list) -> None:
    """A split Ultralytics would stop on once the run folder exists (a listed folder that is not there, a list
    whose files are not, no image, or no image with labels), refused before it."""
    from ultralytics.data.utils import img2label_paths

    for src in source if isinstance(source, list) else [source]:
        if not Path(src).exists():
            raise UserError(f"data '{data}': its {split} split names '{src}', which does not exist; fix '{split}:'")
        if Path(src).is_file() and (line := rescued_line(Path(src), list_lines(Path(src)))):
            raise UserError(f"data '{data}': its {split} list '{src}' names '{line}', which Ultralytics reads from the "
                            f"working folder ({Path.cwd()}), not the list's: start each line with './' (or give "
                            f"whole paths), or {convert_hint(data)}")
    images = split_images(source)
    if not any(p.exists() for p in images):  # a list's files may all be gone
        raise UserError(f"data '{data}' has no images in its {split} split ({source}); {convert_hint(data)}")
    if not has_labels(images):
        labels = [Path(p) for p in img2label_paths([str(p) for p in images[:1000]])]
        hint = convert_hint(data, images)  # VOC or COCO annotations, or .txt labels beside the images: convert
        found = hint.startswith("its images have") or any(p.with_suffix(".txt").is_file() for p in images[:1000])
        fix = ("every label file there is empty: label the images (one 'class x y w h' row per box), or point "
               f"'{split}:' at a labelled split" if any(p.is_file() for p in labels) else hint if found else
               f"label the images (a .txt of 'class x y w h' rows per image, under {labels[0].parent}), or point "
               f"'{split}:' at a labelled split")  # convert keeps unlabelled images as background: its advice
        # named itself again
        raise UserError(f"data '{data}': no image of its {split} split has labels (Ultralytics reads them from "
                        f"{labels[0].parent}); {fix}")


def check_names(model_names: Any, data_names: Any, model: str, fix: str) -> None:
    """A model and a dataset must name the same class at each id: otherwise its mAP on that data scores one class's
    boxes against another's labels. Ids, not order: `{2: c, 0: a, 1: b}` is a, b, c, as Ultralytics reads it. Names
    Ultralytics made up (`class_0`, a yaml with `nc:` alone) say nothing: only the count is checked then. `model`
    names the model in the message; `fix` ends the count message."""
    m, d = class_ids(model_names), class_ids(data_names)
    if len(m) != len(d):
        raise UserError(f"{model} has {len(m)} class{'es' * (len(m) != 1)} but the data has {len(d)}: {fix}")
    if any(names == {i: f"class_{i}" for i in names} for names in (m, d)):
        return
    if (diff := next((i for i in sorted(set(m) | set(d)) if m.get(i) != d.get(i)), None)) is not None:
        raise UserError(f"{model} class {diff} is {quoted(m.get(diff))} but the data's is {quoted(d.get(diff))}: "
                        f"{model} and data must give each class id the same name")


def check_channels(model_ch: int, data: dict[str, Any], what: str, fix: str) -> None:
    """A model scored on a dataset of other channels (a grey model on colour images) was Ultralytics' RuntimeError
    traceback once its validation began, after the timing or the export."""
    if model_ch != (data_ch := data.get("channels", 3)):
        raise UserError(f"{what} takes {model_ch}-channel images and the data's are {data_ch}-channel: {fix}")


def class_ids(names: Any) -> dict[int, str]:
    """Names by class id, from a dict (ids as keys, in any order) or a list (ids by position)."""
    if isinstance(names, dict) and all(str(k).strip().lstrip("-").isdigit() for k in names):
        return {int(k): str(v) for k, v in names.items()}
    return {i: str(v) for i, v in enumerate(names.values() if isinstance(names, dict) else names)}


def quoted(name: str | None) -> str:
    return "missing" if name is None else f"'{name}'"


def check_fit(teacher: torch.nn.Module, student: torch.nn.Module, data: dict[str, Any], student_name: str) -> None:
    """Classes, input channels, detection levels and strides must agree, or distillation would compare apples
    with pears anchor by anchor."""
    head = getattr(teacher.model[-1], "nc", None)  # a checkpoint whose names were set by hand may not fit its head
    if isinstance(head, int) and head != len(named := class_ids(teacher.names)):
        raise UserError(f"teacher's head predicts {head} classes but its checkpoint names {len(named)}: set model.names "
                        "to one name per class the head predicts and save it again, or pass a teacher trained on this "
                        "dataset")
    check_names(teacher.names, data["names"], "teacher", "train or fine-tune the teacher on this dataset first")
    t_ch, d_ch = teacher.yaml.get("channels", 3), data.get("channels", 3)
    if t_ch != d_ch:
        raise UserError(f"teacher takes {t_ch}-channel images but the data has {d_ch} channels: pass a teacher "
                        f"trained on {d_ch}-channel images (channels: {d_ch} in its data yaml)")
    t_strides, s_strides = teacher.stride.tolist(), student.stride.tolist()
    if len(t_strides) != len(s_strides):
        levels = f"P{round(math.log2(min(t_strides)))}-P{round(math.log2(max(t_strides)))}"  # stride 8 is P3
        raise UserError(
            f"teacher has {len(t_strides)} detection levels, student '{student_name}' has {len(s_strides)}: "
            f"pick a student with the teacher's {levels} head"
        )
    if t_strides != s_strides:
        raise UserError(
            f"teacher strides {[int(s) for s in t_strides]} differ from the student's {[int(s) for s in s_strides]}: "
            "their anchor grids must match"
        )


# BaseTrainer.build_optimizer's names (a local set there, matched case-insensitively), checked before any work instead
# of a NotImplementedError once the run folder exists
OPTIMIZERS = ("auto", "SGD", "MuSGD", "Adam", "Adamax", "AdamW", "NAdam", "RAdam", "RMSprop")


def check_train_batch(batch: Any, device: Any = None) -> None:
    """A training batch: a whole number of images, or AutoBatch's -1 or fraction of GPU memory. Ultralytics takes a
    float such as 1.5 and fails in its data loader, after the models are built and the run folder made; and refuses
    AutoBatch on several GPUs with a traceback, once the run folder exists."""
    whole = isinstance(batch, int) and not isinstance(batch, bool) and (batch >= 1 or batch == -1)
    fraction = isinstance(batch, float) and 0 < batch < 1
    if not (whole or fraction):
        raise UserError(f"--batch must be a whole number of images >= 1, or for AutoBatch -1 or a fraction of GPU "
                        f"memory such as batch=0.7, got {batch!r}")
    if (gpus := gpu_count(device)) > 1 and not batch >= 1:
        raise UserError(f"--batch {batch} (AutoBatch) runs on one GPU, and --device {device} names {gpus}: pass a "
                        f"whole batch, e.g. --batch {gpus * 8}")
    if gpus > 1 and batch % gpus:  # Ultralytics gives each GPU batch // gpus: 0 failed in every worker's loader
        each = ("none, which fails in every GPU's data loader" if batch < gpus else
                f"{batch // gpus} each, so a step trains on {batch - batch % gpus} images, not {batch}")
        raise UserError(f"--batch {batch} is split over the {gpus} GPUs of --device {device} as batch // {gpus}: "
                        f"{each}; pass a multiple of {gpus}, e.g. --batch {max(gpus, batch - batch % gpus)}")


def check_optimizer(optimizer: Any) -> None:
    """An optimizer Ultralytics trains with, in any case: another fails only once the run has started."""
    if optimizer is not None and str(optimizer).lower() not in {o.lower() for o in OPTIMIZERS}:
        raise UserError(f"optimizer={optimizer} is not one Ultralytics trains with: choose {', '.join(OPTIMIZERS)}")


def check_workers(workers: Any) -> None:
    """Ultralytics passes -1 on to the data loader, which fails on a GPU (its CPU training loads in-process)."""
    if workers is not None:
        check_whole(workers, "--workers")
        if workers < 0:
            raise UserError(f"--workers must be 0 or more (0 loads the data in the training process), got {workers}")


def check_amp(args: dict[str, Any]) -> None:
    """amp=bf16 where it cannot run was a RuntimeError traceback at the first step (a new run's folder left behind)."""
    if str(args.get("amp")).lower() == "bf16" and not bf16_ready(args.get("device")):
        where = (f", which --device {device_words(args.get('device')) or 'auto'} is not" if torch.cuda.is_available()
                 else ", and this machine has no CUDA GPU")
        raise UserError(f"amp=bf16 needs a CUDA GPU with native bfloat16 (Ampere or newer){where}: use amp=True "
                        "(fp16) or amp=False")


def check_args(args: dict[str, Any], stride: int) -> None:
    """Ultralytics would silently round or reject these later; say so now."""
    epochs, imgsz, batch = args.get("epochs"), args.get("imgsz"), args.get("batch")
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:  # epochs: true trained 1 epoch
        raise UserError(f"--epochs must be a whole number >= 1, got {epochs!r}")
    if isinstance(args.get("seed"), int):
        check_seed(args["seed"])
    if isinstance(imgsz, (list, tuple)) and imgsz and all(isinstance(i, int) for i in imgsz):  # imgsz=64,64
        many = f"{len(imgsz)} values" if len(imgsz) > 1 else "a list"
        raise UserError(f"imgsz={','.join(map(str, imgsz))} is {many}: training takes one square size, e.g. --imgsz "
                        f"{max(imgsz)} (Ultralytics' trainer takes the largest)")
    if not isinstance(imgsz, int):
        raise UserError(f"--imgsz must be a whole number, got {imgsz!r}")
    check_imgsz(imgsz, stride)
    check_train_batch(batch, args.get("device"))
    check_workers(args.get("workers"))
    check_amp(args)
    optimizer = args.get("optimizer")
    check_optimizer(optimizer)
    ignored = tuple(f"{k}={args[k]}" for k in ("lr0", "momentum") if k in args)
    if str(optimizer or "auto").lower() == "auto" and ignored and ignored not in WARNED_SIZES:  # Ultralytics' one
        from ultralytics.utils import LOGGER  # line came in the middle of the run's start, and distill.yaml kept lr0

        WARNED_SIZES.add(ignored)  # compare checks each run again: said once
        them = "them" if len(ignored) > 1 else "it"
        LOGGER.warning(f"{' and '.join(ignored)}: optimizer=auto (the default) ignores {them} and picks the optimizer "
                       f"and its rate itself; add optimizer=SGD (or AdamW) to train with {them}")
    cache, hours = args.get("cache"), args.get("time")  # Ultralytics: no cache, or a stop after the first epoch
    if not (cache is None or isinstance(cache, bool) or str(cache).lower() in ("ram", "disk")):  # 1 is not True there
        raise UserError(f"cache={cache} is not one Ultralytics caches with: say cache=ram, cache=disk or cache=False")
    if isinstance(hours, (int, float)) and not (0 <= hours < math.inf):  # inf: an OverflowError after an epoch
        raise UserError(f"time={hours} must be hours to train, above 0 (0 or none: train for --epochs)")
    from ultralytics.cfg import get_cfg

    try:
        cfg = get_cfg(overrides=args)  # then Ultralytics' own type and range checks of every other train argument
    except (SyntaxError, TypeError, ValueError) as e:
        raise UserError(first_line(e)) from None
    if cfg.quantize == 8:  # its QAT would fake-quantize the teacher inside the model too; without ModelOpt a traceback
        raise UserError(f"quantize={args.get('quantize', 8)} (Ultralytics' quantization-aware training) does not run "
                        "with a teacher: distill first, then export the student with --int8, or fine-tune it with "
                        "yolo train model=best.pt quantize=8")


WARNED_SIZES: set[tuple] = set()  # compare checks each run again: one warning per teacher and size (and lr0 ignored)


def check_teacher_size(teacher: torch.nn.Module, imgsz: int, path: str, doing: str = "distils") -> str | None:
    """A teacher knows objects at the size it learnt them: at 3.3 times it (BCCD, 192 to 640 px, study-bccd-gpu640.json)
    it scored 0.019 mAP50-95 and both distillers ended 0.09 below plain. Ultralytics' scale augmentation (0.5-1.5)
    covers less. A warning: a teacher trained with multi_scale, or on images of another size, may still fit."""
    trained = getattr(teacher, "trained_imgsz", None)
    if trained is None or 1 / 1.5 <= imgsz / trained <= 1.5:
        return None
    message = (f"The teacher was trained at imgsz={trained} and this run {doing} at imgsz={imgsz}: it sees objects at "
               f"{imgsz / trained:.2g} times the size it learnt and may do worse than no teacher: measure it with "
               f"`yolo val model=TEACHER data=DATA imgsz={imgsz}`, or pass --imgsz {trained}")
    if (key := (str(Path(path).resolve()), trained, imgsz)) not in WARNED_SIZES:
        from ultralytics.utils import LOGGER

        WARNED_SIZES.add(key)
        LOGGER.warning(message)
    return message


def listed_classes(classes: Any) -> list:
    """The ids Ultralytics' classes= lists: one id, a list, or the tuple classes=0,2 is read as; none where unset."""
    return list(classes) if isinstance(classes, (list, tuple)) else [] if classes is None else [classes]


def check_with_models(args: dict[str, Any], nc: int, student: torch.nn.Module) -> None:
    """Train arguments Ultralytics takes and that fail only once the run is under way, with a traceback, or train on
    nothing."""
    classes = args.get("classes")
    listed = listed_classes(classes)
    if classes is not None and not listed:  # Ultralytics drops every label not listed: all of them, without a word
        raise UserError(f"classes={classes} keeps no class, so the run would train on no label: list the class ids to "
                        "keep (classes=0 or classes=[0,2]), or leave classes out for all of them")
    if wrong := [c for c in listed if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < nc]:
        shown = repr(classes) if isinstance(classes, str) else classes  # classes='0' from Python: text, not the id 0
        raise UserError(f"classes={shown}: it takes the data's class ids as whole numbers, 0 to {nc - 1} (classes=0 or "
                        f"classes=[0,2]), and {wrong} would train on no label (see the names in the data yaml)")
    freeze, n = args.get("freeze"), len(getattr(student, "student_model", student).model)  # a mid-run wrapper too
    if not (freeze is None or (isinstance(freeze, int) and not isinstance(freeze, bool) and freeze >= 0) or
            (isinstance(freeze, list) and all(isinstance(x, int) and not isinstance(x, bool) or str(x).isdigit()
                                              for x in freeze))):  # Ultralytics froze nothing, without a word
        raise UserError(f"freeze={freeze} is neither a number of first layers (freeze=10) nor a list of layer "
                        "indices (freeze=[0,1])")
    listed = range(freeze) if isinstance(freeze, int) else freeze if isinstance(freeze, list) else []
    if {str(x) for x in listed} >= {str(x) for x in range(n)}:  # Ultralytics matches 'model.{x}.': 0 and '0' alike
        raise UserError(f"freeze={freeze} freezes every layer of the student (it has {n}), so nothing of it would "
                        "train: freeze fewer (freeze=10 is the backbone of YOLO26 and YOLO11)")


# Ultralytics train arguments a run takes from its own flags, and those it fixes: given as key=value or in a recipe
# they would be overwritten without a word. compare refuses them too, and seed, which it sets per run.
SET_BY_FLAG = {"model": "--student", "data": "--data", "distill_model": "--teacher", "resume": "--resume"}
FIXED_ARGS = {"task": "detect", "mode": "train"}


def check_reserved(args: dict[str, Any]) -> None:
    """Refuse an argument the run sets itself, instead of silently replacing it."""
    if args.get("cfg"):  # Ultralytics would have read it; here it was recorded in args.yaml and ignored
        raise UserError(f"cfg={args['cfg']} is Ultralytics' way to pass a config file, which yolodistill takes as "
                        "--config: use --config FILE instead of cfg=")
    for key, flag in SET_BY_FLAG.items():
        if args.get(key) not in (None, False, ""):  # an args.yaml as a recipe holds model: null, resume: false
            raise UserError(f"{key}={args[key]} would be replaced: {flag} sets it; use {flag} instead of {key}=")
    for key, value in FIXED_ARGS.items():
        if key in args and args[key] != value:
            raise UserError(f"{key}={args[key]} cannot be changed: yolodistill trains detection ({key}={value}); "
                            f"drop {key}=")


def preflight(teacher, student, data, args: dict[str, Any]) -> Plan:
    """Check everything, load the teacher once, and return the Ultralytics args of the run."""
    check_reserved(args)
    if teacher is None:
        raise UserError("no teacher: pass --teacher PATH.pt (a trained detection checkpoint)")
    if student is None:
        raise UserError("no student: pass --student yolo26n.yaml (started from the teacher) or a .pt (fine-tuned from its own weights)")
    check_path(teacher, "--teacher", "file")  # from Python a list gave "should be a .pt file, not '.pt']'"
    check_path(student, "--student", "file")
    check_name(args.get("name"))
    if "device" in args:
        args = {**args, "device": check_device(args["device"])}
    args = {"name": None, **args}
    # Ultralytics puts a relative project under its own runs_dir/detect; users expect it relative to where they are.
    args["project"] = str(Path(str(args.get("project") or "runs/distill")).resolve())  # project=5 is a number
    check_output(args["project"], "--project")
    check_no_quote(Path(args["project"]) / str(args["name"] or ""), "run folder",  # the run loads its best.pt
                   "pick a --project and --name without one")
    try:  # Ultralytics writes the folder into args.yaml as UTF-8: a traceback, once the folder was made
        str(run := Path(args["project"]) / str(args["name"] or "")).encode("utf-8")
    except UnicodeEncodeError:
        raise UserError(f"run folder '{shown(str(run))}' has a byte that is no UTF-8 in its name, and Ultralytics writes the "
                        "folder into args.yaml as UTF-8: pick a --project and --name of UTF-8 names") from None
    check_run_dir(args)
    pretrained = args.get("pretrained") if isinstance(args.get("pretrained"), (str, Path)) else None
    check_inputs_outside_run(args, teacher=teacher, student=student, pretrained=pretrained)
    pretrained_model = None
    if pretrained is not None:  # Ultralytics loads it after the run folder is made: a garbage file was a traceback
        args["pretrained"] = pretrained = local_checkpoint(pretrained, "pretrained=")
        pretrained_model = load_detector(pretrained, "pretrained=")  # a segment .pt trained quietly as weights
    for role, path in (("--teacher", teacher), ("--student", student)):  # handed to Ultralytics resolved (below)
        if str(path).lower().endswith(".pt") and Path(path).exists():
            check_no_quote(Path(path).resolve(), role)
    data_info = check_data(data)
    check_run_outside_splits(args, data_info)
    teacher = local_checkpoint(teacher, "teacher")
    teacher_model = load_detector(teacher, "teacher")
    nc, ch = data_info["nc"], data_info.get("channels", 3)
    if is_url(student) or str(student).lower().endswith(".pt"):
        student = local_checkpoint(student, "student")
        student_model = load_detector(student, "student")
    else:
        student_model = build_student(str(student), nc, ch)
    fit, single = data_info, class_ids(teacher_model.names) == {0: "item"}  # Ultralytics' single_cls name
    if args.get("single_cls") and single:
        fit = {**data_info, "names": dict(teacher_model.names)}  # one class, as the student trains it
        kept = args.get("classes")  # its one score covers the classes dropped too (masked by their ids: all of it)
        if kept is not None and not {str(c) for c in range(nc)} <= {str(c) for c in listed_classes(kept)}:
            raise UserError(f"teacher was trained with single_cls=True (one class, 'item'), so it cannot tell the "
                            f"classes that classes={kept} keeps from those it drops: drop classes=, or pass a teacher "
                            "of the data's classes")
    elif single and nc > 1:  # "train or fine-tune the teacher on this dataset first", though it was
        raise UserError(f"teacher was trained with single_cls=True (one class, 'item') and the data has {nc}: add "
                        "single_cls=True to train the student the same way, or pass a teacher of the data's classes")
    check_fit(teacher_model, student_model, fit, str(student))
    check_args(args, int(max(student_model.stride.max(), 32)))
    check_with_models(args, nc, student_model)
    check_teacher_size(teacher_model, args["imgsz"], teacher)
    warn_replaced(args)
    args.update(
        model=local_path(student), data=local_path(data), distill_model=local_path(teacher), task="detect",
        mode="train", name=args["name"] or "exp",
    )
    return Plan(args=args, teacher=teacher_model, pretrained=pretrained_model, student=student_model)
