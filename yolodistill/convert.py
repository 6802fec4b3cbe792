"""`yolodistill data convert`: Pascal VOC, COCO or YOLO datasets as found in the wild, to one clean YOLO dataset.

The readers (`voc.py`, `coco.py`, `yolofmt.py`) find the annotations and images of the common layouts and return the
same `Source`; everything after that is shared: the match threshold, the split, clipping, the per-class and box-size
counts, and the files. Everything is read and checked before the first file is written, so a bad source leaves the
output untouched.
"""

from __future__ import annotations

import errno
import math
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rich.markup import escape

from . import exif
from .placement import note, place, resized_pairs
from .errors import (UserError, check_imgsz, check_number, check_output, check_path, check_seed, check_whole,
                     check_writable, python_values)
from .layout import OUTPUT_FILES, format_hint, parenthesised  # noqa: F401 (OUTPUT_FILES: scripts)
from .locks import holding
from .utils import atomic_write_json, atomic_write_text, staged_splits, staged_write, steps

FORMATS = ("voc", "coco", "yolo")
EPS = 1e-6  # label writers round (YOLO to 6 decimals): a coordinate this far past an edge is on it
SPLITS = ("train", "val", "test")
# COCO's object sizes (pycocotools' areaRng), here on the box area in pixels once the image is resized to imgsz.
SMALL, MEDIUM = 32**2, 96**2
SIZE_DEFINITION = ("COCO's object sizes on the box area once the image's long side is resized to imgsz: small < 32², "
                   "medium < 96², large >= 96² px")
SMALL_WARNING = 0.5  # share of small boxes above which the summary says so
STAGE = ".convert-partial"  # under --out: the images and labels of a conversion until they are whole


@dataclass
class Item:
    """One source image and its boxes as (class index, x1, y1, x2, y2) in pixels; split is None until assigned."""

    path: Path
    boxes: list[tuple[int, float, float, float, float]] = field(default_factory=list)
    split: str | None = None
    size: tuple[int, int] | None = None  # (width, height) once read, upright as its EXIF orientation turns it
    stored: tuple[int, int] | None = None  # (width, height) as stored, before EXIF turns it
    tag: int = 1  # EXIF orientation
    declared: tuple[int, int] | None = None  # (width, height) the annotation says it was drawn on, if it says


@dataclass
class Source:
    """What a reader found: class names, matched images, and what it could not match or had to fix."""

    names: list[str]
    items: list[Item]
    searched: str  # the folders it looked in, for the error when too little matched
    unmatched: list[str] = field(default_factory=list)  # "annotation: why", written to unmatched.txt
    issues: list[str] = field(default_factory=list)  # "file: problem", written to issues.txt
    checks: dict[str, int] = field(default_factory=dict)  # counts of each kind of issue, for the summary
    what: str = "annotations"  # what `unmatched` counts
    fails: str = "have no image"  # what went wrong with them
    clips_listed: bool = False  # the reader lists the boxes it clips itself (YOLO: by label line)
    keys: dict = field(default_factory=dict)  # a data.yaml's keys the new one keeps (YOLO: channels, unlabeled)


