"""`yolodistill data pseudo-label`: the teacher's detections on unlabelled images, written as a YOLO dataset.

Users can look at, correct or reuse the labels with any tool before training on them (`yolodistill train --data
OUT/data.yaml`, or as plain Ultralytics data). The source folder is only read: images are copied, and the dataset is
built in a hidden folder beside OUT and renamed into place at the end (into OUT, when it is an existing empty folder),
so an interrupted run leaves nothing half written.
"""

from __future__ import annotations

import os
import random
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .data import class_keys
from .errors import (UserError, check_batch, check_imgsz, check_number, check_output, check_path, check_seed,
                     check_switch, check_writable, python_values)
from .locks import holding
from .utils import file_digest, held_signals, partial_twin


@dataclass
class PseudoLabelResult:
    """What was written, for the summary line and for tests."""

    out: Path
    data_yaml: Path
    images: int
    boxes: int
    empty: int
    skipped: int
    per_class: dict[str, int] = field(default_factory=dict)
    val: int = 0  # images in the val split; 0: data.yaml validates on the train images
    val_fraction: float = 0.1  # what was asked: 0 is why there is no val split, not the images
    first_unreadable: str | None = None
    videos: list[Path] = field(default_factory=list)  # left out: only images are read
    small: int = 0  # left out: a side under 10 px, which Ultralytics' training drops as corrupt

    def render(self) -> str:
        from .unlabeled import videos_left_out

        classes = ", ".join(f"{k} {v}" for k, v in self.per_class.items()) or "none"
        why = "--val-fraction 0" if self.val_fraction == 0 else "one image, or copies of one"
        alone = "" if self.val else f"\nNo val split of its own ({why}): data.yaml validates on the train images"
        example = f", e.g. {self.first_unreadable}" if self.first_unreadable else ""
        return (f"Wrote {self.data_yaml}\nImages: {self.images}, {self.val} of them val ({self.empty} without a "
                f"detection, {self.skipped} unreadable skipped{example}"
                + (f", {self.small} skipped that Ultralytics does not train on (a side under 10 px, a format it "
                   "drops)" if self.small else "")
                + f")\nBoxes: {self.boxes} ({classes}){alone}"
                + ("\nWarning: the teacher detected nothing above --conf, so every image is background: lower --conf, "
                   "or pass a teacher trained on such images" if not self.boxes else "")
                + (f"\nVideos: {videos_left_out(self.videos)}" if self.videos else ""))


def check_out(out: Path, images: Path) -> Path:
    """OUT must be new (or empty), a place that takes files (its .partial twin is made beside it), and outside the
    source folder, which is never written to. Returns the folder to write (check_output's)."""
    out = check_output(out, "--out", longest=9)  # built as .OUT.partial; a new --out: its nearest parent is probed
    if out.exists():  # an existing, empty one: its parent too, where .partial is made and renamed into place
        check_writable(out.resolve().parent, "--out", shown=out)
    src, dst = images.resolve(), out.resolve()
    if dst == src or src in dst.parents:
        raise UserError(f"--out '{out}' is inside the source folder '{images}': pick a folder outside it, which "
                        "stays untouched")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"--out '{out}' exists and is not empty: pick a new folder (nothing is overwritten)")
    return out


