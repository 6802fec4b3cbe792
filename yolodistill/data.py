"""Datasets: a deterministic synthetic detection set for tests and the demo, and the image lister every module uses."""

from __future__ import annotations

import os

from pathlib import Path

import numpy as np
import yaml

from .errors import (UserError, check_number, check_output, check_path, check_seed, check_switch, check_whole,
                     check_writable, python_values)
from .locks import holding
from .utils import atomic_write_text, files_under, staged_splits, staged_write, steps


def fingerprint(data: dict, labels: bool = False) -> dict[str, list]:
    """Which images a resolved dataset's train and val splits hold: their count and a digest of their file names,
    not folders, so a moved dataset is the same one. A resume compares it with the run's. With `labels`, each split's
    entry also holds a digest of its label files (names and contents), from the same walk: a comparison reused its
    runs for images relabelled under the same names, and mixed them with runs of the new labels in one table."""
    import hashlib

    from ultralytics.data.utils import img2label_paths

    out = {}
    for split in ("train", "val"):
        images = split_images(data[split]) if data.get(split) else []
        names = sorted(p.name for p in images)
        out[split] = [len(names), hashlib.sha256(b"\n".join(map(os.fsencode, names))).hexdigest()[:16]]
        if labels:
            digest = hashlib.sha256()
            for label in sorted(map(Path, img2label_paths([str(p) for p in images])), key=lambda p: p.name):
                digest.update(os.fsencode(label.name) + b"\0" + (label.read_bytes() if label.is_file() else b"-") +
                              b"\0")
            out[split].append(digest.hexdigest()[:16])
    return out


def split_images(source: str | Path | list) -> list[Path]:
    """Image files a resolved split names, in Ultralytics' layouts: folders (searched) or list files (any name, as
    Ultralytics reads them: train.txt, train.list), sorted."""
    from ultralytics.data.utils import IMG_FORMATS

    files: list[Path] = []
    for src in map(Path, source if isinstance(source, list) else [source]):
        if src.is_dir():
            files += [p for p in files_under(src) if p.suffix[1:].lower() in IMG_FORMATS]
        elif src.is_file() and src.suffix[1:].lower() not in IMG_FORMATS:  # as Ultralytics reads a list: './x' from
            lines = list_lines(src)  # its folder, the rest as they are; no text is no images, which checks name
            files += [listed(src, x) for x in lines if x.rpartition(".")[-1].lower() in IMG_FORMATS]
    return files


def readable_images(paths: list[Path], n: int) -> list[Path]:
    """The first `n` of `paths` that decode, as Ultralytics reads them: its loaders skip a broken or empty image file,
    which a sample taken from the file list would feed to a predictor that fails on it."""
    from ultralytics.utils.patches import imread

    readable = []
    for path in paths:
        if len(readable) == n:
            break
        if path.is_file() and imread(str(path)) is not None:
            readable.append(path)
    return readable


def list_lines(src: Path) -> list[str]:
    """The non-blank lines of a split's list file; none where it is no text."""
    try:
        return [x.strip() for x in src.read_text(encoding="utf-8-sig").splitlines() if x.strip()]
    except (UnicodeDecodeError, OSError):
        return []


def rescued_line(listing: Path, lines: list[str]) -> str | None:
    """The first line of a list that only `listed`'s rescue finds: relative, without './', missing from the working
    folder but there from the list's. Ultralytics' loader reads it from the working folder and finds nothing."""
    from ultralytics.data.utils import IMG_FORMATS  # other lines Ultralytics leaves out

    return next((x for x in lines if x.rpartition(".")[-1].lower() in IMG_FORMATS and not x.startswith("./")
                 and not Path(x).is_absolute() and not Path(x).exists() and (listing.parent / x).exists()), None)


def listed(listing: Path, line: str) -> Path:
    """An image a .txt split names, as Ultralytics finds it: './x' from the list's folder, any other line as written
    (a relative one from the working folder). A relative line found only from the list's folder is taken from there,
    so `data convert` rescues such a list (Ultralytics' loader refuses it, which train reports in one line)."""
    if line.startswith("./"):
        return Path(line.replace("./", str(listing.parent) + os.sep, 1))
    path = Path(line)
    return path if path.is_absolute() or path.exists() else listing.parent / line