@dataclass
class ConvertSummary:
    """What `convert` wrote, so the user can see at once whether the dataset looks right."""

    data_yaml: Path
    images: dict[str, int]
    boxes: int
    clipped: int
    dropped: int
    names: list[str]
    split: str
    imgsz: int = 640
    per_class: dict[str, dict[str, int]] = field(default_factory=dict)
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    unmatched: int = 0
    unmatched_what: str = "annotations"
    checks: dict[str, int] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)

    def render(self) -> str:
        splits = [s for s in SPLITS if s in self.images]
        lines = [
            f"[bold green]Wrote[/] {escape(str(self.data_yaml))} ({escape(self.split)})",
            "Images: " + ", ".join(f"{self.images[s]} {s}" for s in splits)
            + " (hard links to the source's where its disk allows: the same files, so edit a copy, not them)",
            f"Classes ({len(self.names)}): {', '.join(escape(n) for n in self.names)}",
            f"Boxes: {self.boxes} written, {self.clipped} clipped to the image, {self.dropped} dropped (no area left "
            "or not finite)" + (f", listed in {escape(str(self.files['issues']))}"
                                if (self.clipped or self.dropped) and "issues" in self.files else ""),
        ]
        if self.unmatched:
            lines.append(f"[yellow]Unmatched:[/] {self.unmatched} {self.unmatched_what}, left out and listed in "
                         f"{escape(str(self.files['unmatched']))}")
        if self.checks:
            found = ", ".join(f"{n} {k}" for k, n in self.checks.items())
            where = f", listed in {escape(str(self.files['issues']))}" if "issues" in self.files else ""
            lines.append(f"[yellow]Checks:[/] {found}{where}")
        elif "issues" in self.files and not (self.clipped or self.dropped):  # its lines said by nothing above
            lines.append(f"[yellow]Issues:[/] listed in {escape(str(self.files['issues']))}")
        width = max([len("class"), *map(len, self.per_class)])
        lines.append(f"Boxes per class: {'class':<{width}} " + " ".join(f"{s:>6}" for s in [*splits, "total"]))
        for name, counts in self.per_class.items():
            lines.append(f"                 {escape(name):<{width}} "
                         + " ".join(f"{counts.get(s, 0):>6}" for s in [*splits, "total"]))
        total = self.sizes.get("total", {})
        n = sum(total.values()) or 1
        lines.append(f"Box sizes at imgsz {self.imgsz} (COCO: small < 32², medium < 96² px): "
                     + ", ".join(f"{k} {v} ({v / n:.0%})" for k, v in total.items()))
        if total and total["small"] / n > SMALL_WARNING:
            lines.append(f"[yellow]Note:[/] {total['small'] / n:.0%} of the boxes are small at imgsz {self.imgsz}: "
                         "a nano student learns them last, if at all; train at a larger --imgsz if you can")
        lines.append(f"Counts: {escape(str(self.files['dataset']))}")
        return "\n".join(lines)