@python_values
@holding(lambda given: given.get("out"), "--out")
def pseudo_label(teacher: str | Path | None, images: str | Path | None, out: str | Path | None, conf: float = 0.25,
                 iou: float = 0.7, tta: bool = False, imgsz: int | None = None, device: str | None = None,
                 batch: int = 16, val_fraction: float = 0.1, seed: int = 0, progress: bool = True) -> PseudoLabelResult:
    """Label every image under `images` (recursively) with the teacher's detections above `conf` (NMS at `iou`,
    test-time augmentation with `tta`) and write OUT/{images,labels}/{train,val} and OUT/data.yaml."""
    from .checks import check_teacher_size
    from .devices import check_device
    from .loading import cache_dir, load_detector, local_checkpoint
    from .unlabeled import find_images, held_instead, image_suffixes
    from .exif import skipped

    missing = [k for k, v in (("teacher", teacher), ("images", images), ("out", out)) if v is None]
    if missing:  # the CLI's options are optional so that teacher=T works as --teacher T
        raise UserError(f"missing {', '.join(f'--{k}' for k in missing)}: pass "
                        f"{' '.join(f'--{k} {k.upper()}' for k in missing)} (or {missing[0]}=...)")
    check_path(teacher, "--teacher", "file")  # a YOLO object was used as a file name: its printout, too long for one
    images, out = check_path(images, "--images", "folder"), check_path(out, "--out", "folder")
    if not images.exists():
        raise UserError(f"--images '{images}' does not exist: pass the folder of unlabelled images")
    check_switch(tta, "--tta")  # 'no' from Python failed in Ultralytics' predict, after the teacher was loaded
    check_switch(progress, "progress")
    for flag, value in (("--conf", conf), ("--iou", iou), ("--val-fraction", val_fraction)):
        check_number(value, flag)  # from Python a string failed in the range checks with a TypeError
    if not images.is_dir():
        raise UserError(f"--images '{images}' is not a folder: pass the folder of unlabelled images")
    if not 0 <= conf < 1 or not 0 < iou <= 1:
        raise UserError(f"--conf must be in [0, 1) and --iou in (0, 1], got {conf} and {iou}")
    if not 0 <= val_fraction < 1:
        raise UserError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    check_seed(seed)
    check_batch(batch)
    device = check_device(device, several=False)  # auto, or one this machine has: Ultralytics' ValueError otherwise
    out = check_out(out, images)
    dest = out.resolve()  # '.' has no name to build a twin beside; a link is followed to the folder it names
    if len(os.fsencode(dest.name)) > 255 - 9:  # its .NAME.partial twin is named after the folder reached
        raise UserError(f"--out '{out}' is the folder '{dest}', whose name the output's temporary twin would take past "
                        "255 bytes: pass a folder of a shorter name")
    into = cache_dir() / "weights" if dest == Path.cwd().resolve() else None  # --out .: not fetched into what it fills
    teacher = local_checkpoint(teacher, "teacher", into)  # an official name (yolo26x.pt) or a URL, as train takes them
    model = load_detector(teacher, "teacher")
    check_imgsz(imgsz, int(max(model.stride)))  # a P6 teacher's is 64
    names = class_names(model, teacher)
    videos: list[Path] = []
    files, shapes, bad = find_images([images], videos)
    dropped = {f: why for f in files if (why := skipped(Path(f)))}  # a side under 10 px, a GIF as .jpg: Ultralytics'
    # training drops them (exif.skipped, as data convert leaves them out); kept, one was the whole val split
    small, files = list(dropped), [f for f in files if f not in dropped]
    if not files and small:
        raise UserError(f"--images '{images}' holds only images Ultralytics does not train on ({len(small)}, e.g. "
                        f"{small[0]}: {dropped[small[0]]}): pass a folder of other images")
    if not files:
        kinds = ", ".join(sorted(image_suffixes()))
        raise UserError(f"--images '{images}' holds no readable images{held_instead(bad, videos)}: pass a folder of "
                        f"images ({kinds}), searched with its subfolders")
    imgsz = imgsz or int((getattr(model, "args", None) or {}).get("imgsz", 640))
    check_teacher_size(model, imgsz, str(teacher), "labels")  # as train warns: far from its size it finds others
    tmp = partial_twin(dest)
    shutil.rmtree(tmp, ignore_errors=True)
    counts, boxes, empty, taken = Counter(), 0, 0, set()
    val = split_val(files, val_fraction, seed)
    n_val = len(val)
    try:
        for i, (path, rows) in enumerate(detect(str(teacher), files, conf, iou, tta, imgsz, device, batch, progress)):
            split = "val" if i in val else "train"
            name = unique_name(Path(path), images, taken)
            (tmp / "images" / split).mkdir(parents=True, exist_ok=True)
            (tmp / "labels" / split).mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, tmp / "images" / split / name)
            (tmp / "labels" / split / f"{Path(name).stem}.txt").write_text("".join(f"{r}\n" for r in rows))
            counts.update(int(r.split()[0]) for r in rows)
            boxes, empty = boxes + len(rows), empty + (not rows)
        (tmp / "images" / "val").mkdir(parents=True, exist_ok=True)
        (tmp / "labels" / "val").mkdir(parents=True, exist_ok=True)
        grey = {"channels": ch} if (ch := getattr(model, "yaml", {}).get("channels", 3)) != 3 else {}  # as it read them
        data = {"path": str(dest), "train": "images/train", "val": "images/val" if n_val else "images/train",
                "names": names, **grey, "pseudo_labels": {"teacher": str(Path(teacher).resolve()), "conf": conf, "iou": iou,
                                                  "tta": tta, "imgsz": imgsz, "source": str(images.resolve())}}
        (tmp / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
        if dest.exists():
            fill(tmp, dest, out)
        else:
            os.replace(tmp, dest)
    except BaseException as e:
        # data.yaml goes in last, into an --out that check_out and fill found empty, and the stage is gone once the
        # dataset is in place: both, and the stop came after the move (held by fill, or just after the rename)
        placed = not tmp.exists() and (dest / "data.yaml").exists()
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, KeyboardInterrupt) and placed:
            raise KeyboardInterrupt(f"The dataset was written whole before the stop: {out / 'data.yaml'}") from None
        raise
    return PseudoLabelResult(out=out, data_yaml=out / "data.yaml", images=len(files), boxes=boxes, empty=empty,
                             skipped=len(bad), small=len(small),
                             per_class={key: counts[k] for k, key in sorted(class_keys(names).items())},
                             val=n_val, val_fraction=val_fraction, first_unreadable=bad[0] if bad else None,
                             videos=videos)


