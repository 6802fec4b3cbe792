"""Datasets: a deterministic synthetic detection set for tests and the demo, and converters to YOLO format."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from rich.markup import escape

from .errors import UserError
from .utils import atomic_write_text

def split_images(source: str | Path | list) -> list[Path]:
    """Image files a resolved split names, in Ultralytics' layouts: folders (searched) or .txt lists, sorted."""
    from ultralytics.data.utils import IMG_FORMATS

    files: list[Path] = []
    for src in map(Path, source if isinstance(source, list) else [source]):
        if src.is_dir():
            files += sorted(p for p in src.rglob("*") if p.suffix[1:].lower() in IMG_FORMATS)
        elif src.suffix == ".txt" and src.is_file():
            files += [(src.parent / line.strip()).resolve() for line in src.read_text().splitlines() if line.strip()]
    return files


SHAPES = ("circle", "square", "triangle", "cross", "ring", "diamond", "bar", "ellipse")


def _check_val_fraction(val_fraction: float) -> None:
    """Both splits must get images, so the share has to lie strictly between 0 and 1."""
    if not 0 < val_fraction < 1:
        raise UserError(f"the validation fraction must be between 0 and 1, got {val_fraction}")


def _yolo_line(c: int, x1: float, y1: float, x2: float, y2: float, width: int, height: int) -> str:
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