@python_values
@holding(lambda given: given.get("out"), "--out")
def convert(
    src: str | Path | list[str | Path],
    fmt: str,
    out: str | Path,
    val_fraction: float = 0.2,
    seed: int = 0,
    names: str | list[str] | None = None,
    images: str | Path | None = None,
    annotations: str | Path | None = None,
    imgsz: int = 640,
) -> ConvertSummary:
    """Convert a Pascal VOC, COCO or YOLO dataset to a clean YOLO dataset under `out`, with data.yaml and
    dataset.json (per-class box counts, box sizes at `imgsz`).

    `images`/`annotations` name the folders when the layout is not one the readers know; they always win (a YOLO
    data.yaml names its splits' folders itself, and is refused `images`). The published split is kept when the
    source has one; otherwise a seeded split of `val_fraction` goes to val.
    `names` fixes the class order (VOC: default alphabetical; YOLO: default data.yaml or classes.txt).
    """
    from . import coco, voc, yolofmt

    fmt = fmt.strip().lower() if isinstance(fmt, str) else fmt
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r}: use --format voc, coco or yolo")
    check_seed(seed)
    check_number(val_fraction, "the validation fraction")
    out = check_path(out, "--out", "folder")
    given = names
    if isinstance(names, str):  # "a,b" as on the command line; from Python not the classes 'a', ',' and 'b'
        names = [n.strip() for n in names.split(",")]
    if names is not None and not (isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names)):
        raise UserError(f"--names must be the class names, comma-separated (cat,dog) or a list of them, got {given!r}")
    if names is not None and not all(str(n).strip() for n in names):
        raise UserError(f"--names {given!r} has an empty name: write them comma-separated, e.g. cat,dog")
    srcs = [check_path(p, "source") for p in (src if isinstance(src, (list, tuple)) else [src])]
    if not srcs:
        raise UserError("no source: pass the dataset folder (or file) to convert")
    for p in srcs:
        if not p.exists():
            raise UserError(f"source '{p}' does not exist: check the path")
    if len(srcs) > 1 and fmt != "coco":
        raise UserError(f"several sources are only for COCO JSON files (one per split): pass one {fmt} source")
    for flag, folder in (("--images", images), ("--annotations", annotations)):
        if folder is not None and not (p := check_path(folder, flag, "folder")).is_dir():
            raise UserError(f"{flag} '{folder}' " + ("is not a folder: pass the folder that holds them" if p.exists()
                                                     else "does not exist: check the path"))
    if annotations is not None and fmt != "voc":
        raise UserError("--annotations is for VOC XML folders: " + ("for COCO pass the JSON file(s) as the source"
                        if fmt == "coco" else "a YOLO dataset's labels are found beside its images: drop --annotations"))
    if not 0 < val_fraction < 1:
        raise UserError(f"--val-fraction must be in (0, 1): a share of the images for val, got {val_fraction}")
    check_whole(imgsz, "--imgsz")  # check_imgsz lets None through (elsewhere the checkpoint's own size)
    check_imgsz(imgsz, of="the largest stride of YOLO models, which train at such sizes")
    if names is not None and (repeated := sorted({n for n in names if names.count(n) > 1})):
        raise UserError(f"--names lists {', '.join(map(repr, repeated))} more than once: name each class once")
    out = check_output(out, "--out")
    _check_out(out, srcs)
    images, annotations = (Path(p) if p is not None else None for p in (images, annotations))
    if fmt == "voc":
        source = voc.read(srcs[0], names, images, annotations)
    elif fmt == "coco":
        source = coco.read(srcs, names, images)
    else:
        source = yolofmt.read(srcs[0], names, images)
    _check_matched(source, fmt)
    if not source.names:
        raise UserError(f"no classes in {source.searched}: " + ("the JSON's 'categories' is empty: add them"
                        if fmt == "coco" else f"no annotation names one{parenthesised(format_hint(srcs[0], fmt))}; "
                        "pass --names A,B,... or check that the annotations hold boxes"))
    _check_out_of_sources(out, source, images)
    published = all(it.split for it in source.items)
    if not published:
        _split(source.items, val_fraction, seed)
    _check_splits(source.items, srcs[0], source=source)
    labels, clipped, dropped = _labels(source)
    _check_splits(source.items, srcs[0], after="unreadable images were left out")
    if not any(labels):  # every image background: a misread layout (a VOC folder as --format yolo), nothing to learn
        folders = sorted({it.path.parent for it in source.items})
        malformed = [i for i in source.issues if "' is not 'class" in i]  # YOLO rows (save_conf's 6 values): named
        why = (f"{len(malformed)} label row{'s were' if len(malformed) > 1 else ' was'} dropped as malformed, e.g. "
               f"{malformed[0]}" if malformed else
               f"is it a {fmt.upper()} dataset?{parenthesised(format_hint(folders, fmt, deep=False))}")
        raise UserError(f"every box in {source.searched} was dropped ({dropped}: no area inside its image, or not "
                        "finite): check the annotations' coordinates" if dropped else
                        f"no box in {source.searched}: every image would be background; {why}")
    per_class, sizes = box_counts(source, imgsz)
    return _write(out, srcs, fmt, source, labels, per_class, sizes, imgsz, ConvertSummary(
        data_yaml=out / "data.yaml",
        images={s: n for s in SPLITS if (n := sum(it.split == s for it in source.items)) or s != "test"},
        boxes=sum(map(len, labels)), clipped=clipped, dropped=dropped, names=list(source.names),
        split="published split" if published else f"seeded split: seed {seed}, val fraction {val_fraction:g}",
        imgsz=imgsz, per_class=per_class, sizes=sizes, unmatched=len(source.unmatched), unmatched_what=source.what,
        checks={k: v for k, v in source.checks.items() if v},
    ))


