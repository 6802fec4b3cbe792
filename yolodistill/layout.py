"""Which annotation format lies near images read as another, for the advice on that error path: a VOC folder converted
as YOLO, a COCO folder as VOC, a data yaml over VOC's JPEGImages given to train. One rule for every such advice."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from .errors import UserError

OUTPUT_FILES = ("data.yaml", "dataset.json", "unmatched.txt", "issues.txt")  # convert writes beside images/, labels/
WALKED = 2000  # folders looked through at most: a hint on an error path, not a search of a disk


def looks_coco(path: Path) -> bool:
    """A COCO detection JSON by its name (instances_*, *coco*) or its start: `images` come first in COCO's own files,
    each with a file_name; a classes.json or package.json has neither."""
    name = path.name.lower()
    if name.startswith("instances") or "coco" in name:
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return False
    return any(key in head for key in (b'"file_name"', b'"annotations"', b'"categories"'))


def first_file(root: Path, suffix: str, depth: int) -> Path | None:
    """The first file of `suffix` under root, at most `depth` folders down, that yolodistill did not write (and, for
    a JSON, looks like COCO)."""
    for walked, (folder, dirs, files) in enumerate(os.walk(root), 1):
        if len(Path(folder).relative_to(root).parts) >= depth:
            dirs.clear()
        dirs.sort()
        for name in sorted(files):
            path = Path(folder, name)
            if name.lower().endswith(suffix) and name not in OUTPUT_FILES and (suffix != ".json" or looks_coco(path)):
                return path
        if walked >= WALKED:
            break
    return None


def other_format(folders: list[Path], fmt: str, deep: bool = False) -> tuple[str, Path] | None:
    """(format, first file) of VOC's XML or COCO's JSON where folders read as `fmt` gave nothing: in each image folder,
    its parent and the parent's Annotations folder; with `deep` (a source folder) below it, as far as each reader
    looks (VOC's XML three folders down, in VOCdevkit/VOC2012/Annotations; COCO's JSON one, in annotations/). VOC
    first: a JSON near VOC's XML is more likely another tool's file than the reverse."""
    for kind, suffix, depth in (("voc", ".xml", 3), ("coco", ".json", 1)):
        for folder in dict.fromkeys(folders):
            roots = [folder] if deep else [folder, *(folder.parent / d for d in ("", "Annotations", "annotations"))]
            for root in (r for r in roots if kind != fmt and r.is_dir()):
                if file := first_file(root, suffix, depth if deep else 0):
                    return kind, file
    return None


def format_hint(src: Path | list[Path], fmt: str, deep: bool = True) -> str:
    """"it holds ...: if it is ..., pass --format ..." where other_format finds another format's files, else ''."""
    found = other_format(src if isinstance(src, list) else [src], fmt, deep)
    if found is None:
        return ""
    kind, file = found
    return ("it holds XML annotations: if it is Pascal VOC, pass --format voc" if kind == "voc" else
            f"it holds a COCO JSON ({file}): if it is COCO, pass --format coco")


def parenthesised(text: str) -> str:
    """A hint set after a message's clause in parentheses, or nothing where there is none."""
    return f" ({text})" if text else ""


def check_unlabeled_key(raw: dict, data: str | Path) -> None:
    """`unlabelled:` (the README's prose) or `Unlabeled:` in a data yaml was read as no unlabelled folder, silently,
    by train and by convert's copy."""
    for key in raw:
        if isinstance(key, str) and key != "unlabeled" and key.lower().replace("ll", "l") == "unlabeled":
            raise UserError(f"'{key}:' in '{data}' is not read: the key is 'unlabeled:'; rename it")


def check_channels_key(named: str, info: dict) -> None:
    """`channels:` must be a count: "1" (quoted) was refused by train, read as 1 by bench and export."""
    if not isinstance(ch := info.get("channels", 3), int) or isinstance(ch, bool) or ch < 1:
        raise UserError(f"{named}: channels: {ch!r} should be the images' channel count, 3 (colour) or 1 (grey)")


def check_not_pose(named: str, info: dict, data: str | Path) -> None:
    """A pose dataset (kpt_shape:) trained, exported and benched as a detection one with no word: Ultralytics'
    detection loader reads each row's keypoints after the box as a polygon, so every box was wrong."""
    if info.get("kpt_shape") is not None:
        raise UserError(f"{named} is a pose dataset (kpt_shape: {info['kpt_shape']}): Ultralytics' detection loader "
                        f"reads the keypoints after each box as a polygon, a wrong box; make a detection copy (boxes "
                        f"only) and pass its data.yaml: {convert_hint(data).removeprefix('check and clean it with: ')}")


def convert_hint(data: str | Path, images: list[Path] = ()) -> str:
    """How to fix a data yaml: `data convert` where it can read the yaml (a mapping with a train split), into a
    folder beside the yaml's (convert refuses one inside the source); else the keys the yaml lacks. Where the split's
    `images` have VOC or COCO annotations near them, convert those (convert of the yaml would find no box)."""
    import yaml

    here = Path(data).resolve().parent
    out = shlex.quote(os.path.relpath(here.parent / f"{here.name}-clean"))
    if found := other_format(sorted({p.parent for p in images[:100]}), "yolo"):
        kind, file = found
        src = file if kind == "coco" else file.parent.parent if file.parent.name.lower() == "annotations" else \
            file.parent
        what = "Pascal VOC XML annotations" if kind == "voc" else "a COCO JSON"
        return (f"its images have {what} near them ({file}): convert them with: yolodistill data convert "
                f"{shlex.quote(str(src))} --format {kind} --out {out}")
    try:
        raw = yaml.safe_load(Path(data).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raw = None
    if not isinstance(raw, dict) or not raw.get("train"):
        return "fix it: a data yaml is a mapping with 'train:' and 'val:' image folders and 'names:'"
    return f"check and clean it with: yolodistill data convert {shlex.quote(str(data))} --format yolo --out {out}"
