"""Dataset tools: the VOC and COCO converters on tiny hand-made fixtures, `make_synthetic`, and their CLI commands."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from yolodistill.cli import app
from yolodistill.data import convert, make_synthetic
from yolodistill.errors import UserError

W, H = 40, 30  # every fixture image is 40 px wide, 30 px high
# Expected rows (class cx cy w h) for the two boxes every fixture has in some form: an inside box (4, 3)-(20, 15)
# and a box (30, 20)-(50, 40) that sticks out of the bottom-right corner and is clipped to (30, 20)-(40, 30).
INSIDE = [0.3, 0.3, 0.4, 0.4]
CLIPPED = [0.875, 25 / 30, 0.25, 10 / 30]


def _image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.random.default_rng(len(path.name)).integers(0, 255, (H, W, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), img)


def _rows(path: Path) -> list[list[float]]:
    return [[float(v) for v in line.split()] for line in path.read_text().splitlines()]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def make_voc(root: Path, n: int = 5, splits: bool = True) -> Path:
    """img0: a cat; img1: a dog (name padded with whitespace) half outside, a zero-area dog, a cat fully outside;
    the rest: one cat each. img0's XML claims a wrong <size> (the converter must use the real image size).
    With `splits`: trainval = img0-2, test = img3-4, and a val.txt that must be ignored because test exists."""
    objects = {
        0: [("cat", (4, 3, 20, 15))],
        1: [(" dog\n ", (30, 20, 50, 40)), ("dog", (10, 10, 10, 20)), ("cat", (50, 5, 60, 10))],
    }
    (root / "Annotations").mkdir(parents=True)
    for i in range(n):
        _image(root / "JPEGImages" / f"img{i}.jpg")
        size = "<size><width>400</width><height>300</height></size>" if i == 0 else ""
        objs = "".join(
            f"<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
            f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
            for name, b in objects.get(i, [("cat", (4, 3, 20, 15))])
        )
        (root / "Annotations" / f"img{i}.xml").write_text(
            f"<annotation><filename>img{i}.jpg</filename>{size}{objs}</annotation>"
        )
    if splits:
        main = root / "ImageSets" / "Main"
        main.mkdir(parents=True)
        (main / "trainval.txt").write_text("img0\nimg1\nimg2\n")
        (main / "val.txt").write_text("img2\n")
        (main / "test.txt").write_text("img3\nimg4\n")
    return root


def _coco_json(images: list[str], annotations: list[tuple[int, int, list[float]]], crowd: bool = False) -> dict:
    """A COCO dict with categories zebra (id 7) and ant (id 3): sorted by id they become ant = 0, zebra = 1."""
    anns = [
        {"id": k, "image_id": i, "category_id": c, "bbox": b, "iscrowd": 0} for k, (i, c, b) in enumerate(annotations)
    ]
    if crowd:
        anns.append({"id": 99, "image_id": 0, "category_id": 3, "bbox": [0, 0, 10, 10], "iscrowd": 1})
    return {
        "images": [{"id": i, "file_name": f, "width": W, "height": H} for i, f in enumerate(images)],
        "annotations": anns,
        "categories": [{"id": 7, "name": "zebra"}, {"id": 3, "name": "ant"}],
    }


def make_coco(root: Path) -> Path:
    """ann.json beside images/: img0 a zebra; img1 an ant half outside, a zero-area ant and a crowd box;
    img2 no boxes (background); img3 an ant covering the whole image."""
    names = [f"img{i}.png" for i in range(4)]
    for name in names:
        _image(root / "images" / name)
    data = _coco_json(names, [
        (0, 7, [4, 3, 16, 12]), (1, 3, [30, 20, 20, 20]), (1, 3, [5, 5, 0, 10]), (3, 3, [0, 0, W, H]),
    ], crowd=True)
    (root / "ann.json").write_text(json.dumps(data))
    return root / "ann.json"


def test_voc_published_split(tmp_path):
    src = make_voc(tmp_path / "voc")
    before = _files(src)
    s = convert(src, fmt="voc", out=tmp_path / "out")

    assert s.names == ["cat", "dog"]
    assert s.images == {"train": 3, "val": 2}  # trainval and test; val.txt ignored
    assert (s.boxes, s.clipped, s.dropped) == (5, 1, 2)
    assert "published" in s.split
    out = tmp_path / "out"
    assert sorted(p.name for p in (out / "images" / "val").iterdir()) == ["img3.jpg", "img4.jpg"]
    assert _rows(out / "labels" / "train" / "img0.txt") == [pytest.approx([0, *INSIDE], abs=1e-6)]
    assert _rows(out / "labels" / "train" / "img1.txt") == [pytest.approx([1, *CLIPPED], abs=1e-6)]
    assert (out / "images" / "train" / "img0.jpg").read_bytes() == (src / "JPEGImages" / "img0.jpg").read_bytes()
    assert _files(src) == before  # nothing written into the source

    from ultralytics.data import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    data = check_det_dataset(str(s.data_yaml))
    assert data["names"] == {0: "cat", 1: "dog"}
    assert Path(data["val"]) == (out / "images" / "val").resolve()
    ds = YOLODataset(img_path=data["train"], data=data, augment=False, imgsz=64)
    assert sum(len(lb["cls"]) for lb in ds.labels) == 3  # Ultralytics reads every train box, none corrupt


def test_voc_without_test_list_trains_on_trainval_minus_val(tmp_path):
    src = make_voc(tmp_path / "voc")
    (src / "ImageSets" / "Main" / "test.txt").unlink()  # VOC2012 style: trainval = train + val
    s = convert(src, fmt="voc", out=tmp_path / "out")
    assert s.images == {"train": 2, "val": 1}  # img2 only in val; img3-4 are in no list and left out
    assert sorted(p.name for p in (tmp_path / "out" / "images" / "train").iterdir()) == ["img0.jpg", "img1.jpg"]


def test_voc_seeded_split_is_deterministic(tmp_path):
    src = make_voc(tmp_path / "voc", n=10, splits=False)

    def val_names(seed: int, out: str) -> list[str]:
        s = convert(src, fmt="voc", out=tmp_path / out, val_fraction=0.3, seed=seed)
        assert s.images == {"train": 7, "val": 3}
        assert f"seed {seed}" in s.split
        return sorted(p.name for p in (tmp_path / out / "images" / "val").iterdir())

    first = val_names(0, "a")
    assert val_names(0, "b") == first
    assert val_names(1, "c") != first
    assert _files(tmp_path / "a" / "labels") == _files(tmp_path / "b" / "labels")


def test_voc_explicit_names_keep_their_order(tmp_path):
    s = convert(make_voc(tmp_path / "voc"), fmt="voc", out=tmp_path / "out", names=["dog", "cat", "bird"])
    assert yaml.safe_load(s.data_yaml.read_text())["names"] == {0: "dog", 1: "cat", 2: "bird"}
    assert _rows(tmp_path / "out" / "labels" / "train" / "img0.txt")[0][0] == 1  # cat is class 1 now


def test_coco_json_file(tmp_path):
    s = convert(make_coco(tmp_path / "coco"), fmt="coco", out=tmp_path / "out", val_fraction=0.25, seed=0)

    assert s.names == ["ant", "zebra"]
    assert s.images == {"train": 3, "val": 1}
    assert (s.boxes, s.clipped, s.dropped) == (3, 1, 1)  # the crowd box is skipped, not counted
    labels = {p.stem: _rows(p) for p in (tmp_path / "out" / "labels").rglob("*.txt")}
    assert labels["img0"] == [pytest.approx([1, *INSIDE], abs=1e-6)]
    assert labels["img1"] == [pytest.approx([0, *CLIPPED], abs=1e-6)]
    assert labels["img2"] == []
    assert labels["img3"] == [pytest.approx([0, 0.5, 0.5, 1, 1], abs=1e-6)]

    from ultralytics.data.utils import check_det_dataset

    assert check_det_dataset(str(s.data_yaml))["names"] == {0: "ant", 1: "zebra"}


def test_coco_folder_with_train_and_val_json(tmp_path):
    src = tmp_path / "coco"
    for split, files in (("train", ["a.png", "b.png"]), ("val", ["c.png"])):
        for f in files:
            _image(src / "images" / split / f)
        data = _coco_json(files, [(0, 7, [4, 3, 16, 12])])
        (src / "annotations").mkdir(parents=True, exist_ok=True)
        (src / "annotations" / f"instances_{split}.json").write_text(json.dumps(data))
    (src / "annotations" / "captions_train.json").write_text("{}")  # not a detection file: must be passed over

    s = convert(src, fmt="coco", out=tmp_path / "out")
    assert s.images == {"train": 2, "val": 1}
    assert "published" in s.split
    assert sorted(p.name for p in (tmp_path / "out" / "labels" / "val").iterdir()) == ["c.txt"]


def _unknown_class(tmp):
    return make_voc(tmp / "voc"), "voc", {"names": ["cat"]}, "dog"


def _voc_missing_image(tmp):
    src = make_voc(tmp / "voc")
    (src / "JPEGImages" / "img2.jpg").unlink()
    return src, "voc", {}, "img2.jpg"


def _voc_bad_xml(tmp):
    src = make_voc(tmp / "voc")
    (src / "Annotations" / "img3.xml").write_text("<annotation><object>")
    return src, "voc", {}, "not valid XML"


def _voc_empty(tmp):
    (tmp / "voc" / "Annotations").mkdir(parents=True)
    return tmp / "voc", "voc", {}, "no images"


def _coco_unknown_category(tmp):
    src = make_coco(tmp / "coco")
    data = json.loads(src.read_text())
    data["annotations"][0]["category_id"] = 42
    src.write_text(json.dumps(data))
    return src, "coco", {}, "category_id 42"


def _coco_missing_image(tmp):
    src = make_coco(tmp / "coco")
    (src.parent / "images" / "img3.png").unlink()
    return src, "coco", {}, "img3.png"


def _coco_bad_json(tmp):
    src = make_coco(tmp / "coco")
    src.write_text('{"images": [')
    return src, "coco", {}, "not valid JSON"


def _missing_src(tmp):
    return tmp / "nope", "voc", {}, "does not exist"


def _unknown_format(tmp):
    return make_voc(tmp / "voc"), "yolo", {}, "unknown format 'yolo'"


@pytest.mark.parametrize("case", [
    _unknown_class, _voc_missing_image, _voc_bad_xml, _voc_empty, _coco_unknown_category, _coco_missing_image,
    _coco_bad_json, _missing_src, _unknown_format,
])
def test_bad_input_is_one_line_user_error_and_writes_nothing(tmp_path, case):
    src, fmt, kwargs, expected = case(tmp_path)
    with pytest.raises(UserError) as e:
        convert(src, fmt=fmt, out=tmp_path / "out", **kwargs)
    assert expected in str(e.value)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "out").exists()


def test_refuses_existing_data_yaml(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "data.yaml").write_text("mine: true\n")
    with pytest.raises(UserError, match="already exists"):
        convert(make_voc(tmp_path / "voc"), fmt="voc", out=out)
    assert (out / "data.yaml").read_text() == "mine: true\n"
    assert sorted(p.name for p in out.iterdir()) == ["data.yaml"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file"):
        convert(tmp_path / "voc", fmt="voc", out=tmp_path / "file")


def test_refuses_output_inside_source(tmp_path):
    src = make_voc(tmp_path / "voc")
    with pytest.raises(UserError, match="inside the source"):
        convert(src, fmt="voc", out=src / "yolo")
    assert not (src / "yolo").exists()


def test_make_synthetic_is_deterministic(tmp_path):
    def files(seed: int, name: str) -> dict[str, bytes]:
        make_synthetic(tmp_path / name, images=4, classes=2, imgsz=32, seed=seed)
        return {k: v for k, v in _files(tmp_path / name).items() if k != "data.yaml"}  # data.yaml holds its own path

    first = files(0, "a")
    assert len(first) == 8  # 4 images + 4 label files
    assert files(0, "b") == first
    other = files(1, "c")
    assert other.keys() == first.keys() and other != first


def test_cli_synth_and_convert(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["data", "synth", "--out", str(tmp_path / "synth"), "--images", "6", "--classes", "2",
                            "--imgsz", "48"])
    assert r.exit_code == 0, r.output
    assert yaml.safe_load((tmp_path / "synth" / "data.yaml").read_text())["names"] == {0: "circle", 1: "square"}
    assert len(list((tmp_path / "synth" / "images").rglob("*.png"))) == 6

    src = make_voc(tmp_path / "voc")
    r = runner.invoke(app, ["data", "convert", str(src), "--format", "voc", "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert "Images: 3 train, 2 val" in r.stdout
    assert "1 clipped" in r.stdout and "2 dropped" in r.stdout
    assert (tmp_path / "out" / "data.yaml").is_file()


@pytest.mark.parametrize("case", [_missing_src, _coco_unknown_category, _unknown_format])
def test_cli_convert_bad_input_exits_2_with_one_line(tmp_path, case):
    src, fmt, _, expected = case(tmp_path)
    r = CliRunner().invoke(app, ["data", "convert", str(src), "--format", fmt, "--out", str(tmp_path / "out")])
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and expected in lines[0]
    assert "Traceback" not in r.output
    assert not (tmp_path / "out").exists()