def _check_out(out: Path, srcs: list[Path]) -> None:
    """Refuse any output that would overwrite what the user has or write into the source dataset."""
    from . import yolofmt

    for src in srcs:
        folder = src if src.is_dir() else None
        if src.suffix.lower() in (".yaml", ".yml") and src.is_file():  # the dataset it names, not where it lies;
            folder = yolofmt.yaml_root(src)  # none where it does not read as a data yaml: the reader says why
        if folder is not None and out.resolve().is_relative_to(folder.resolve()):
            raise UserError(f"--out '{out}' is inside the source '{folder}': choose an output folder outside it")
    for name in OUTPUT_FILES:
        if (out / name).exists() or (out / name).is_symlink():
            raise UserError(f"'{out / name}' already exists: choose a new --out or move it away first")
    for sub in ("images", "labels"):
        if (out / sub).exists() and not (out / sub).is_dir():
            raise UserError(f"'{out / sub}' is a file: choose a new --out or move it away first")
        if (out / sub).is_dir() and any((out / sub).iterdir()):
            raise UserError(f"'{out / sub}' is not empty: choose a new --out or empty it first")
        check_writable(out / sub, "--out", shown=out / sub)  # an empty one: a traceback once all was converted


def _check_out_of_sources(out: Path, source: Source, images: Path | None = None) -> None:
    """The output may not sit in a folder the source's images are in (a split folder, VOC's --images, COCO's image
    folder), nor in --images, which is searched with its subfolders: the written images would join that split, or
    the next conversion of the same source."""
    target = out.resolve()
    for folder in sorted({it.path.resolve().parent for it in source.items} | ({images.resolve()} if images else set())):
        if target.is_relative_to(folder):
            raise UserError(f"--out '{out}' is inside '{folder}', which holds the source's images: choose an output "
                            "folder outside it")


def _check_matched(source: Source, fmt: str) -> None:
    """Too little matched means the layout was misread, not that the data is small: stop and say where we looked."""
    matched, missed = len(source.items), len(source.unmatched)
    if matched and missed * 2 <= matched + missed:
        return
    example = f" (first: {source.unmatched[0]})" if missed else ""
    if not matched:
        what = f"all {missed} {source.what} {source.fails}{example}" if missed else "no images found"
    else:
        what = f"{missed} of {matched + missed} {source.what} {source.fails}{example}"
    fix = "pass --images DIR" + (" and --annotations DIR" if fmt == "voc" else "") + " where they are"
    if fmt == "yolo" and source.searched.startswith("the splits of"):  # a data.yaml names the folders: no --images
        fix = "fix the data.yaml's split paths (or its 'path:') to where the images are"
    raise UserError(f"{what}; searched {source.searched}: is it a {fmt.upper()} dataset? {fix}")


def _split(items: list[Item], val_fraction: float, seed: int) -> None:
    """Seeded split over images sorted by path, so the same source, fraction and seed give the same split."""
    if len(items) < 2:
        raise UserError(f"only {len(items)} image found: a train and a val split need at least 2")
    items.sort(key=lambda it: str(it.path))
    n_val = min(len(items) - 1, max(1, round(len(items) * val_fraction)))
    val = set(np.random.default_rng(seed).permutation(len(items))[:n_val].tolist())
    for i, it in enumerate(items):
        it.split = "val" if i in val else "train"