def make_synthetic(
    out: str | Path,
    images: int = 64,
    classes: int = 3,
    imgsz: int = 128,
    seed: int = 0,
    val_fraction: float = 0.25,
) -> Path:
    """Write a synthetic multi-class detection dataset in YOLO format and return its data.yaml.

    Each class is a shape (circle, square, triangle, ...) drawn in a random colour on a noisy background, 1 to 4
    objects per image. The same arguments always give the same bytes, so tests and the demo are reproducible.
    """
    import cv2

    if images < 2:
        raise UserError(f"--images must be at least 2 (one train and one val image), got {images}")
    if not 1 <= classes <= len(SHAPES):
        raise UserError(f"--classes must be between 1 and {len(SHAPES)}, got {classes}")
    if imgsz < 32:
        raise UserError(f"--imgsz must be at least 32, got {imgsz}")
    _check_val_fraction(val_fraction)
    out = Path(out)
    rng = np.random.default_rng(seed)
    n_val = max(1, round(images * val_fraction))
    for i in range(images):
        split = "val" if i < n_val else "train"
        img = rng.integers(0, 60, (imgsz, imgsz, 3), dtype=np.uint8)
        lines = []
        for _ in range(int(rng.integers(1, 5))):
            c = int(rng.integers(0, classes))
            r = int(rng.integers(max(imgsz // 16, 3), max(imgsz // 5, 5)))
            cx, cy = (int(v) for v in rng.integers(r, imgsz - r, 2))
            color = tuple(int(v) for v in rng.integers(90, 256, 3))
            x1, y1, x2, y2 = (float(np.clip(v, 0, imgsz)) for v in _draw(img, SHAPES[c], cx, cy, r, color))
            lines.append(_yolo_line(c, x1, y1, x2, y2, imgsz, imgsz))
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out / "images" / split / f"{i:05d}.png"), img)
        atomic_write_text(out / "labels" / split / f"{i:05d}.txt", "\n".join(lines) + "\n")
    data = {
        "path": str(out.resolve()),
        "train": "images/train",
        "val": "images/val",
        "names": {i: SHAPES[i] for i in range(classes)},
    }
    return atomic_write_text(out / "data.yaml", yaml.safe_dump(data, sort_keys=False))


# ----------------------------------------------------------------------------------------------------------------------
# Converters: Pascal VOC and COCO to YOLO format
# ----------------------------------------------------------------------------------------------------------------------

FORMATS = ("voc", "coco")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
COCO_KEYS = ("images", "annotations", "categories")


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

    def render(self) -> str:
        return "\n".join([
            f"[bold green]Wrote[/] {escape(str(self.data_yaml))} ({escape(self.split)})",
            f"Images: {self.images['train']} train, {self.images['val']} val",
            f"Classes ({len(self.names)}): {', '.join(escape(n) for n in self.names)}",
            f"Boxes: {self.boxes} written, {self.clipped} clipped to the image, {self.dropped} dropped (no area left)",
        ])


@dataclass
class _Image:
    """One source image and its boxes as (class index, x1, y1, x2, y2) in pixels; split is None until assigned."""

    path: Path
    boxes: list[tuple[int, float, float, float, float]] = field(default_factory=list)
    split: str | None = None


def convert(
    src: str | Path,
    fmt: str,
    out: str | Path,
    val_fraction: float = 0.2,
    seed: int = 0,
    names: list[str] | None = None,
) -> ConvertSummary:
    """Convert a Pascal VOC or COCO detection dataset to YOLO format under `out` and write its data.yaml.

    Everything is read and checked before the first file is written, so a bad source leaves `out` untouched. The
    published split is kept when the source has one; otherwise a seeded split of `val_fraction` goes to val. `names`
    fixes the VOC class order (default: alphabetical); COCO takes its classes from the categories, sorted by id.
    """
    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        raise UserError(f"unknown format '{fmt}': use --format voc or --format coco")
    src, out = Path(src), Path(out)
    if not src.exists():
        raise UserError(f"source '{src}' does not exist: check the path")
    _check_val_fraction(val_fraction)
    _check_out(out, src)
    names, images = _read_voc(src, names) if fmt == "voc" else _read_coco(src, names)
    if not images:
        raise UserError(f"no images found in '{src}': is it a {fmt.upper()} dataset?")
    published = all(im.split for im in images)
    if not published:
        _split(images, val_fraction, seed)
    _check_splits(images, src)
    labels, clipped, dropped = _labels(images)
    for im, lines in zip(images, labels):
        dst = out / "images" / im.split / im.path.name
        _link_or_copy(im.path, dst)
        atomic_write_text(out / "labels" / im.split / f"{dst.stem}.txt", "".join(f"{line}\n" for line in lines))
    data = {"path": str(out.resolve()), "train": "images/train", "val": "images/val", "names": dict(enumerate(names))}
    return ConvertSummary(
        data_yaml=atomic_write_text(out / "data.yaml", yaml.safe_dump(data, sort_keys=False)),
        images={s: sum(im.split == s for im in images) for s in ("train", "val")},
        boxes=sum(map(len, labels)),
        clipped=clipped,
        dropped=dropped,
        names=list(names),
        split="published split" if published else f"seeded split: seed {seed}, val fraction {val_fraction:g}",
    )


def _check_out(out: Path, src: Path) -> None:
    """Refuse any output that would overwrite what the user has or write into the source dataset."""
    if src.is_dir() and out.resolve().is_relative_to(src.resolve()):
        raise UserError(f"--out '{out}' is inside the source '{src}': choose an output folder outside it")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out '{out}' is a file: pass a folder")
    if (out / "data.yaml").exists():
        raise UserError(f"'{out / 'data.yaml'}' already exists: choose a new --out or delete the old dataset first")
    for sub in ("images", "labels"):
        if (out / sub).is_dir() and any((out / sub).iterdir()):
            raise UserError(f"'{out / sub}' is not empty: choose a new --out or empty it first")


def _split(images: list[_Image], val_fraction: float, seed: int) -> None:
    """Seeded split over images sorted by path, so the same source, fraction and seed give the same split."""
    if len(images) < 2:
        raise UserError(f"only {len(images)} image found: a train and a val split need at least 2")
    images.sort(key=lambda im: str(im.path))
    n_val = min(len(images) - 1, max(1, round(len(images) * val_fraction)))
    val = set(np.random.default_rng(seed).permutation(len(images))[:n_val].tolist())
    for i, im in enumerate(images):
        im.split = "val" if i in val else "train"


def _check_splits(images: list[_Image], src: Path) -> None:
    """Both splits need images, and two images of one split cannot share a file name in the flat output folders."""
    for split in ("train", "val"):
        if not any(im.split == split for im in images):
            raise UserError(f"the published {split} split of '{src}' is empty: add images to it")
    seen = {}
    for im in images:
        if (other := seen.setdefault((im.split, im.path.name), im.path)) != im.path:
            raise UserError(f"'{other}' and '{im.path}' share a file name in the {im.split} split: rename one")


def _labels(images: list[_Image]) -> tuple[list[list[str]], int, int]:
    """YOLO rows for every image, boxes clipped to the image; boxes with no area left are dropped and counted."""
    labels, clipped, dropped = [], 0, 0
    for im in images:
        width, height = _image_size(im.path)
        rows = []
        for c, x1, y1, x2, y2 in im.boxes:
            box = (min(max(x1, 0), width), min(max(y1, 0), height), min(max(x2, 0), width), min(max(y2, 0), height))
            if box[2] <= box[0] or box[3] <= box[1]:
                dropped += 1
                continue
            clipped += box != (x1, y1, x2, y2)
            rows.append(_yolo_line(c, *box, width, height))
        labels.append(rows)
    return labels, clipped, dropped


def _image_size(path: Path) -> tuple[int, int]:
    """Width and height of the image file itself: the annotation's own size field is not always right."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, UnidentifiedImageError) as e:
        raise UserError(f"cannot read image '{path}' ({e}): replace or remove it") from None


def _link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link to save disk space; copy when the link fails (another filesystem, no link support)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _find_image(folders: list[Path], names: list[str]) -> Path | None:
    """First existing file among `folders` x `names`, in that order."""
    return next((d / n for d in folders for n in names if n and (d / n).is_file()), None)


# --- Pascal VOC -------------------------------------------------------------------------------------------------------


def _read_voc(src: Path, names: list[str] | None) -> tuple[list[str], list[_Image]]:
    """Images and boxes of a VOC root (Annotations/, JPEGImages/, optional ImageSets/Main/ splits)."""
    ann_dir = src / "Annotations"
    if not ann_dir.is_dir():
        raise UserError(f"'{src}' has no Annotations/ folder: pass the VOC root with Annotations/ and JPEGImages/")
    splits = _voc_splits(src / "ImageSets" / "Main")
    if splits:
        xmls = [(ann_dir / f"{stem}.xml", split) for stem, split in splits.items()]
    else:
        xmls = [(p, None) for p in sorted(ann_dir.glob("*.xml"))]
    parsed = [(*_parse_voc_xml(xml, src / "JPEGImages"), split) for xml, split in xmls]
    found = sorted({name for _, objects, _ in parsed for name, *_ in objects})
    if names is None:
        names = found
    elif unknown := [n for n in found if n not in names]:
        raise UserError(f"the annotations name classes {unknown} that are not in the class list {list(names)}: "
                        "add them to the list or fix the annotations")
    index = {n: i for i, n in enumerate(names)}
    return list(names), [
        _Image(path, [(index[n], *box) for n, *box in objects], split) for path, objects, split in parsed
    ]


def _voc_splits(main: Path) -> dict[str, str]:
    """Image ids of the published split: train on trainval (else train), validate on test (else val).

    Ids that are also in the val list are taken out of train, so VOC2012 (trainval = train + val, no test) does not
    leak its val images into training. No train or no val list means no published split.
    """

    def ids(*candidates: str) -> list[str] | None:
        f = next((main / f"{c}.txt" for c in candidates if (main / f"{c}.txt").is_file()), None)
        return None if f is None else [line.split()[0] for line in f.read_text().splitlines() if line.strip()]

    train, val = ids("trainval", "train"), ids("test", "val")
    if train is None or val is None:
        return {}
    return {**{i: "train" for i in train}, **{i: "val" for i in val}}


def _parse_voc_xml(xml: Path, img_dir: Path) -> tuple[Path, list[tuple[str, float, float, float, float]]]:
    """The image file and (name, x1, y1, x2, y2) objects of one VOC annotation.

    Coordinates are taken as given: the box spans xmin..xmax, so a box with xmin == xmax has no area and is dropped
    later. Names are stripped of surrounding whitespace; difficult objects are kept, they are real objects.
    """
    import xml.etree.ElementTree as ET

    if not xml.is_file():
        raise UserError(f"'{xml}' is listed in ImageSets/Main but does not exist: add it or remove it from the list")
    try:
        root = ET.parse(xml).getroot()
    except ET.ParseError as e:
        raise UserError(f"'{xml}' is not valid XML ({e}): fix or remove it") from None
    filename = Path((root.findtext("filename") or "").strip()).name
    image = _find_image([img_dir], [filename] + [xml.stem + s for s in IMAGE_SUFFIXES])
    if image is None:
        raise UserError(f"image '{filename or xml.stem}' of '{xml}' is not in '{img_dir}': add it or remove the XML")
    objects = []
    for obj in root.findall("object"):
        name = (obj.findtext("name") or "").strip()
        try:
            box = tuple(float(obj.find("bndbox").findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        except (AttributeError, TypeError, ValueError):
            raise UserError(f"'{xml}': object '{name}' lacks a numeric bndbox xmin/ymin/xmax/ymax: fix it") from None
        if not name:
            raise UserError(f"'{xml}': an object has an empty <name>: fix the XML")
        objects.append((name, *box))
    return image, objects


# --- COCO -------------------------------------------------------------------------------------------------------------
# Ultralytics' `ultralytics.data.converter.convert_coco` does not fit: it maps classes as `category_id - 1` or through
# the COCO-91 to COCO-80 table (wrong for any other category ids), writes into an auto-incremented save_dir with
# labels/<json stem>/ folders, does not place the images, neither clips out-of-image boxes nor counts what it drops, and
# appends to label files non-atomically. Boxes are simple enough to convert here.


def _read_coco(src: Path, names: list[str] | None) -> tuple[list[str], list[_Image]]:
    """Images and boxes of one COCO JSON, or of a train/val pair of them; classes are the categories sorted by id."""
    if names is not None:
        raise UserError("COCO class names come from the JSON 'categories': do not pass names for COCO")
    first, images = None, []
    for path, split in _coco_jsons(src):
        data = _load_coco(path)
        categories = _coco_categories(data, path)
        if first is not None and categories != first:
            raise UserError(f"'{path}' has other categories than the other JSON file: convert them one at a time")
        first = categories
        images += _coco_images(data, path, {cid: i for i, cid in enumerate(sorted(categories))}, split)
    return [first[cid] for cid in sorted(first)], images


def _coco_jsons(src: Path) -> list[tuple[Path, str | None]]:
    """The JSON file(s) to read: SRC itself, the only JSON in SRC/annotations/ (or SRC/), or its train/val pair."""
    if src.is_file():
        return [(src, None)]
    found = sorted((src / "annotations").glob("*.json")) or sorted(src.glob("*.json"))
    found = [p for p in found if p.name.startswith("instances_")] or found  # COCO also ships captions_, person_...
    if len(found) == 1:
        return [(found[0], None)]
    train = [p for p in found if "train" in p.stem.lower()]
    val = [p for p in found if "val" in p.stem.lower()]
    if len(train) == 1 and len(val) == 1 and train != val:
        return [(train[0], "train"), (val[0], "val")]
    if not found:
        raise UserError(f"no COCO JSON in '{src / 'annotations'}' or '{src}': pass the JSON file as SRC")
    raise UserError(f"found {len(found)} JSON files in '{found[0].parent}' and no single train/val pair: "
                    "pass the one to convert as SRC")


def _load_coco(path: Path) -> dict:
    """The parsed JSON, checked to have the three lists a COCO detection file needs."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"'{path}' is not valid JSON ({e}): fix or replace it") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in COCO_KEYS):
        raise UserError(f"'{path}' is not a COCO detection file: it needs {', '.join(COCO_KEYS)} lists")
    return data


def _coco_categories(data: dict, path: Path) -> dict[int, str]:
    """Category id -> name."""
    try:
        categories = {int(c["id"]): str(c["name"]) for c in data["categories"]}
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"'{path}': a category lacks an integer 'id' or a 'name' ({e!r}): fix the JSON") from None
    if len(categories) != len(data["categories"]):
        raise UserError(f"'{path}': two categories share an id: fix the JSON")
    return categories


