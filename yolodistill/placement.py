"""Where an annotation's boxes land on the image Ultralytics trains on: turned with an EXIF-turned image when they
were drawn on its stored pixels, scaled with an image resized since it was annotated; what was assumed is listed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from . import exif

if TYPE_CHECKING:
    from .convert import Item, Source

TURNED = "images EXIF turns, annotated on their stored pixels (boxes turned with them)"
AS_SHOWN = "images EXIF turns, annotated without saying on which pixels (boxes taken as shown)"
RESIZED = "images resized since they were annotated (boxes scaled with them)"
OTHER_SIZE = "images of another size than their annotation says (boxes taken as drawn)"


def image_size(path: Path) -> tuple[int, int] | None:
    """Width and height of the image file itself (the annotation's own size field is not always right), turned by
    its EXIF orientation as Ultralytics turns the pixels when it loads them; None when it cannot be read."""
    found = exif.read(path)
    return found and found[0]


def note(source: Source, it: Item, kind: str, what: str) -> None:
    """One line in issues.txt, one more of `kind` in the summary."""
    source.issues.append(f"{it.path}: {what}")
    source.checks[kind] = source.checks.get(kind, 0) + 1


def other_size(it: Item) -> bool:
    """An unturned image whose annotation declares another size than the image has."""
    return ((it.tag == 1 or it.stored is None) and bool(it.declared) and min(it.declared) > 0 and bool(it.size)
            and it.declared != it.size)


def resized_pairs(items: list[Item]) -> set[tuple[tuple[int, int], tuple[int, int]]]:
    """(annotation size, image size) pairs of images plainly resized since they were annotated: both sides by one
    factor, and some image of the pair with boxes that fit the annotation's size but not the image (a size field
    can be wrong while the boxes are right). Decided per pair, so a dataset shrunk as a whole is scaled as a whole,
    boxes that happen to fit the smaller image too."""
    def fit(it: Item, width: float, height: float) -> bool:
        return all(x2 <= width + 1 and y2 <= height + 1 for _, _, _, x2, y2 in it.boxes)

    pairs = set()
    for it in filter(other_size, items):
        (dw, dh), (w, h) = it.declared, it.size
        if abs(w / dw - h / dh) <= 0.01 * max(w / dw, h / dh) and fit(it, dw, dh) and not fit(it, w, h):
            pairs.add((it.declared, it.size))
    return pairs


def place(it: Item, source: Source, resized: set) -> None:
    """Boxes onto the image as Ultralytics loads it: scaled where `resized_pairs` says its image was resized, else
    taken as drawn; on an EXIF-turned image, turned with it when the annotation's size is the stored one (only a
    turn that swaps width and height tells), else taken as drawn on what viewers show. Each said in issues.txt."""
    if other_size(it):
        (dw, dh), (w, h) = it.declared, it.size
        if (it.declared, it.size) in resized:
            it.boxes = [(c, x1 * w / dw, y1 * h / dh, x2 * w / dw, y2 * h / dh) for c, x1, y1, x2, y2 in it.boxes]
            note(source, it, RESIZED, f"the annotation says {dw}x{dh}, the image is {w}x{h}: boxes scaled")
        else:
            note(source, it, OTHER_SIZE, f"the annotation says {dw}x{dh}, the image is {w}x{h}: boxes taken as "
                 "drawn; check them")
        return
    if it.tag == 1 or it.stored is None:
        return
    if it.declared == it.stored != it.size:
        it.boxes = [(c, *exif.upright_box(b, it.tag, it.stored)) for c, *b in it.boxes]
        kind, what = TURNED, "its annotation's size is the stored one, so its boxes were turned with it"
    elif it.declared != it.size or it.size == it.stored:
        kind, what = AS_SHOWN, "the annotation does not tell on which pixels it was drawn: boxes taken as shown"
    else:
        return
    note(source, it, kind, f"EXIF orientation {it.tag}; {what}")