def _check_splits(items: list[Item], src: Path, after: str = "", source: Source | None = None) -> None:
    """Both splits need images (Ultralytics refuses a data.yaml without them); one image cannot land twice. A split
    that may be empty for what the `source` reader could not match says so."""
    for split in ("train", "val"):
        if not any(it.split == split for it in items):
            if after:  # checked again once unreadable images are gone: see issues.txt for which
                raise UserError(f"the {split} split of '{src}' has no readable image left ({after}): fix or replace "
                                "its images")
            if source is not None and source.unmatched and source.what != "label files":  # YOLO's: a yaml's split
                raise UserError(f"the published {split} split of '{src}' has no image found, and "  # is its folder
                                f"{len(source.unmatched)} {source.what} {source.fails} (first: {source.unmatched[0]}): "
                                "if they are its images, pass --images DIR where they are")
            raise UserError(f"the published {split} split of '{src}' is empty: add images to it")
    seen: dict[Path, str] = {}
    for it in items:  # by the file itself: one image reached by two spellings (../shared/x.jpg, shared/x.jpg)
        if (other := seen.setdefault(it.path.resolve(), it.split)) != it.split:
            raise UserError(f"'{it.path}' is in both the {other} and the {it.split} split: keep it in one")


def _labels(source: Source) -> tuple[list[list[str]], int, int]:
    """YOLO rows for every image, boxes clipped to the image; clipped boxes and those with no area left (dropped)
    are counted and listed. Unreadable images are left out and listed as issues."""
    from .data import yolo_line

    kept = []
    for it in steps(source.items, len(source.items), "Reading images"):
        if it.size is None:
            it.size, it.stored, it.tag = exif.read(it.path) or (None, None, 1)
        if (why := "not a readable image" if it.size is None else exif.skipped(it.path)) is not None:
            note(source, it, "unreadable images (left out)", f"{why}, left out")  # counted, it would never train
            continue
        kept.append(it)
    source.items[:] = kept
    if not kept:
        raise UserError(f"none of the images in {source.searched} could be read: are they image files?")
    labels, clipped, dropped, resized = [], 0, 0, resized_pairs(kept)
    for it in kept:
        width, height = it.size
        place(it, source, resized)
        rows, boxes = [], []
        for c, x1, y1, x2, y2 in it.boxes:
            if not all(map(math.isfinite, (x1, y1, x2, y2))):  # NaN passes min/max and every area test
                dropped += 1
                source.issues.append(f"{it.path}: a {source.names[c]} box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) has a "
                                     "coordinate that is not a finite number, dropped")
                continue
            box = (min(max(x1, 0), width), min(max(y1, 0), height), min(max(x2, 0), width), min(max(y2, 0), height))
            if box[2] <= box[0] or box[3] <= box[1]:
                dropped += 1
                source.issues.append(f"{it.path}: a {source.names[c]} box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) has no "
                                     f"area inside the {width}x{height} image, dropped")
                continue
            if max(abs(a - b) for a, b in zip(box, (x1, y1, x2, y2))) > EPS * max(width, height):
                clipped += 1  # not a YOLO label's rounding: 6 decimals put an edge at 640 on 640.0003
                if not source.clips_listed:  # issues.txt lists what was fixed, clipping included
                    source.issues.append(f"{it.path}: a {source.names[c]} box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) "
                                         f"reaches outside the {width}x{height} image, clipped")
            rows.append(yolo_line(c, *box, width, height))
            boxes.append((c, *box))
        it.boxes = boxes
        labels.append(rows)
    return labels, clipped, dropped


def box_counts(source: Source, imgsz: int) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """Boxes per class and split, and COCO small/medium/large per split at the training size `imgsz`."""
    splits = [s for s in SPLITS if any(it.split == s for it in source.items)]
    from .data import class_keys

    names = class_keys(source.names)  # a name a yolo yaml repeats, told apart by its id
    per_class = {n: {**{s: 0 for s in splits}, "total": 0} for n in names.values()}
    sizes = {s: {"small": 0, "medium": 0, "large": 0} for s in [*splits, "total"]}
    for it in source.items:
        scale = imgsz / max(it.size)
        for c, x1, y1, x2, y2 in it.boxes:
            name = names[c]
            per_class[name][it.split] += 1
            per_class[name]["total"] += 1
            area = (x2 - x1) * (y2 - y1) * scale * scale
            kind = "small" if area < SMALL else "medium" if area < MEDIUM else "large"
            sizes[it.split][kind] += 1
            sizes["total"][kind] += 1
    return per_class, sizes