def _coco_images(data: dict, path: Path, index: dict[int, int], split: str | None) -> list[_Image]:
    """Images found by file_name beside the JSON or in images/ (or their <split> subfolders), with their boxes.

    Crowd annotations are skipped, as Ultralytics' own converter does: they mark regions, not single objects.
    """
    base = path.parent.parent if path.parent.name == "annotations" else path.parent
    tag = path.stem.removeprefix("instances_")
    folders = [base, base / "images", base / tag, base / "images" / tag]
    try:
        images = {}
        for im in sorted(data["images"], key=lambda im: str(im["file_name"])):
            found = _find_image(folders, [str(im["file_name"])])
            if found is None:
                raise UserError(f"image '{im['file_name']}' of '{path}' is in none of {[str(d) for d in folders]}: "
                                "put it there or remove it from the JSON")
            images[im["id"]] = _Image(found, split=split)
        for ann in data["annotations"]:
            if ann.get("iscrowd"):
                continue
            if ann["category_id"] not in index:
                raise UserError(f"'{path}': annotation {ann.get('id')} has category_id {ann['category_id']}, "
                                "which is not in 'categories': add the category or fix the annotation")
            if ann["image_id"] not in images:
                raise UserError(f"'{path}': annotation {ann.get('id')} points to image_id {ann['image_id']}, "
                                "which is not in 'images': fix the annotation")
            x, y, w, h = (float(v) for v in ann["bbox"])
            images[ann["image_id"]].boxes.append((index[ann["category_id"]], x, y, x + w, y + h))
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"'{path}': malformed image or annotation ({e!r}): fix the JSON") from None
    return list(images.values())
