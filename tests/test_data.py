"""`make_synthetic` and `data synth`: the same arguments give the same bytes, and an existing dataset is never
overwritten. The converters are tested in test_convert.py, test_voc.py, test_coco.py and test_yolofmt.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from yolodistill.cli import app
from yolodistill.data import make_synthetic, readable_images, split_images

from .builders import files
from .conftest import assert_one_line_error


def test_make_synthetic_is_deterministic(tmp_path):
    def written(seed: int, name: str) -> dict[str, bytes]:
        make_synthetic(tmp_path / name, images=4, classes=2, imgsz=32, seed=seed)
        return {k: v for k, v in files(tmp_path / name).items() if k != "data.yaml"}  # data.yaml holds its own path

    first = written(0, "a")
    assert len(first) == 8  # 4 images + 4 label files
    assert written(0, "b") == first
    other = written(1, "c")
    assert other.keys() == first.keys() and other != first


@pytest.mark.parametrize("kwargs, needle", [({"imgsz": "64"}, "must be a whole number"),
                                            ({"images": 4.5}, "must be a whole number"),
                                            ({"classes": None}, "must be a whole number"),
                                            ({"val_fraction": "0.2"}, "the validation fraction must be a number"),
                                            # both splits need an image: 0 and 1 leave one of them empty
                                            ({"val_fraction": 0}, "must be between 0 and 1, got 0"),
                                            ({"images": 1}, "image\\) to 100000, got 1$"),
                                            ({"classes": 9}, "--classes must be between 1 and 8, got 9"),
                                            ({"imgsz": 16}, "--imgsz must be 32 to 4096, got 16"),
                                            ({"val_fraction": 1.0}, "must be between 0 and 1, got 1.0"),
                                            # drawn in memory: a MemoryError traceback, and an empty --out left
                                            ({"imgsz": 100000}, "--imgsz must be 32 to 4096, got 100000"),
                                            # 'no' is true in an `if`: it drew the bar it turned off
                                            ({"progress": "no"}, "progress must be True or False, got 'no'")])
def test_make_synthetic_checks_python_types(tmp_path, kwargs, needle):
    from yolodistill.errors import UserError

    with pytest.raises(UserError, match=needle):  # from Python: a TypeError
        make_synthetic(tmp_path / "s", **kwargs)
    assert not (tmp_path / "s").exists()
    with pytest.raises(UserError, match="--out must be the path of a folder, got None"):
        make_synthetic(None)
    with pytest.raises(UserError, match="is too long for the filesystem"):  # the OSError of its first stat()
        make_synthetic(tmp_path / ("s" * 300))


def test_labels_are_the_drawn_shapes(tmp_path):
    """Every label row lies inside the image, and its class is one of the requested shapes."""
    data = make_synthetic(tmp_path / "s", images=6, classes=2, imgsz=48, seed=3)
    rows = [line.split() for p in (tmp_path / "s" / "labels").rglob("*.txt") for line in p.read_text().splitlines()]
    assert rows and {r[0] for r in rows} == {"0", "1"}
    per_image = [len(p.read_text().splitlines()) for p in (tmp_path / "s" / "labels").rglob("*.txt")]
    assert min(per_image) >= 1 and 1 < max(per_image) <= 4  # 1 to 4 objects per image, as the docstring says
    for _, cx, cy, w, h in ([float(v) for v in r] for r in rows):
        assert 0 <= cx - w / 2 and cx + w / 2 <= 1 and 0 <= cy - h / 2 and cy + h / 2 <= 1 and w > 0 and h > 0
    info = yaml.safe_load(data.read_text())
    assert len(split_images(str(tmp_path / "s" / info["val"]))) == 2  # a quarter of 6, rounded


def test_no_label_file_repeats_a_row(tmp_path):
    """At a small size two draws of one object could land on the same class, size and centre: the row came twice,
    and the project's own data convert dropped it as a defect (seed 0, 600 images at 64 px: image 497)."""
    make_synthetic(tmp_path / "s", images=600, classes=3, imgsz=64, seed=0)
    labels = sorted((tmp_path / "s" / "labels").rglob("*.txt"))
    assert len(labels) == 600
    assert [p.name for p in labels if len(set(rows := p.read_text().splitlines())) < len(rows)] == []


def test_synth_out_through_a_link_to_a_folder_not_made_yet(tmp_path):
    # mkdir failed on the link: a FileExistsError traceback
    (tmp_path / "out").symlink_to(tmp_path / "real")
    make_synthetic(tmp_path / "out", images=4, imgsz=32)
    assert (tmp_path / "out").is_symlink() and len(list((tmp_path / "real" / "images").rglob("*.png"))) == 4


