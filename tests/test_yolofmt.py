"""`data convert --format yolo`: a YOLO dataset with every defect the check knows, and the layouts it reads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from rich.text import Text

from yolodistill import yolofmt as yf
from yolodistill.convert import convert
from yolodistill.errors import UserError

from .builders import image, rows

LABELS = {
    "train/t0": "0 0.3 0.3 0.4 0.4\n1 0.9 0.5 0.4 0.4\n1 0.9 0.5 0.4 0.4\n",  # the second box reaches x = 1.1: out
    # of range; the third repeats it (dropped, so not also counted as clipped)
    "train/t1": "5 0.5 0.5 0.2 0.2\n0 0.5 0.5\n0 0.1 0.1 0.3 0.1 0.2 0.4\n0 0.1 0.1 0.3 0.1 0.2 0.4\n",  # class 5,
    # a short row, a polygon and the same polygon again
    "train/t3": "0 0.5 0.5 0 0.1\n",  # a box without width: nothing to clip, dropped (by convert, counted)
    "val/v0": "1 0.5 0.5 0.5 0.5\n",
    "val/v1": "0 0.3 0.3 0.4 0.4\n",
    "train/t4": "0 0.3 0.3 0.4 0.4\n1 1.2 0.5 0.4 0.4\nbad\n",  # t4 has v1's bytes: the val copy is kept, and
    # what t4's own rows had is not counted (its out-of-range box read 'Checks: 2 clipped' beside 1 clipped)
}


def defective(root: Path) -> Path:
    """images/{train,val} + labels/{train,val} + data.yaml (names cat, dog) with one of each defect; t2 has no
    label file, and labels/train/ghost.txt no image."""
    for i in range(4):
        image(root / "images" / "train" / f"t{i}.jpg", seed=i)
    image(root / "images" / "val" / "v0.jpg", seed=10)
    image(root / "images" / "val" / "v1.jpg", seed=11)
    shutil.copy(root / "images" / "val" / "v1.jpg", root / "images" / "train" / "t4.jpg")
    for name, text in LABELS.items():
        (root / "labels" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "labels" / f"{name}.txt").write_text(text)
    (root / "labels" / "train" / "ghost.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (root / "data.yaml").write_text(yaml.safe_dump({"path": str(root), "train": "images/train", "val": "images/val",
                                                    "names": ["cat", "dog"]}))
    return root / "data.yaml"


def test_every_defect_is_counted_listed_and_fixed(tmp_path):
    s = convert(defective(tmp_path / "ds"), fmt="yolo", out=tmp_path / "out")
    out = tmp_path / "out"
    assert s.names == ["cat", "dog"] and s.images == {"train": 4, "val": 2} and "published" in s.split
    assert s.checks == {
        yf.BACKGROUND: 1, yf.OUT_OF_RANGE: 1, yf.BEYOND: 1, yf.MALFORMED: 1, yf.POLYGONS: 1, yf.REPEATED: 2,
        yf.DUPLICATES: 1,
    }
    assert (s.boxes, s.clipped, s.dropped, s.unmatched) == (5, 1, 1, 1)
    assert rows(out / "labels" / "train" / "t0.txt") == [pytest.approx([0, 0.3, 0.3, 0.4, 0.4], abs=1e-6),
                                                         pytest.approx([1, 0.85, 0.5, 0.3, 0.4], abs=1e-6)]
    assert rows(out / "labels" / "train" / "t1.txt") == [pytest.approx([0, 0.2, 0.25, 0.2, 0.3], abs=1e-6)]
    assert rows(out / "labels" / "train" / "t2.txt") == [] and not (out / "images" / "train" / "t4.jpg").exists()
    assert rows(out / "labels" / "val" / "v1.txt") == [pytest.approx([0, 0.3, 0.3, 0.4, 0.4], abs=1e-6)]
    issues = (out / "issues.txt").read_text()
    for needle in ("t0.txt line 2: box 0.9 0.5 0.4 0.4 is out of the 0-1 range", "class id 5 is beyond the 2 names",
                   "t1.txt line 2: '0 0.5 0.5' is not 'class cx cy w h'", "t4.jpg: the same bytes as",
                   "(train and val splits)", "t3.jpg: a cat box (20, 13.5, 20, 16.5) has no area inside the 40x30 image, dropped",
                   # the summary says every check is listed: these were counted only
                   "t0.txt line 3: repeats an earlier row of the file, dropped", "t1.txt line 4: repeats an earlier",
                   "t1.txt line 3: a polygon of 3 points, taken as its box", "t2.jpg: no label row, kept as background"):
        assert needle in issues, needle
    assert "t4.txt line" not in issues
    assert "ghost.txt: no image" in (out / "unmatched.txt").read_text()
    record = json.loads((out / "dataset.json").read_text())
    assert record["checks"] == s.checks and record["unmatched"] == 1 and record["format"] == "yolo"
    plain = Text.from_markup(s.render()).plain
    assert "1 duplicate images (one kept: val's or test's before train's)" in plain and "Unmatched: 1 label files" in plain

    from ultralytics.data import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    data = check_det_dataset(str(s.data_yaml))
    ds = YOLODataset(img_path=data["train"], data=data, augment=False, imgsz=64)
    assert len(ds.labels) == 4 and sum(len(lb["cls"]) for lb in ds.labels) == 3  # Ultralytics finds nothing corrupt


def test_a_folder_without_yaml_or_split(tmp_path):
    """Darknet-style: images/ and labels/ with no split, classes.txt for the names: a seeded split is made."""
    src = tmp_path / "flat"
    for i in range(5):
        image(src / "images" / f"{i}.png", seed=i)
        (src / "labels").mkdir(parents=True, exist_ok=True)
        (src / "labels" / f"{i}.txt").write_text(f"{i % 2} 0.5 0.5 0.2 0.2\n")
    (src / "classes.txt").write_text("cat\ndog\n")
    s = convert(src, fmt="yolo", out=tmp_path / "out", val_fraction=0.4)
    assert s.names == ["cat", "dog"] and s.images == {"train": 3, "val": 2} and "seeded" in s.split
    assert s.per_class["cat"]["total"] == 3 and s.per_class["dog"]["total"] == 2
    assert s.unmatched == 0 and not s.checks


def test_labels_beside_the_images_and_no_names(tmp_path):
    src = tmp_path / "beside"
    for i in range(4):
        image(src / f"{i}.jpg", seed=i)
        (src / f"{i}.txt").write_text(f"{i} 0.5 0.5 0.2 0.2\n")
    s = convert(src, fmt="yolo", out=tmp_path / "out", val_fraction=0.25)
    assert s.names == ["class_0", "class_1", "class_2", "class_3"] and s.boxes == 4
    assert "no class names" in (tmp_path / "out" / "issues.txt").read_text()
    s2 = convert(src, fmt="yolo", out=tmp_path / "out2", val_fraction=0.25, names=["a", "b", "c", "d"])
    assert s2.names == ["a", "b", "c", "d"] and s2.boxes == 4 and not s2.checks


def test_names_that_leave_class_ids_out_are_refused(tmp_path):
    """Dropped, the boxes of a class --names forgot leave its objects in the images as background."""
    src = tmp_path / "beside"
    for i in range(3):
        image(src / f"{i}.jpg", seed=i)
        (src / f"{i}.txt").write_text(f"{i} 0.5 0.5 0.2 0.2\n")
    with pytest.raises(UserError, match="the labels use class ids 0 to 2, but --names gives 2 names: name every "
                                        "class id, 3 names in id order"):
        convert(src, fmt="yolo", out=tmp_path / "out", val_fraction=0.25, names=["a", "b"])
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("names", [["circle", None, "triangle"], {0: "circle", 1: " ", 2: "triangle"}])
def test_a_data_yaml_name_that_is_empty_or_null_is_refused_unless_names_replace_them(names, tmp_path):
    """It became a class named 'None' or '' in the cleaned data.yaml, where --names and COCO refuse one; --names,
    which takes precedence over the yaml's, is the way out."""
    src = tmp_path / "d"
    (src / "labels").mkdir(parents=True)
    for i in range(4):
        image(src / "images" / f"{i}.jpg", seed=i)
        (src / "labels" / f"{i}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (src / "data.yaml").write_text(yaml.safe_dump({"path": str(src), "train": "images", "val": "images",
                                                   "names": names}))
    with pytest.raises(UserError, match=r"data\.yaml': class 1 has an empty name: name it in names, or pass --names$"):
        convert(src / "data.yaml", fmt="yolo", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    named = convert(src / "data.yaml", fmt="yolo", out=tmp_path / "named", names="circle,square,triangle")
    assert named.names == ["circle", "square", "triangle"]


def roboflow(root: Path, with_yaml: bool) -> Path:
    """train/, valid/ and test/, each with images/ and labels/; Roboflow's data.yaml says ../train/images."""
    for k, (split, n) in enumerate((("train", 3), ("valid", 2), ("test", 1))):
        for i in range(n):
            image(root / split / "images" / f"{split}{i}.jpg", seed=10 * k + i)  # distinct bytes: no duplicates
            (root / split / "labels").mkdir(parents=True, exist_ok=True)
            (root / split / "labels" / f"{split}{i}.txt").write_text("0 0.5 0.5 0.3 0.3\n")
    if with_yaml:
        (root / "data.yaml").write_text(yaml.safe_dump({"train": "../train/images", "val": "../valid/images",
                                                        "test": "../test/images", "nc": 1, "names": ["cell"]}))
    return root


@pytest.mark.parametrize("with_yaml", [True, False])
def test_split_folders_are_the_published_split(tmp_path, with_yaml):
    s = convert(roboflow(tmp_path / "rf", with_yaml), fmt="yolo", out=tmp_path / "out")
    assert s.images == {"train": 3, "val": 2, "test": 1} and "published" in s.split
    assert s.names == (["cell"] if with_yaml else ["class_0"])
    assert yaml.safe_load(s.data_yaml.read_text())["test"] == "images/test"


def test_a_roboflow_export_without_its_test_folder_converts(tmp_path):
    """Roboflow writes 'test:' into every export's yaml, also one made without a test split: "fix the path" was the
    wrong advice for a line nothing needed."""
    import shutil

    root = roboflow(tmp_path / "rf", True)
    shutil.rmtree(root / "test")
    s = convert(root / "data.yaml", fmt="yolo", out=tmp_path / "out")
    assert s.images == {"train": 3, "val": 2} and "published" in s.split
    assert "test '" in (tmp_path / "out" / "issues.txt").read_text() and "left out" in (
        tmp_path / "out" / "issues.txt").read_text()


def test_val_that_is_train_gets_a_new_split(tmp_path):
    src = tmp_path / "ds"
    for i in range(4):
        image(src / "images" / f"{i}.jpg", seed=i)
        (src / "labels").mkdir(parents=True, exist_ok=True)
        (src / "labels" / f"{i}.txt").write_text("0 0.5 0.5 0.3 0.3\n")
    (src / "data.yaml").write_text(yaml.safe_dump({"path": ".", "train": "images", "val": "images", "names": ["a"]}))
    s = convert(src / "data.yaml", fmt="yolo", out=tmp_path / "out", val_fraction=0.25)
    assert s.images == {"train": 3, "val": 1} and "seeded" in s.split
    assert "val is the same images as train" in (tmp_path / "out" / "issues.txt").read_text()


@pytest.mark.parametrize("content, needle", [
    ({"train": "images/gone", "val": "images/gone", "names": ["a"]}, "does not exist"),
    ({"val": "images", "names": ["a"]}, "needs at least a 'train:' path"),
    ({"train": "images", "names": {0: "a", 2: "c"}}, "without gaps"),
    ({"train": 5, "val": "images", "names": ["a"]}, "must be a path or a list of paths"),
    ({"path": 3, "train": "images", "names": ["a"]}, "'path:' must be a folder"),
    ({"train": "images", "nc": 5, "names": ["a", "b", "c"]}, "has 3 names but 'nc: 5': make them agree"),
])
def test_broken_yaml(tmp_path, content, needle):
    (tmp_path / "ds" / "images").mkdir(parents=True)
    (tmp_path / "ds" / "data.yaml").write_text(yaml.safe_dump(content))
    with pytest.raises(UserError, match=needle) as e:
        convert(tmp_path / "ds" / "data.yaml", fmt="yolo", out=tmp_path / "out")
    assert "\n" not in str(e.value) and not (tmp_path / "out").exists()


def test_mostly_orphan_labels_mean_a_misread_layout(tmp_path):
    src = tmp_path / "ds"
    image(src / "images" / "a.jpg")
    (src / "labels").mkdir()
    for name in ("b", "c", "d"):
        (src / "labels" / f"{name}.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(UserError, match="3 of 4 label files have no image"):
        convert(src, fmt="yolo", out=tmp_path / "out")


def test_a_yaml_that_is_not_text_is_one_line(tmp_path):
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "data.yaml").write_bytes(b"\xff\xfe\x00train")
    with pytest.raises(UserError, match="cannot be read as text"):
        convert(tmp_path / "ds" / "data.yaml", fmt="yolo", out=tmp_path / "out")


def test_split_entries_that_are_no_image_are_listed_not_fatal(tmp_path):
    """A list file naming an image that is gone, a dangling link and a folder named like an image: what Ultralytics
    would stumble on later is left out and listed, and the rest converts. (val apart from train: images val also
    lists leave train.)"""
    root = tmp_path / "ds"
    for i in range(3):
        sub = "val" if i == 2 else ""
        image(root / "images" / sub / f"a{i}.jpg", seed=i)
        (root / "labels" / sub).mkdir(parents=True, exist_ok=True)
        (root / "labels" / sub / f"a{i}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "images" / "val" / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (root / "images" / "val" / "dir.png").mkdir()
    (root / "train.txt").write_text("images/a0.jpg\nimages/a1.jpg\nimages/missing.jpg\n")
    (root / "data.yaml").write_text(yaml.safe_dump({"path": str(root), "train": "train.txt", "val": "images/val",
                                                    "names": ["cat"]}))
    s = convert(root / "data.yaml", fmt="yolo", out=tmp_path / "out")
    assert s.images == {"train": 2, "val": 1} and s.checks["unreadable images (left out)"] == 1
    assert "missing.jpg: not a readable image" in (tmp_path / "out" / "issues.txt").read_text()


def test_linked_image_folders_are_followed_as_ultralytics_does(tmp_path):
    """A split folder that holds batches as links to elsewhere: Ultralytics trains on them, so they convert."""
    elsewhere, root = tmp_path / "batch", tmp_path / "ds"
    for i in range(3):
        image(elsewhere / "images" / f"b{i}.jpg", seed=i)
        (elsewhere / "labels").mkdir(parents=True, exist_ok=True)
        (elsewhere / "labels" / f"b{i}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    image(root / "images" / "train" / "own.jpg", seed=9)
    image(root / "images" / "val" / "v.jpg", seed=8)
    for kind in ("images", "labels"):
        (root / kind / "train").mkdir(parents=True, exist_ok=True)
        (root / kind / "train" / "batch1").symlink_to(elsewhere / kind, target_is_directory=True)
    (elsewhere / "images" / "loop").symlink_to(elsewhere / "images", target_is_directory=True)
    (root / "data.yaml").write_text(yaml.safe_dump({"path": str(root), "train": "images/train", "val": "images/val",
                                                    "names": ["cat"]}))
    s = convert(root / "data.yaml", fmt="yolo", out=tmp_path / "out")
    assert s.images == {"train": 4, "val": 1} and s.boxes == 3  # the link loop ends, counting nothing twice


def test_labels_and_names_with_a_bom_read_as_ultralytics_reads_them(tmp_path):
    # the first row of every label file was dropped as malformed, and the first class was named "\ufeffcat"
    src = tmp_path / "ds"
    for i in range(4):
        image(src / "images" / f"{i}.jpg", seed=i)
        (src / "labels").mkdir(parents=True, exist_ok=True)
        (src / "labels" / f"{i}.txt").write_bytes(b"\xef\xbb\xbf0 0.5 0.5 0.2 0.2\r\n1 0.3 0.3 0.1 0.1\r\n")
    (src / "classes.txt").write_bytes(b"\xef\xbb\xbfcat\r\ndog\r\n")
    s = convert(src, fmt="yolo", out=tmp_path / "out", val_fraction=0.25)
    assert s.names == ["cat", "dog"] and s.boxes == 8 and not s.checks.get(yf.MALFORMED)


def split_dataset(root: Path, yaml_keys: dict) -> Path:
    """images/train (4) and images/val (2) with labels of class 0, and a data.yaml of `yaml_keys`."""
    for split, n in (("train", 4), ("val", 2)):
        for i in range(n):
            image(root / "images" / split / f"{split}{i}.jpg", seed=10 * n + i)
            (root / "labels" / split).mkdir(parents=True, exist_ok=True)
            (root / "labels" / split / f"{split}{i}.txt").write_text("0 0.5 0.5 0.3 0.3\n")
    (root / "data.yaml").write_text(yaml.safe_dump({"path": ".", "train": "images/train", **yaml_keys}))
    return root / "data.yaml"


def test_a_test_split_without_val_is_the_val_split(tmp_path):
    # its images were dropped without a word
    s = convert(split_dataset(tmp_path / "ds", {"test": "images/val", "names": ["a"]}), fmt="yolo",
                out=tmp_path / "out")
    assert s.images == {"train": 4, "val": 2} and "published" in s.split


def test_nc_without_names_keeps_the_class_count(tmp_path):
    # nc 5 became 1 class (the largest id used, plus one): another head size than the source trains
    s = convert(split_dataset(tmp_path / "ds", {"val": "images/val", "nc": 5}), fmt="yolo", out=tmp_path / "out")
    assert s.names == [f"class_{i}" for i in range(5)]


def test_a_test_split_that_is_train_is_no_val_split(tmp_path):
    # promoted to val, its images dropped as train's duplicates: "the published val split is empty"
    s = convert(split_dataset(tmp_path / "ds", {"val": "images/train", "test": "images/train", "names": ["a"]}),
                fmt="yolo", out=tmp_path / "out", val_fraction=0.25)
    assert "seeded" in s.split and s.images == {"train": 3, "val": 1}


@pytest.mark.parametrize("held", [{"val": "images/val"}, {"test": "images/val"}])
def test_val_also_listed_in_train_stays_val_and_leaves_train(tmp_path, held):
    # train: [images/train, images/val] lost val to train's duplicates: "the published val split ... is empty"
    s = convert(split_dataset(tmp_path / "ds", {"train": ["images/train", "images/val"], **held, "names": ["a"]}),
                fmt="yolo", out=tmp_path / "out")
    assert s.images == {"train": 4, "val": 2} and "published" in s.split and s.checks == {yf.LEAKED: 2}
    out = tmp_path / "out"
    assert sorted(p.name for p in (out / "images" / "val").iterdir()) == ["val0.jpg", "val1.jpg"]
    assert sorted(p.name for p in (out / "images" / "train").iterdir()) == [f"train{i}.jpg" for i in range(4)]
    issues = (out / "issues.txt").read_text()
    assert issues.count("also in the val split of") == 2 and "val0.jpg: also in the val split" in issues
    assert f"2 {yf.LEAKED}, listed in" in Text.from_markup(s.render()).plain


def test_cli_convert_of_a_yaml_whose_train_lists_val(tmp_path, monkeypatch):
    """The probe's case through the command, a relative path: as above, and train's own images all kept."""
    from typer.testing import CliRunner

    from yolodistill.cli import app

    split_dataset(tmp_path / "ds", {})
    (tmp_path / "dy").mkdir()
    (tmp_path / "dy" / "list.yaml").write_text("path: ../ds\ntrain: [images/train, images/val]\nval: [images/val]\n"
                                               "names: {0: a}\n")
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["data", "convert", "dy/list.yaml", "--format", "yolo", "--out", "conv"],
                           terminal_width=200)
    assert r.exit_code == 0, r.output
    assert "Images: 4 train, 2 val" in r.stdout and f"2 {yf.LEAKED}" in r.stdout and "empty" not in r.stdout


def test_train_that_is_all_val_or_all_copies_of_val_is_one_honest_line(tmp_path):
    """Nothing left to train on (all of it listed by val, or copies of val's images): said as such, never "the
    split is empty"."""
    from typer.testing import CliRunner

    from yolodistill.cli import app

    from .conftest import assert_one_line_error

    subset = split_dataset(tmp_path / "ds", {"train": "images/val", "val": ["images/train", "images/val"],
                                             "names": ["a"]})
    r = CliRunner().invoke(app, ["data", "convert", str(subset), "--format", "yolo", "--out", str(tmp_path / "o1")])
    assert "empty" not in assert_one_line_error(r, "every train image of", "is also in its val split")
    copies = tmp_path / "copies"
    for kind in ("images", "labels"):
        shutil.copytree(tmp_path / "ds" / kind / "train", copies / kind / "train")
        shutil.copytree(tmp_path / "ds" / kind / "train", copies / kind / "val")
    r = CliRunner().invoke(app, ["data", "convert", str(copies), "--format", "yolo", "--out", str(tmp_path / "o2")])
    assert "empty" not in assert_one_line_error(r, "every readable train image in",
                                                "has the same bytes as a val or test image, so none")
    (copies / "images" / "train" / "broken.jpg").write_bytes(b"")  # left beside the copies, it was blamed alone
    r = CliRunner().invoke(app, ["data", "convert", str(copies), "--format", "yolo", "--out", str(tmp_path / "o3")])
    assert_one_line_error(r, "every readable train image in", "as a val or test image (the others are unreadable")
    (copies / "images" / "train" / "broken.jpg").unlink()
    from PIL import Image

    Image.new("RGB", (8, 8)).save(copies / "images" / "train" / "tiny.png")  # read, then dropped as Ultralytics drops
    r = CliRunner().invoke(app, ["data", "convert", str(copies), "--format", "yolo", "--out", str(tmp_path / "o4")])
    assert_one_line_error(r, "every readable train image in", "or of a kind Ultralytics does not train on)")
    assert not any((tmp_path / o).exists() for o in ("o1", "o2", "o3", "o4"))


def test_rounding_at_an_edge_is_not_clipping_and_a_box_off_the_image_is_dropped_once(tmp_path):
    """A YOLO label rounded to 6 decimals puts an edge at 64 on 64.00003: not a clipped box (a round trip of the
    tool's own BCCD output reported 148). A row wholly off the image is listed once, as dropped, not also as
    clipped."""
    src = tmp_path / "ds"
    image(src / "images" / "train" / "a.jpg", seed=1)
    image(src / "images" / "val" / "b.jpg", seed=2)
    (src / "labels" / "train").mkdir(parents=True)
    (src / "labels" / "val").mkdir(parents=True)
    (src / "labels" / "train" / "a.txt").write_text("0 0.900000 0.500000 0.200001 0.200000\n1 1.2 0.5 0.2 0.2\n")
    (src / "labels" / "val" / "b.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (src / "data.yaml").write_text(yaml.safe_dump({"path": str(src), "train": "images/train", "val": "images/val",
                                                   "names": ["cat", "dog"]}))
    s = convert(src / "data.yaml", fmt="yolo", out=tmp_path / "out")
    assert (s.boxes, s.clipped, s.dropped) == (2, 0, 1) and not s.checks
    issues = (tmp_path / "out" / "issues.txt").read_text()
    assert issues.count("dropped") == 1 and "a.jpg: a dog box (44, 12, 52, 18) has no area inside the 40x30" in issues
    assert "out of the 0-1 range" not in issues and "clipped" not in issues