def split_val(files: list[str], val_fraction: float, seed: int) -> set[int]:
    """The indices of the val images: a seeded shuffle of the groups of byte-identical files, taken while they fit
    the val share (one image, when above 0, and never every image). A copy (the same frame in two folders) goes with
    its group, as `data convert` and `train --unlabeled` keep copies out of train: one in each split would score val
    on an image trained on. Without copies this is the plain shuffle of the images it was."""
    groups = copies(files)
    random.Random(seed).shuffle(groups)
    want = min(len(files) - 1, max(int(val_fraction > 0), round(len(files) * val_fraction)))
    val: set[int] = set()
    for group in groups:
        if len(val) + len(group) <= want:
            val.update(group)
    if not val and want and len(groups) > 1:  # every group is larger than the share: the smallest, train keeps the rest
        val.update(min(groups, key=len))
    return val


def copies(files: list[str]) -> list[list[int]]:
    """The files' indices grouped by their bytes, in the order of the files; only files whose size another file has
    are read (a stat each for the rest). An unreadable one is a group of its own."""
    sizes = []
    for f in files:
        try:
            sizes.append(os.path.getsize(f))
        except OSError:
            sizes.append(None)
    shared = {s for s, n in Counter(sizes).items() if n > 1 and s is not None}
    groups: dict[object, list[int]] = {}
    for i, (f, size) in enumerate(zip(files, sizes)):
        digest = file_digest(f) if size in shared else None
        groups.setdefault(i if digest is None else digest, []).append(i)
    return list(groups.values())


def class_names(model, teacher: str | Path) -> dict[int, str]:
    """Class id -> name, one for each class the head predicts. Ultralytics takes a list as well as a dict; an empty
    or short mapping would fail only at the first detection, after inference, and a long one names classes the
    teacher never predicts."""
    nc = getattr(model.model[-1], "nc", None) or getattr(model, "nc", None)
    raw = model.names
    names = dict(enumerate(raw)) if isinstance(raw, (list, tuple)) else raw if isinstance(raw, dict) else {}
    try:
        names = {int(k): str(v) for k, v in names.items()}
    except (TypeError, ValueError):
        names = {}
    nc = nc or len(names)
    if not names or sorted(names) != list(range(nc)):
        have = f"{len(names)} names (ids {min(names)}-{max(names)})" if names else f"no usable names ({str(raw)[:40]})"
        raise UserError(f"teacher '{teacher}' has unusable class names: its head predicts {nc or 'its'} classes but "
                        f"the checkpoint has {have}: set model.names to one name per class (a list, or a dict with "
                        "ids from 0) and save the checkpoint again")
    return names


def fill(tmp: Path, dest: Path, out: Path) -> None:
    """Move the built dataset into the existing empty folder `dest` instead of renaming over it, so the folder itself
    stays: it may be the working folder (--out .), a link's target or a mount point. Ctrl-C is held so the move is
    whole; data.yaml comes last. A move onto another filesystem (a mount point) copies."""
    with held_signals():
        if any(dest.iterdir()):
            raise UserError(f"--out '{out}' was given files while labelling: nothing was written to it; pick a new "
                            "folder and run again")
        for entry in sorted(tmp.iterdir(), key=lambda e: e.name == "data.yaml"):
            shutil.move(entry, dest / entry.name)
        tmp.rmdir()


def unique_name(path: Path, root: Path, taken: set[str]) -> str:
    """The image's name in the dataset: its path below the source folder, flattened, so cam0/1.jpg and cam1/1.jpg
    do not collide; a stem already taken (1.jpg beside 1.png, or a/b.jpg beside a__b.jpg) gets _2, _3, ... so that
    no label file overwrites another. A leading dot goes: Ultralytics' loader skips hidden files, so .a.jpg and
    .thumbs/b.jpg were written, counted, and never trained on."""
    flat = Path("__".join(part.lstrip(".") or "_" for part in path.relative_to(root).parts))
    stem, n = flat.stem, 1
    while stem.lower() in taken:
        n += 1
        stem = f"{flat.stem}_{n}"
    taken.add(stem.lower())
    return stem + flat.suffix


def detect(teacher: str, files: list[str], conf: float, iou: float, tta: bool, imgsz: int, device: str | None,
           batch: int, progress: bool):
    """(image, YOLO label rows) for each file, in order, with a progress bar."""
    from rich.console import Console
    from rich.progress import Progress
    from ultralytics import YOLO

    yolo = YOLO(teacher)
    shown = Console(stderr=True)  # as utils.steps: on a terminal's stderr only (piped, stdout began with a blank line)
    with Progress(disable=not progress or not shown.is_terminal, transient=True, console=shown) as bar:
        task = bar.add_task("Pseudo-labelling", total=len(files))
        for start in range(0, len(files), batch):
            chunk = files[start:start + batch]
            results = yolo.predict(chunk, conf=conf, iou=iou, augment=tta, imgsz=imgsz, device=device, verbose=False,
                                   save=False)
            for path, r in zip(chunk, results):
                xywhn, cls = r.boxes.xywhn.tolist(), r.boxes.cls.tolist()
                rows = [f"{int(c)} {x:.6f} {y:.6f} {w:.6f} {h:.6f}" for c, (x, y, w, h) in zip(cls, xywhn)]
                yield path, list(dict.fromkeys(rows))  # NMS runs before boxes are clipped: equal rows, counted twice
                bar.advance(task)