def has_labels(images: list[Path]) -> bool:
    """Whether one of `images` has a label file with rows where Ultralytics looks for it (images/ -> labels/): a
    split with none trains on nothing (Ultralytics stops with a traceback) or validates to an mAP of 0. Stops at the
    first, so a large split costs a stat or two."""
    from ultralytics.data.utils import img2label_paths

    for label in img2label_paths([str(p) for p in images]):
        try:
            if os.stat(label).st_size > 0:
                return True
        except OSError:
            pass
    return False


SHAPES = ("circle", "square", "triangle", "cross", "ring", "diamond", "bar", "ellipse")


def class_keys(names: list[str] | dict[int, str]) -> dict[int, str]:
    """Each class id's name in a count per class: a name listed twice (Ultralytics trains on names: [a, a, b]) is told
    apart by its id, 'a (id 0)', or the two classes' boxes were summed under one name."""
    items = list(names.items()) if isinstance(names, dict) else list(enumerate(names))
    seen = [n for _, n in items]
    return {c: n if seen.count(n) == 1 else f"{n} (id {c})" for c, n in items}


def _check_val_fraction(val_fraction: float) -> None:
    """Both splits must get images, so the share has to lie strictly between 0 and 1."""
    check_number(val_fraction, "the validation fraction")
    if not 0 < val_fraction < 1:
        raise UserError(f"the validation fraction must be between 0 and 1, got {val_fraction}")


def _check_fresh(out: Path) -> Path:
    """Never write a dataset over one the user already has. Returns the folder to write (check_output's)."""
    out = check_output(out, "--out")
    if (out / "data.yaml").exists() or (out / "data.yaml").is_symlink() or any(  # a broken link is the user's too
            (out / sub).is_dir() and any((out / sub).iterdir()) for sub in ("images", "labels")):
        raise UserError(f"'{out}' already holds a dataset: choose a new --out or delete the old dataset first")
    for sub in ("images", "labels"):  # found only once every image was drawn, as a traceback
        if (out / sub).exists() and not (out / sub).is_dir():
            raise UserError(f"'{out / sub}' is a file, where the dataset's {sub}/ folder goes: choose a new --out")
        check_writable(out / sub, "--out", shown=out / sub)  # an empty one: its splits are moved into it
    return out


def yolo_line(c: int, x1: float, y1: float, x2: float, y2: float, width: int, height: int) -> str:
    """One YOLO label row (class cx cy w h, normalized) from a pixel box; every writer uses it so rows look alike."""
    w, h = x2 - x1, y2 - y1
    return f"{c} {(x1 + w / 2) / width:.6f} {(y1 + h / 2) / height:.6f} {w / width:.6f} {h / height:.6f}"