def label_rows(tmp_path: Path, text: str) -> tuple[list, list[str], dict[str, int]]:
    """parse_label of one label file holding `text`: its rows, issues and counts."""
    label = tmp_path / "l.txt"
    label.write_text(text)
    issues, counts = [], dict.fromkeys([yf.MALFORMED, yf.OUT_OF_RANGE, yf.POLYGONS, yf.REPEATED], 0)
    return yf.parse_label(label, issues, counts), issues, counts


def test_a_fractional_class_id_is_malformed_and_a_box_that_only_touches_the_edge_is_no_clipped_box(tmp_path):
    """Class 1.5 is no class (Ultralytics refuses the file as corrupt); a box from x = 1 outwards clips to no width,
    so it goes on as it is, for convert to drop and count (not clip)."""
    got, issues, counts = label_rows(tmp_path, "1.5 0.5 0.5 0.2 0.2\n0 1.1 0.5 0.2 0.2\n0 0.5 0.5 0.2 0.2\n")
    assert got == [pytest.approx((0, 1.0, 0.4, 1.2, 0.6)), pytest.approx((0, 0.4, 0.4, 0.6, 0.6))]
    assert counts[yf.MALFORMED] == 1 and counts[yf.OUT_OF_RANGE] == 0 and len(issues) == 1, issues


