"""Tiny hand-made datasets for the converter tests: real image files and annotation files, written the way the tools
found in the wild write them."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

W, H = 40, 30  # every image is 40 px wide, 30 px high unless a test says otherwise
# Expected rows (class cx cy w h) for the two boxes many fixtures have in some form: an inside box (4, 3)-(20, 15)
# and a box (30, 20)-(50, 40) that sticks out of the bottom-right corner and is clipped to (30, 20)-(40, 30).
INSIDE = [0.3, 0.3, 0.4, 0.4]
CLIPPED = [0.875, 25 / 30, 0.25, 10 / 30]


def image(path: Path, w: int = W, h: int = H, seed: int | None = None) -> Path:
    """A random image; `seed` defaults to the name, so two images of the same name have the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(path.name) if seed is None else seed)
    assert cv2.imwrite(str(path), rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
    return path


def exif_image(path: Path, tag: int, w: int = 100, h: int = 80) -> Path:
    """A PNG stored w x h with EXIF orientation `tag` and a white patch at (10, 5)-(30, 20) of its stored pixels."""
    from PIL import Image

    pixels = np.zeros((h, w, 3), np.uint8)
    pixels[5:20, 10:30] = 255
    tags = Image.Exif()
    tags[0x0112] = tag  # Orientation
    Image.fromarray(pixels).save(path, exif=tags.tobytes())
    return path


def rows(path: Path) -> list[list[float]]:
    """The rows of a YOLO label file as numbers."""
    return [[float(v) for v in line.split()] for line in path.read_text().splitlines()]


def files(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def voc_xml(path: Path, objects: list[tuple[str, tuple]], filename: str | None = None, xml_path: str | None = None,
            size: tuple[int, int] | None = None) -> Path:
    """A Pascal VOC annotation with `objects` as (name, (xmin, ymin, xmax, ymax))."""
    path.parent.mkdir(parents=True, exist_ok=True)
    head = f"<filename>{filename}</filename>" if filename is not None else ""
    head += f"<path>{xml_path}</path>" if xml_path is not None else ""
    head += f"<size><width>{size[0]}</width><height>{size[1]}</height></size>" if size else ""
    objs = "".join(
        f"<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
        f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>" for name, b in objects
    )
    path.write_text(f"<annotation><folder>x</folder>{head}{objs}</annotation>")
    return path


def make_voc(root: Path, n: int = 5, splits: bool = True) -> Path:
    """VOCdevkit names. img0: a cat; img1: a dog (name padded with whitespace) half outside, a zero-area dog, a cat
    fully outside; the rest: one cat each. img0's XML claims a wrong <size> (the converter must use the real image
    size). With `splits`: trainval = img0-2, test = img3-4, and a val.txt that must be ignored because test exists."""
    objects = {
        0: [("cat", (4, 3, 20, 15))],
        1: [(" dog\n ", (30, 20, 50, 40)), ("dog", (10, 10, 10, 20)), ("cat", (50, 5, 60, 10))],
    }
    (root / "Annotations").mkdir(parents=True)
    for i in range(n):
        image(root / "JPEGImages" / f"img{i}.jpg")
        voc_xml(root / "Annotations" / f"img{i}.xml", objects.get(i, [("cat", (4, 3, 20, 15))]),
                filename=f"img{i}.jpg", size=(400, 300) if i == 0 else None)
    if splits:
        main = root / "ImageSets" / "Main"
        main.mkdir(parents=True)
        (main / "trainval.txt").write_text("img0\nimg1\nimg2\n")
        (main / "val.txt").write_text("img2\n")
        (main / "test.txt").write_text("img3\nimg4\n")
    return root


def coco_dict(images: list[str], annotations: list[tuple[int, int, list[float]]], crowd: bool = False,
              size: tuple[int, int] = (W, H)) -> dict:
    """A COCO dict with categories zebra (id 7) and ant (id 3): sorted by id they become ant = 0, zebra = 1."""
    anns = [
        {"id": k, "image_id": i, "category_id": c, "bbox": b, "iscrowd": 0} for k, (i, c, b) in enumerate(annotations)
    ]
    if crowd:
        anns.append({"id": 99, "image_id": 0, "category_id": 3, "bbox": [0, 0, 10, 10], "iscrowd": 1})
    return {
        "images": [{"id": i, "file_name": f, "width": size[0], "height": size[1]} for i, f in enumerate(images)],
        "annotations": anns,
        "categories": [{"id": 7, "name": "zebra"}, {"id": 3, "name": "ant"}],
    }


def make_coco(root: Path) -> Path:
    """ann.json beside images/: img0 a zebra; img1 an ant half outside, a zero-area ant and a crowd box;
    img2 no boxes (background); img3 an ant covering the whole image."""
    names = [f"img{i}.png" for i in range(4)]
    for name in names:
        image(root / "images" / name)
    data = coco_dict(names, [
        (0, 7, [4, 3, 16, 12]), (1, 3, [30, 20, 20, 20]), (1, 3, [5, 5, 0, 10]), (3, 3, [0, 0, W, H]),
    ], crowd=True)
    (root / "ann.json").write_text(json.dumps(data))
    return root / "ann.json"
