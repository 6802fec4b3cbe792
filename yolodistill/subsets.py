"""Which split each subset of an export is, from the folder it lies in: train/, valid/, test/ (Roboflow, Ultralytics)
or CVAT's obj_<subset>_data/. Shared by the YOLO and VOC readers; a subset no name here matches is said, not
silently mixed into a seeded split."""

from __future__ import annotations

import re
from pathlib import Path

SPLIT_WORDS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
CVAT = re.compile(r"obj_(.+)_data", re.IGNORECASE)  # CVAT's YOLO 1.1 keeps subset Train in obj_Train_data/


def subset(folder: str) -> str:
    """A folder's subset name, lower-cased."""
    cvat = CVAT.fullmatch(folder)
    return (cvat.group(1) if cvat else folder).lower()


def folder_splits(paths: list[Path], folder: Path) -> dict[Path, str] | None:
    """Each file's split from the train/val(id)/test folder it lies in under `folder`, when every file lies in one and
    there is a train and a held-out split (a lone test split is the val split); else None."""
    split_of = {}
    for p in paths:
        words = [SPLIT_WORDS.get(subset(part)) for part in p.relative_to(folder).parts[:-1]]
        split_of[p] = next((w for w in words if w), None)
    given = set(split_of.values())
    if None in given or "train" not in given or not given & {"val", "test"}:
        return None
    return {p: "val" if s == "test" and "val" not in given else s for p, s in split_of.items()}


def unknown_subsets(paths: list[Path], folder: Path) -> tuple[list[str], str] | None:
    """The folders under `folder` holding the images that look like subsets (obj_Holdout_data/ beside
    obj_Train_data/, test/ beside images/), and the issue line, where folder_splits gave them no split: a seeded
    one may train on their held-out images, and must say so."""
    tops = sorted({p.relative_to(folder).parts[0] + "/" if len(p.relative_to(folder).parts) > 1 else "'.'"
                   for p in paths})
    named = [t for t in tops if CVAT.fullmatch(t[:-1]) or t[:-1].lower() in SPLIT_WORDS]
    if len(tops) < 2 or not named:
        return None
    return named, (f"{folder}: its images lie in {', '.join(tops)}, which give no train and held-out split this "
                   "reader knows (folders train, val, valid, validation, test, or CVAT's obj_<one of them>_data): a "
                   "seeded split was made instead, which may train on their held-out images; rename the folders to "
                   "keep their split")