def test_a_full_width_box_rounded_past_one_is_not_clipped(tmp_path):
    """A writer's rounding puts w at 1.000001 (within EPS): not out of range, as its edges are not either."""
    got, issues, counts = label_rows(tmp_path, "0 0.5 0.5 1.000001 1\n")
    assert len(got) == 1 and counts[yf.OUT_OF_RANGE] == 0 and not issues


def test_the_label_of_an_image_is_under_its_last_images_folder(tmp_path):
    """As Ultralytics' img2label_paths: /x/images/a/images/b.jpg is labelled by /x/images/a/labels/b.txt."""
    from ultralytics.data.utils import img2label_paths

    img = image(tmp_path / "images" / "a" / "images" / "b.jpg")
    label = Path(img2label_paths([str(img)])[0])
    label.parent.mkdir(parents=True)
    label.write_text("0 0.5 0.5 0.2 0.2\n")
    (tmp_path / "labels" / "a" / "images").mkdir(parents=True)  # the first /images/ swapped: not Ultralytics' file
    (tmp_path / "labels" / "a" / "images" / "b.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    assert yf.label_of(img) == label == tmp_path / "images" / "a" / "labels" / "b.txt"


def test_only_one_yaml_with_names_is_taken_for_data_yaml(tmp_path):
    """Two yamls with names and no data.yaml: which one is meant is not known, so neither is guessed."""
    (tmp_path / "a.yaml").write_text("train: images\nnames: [cat]\n")
    (tmp_path / "other.yml").write_text("just: settings\n")
    assert yf.data_yaml_in(tmp_path) == tmp_path / "a.yaml"
    (tmp_path / "b.yaml").write_text("train: images\nnames: [dog]\n")
    assert yf.data_yaml_in(tmp_path) is None


def test_a_relative_path_is_from_the_working_folder_first(tmp_path, monkeypatch):
    """Ultralytics resolves path: from where it runs; the yaml's own folder is only the fallback."""
    for base in (tmp_path, tmp_path / "dy"):
        (base / "ds" / "images").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    raw = {"path": "ds", "train": "images"}
    assert yf.dataset_root(tmp_path / "dy" / "data.yaml", raw) == tmp_path / "ds"
    shutil.rmtree(tmp_path / "ds")
    assert yf.dataset_root(tmp_path / "dy" / "data.yaml", raw) == tmp_path / "dy" / "ds"


def test_an_image_in_train_val_and_test_is_named_as_val(tmp_path):
    """Val is the split runs are measured on: an image train shares with both is said to be val's."""
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    issues, counts = [], {yf.LEAKED: 0}
    train = yf.train_apart(tmp_path / "data.yaml", {"train": [a, b], "val": [b], "test": [b]}, issues, counts)
    assert train == [a] and counts[yf.LEAKED] == 1
    assert issues == [f"{b}: also in the val split of '{tmp_path / 'data.yaml'}', left out of train"]


def test_a_folder_of_train_alone_has_no_published_split(tmp_path):
    """train/ without val/ or test/ is no split to keep: a seeded one is made from all of it."""
    paths = [tmp_path / "train" / "a.jpg", tmp_path / "train" / "b.jpg"]
    assert yf.folder_splits(paths, tmp_path) is None
    assert yf.folder_splits([*paths, tmp_path / "test" / "c.jpg"], tmp_path) == {
        paths[0]: "train", paths[1]: "train", tmp_path / "test" / "c.jpg": "val"}


def test_the_names_file_is_no_orphan_label(tmp_path):
    """classes.txt lies beside the label files and is a .txt: not a label file without its image."""
    image(tmp_path / "a.jpg")
    for name in ("a.txt", "classes.txt", "ghost.txt"):
        (tmp_path / name).write_text("0 0.5 0.5 0.2 0.2\n")
    assert yf.orphan_labels([tmp_path / "a.jpg"], {tmp_path / "a.txt"}) == [f"{tmp_path / 'ghost.txt'}: no image of "
                                                                             "this name"]


def test_val_that_is_train_spelled_another_way_is_the_same_split(tmp_path):
    """'images/../images' is the train folder: one split said as such, not every train image also in val."""
    data = split_dataset(tmp_path / "ds", {"names": ["a"]})
    raw = yaml.safe_load(data.read_text())
    data.write_text(yaml.safe_dump({**raw, "path": str(data.parent), "val": "images/train/../train"}))
    s = yf.read(data, None, None)
    assert "val is the same images as train" in "\n".join(s.issues) and {it.split for it in s.items} == {None}


def test_blank_lines_of_a_names_file_name_no_class(tmp_path):
    """A blank line (often the last) is no class: it would have added a class named ''."""
    (tmp_path / "classes.txt").write_text("cat\n\n  \ndog\n\n")
    assert yf.names_file(tmp_path) == ["cat", "dog"]


def test_a_class_id_equal_to_the_name_count_is_beyond_the_names(tmp_path):
    """Names cat and dog are ids 0 and 1: a box of class 2 has no name, and Ultralytics refuses its file."""
    data = split_dataset(tmp_path / "ds", {"val": "images/val", "names": ["cat", "dog"]})
    (data.parent / "labels" / "train" / "train0.txt").write_text("2 0.5 0.5 0.3 0.3\n1 0.5 0.5 0.2 0.2\n")
    s = yf.read(data, None, None)
    assert s.checks[yf.BEYOND] == 1 and "class id 2 is beyond the 2 names (0 to 1)" in "\n".join(s.issues)


@pytest.mark.parametrize("keys, val", [({"validation": "images/val"}, 2), ({"val": "images/train/../val",
                                                                             "validation": "images/train"}, 2)])
def test_a_validation_key_is_the_val_split_as_ultralytics_reads_it(tmp_path, keys, val):
    # its 2 images vanished: a seeded split was made from train alone (Ultralytics renames it to val)
    s = convert(split_dataset(tmp_path / "ds", {**keys, "names": ["a"]}), fmt="yolo", out=tmp_path / "out")
    assert s.images == {"train": 4, "val": val} and "published" in s.split


def test_boxes_off_the_image_or_without_area_are_counted_as_dropped(tmp_path):
    # listed as dropped, but the summary and dataset.json said "0 dropped"
    data = split_dataset(tmp_path / "ds", {"val": "images/val", "names": ["a"]})
    (data.parent / "labels" / "train" / "train0.txt").write_text("0 1.5 1.5 0.2 0.2\n0 0.5 0.5 0.3 0.3\n")
    (data.parent / "labels" / "train" / "train1.txt").write_text("0 0.5 0.5 0 0.2\n0 0.5 0.5 0.3 0.3\n")
    s = convert(data, fmt="yolo", out=tmp_path / "out")
    assert (s.boxes, s.clipped, s.dropped) == (6, 0, 2) and not s.checks
    assert json.loads((tmp_path / "out" / "dataset.json").read_text())["boxes"]["dropped"] == 2
    assert "2 dropped (no area left or not finite), listed in" in Text.from_markup(s.render()).plain
    assert (tmp_path / "out" / "issues.txt").read_text().count("has no area inside the 40x30 image, dropped") == 2


def test_labels_in_pixels_are_one_line_naming_the_cause(tmp_path):
    # "no box in the splits of ...: every image would be background; is it a YOLO dataset?"
    from typer.testing import CliRunner

    from yolodistill.cli import app

    from .conftest import assert_one_line_error

    data = split_dataset(tmp_path / "ds", {"val": "images/val", "names": ["a", "b"]})
    for label in (data.parent / "labels").rglob("*.txt"):
        label.write_text("0 12 8 4 3\n1 30 20 5 6\n")
    r = CliRunner().invoke(app, ["data", "convert", str(data), "--format", "yolo", "--out", str(tmp_path / "out")],
                           terminal_width=400)
    assert_one_line_error(r, "all 12 boxes in the splits of", "lie outside the 0-1 range of YOLO coordinates",
                          "are they in pixels?", "divided by the image's width and height")
    assert not (tmp_path / "out").exists()


def test_images_with_a_data_yaml_is_refused_in_one_line(tmp_path):
    # --images "always wins" but was never read: the yaml's own images were converted
    data = split_dataset(tmp_path / "ds", {"val": "images/val", "names": ["a"]})
    (tmp_path / "other").mkdir()
    for src in (data, data.parent):
        with pytest.raises(UserError, match="--images is for a YOLO folder without a data.yaml: .* names the image "
                                            "folder of each split; leave out --images") as e:
            convert(src, fmt="yolo", out=tmp_path / "out", images=tmp_path / "other")
        assert "\n" not in str(e.value) and not (tmp_path / "out").exists()


@pytest.mark.parametrize("nc", ["4", 4.0, " 4 "])
def test_nc_written_as_text_or_a_float_is_the_class_count(tmp_path, nc):
    # nc '4' was ignored: 1 class (the largest id used, plus one) where Ultralytics reads 4
    s = convert(split_dataset(tmp_path / "ds", {"val": "images/val", "nc": nc}), fmt="yolo", out=tmp_path / "out")
    assert s.names == [f"class_{i}" for i in range(4)]


@pytest.mark.parametrize("nc", ["four", 2.5, "2.5", [2]])
def test_nc_that_is_no_whole_number_is_one_line(tmp_path, nc):
    with pytest.raises(UserError, match=r"'nc: .*' is not a whole number: write the class count") as e:
        convert(split_dataset(tmp_path / "ds", {"val": "images/val", "nc": nc}), fmt="yolo", out=tmp_path / "out")
    assert "\n" not in str(e.value) and not (tmp_path / "out").exists()


def test_a_data_yaml_s_missing_images_are_put_down_to_its_paths_not_to_images(synth_data, tmp_path):
    """--images is refused with a data.yaml, so the misread-layout line may not advise it; a val split emptied under a
    yaml says so, not that some train label has no image."""
    def copy(name: str) -> Path:  # the dataset, its yaml's path: made its own
        root = Path(shutil.copytree(Path(synth_data).parent, tmp_path / name))
        raw = yaml.safe_load((root / "data.yaml").read_text())
        (root / "data.yaml").write_text(yaml.safe_dump({**raw, "path": str(root)}))
        return root

    root = copy("d")
    for f in sorted((root / "images" / "train").glob("*.png"))[2:]:
        f.unlink()
    with pytest.raises(UserError, match=r"fix the data.yaml's split paths \(or its 'path:'\) to where the images "
                                        "are") as e:
        convert(root / "data.yaml", fmt="yolo", out=tmp_path / "out")
    assert "--images" not in str(e.value)
    root = copy("v")
    for f in (root / "images" / "val").glob("*.png"):
        f.unlink()
    next((root / "images" / "train").glob("*.png")).unlink()
    with pytest.raises(UserError, match="the published val split of .* is empty: add images to it"):
        convert(root / "data.yaml", fmt="yolo", out=tmp_path / "out2")


def test_a_name_the_yaml_repeats_keeps_each_class_s_own_count(tmp_path):
    """names: [circle, circle, triangle] (Ultralytics trains on it): the summary and dataset.json keyed their counts by
    name, so class 0's and class 1's boxes were one 'circle' row."""
    from yolodistill.data import make_synthetic

    data = make_synthetic(tmp_path / "d", images=8, imgsz=64)
    raw = yaml.safe_load(data.read_text())
    data.write_text(yaml.safe_dump({**raw, "names": ["circle", "circle", "triangle"]}))
    by_id = [0, 0, 0]
    for label in (tmp_path / "d" / "labels").rglob("*.txt"):
        for line in label.read_text().splitlines():
            by_id[int(line.split()[0])] += 1
    summary = convert(data, "yolo", tmp_path / "out")
    assert {k: v["total"] for k, v in summary.per_class.items()} == {
        "circle (id 0)": by_id[0], "circle (id 1)": by_id[1], "triangle": by_id[2]}
    assert json.loads((tmp_path / "out" / "dataset.json").read_text())["per_class"] == summary.per_class


def test_the_copy_of_a_grey_dataset_with_unlabelled_folders_says_both(tmp_path):
    """The cleaned data.yaml dropped `channels: 1` (a 1-channel teacher was then refused: "the data has 3 channels")
    and `unlabeled:`, which relative to the old root named nothing from the new one."""
    src = defective(tmp_path / "ds")
    (tmp_path / "ds" / "footage").mkdir()
    raw = yaml.safe_load(src.read_text())
    src.write_text(yaml.safe_dump({**raw, "channels": 1, "unlabeled": ["footage", "/elsewhere/cam"]}))
    s = convert(src, fmt="yolo", out=tmp_path / "out")
    written = yaml.safe_load(s.data_yaml.read_text())
    assert written["channels"] == 1 and written["unlabeled"] == [str(tmp_path / "ds" / "footage"), "/elsewhere/cam"]
    s = convert(defective(tmp_path / "plain"), fmt="yolo", out=tmp_path / "out2")
    assert set(yaml.safe_load(s.data_yaml.read_text())) == {"path", "train", "val", "names"}  # nothing added


def cvat_yolo(root: Path, subsets: dict[str, int]) -> Path:
    """CVAT's YOLO 1.1: obj.data, obj.names (cat, dog), and per subset obj_<subset>_data/ with each image's label
    beside it and a <subset>.txt list of 'data/obj_<subset>_data/...' lines. Image i holds a cat, odd ones a dog too."""
    (root / "obj.names").parent.mkdir(parents=True)
    (root / "obj.names").write_text("cat\ndog\n")
    data = ["classes = 2", "names = data/obj.names"]
    for k, (subset, n) in enumerate(subsets.items()):
        folder = root / f"obj_{subset}_data"
        for i in range(n):
            image(folder / f"{subset}{i}.jpg", seed=10 * k + i)
            (folder / f"{subset}{i}.txt").write_text("0 0.3 0.3 0.4 0.4\n" + "1 0.7 0.6 0.3 0.4\n" * (i % 2))
        (root / f"{subset}.txt").write_text("".join(f"data/obj_{subset}_data/{subset}{i}.jpg\n" for i in range(n)))
        data.append(f"{subset} = data/{subset}.txt")
    (root / "obj.data").write_text("\n".join([*data, "backup = backup/"]) + "\n")
    return root


def test_cvat_yolo_subset_folders_keep_their_split(tmp_path):
    """obj_train_data/ and obj_valid_data/ (subset Validation: obj_Validation_data/) are CVAT's train and val: a
    seeded split trained on 5 of its 6 validation images, and nothing said a published split was dropped."""
    for held in ("valid", "Validation"):
        src = cvat_yolo(tmp_path / held, {"train": 4, held: 3})
        s = convert(src, fmt="yolo", out=tmp_path / f"out_{held}")
        assert "published" in s.split and s.images == {"train": 4, "val": 3}
        assert s.names == ["cat", "dog"] and s.boxes == 10 and s.unmatched == 0 and not s.checks
        out = tmp_path / f"out_{held}" / "images"
        assert sorted(p.name for p in (out / "val").iterdir()) == [f"{held}{i}.jpg" for i in range(3)]
        assert sorted(p.name for p in (out / "train").iterdir()) == [f"train{i}.jpg" for i in range(4)]


def test_cvat_yolo_subsets_of_unknown_names_say_the_split_was_seeded(tmp_path):
    """obj_Train_data/ beside obj_Holdout_data/: no split this reader knows, so a seeded one is made, and said to be
    made instead of theirs."""
    src = cvat_yolo(tmp_path / "cvat", {"Train": 6, "Holdout": 2})
    s = convert(src, fmt="yolo", out=tmp_path / "out", val_fraction=0.25)
    assert "seeded" in s.split and s.images == {"train": 6, "val": 2} and s.boxes == 12
    assert s.checks == {"subset folders not read as a split (seeded split made instead)": 2}
    assert "obj_Holdout_data/, obj_Train_data/, which give no train and held-out split" in (
        tmp_path / "out" / "issues.txt").read_text()


def test_a_classes_txt_beside_the_labels_names_the_classes(tmp_path):
    """LabelImg in YOLO mode saving to labels/ writes its classes.txt there: the classes were named class_0, ..."""
    src = tmp_path / "labelimg"
    for i in range(4):
        image(src / "images" / f"a{i}.jpg", seed=i)
        (src / "labels").mkdir(exist_ok=True)
        (src / "labels" / f"a{i}.txt").write_text(f"{i % 3} 0.5 0.5 0.3 0.3\n")
    (src / "labels" / "classes.txt").write_text("zebra\napple\nmango\n")
    s = convert(src, fmt="yolo", out=tmp_path / "out", val_fraction=0.25)
    assert s.names == ["zebra", "apple", "mango"] and s.boxes == 4 and s.unmatched == 0 and not s.checks
    assert not (tmp_path / "out" / "issues.txt").exists()


def test_names_files_that_differ_between_label_folders_are_refused(tmp_path):
    """Two label folders whose classes.txt disagree: which id means what is unknown, so neither is guessed."""
    src = tmp_path / "labelimg"
    for part, names in (("a", "cat\ndog\n"), ("b", "dog\ncat\n")):
        for i in range(2):
            image(src / part / "images" / f"{part}{i}.jpg", seed=ord(part) + i)
            (src / part / "labels").mkdir(parents=True, exist_ok=True)
            (src / part / "labels" / f"{part}{i}.txt").write_text("0 0.5 0.5 0.3 0.3\n")
        (src / part / "labels" / "classes.txt").write_text(names)
    with pytest.raises(UserError, match=r"name their classes differently: keep one names file"):
        convert(src, fmt="yolo", out=tmp_path / "out")
    assert convert(src, fmt="yolo", out=tmp_path / "out", names="cat,dog").names == ["cat", "dog"]


def test_classes_named_by_id_are_a_check(tmp_path):
    """No names anywhere: the classes are named by id, said in the summary's Checks (it was only in issues.txt,
    which the summary did not name)."""
    src = tmp_path / "bare"
    for i in range(4):
        image(src / "images" / f"a{i}.jpg", seed=i)
        (src / "labels").mkdir(exist_ok=True)
        (src / "labels" / f"a{i}.txt").write_text(f"{i % 2} 0.5 0.5 0.3 0.3\n")
    s = convert(src, fmt="yolo", out=tmp_path / "out", val_fraction=0.25)
    assert s.names == ["class_0", "class_1"] and s.checks == {"classes without a name (named by id)": 2}
    checks = Text.from_markup(s.render()).plain.split("Checks:")[1].splitlines()[0]
    assert "2 classes without a name (named by id)" in checks and "issues.txt" in checks
    assert "no class names (no classes.txt, obj.names" in (tmp_path / "out" / "issues.txt").read_text()
    s = convert(split_dataset(tmp_path / "ds", {"val": "images/val", "nc": 3}), fmt="yolo", out=tmp_path / "out2")
    assert s.names == ["class_0", "class_1", "class_2"] and s.checks == {"classes without a name (named by id)": 3}


def test_an_image_named_classes_is_not_a_names_file(tmp_path):
    """images/classes.jpg's label is labels/classes.txt: its rows were read as the class names ('1 0.59 0.62 ...'),
    with no word; a names file beside it (obj.names) names them, else they are named by id, and said."""
    src = tmp_path / "apart"
    for i, stem in enumerate(["classes", "a1", "a2", "a3"]):
        image(src / "images" / f"{stem}.jpg", seed=i)
        (src / "labels").mkdir(exist_ok=True)
        (src / "labels" / f"{stem}.txt").write_text(f"{i % 3} 0.5 0.5 0.3 0.3\n")
    s = convert(src, fmt="yolo", out=tmp_path / "out", val_fraction=0.25)
    assert s.names == ["class_0", "class_1", "class_2"] and s.boxes == 4 and s.unmatched == 0
    assert s.checks == {yf.UNNAMED: 3}
    assert (f"'{src / 'labels' / 'classes.txt'}' is the label file of an image, not a names file"
            in (tmp_path / "out" / "issues.txt").read_text())
    flat = tmp_path / "flat"  # the label beside its image in the dataset folder, Darknet's obj.names there too
    for i, stem in enumerate(["classes", "b1", "b2", "b3"]):
        image(flat / f"{stem}.jpg", seed=i)
        (flat / f"{stem}.txt").write_text(f"{i % 2} 0.5 0.5 0.3 0.3\n")
    (flat / "obj.names").write_text("cat\ndog\n")
    s = convert(flat, fmt="yolo", out=tmp_path / "out2", val_fraction=0.25)
    assert s.names == ["cat", "dog"] and s.boxes == 4 and not s.checks


def test_a_names_file_that_begins_anothers_is_that_list_shorter(tmp_path):
    """LabelImg adds a class to the end of classes.txt as it meets it: valid/labels/classes.txt 'zebra, apple' beside
    train/labels/classes.txt 'zebra, apple, mango' was refused as naming the classes differently. The longer list
    names them, and the shorter one is said; lists that disagree are still refused."""
    src = tmp_path / "labelimg"
    for split, n in (("train", 4), ("valid", 2)):
        for i in range(n):
            image(src / split / "images" / f"{split}{i}.jpg", seed=len(split) * 10 + i + (split == "valid") * 7)
            (src / split / "labels").mkdir(parents=True, exist_ok=True)
            (src / split / "labels" / f"{split}{i}.txt").write_text(f"{i % 3 if split == 'train' else i} "
                                                                    "0.5 0.5 0.3 0.3\n")
    (src / "train" / "labels" / "classes.txt").write_text("zebra\napple\nmango\n")
    (src / "valid" / "labels" / "classes.txt").write_text("zebra\napple\n")
    s = convert(src, fmt="yolo", out=tmp_path / "out")
    assert s.names == ["zebra", "apple", "mango"] and s.images == {"train": 4, "val": 2} and s.boxes == 6
    assert not s.checks and s.unmatched == 0
    assert (f"{src / 'valid' / 'labels' / 'classes.txt'}: names the first 2 of the 3 classes of "
            f"'{src / 'train' / 'labels' / 'classes.txt'}'") in (tmp_path / "out" / "issues.txt").read_text()
    (src / "valid" / "labels" / "classes.txt").write_text("zebra\nmango\n")  # not the start of the longer list
    with pytest.raises(UserError, match=r"name their classes differently: keep one names file"):
        convert(src, fmt="yolo", out=tmp_path / "out2")


def test_only_folders_that_look_like_subsets_are_counted(tmp_path):
    """images/ beside a top-level test/: one folder looks like a subset, so the check counts one (it counted
    images/ too); folders that look like none are not said at all."""
    src = tmp_path / "ds"
    for i in range(5):
        where = "images" if i < 4 else "test/images"
        image(src / where / f"p{i}.jpg", seed=i)
        (src / where.replace("images", "labels")).mkdir(parents=True, exist_ok=True)
        (src / where.replace("images", "labels") / f"p{i}.txt").write_text("0 0.5 0.5 0.3 0.3\n")
    (src / "classes.txt").write_text("cat\n")
    s = convert(src, fmt="yolo", out=tmp_path / "out", val_fraction=0.2)
    assert "seeded" in s.split and sum(s.images.values()) == 5 and s.checks == {yf.UNKNOWN: 1}
    assert "its images lie in images/, test/, which give no train" in (tmp_path / "out" / "issues.txt").read_text()
    shutil.move(src / "test", src / "sessionB")
    s = convert(src, fmt="yolo", out=tmp_path / "out2", val_fraction=0.2)
    assert sum(s.images.values()) == 5 and not s.checks