def _draw(img: np.ndarray, shape: str, cx: int, cy: int, r: int, color: tuple[int, int, int]) -> tuple[int, ...]:
    """Draw one object and return its tight box (x1, y1, x2, y2) in pixels."""
    import cv2

    if shape == "circle":
        cv2.circle(img, (cx, cy), r, color, -1)
        return cx - r, cy - r, cx + r, cy + r
    if shape == "square":
        cv2.rectangle(img, (cx - r, cy - r), (cx + r, cy + r), color, -1)
        return cx - r, cy - r, cx + r, cy + r
    if shape == "triangle":
        pts = np.array([[cx, cy - r], [cx - r, cy + r], [cx + r, cy + r]], np.int32)
        cv2.fillPoly(img, [pts], color)
        return cx - r, cy - r, cx + r, cy + r
    if shape == "cross":
        t = max(r // 3, 1)
        cv2.rectangle(img, (cx - r, cy - t), (cx + r, cy + t), color, -1)
        cv2.rectangle(img, (cx - t, cy - r), (cx + t, cy + r), color, -1)
        return cx - r, cy - r, cx + r, cy + r
    if shape == "ring":
        cv2.circle(img, (cx, cy), r, color, max(r // 3, 1))
        return cx - r, cy - r, cx + r, cy + r
    if shape == "diamond":
        pts = np.array([[cx, cy - r], [cx + r, cy], [cx, cy + r], [cx - r, cy]], np.int32)
        cv2.fillPoly(img, [pts], color)
        return cx - r, cy - r, cx + r, cy + r
    if shape == "bar":
        h = max(r // 2, 1)
        cv2.rectangle(img, (cx - r, cy - h), (cx + r, cy + h), color, -1)
        return cx - r, cy - h, cx + r, cy + h
    h = max(r // 2, 1)  # ellipse
    cv2.ellipse(img, (cx, cy), (r, h), 0, 0, 360, color, -1)
    return cx - r, cy - h, cx + r, cy + h


SYNTH_STAGE = ".synth-partial"  # under --out: the images and labels of a synthetic set until they are whole
MAX_SYNTH_IMAGES = 100_000  # a set to try the tool on; far more is a typo


@python_values
@holding(lambda given: given.get("out"), "--out")  # two at once drew into one stage, and one took out the other's
def make_synthetic(
    out: str | Path,
    images: int = 64,
    classes: int = 3,
    imgsz: int = 128,
    seed: int = 0,
    val_fraction: float = 0.25,
    progress: bool = True,
) -> Path:
    """Write a synthetic multi-class detection dataset in YOLO format and return its data.yaml.

    Each class is a shape (circle, square, triangle, ...) drawn in a random colour on a noisy background, 1 to 4
    objects per image. The same arguments always give the same bytes, so tests and the demo are reproducible.
    Written in OUT/.synth-partial and moved in whole (`staged_splits`): a Ctrl-C or a full disk leaves no half
    dataset that a rerun would refuse. `val_fraction` of the images (at least one, and one short of all) go to val;
    `progress` shows a bar on a terminal.
    """
    for flag, value in (("--images", images), ("--classes", classes), ("--imgsz", imgsz)):
        check_whole(value, flag)  # from Python: imgsz="64" was a TypeError
    check_switch(progress, "progress")
    if not 2 <= images <= MAX_SYNTH_IMAGES:  # 10**20 ran for minutes, silently, till the disk filled
        raise UserError(f"--images must be 2 (one train and one val image) to {MAX_SYNTH_IMAGES}, got {images}")
    if not 1 <= classes <= len(SHAPES):
        raise UserError(f"--classes must be between 1 and {len(SHAPES)}, got {classes}")
    if not 32 <= imgsz <= 4096:  # each image is drawn in memory: 100000 px asked for 28 GB, then a traceback
        raise UserError(f"--imgsz must be 32 to 4096, got {imgsz}")
    check_seed(seed)
    _check_val_fraction(val_fraction)
    out = _check_fresh(check_path(out, "--out", "folder"))
    rng = np.random.default_rng(seed)
    n_val = min(images - 1, max(1, round(images * val_fraction)))  # both splits get an image
    with staged_splits(out, SYNTH_STAGE, ("data.yaml",)) as (stage, move_in):  # piped: no bar (a blank line)
        for i in steps(range(images), images, "Drawing images", at_least=1, show=progress):
            _draw_one(stage, i, "val" if i < n_val else "train", rng, classes, imgsz)
        move_in()
        data = {
            "path": str(out.resolve()),
            "train": "images/train",
            "val": "images/val",
            "names": {i: SHAPES[i] for i in range(classes)},
        }
        return atomic_write_text(out / "data.yaml", yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def _draw_one(stage: Path, i: int, split: str, rng: np.random.Generator, classes: int, imgsz: int) -> None:
    """Image i and its label file. Encoded, then written as every output is: cv2.imwrite says a full disk only by
    returning False."""
    import cv2

    img = rng.integers(0, 60, (imgsz, imgsz, 3), dtype=np.uint8)
    lines = []
    for _ in range(int(rng.integers(1, 5))):
        c = int(rng.integers(0, classes))
        r = int(rng.integers(max(imgsz // 16, 3), max(imgsz // 5, 5)))
        cx, cy = (int(v) for v in rng.integers(r, imgsz - r, 2))
        color = tuple(int(v) for v in rng.integers(90, 256, 3))
        x1, y1, x2, y2 = (float(np.clip(v, 0, imgsz)) for v in _draw(img, SHAPES[c], cx, cy, r, color))
        if (line := yolo_line(c, x1, y1, x2, y2, imgsz, imgsz)) not in lines:  # one shape drawn twice is one object
            lines.append(line)  # (convert drops the repeated row as a defect); drawn still, so the rest stays the same
    encoded, png = cv2.imencode(".png", img)
    assert encoded, "cv2 could not encode a PNG"  # an array it made itself: never bad input
    staged_write(stage / "images" / split / f"{i:05d}.png", png.tobytes())
    staged_write(stage / "labels" / split / f"{i:05d}.txt", "\n".join(lines) + "\n")


# The converters live in convert.py (and voc.py, coco.py, yolofmt.py); `yolodistill.data.convert` stays importable.
from .convert import ConvertSummary, convert  # noqa: E402, F401