def test_cli_synth_writes_and_never_overwrites(tmp_path):
    runner = CliRunner()
    args = ["data", "synth", "--out", str(tmp_path / "synth"), "--images", "6", "--classes", "2", "--imgsz", "48"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert yaml.safe_load((tmp_path / "synth" / "data.yaml").read_text())["names"] == {0: "circle", 1: "square"}
    assert len(list((tmp_path / "synth" / "images").rglob("*.png"))) == 6
    before = files(tmp_path / "synth")
    again = runner.invoke(app, [*args[:-2], "--imgsz", "64", "--seed", "1"])
    assert_one_line_error(again, "already holds a dataset")
    assert files(tmp_path / "synth") == before
    # through a folder that does not exist: as written the path cannot be walked, so it did not "exist", and the
    # failed move of the new train split took the user's images/train out with it
    around = runner.invoke(app, [*args[:2], "--out", str(tmp_path / "nox" / ".." / "synth"), *args[4:]])
    assert_one_line_error(around, "already holds a dataset")
    assert files(tmp_path / "synth") == before and not (tmp_path / "nox").exists()


def synth_failing(monkeypatch, how: str) -> None:
    """Make the third file's write fail as `how` says: a Ctrl-C, or a full disk (an OSError naming no file, as a
    write or close raises it)."""
    import errno

    import cv2

    real_encode, real_write, calls = cv2.imencode, Path.write_bytes, []

    def encode(ext, img):
        calls.append(ext)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_encode(ext, img)

    def write_bytes(path, data):  # the stage's files: a full disk at write names no file
        if ".synth-partial" in str(path):
            calls.append(path)
            if len(calls) == 3:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(path, data)

    if how == "ctrl-c":
        monkeypatch.setattr(cv2, "imencode", encode)
    else:
        monkeypatch.setattr(Path, "write_bytes", write_bytes)


@pytest.mark.parametrize("how, code, needle", [
    ("ctrl-c", 130, "Interrupted. Nothing was written: --out is as it was"),
    ("disk-full", 1, "Error: no space left on the device to write "),  # an OSError traceback; a PNG cv2 could not
])                                                                      # write was counted as written
def test_a_synth_cut_off_leaves_no_half_dataset_and_a_rerun_works(tmp_path, monkeypatch, how, code, needle):
    """synth drew straight into --out: a Ctrl-C or a full disk left images without labels (or the reverse) and no
    data.yaml, and the rerun was refused as 'already holds a dataset'. The user's own file in --out is kept."""
    out = tmp_path / "a" / "synth"
    out.mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    synth_failing(monkeypatch, how)
    args = ["data", "synth", "--out", str(out), "--images", "6", "--imgsz", "32"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == code and "Traceback" not in result.output, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1 and needle in lines[0], lines
    assert how != "disk-full" or "/.synth-partial/images/val/00001.png: free some space" in lines[0]  # named by us
    assert [str(p.relative_to(out)) for p in out.rglob("*")] == ["notes.txt"]  # no stage, no empty split folders
    monkeypatch.undo()
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0 and result.output.startswith("Wrote 6 images"), result.output  # the bar: stderr
    assert len(list((out / "images").rglob("*.png"))) == 6 and (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("mine, needle", [("data.yaml", "already holds a dataset"),
                                         ("labels", "labels' is a file, where the dataset's labels/ folder goes")])
def test_synth_refuses_a_dangling_data_yaml_link_or_a_file_named_labels(tmp_path, mine, needle):
    """A data.yaml link to a file not there yet passed the check, and the cleanup of a failed synth removed it; a
    file named labels failed only after every image was drawn."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "data.yaml").symlink_to(tmp_path / "later.yaml") if mine == "data.yaml" else (out / mine).write_text("")
    assert_one_line_error(CliRunner().invoke(app, ["data", "synth", "--out", str(out), "--images", "4"]), needle)
    assert sorted(p.name for p in out.iterdir()) == [mine] and (out / mine).is_symlink() == (mine == "data.yaml")


def test_a_synth_into_a_new_folder_cut_off_removes_the_folders_it_made(tmp_path, monkeypatch):
    synth_failing(monkeypatch, "ctrl-c")
    with pytest.raises(KeyboardInterrupt):
        make_synthetic(tmp_path / "a" / "b", images=6, imgsz=32)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, needle", [
    (["--images", "100001"], "--images must be 2 (one train and one val image) to 100000, got 100001"),
    (["--out", "NEW/data.yaml"], "--out 'NEW/data.yaml' names a yaml file, and --out is a folder: pass a folder, e.g. "
                                 "--out NEW"),
])
def test_synth_refuses_a_typo_before_drawing(tmp_path, monkeypatch, args, needle):
    """--images 10**20 drew for minutes, silently, until the disk filled; --out x/data.yaml made a folder of that
    name."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["data", "synth", "--out", "NEW", *args])
    assert_one_line_error(result, needle)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["synth", "convert", "pseudo-label"])
def test_an_out_named_like_a_yaml_file_is_refused_by_every_data_command(command, teacher26, tmp_path):
    """--out x/data.yaml made a folder named data.yaml (synth was mended first; convert and pseudo-label did it too)."""
    data = make_synthetic(tmp_path / "src", images=4, classes=3, imgsz=32)
    args = {"synth": [], "convert": [str(data), "--format", "yolo"],
            "pseudo-label": ["--teacher", str(teacher26), "--images", str(tmp_path / "src" / "images")]}[command]
    result = CliRunner().invoke(app, ["data", command, *args, "--out", str(tmp_path / "out" / "data.yaml")])
    assert_one_line_error(result, "names a yaml file, and --out is a folder: pass a folder, e.g. --out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["synth", "convert", "pseudo-label"])
def test_negative_seed_is_one_line(command, teacher26, tmp_path):
    """NumPy refuses a negative seed with a traceback; every data command refuses it alike, before writing."""
    data = make_synthetic(tmp_path / "src", images=4, classes=3, imgsz=32)
    args = {"synth": [], "convert": [str(data), "--format", "yolo"],
            "pseudo-label": ["--teacher", str(teacher26), "--images", str(tmp_path / "src" / "images")]}[command]
    result = CliRunner().invoke(app, ["data", command, *args, "--out", str(tmp_path / "out"), "--seed", "-1"])
    assert_one_line_error(result, "--seed must be between 0 and 4294967295 (NumPy's seed range), got -1")
    assert not (tmp_path / "out").exists()


def test_a_split_list_is_read_as_ultralytics_reads_it(tmp_path, monkeypatch):
    """Ultralytics reads './x' in a .txt split from the list's folder and any other relative line from the working
    folder; every line was read from the list's folder, so the split checks refused lists Ultralytics trains on."""
    lists, work = tmp_path / "lists", tmp_path / "work"
    for img in (lists / "a.jpg", work / "ds" / "b.jpg", lists / "c.jpg", work / "a.jpg"):
        img.parent.mkdir(parents=True, exist_ok=True)
        img.write_bytes(b"")
    (lists / "train.txt").write_text("./a.jpg\nds/b.jpg\nnotes.md\n\nc.jpg\n")
    monkeypatch.chdir(work)
    # c.jpg is only beside the list: taken from there (Ultralytics refuses it; `data convert` rescues such a list)
    assert split_images(str(lists / "train.txt")) == [lists / "a.jpg", Path("ds/b.jpg"), lists / "c.jpg"]
    assert all(p.exists() for p in split_images(str(lists / "train.txt")))



def test_fingerprint_names_the_images_not_their_folder(tmp_path):
    """A resume compares fingerprints: a moved dataset, or a list naming the same images in another order, is the same
    data; one image fewer in either split is not."""
    import shutil

    from yolodistill.data import fingerprint

    make_synthetic(tmp_path / "a", images=4, imgsz=32)
    shutil.copytree(tmp_path / "a", tmp_path / "moved")
    split = lambda root: {s: str(root / "images" / s) for s in ("train", "val")}  # noqa: E731
    first = fingerprint(split(tmp_path / "a"))
    assert first["train"][0] == 3 and first["val"][0] == 1
    assert fingerprint(split(tmp_path / "moved")) == first
    listing = tmp_path / "train.txt"
    listing.write_text("\n".join(str(p) for p in reversed(split_images(tmp_path / "a" / "images" / "train"))))
    assert fingerprint({**split(tmp_path / "a"), "train": str(listing)}) == first
    for s in ("train", "val"):
        next((tmp_path / "moved" / "images" / s).iterdir()).unlink()
        changed = fingerprint(split(tmp_path / "moved"))
        assert changed[s] != first[s] and changed[s][0] == first[s][0] - 1


def test_split_images_takes_upper_case_suffixes_and_only_images(tmp_path):
    """Cameras write IMG_1.JPG: Ultralytics trains on it, so the split checks and fingerprint must count it."""
    for name in ("IMG_1.JPG", "b.png", "notes.txt", "c.Jpeg"):
        (tmp_path / "d" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "d" / name).write_bytes(b"")
    assert [p.name for p in split_images(tmp_path / "d")] == ["IMG_1.JPG", "b.png", "c.Jpeg"]


def test_has_labels_needs_a_label_file_with_rows(tmp_path):
    """An empty label file is a background image: a split of only those trains on nothing, so it has no labels."""
    from yolodistill.data import has_labels

    images = [tmp_path / "images" / "train" / f"{i}.jpg" for i in range(2)]
    labels = tmp_path / "labels" / "train"
    labels.mkdir(parents=True)
    assert not has_labels(images)  # no label files at all
    (labels / "0.txt").write_text("")
    assert not has_labels(images)
    (labels / "1.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    assert has_labels(images)


def test_every_shape_and_a_split_on_each_side(tmp_path):
    """All 8 shapes are allowed; the wide ones (bar, ellipse) get wide boxes and the rest square ones; 2 images with a
    small val fraction still give val one image, as training needs both splits."""
    make_synthetic(tmp_path / "s", images=8, classes=8, imgsz=64, seed=1, val_fraction=0.1)
    assert [len(split_images(tmp_path / "s" / "images" / s)) for s in ("train", "val")] == [7, 1]
    rows = [[float(v) for v in line.split()] for p in (tmp_path / "s" / "labels").rglob("*.txt")
            for line in p.read_text().splitlines()]
    wide = {6, 7}  # bar, ellipse: half as high as wide
    assert {int(r[0]) for r in rows} & wide and {int(r[0]) for r in rows} - wide
    for c, _, _, w, h in rows:
        assert (h < w) if int(c) in wide else (h == w), (c, w, h)
    make_synthetic(tmp_path / "two", images=2, imgsz=32, val_fraction=0.1)
    assert [len(split_images(tmp_path / "two" / "images" / s)) for s in ("train", "val")] == [1, 1]
    make_synthetic(tmp_path / "most", images=4, imgsz=32, val_fraction=0.9)  # no train split, which data.yaml named
    assert [len(split_images(tmp_path / "most" / "images" / s)) for s in ("train", "val")] == [1, 3]


def test_a_labels_folder_that_takes_no_file_is_one_line_before_drawing(tmp_path, monkeypatch):
    """An empty labels/ on a read-only mount passed the check of --out: a traceback once every image was drawn."""
    import yolodistill.errors as errors
    from yolodistill.errors import UserError

    (tmp_path / "out" / "labels").mkdir(parents=True)
    real = errors.writable
    monkeypatch.setattr(errors, "writable", lambda p: Path(p).name != "labels" and real(p))  # root writes anywhere
    with pytest.raises(UserError, match="labels' cannot be written: it is not a writable folder"):
        make_synthetic(tmp_path / "out", images=4, imgsz=32)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["labels"]


def test_a_data_yaml_alone_is_a_dataset_not_overwritten(tmp_path):
    """A data.yaml whose images live elsewhere (path: /data/...) is the user's dataset all the same."""
    from yolodistill.errors import UserError

    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "data.yaml").write_text("path: /elsewhere\n")
    with pytest.raises(UserError, match="already holds a dataset"):
        make_synthetic(tmp_path / "ds", images=2, imgsz=32)
    assert [p.name for p in (tmp_path / "ds").iterdir()] == ["data.yaml"]


def test_readable_images_pass_over_files_that_do_not_decode(synth_data, tmp_path):
    """Ultralytics' loaders skip an empty or broken image file; a sample taken from the file list fed it to a
    predictor, which failed (export's parity check, bench's timed batch)."""
    from yolodistill.errors import UserError
    from yolodistill.export import sample_images

    good = sorted((synth_data.parent / "images" / "val").iterdir())[:2]
    (empty := tmp_path / "0.png").write_bytes(b"")
    (text := tmp_path / "1.png").write_text("not an image")
    assert readable_images([empty, text, *good], 1) == good[:1]
    assert readable_images([empty, good[0], text, good[1]], 5) == good
    assert readable_images([empty, text, tmp_path / "gone.png"], 2) == []
    for name in (empty, text):
        (tmp_path / "val").mkdir(exist_ok=True)
        name.rename(tmp_path / "val" / name.name)
    with pytest.raises(UserError, match="no image of the val split .* can be read"):
        sample_images({"val": str(tmp_path / "val")})
    shutil.copy(good[0], tmp_path / "val" / "2.png")
    assert sample_images({"val": str(tmp_path / "val")}) == [tmp_path / "val" / "2.png"]


def test_an_image_name_of_a_byte_no_utf8_has_is_fingerprinted(tmp_path):
    """Plain Ultralytics trains on such a file; our dataset fingerprint (train, compare) was a UnicodeEncodeError. A
    UTF-8 name's fingerprint is the one earlier records hold."""
    import hashlib

    import numpy as np
    from PIL import Image

    from yolodistill.data import fingerprint

    images = tmp_path / "images"
    images.mkdir()
    for name in (b"caf\xc3\xa9.png", b"r\xe9s.png"):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(images / name.decode("utf-8", "surrogateescape"))
    got = fingerprint({"train": str(images), "val": str(images)}, labels=True)
    assert got["train"][0] == 2 and got["train"] == got["val"]
    (images / b"r\xe9s.png".decode("utf-8", "surrogateescape")).unlink()
    assert fingerprint({"train": str(images), "val": str(images)})["train"] == [
        1, hashlib.sha256("café.png".encode()).hexdigest()[:16]]