def _out_names(items: list[Item]) -> list[str]:
    """A file name per image whose stem is unique within its split, since the label file is named by the stem
    (a.jpg and a.png would share a.txt): a repeated stem gets -2, -3, ... before its suffix."""
    taken: set[tuple[str, str]] = set()
    tried: dict[tuple[str, str], int] = {}  # a stem's last -N: the ones below it stay taken (counting from 2 each
    names = []  # time was quadratic: 16 000 images named image.jpg, one per folder, took a minute)
    for it in items:
        key = (it.split, it.path.stem.lower())
        stem, n = it.path.stem, tried.get(key, 1)
        while (it.split, stem.lower()) in taken:
            n += 1
            stem = f"{it.path.stem}-{n}"
        tried[key] = n
        taken.add((it.split, stem.lower()))
        names.append(f"{stem}{it.path.suffix}")
    return names


def _write(out: Path, srcs: list[Path], fmt: str, source: Source, labels: list[list[str]], per_class: dict,
           sizes: dict, imgsz: int, summary: ConvertSummary) -> ConvertSummary:
    """Images (hard links where possible), labels, data.yaml, dataset.json and the lists of what was left out.

    images/ and labels/ are written in OUT/.convert-partial, their splits moved in at the end: an interrupt leaves no
    half dataset that a rerun would refuse (the splits moved in and the files written are taken out again, with a
    second Ctrl-C held till that ends); a rerun removes a stage a kill left."""
    # _check_out found images/ and labels/ empty and none of OUTPUT_FILES in --out: what is taken out is ours
    with staged_splits(out, STAGE, OUTPUT_FILES) as (stage, move_in):
        for it, name, lines in steps(zip(source.items, _out_names(source.items), labels), len(labels), "Writing"):
            dst = stage / "images" / it.split / name
            _link_or_copy(it.path, dst)
            staged_write(stage / "labels" / it.split / f"{dst.stem}.txt", "".join(f"{line}\n" for line in lines))
        move_in()
        _write_records(out, srcs, fmt, source, summary)
    return summary


def _write_records(out: Path, srcs: list[Path], fmt: str, source: Source, summary: ConvertSummary) -> None:
    """data.yaml, the lists of what was left out, and dataset.json, once images/ and labels/ are in place."""
    data = {"path": str(out.resolve()), **{s: f"images/{s}" for s in SPLITS if s in summary.images},
            "names": dict(enumerate(source.names)), **source.keys}
    atomic_write_text(summary.data_yaml, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    if source.unmatched:
        summary.files["unmatched"] = atomic_write_text(out / "unmatched.txt", "\n".join(source.unmatched) + "\n")
    if source.issues:
        summary.files["issues"] = atomic_write_text(out / "issues.txt", "\n".join(source.issues) + "\n")
    summary.files["dataset"] = atomic_write_json(out / "dataset.json", dataset_record(srcs, fmt, summary))


def dataset_record(srcs: list[Path], fmt: str, s: ConvertSummary) -> dict[str, Any]:
    """dataset.json: what the dataset holds, so a run's results can be read against it."""
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": [str(p.resolve()) for p in srcs], "format": fmt, "data_yaml": str(s.data_yaml.resolve()),
        "split": s.split, "images": s.images, "names": s.names,
        "boxes": {"written": s.boxes, "clipped": s.clipped, "dropped": s.dropped},
        "per_class": s.per_class, "imgsz": s.imgsz, "sizes": s.sizes, "size_definition": SIZE_DEFINITION,
        "unmatched": s.unmatched, "checks": s.checks,
    }


def _link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link to save disk space; copy when the link fails (another filesystem, no link support)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        try:
            shutil.copy2(src, dst)
        except OSError as e:  # shutil names the source for a full disk, which is the output's
            if e.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise
            raise OSError(e.errno, e.strerror, str(dst)) from None
