"""What every conversion shares: per-class box counts and COCO box sizes at the training imgsz (printed and in
dataset.json), the output checks, and the `data convert` command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from rich.text import Text
from typer.testing import CliRunner

from yolodistill.cli import app
from yolodistill.convert import convert
from yolodistill.errors import UserError

from .builders import coco_dict, image, make_voc, voc_xml
from .conftest import assert_one_line_error


@pytest.fixture
def sized(tmp_path):
    """Four 640x480 images, one box each: 20x20 (zebra), 50x50 (ant), 200x200 (ant), and 40x40 (zebra, in the
    image that goes to val with seed 0)."""
    src = tmp_path / "sized"
    names = [f"{i}.png" for i in range(4)]
    for name in names:
        image(src / "images" / name, w=640, h=480)
    boxes = [(0, 7, [10, 10, 20, 20]), (1, 3, [10, 10, 50, 50]), (2, 3, [10, 10, 200, 200]), (3, 7, [5, 5, 40, 40])]
    (src / "ann.json").write_text(json.dumps(coco_dict(names, boxes, size=(640, 480))))
    return src / "ann.json"


CLASS_OF = {"0": "zebra", "1": "ant", "2": "ant", "3": "zebra"}
SIDE = {"0": 20, "1": 50, "2": 200, "3": 40}  # box side in pixels of the 640x480 image


def test_box_counts_and_sizes_follow_the_training_imgsz(sized, tmp_path):
    big = convert(sized, fmt="coco", out=tmp_path / "big", val_fraction=0.25, imgsz=640)
    val = next((tmp_path / "big" / "labels" / "val").iterdir()).stem
    expected = {n: {"train": 2 - (CLASS_OF[val] == n), "val": int(CLASS_OF[val] == n), "total": 2}
                for n in ("ant", "zebra")}
    assert big.per_class == expected
    # At 640 the image keeps its size: 20² px is small (< 32²), 40² and 50² medium (< 96²), 200² large
    assert big.sizes["total"] == {"small": 1, "medium": 2, "large": 1}
    kind = lambda side: "small" if side < 32 else "medium" if side < 96 else "large"  # noqa: E731
    assert big.sizes["val"] == {k: int(kind(SIDE[val]) == k) for k in ("small", "medium", "large")}
    # At 320 every side halves: 10, 20 and 25 px are small, 100 px is large
    small = convert(sized, fmt="coco", out=tmp_path / "small", val_fraction=0.25, imgsz=320)
    assert small.sizes["total"] == {"small": 3, "medium": 0, "large": 1}
    assert small.sizes["val"] == {k: int(kind(SIDE[val] / 2) == k) for k in ("small", "medium", "large")}

    record = json.loads((tmp_path / "small" / "dataset.json").read_text())
    assert record["imgsz"] == 320 and record["sizes"] == small.sizes and record["per_class"] == expected
    assert record["images"] == {"train": 3, "val": 1} and record["names"] == ["ant", "zebra"]
    assert record["boxes"] == {"written": 4, "clipped": 0, "dropped": 0} and "32²" in record["size_definition"]
    assert (tmp_path / "small" / "dataset.json").parent == small.data_yaml.parent

    text = Text.from_markup(small.render()).plain
    assert "Box sizes at imgsz 320" in text and "small 3 (75%)" in text and "75% of the boxes are small" in text
    assert "of the boxes are small" not in Text.from_markup(big.render()).plain
    table = [line.split() for line in text.splitlines() if line.strip().startswith(("ant", "zebra"))]
    assert sorted(table) == [[n, str(c["train"]), str(c["val"]), str(c["total"])] for n, c in expected.items()]


def test_refuses_existing_data_yaml_and_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "data.yaml").write_text("mine: true\n")
    from yolodistill.errors import UserError

    with pytest.raises(UserError, match="already exists"):
        convert(make_voc(tmp_path / "voc"), fmt="voc", out=out)
    with pytest.raises(UserError, match="already exists"):  # as written, nox/.. cannot be walked: out did not exist
        convert(tmp_path / "voc", fmt="voc", out=tmp_path / "nox" / ".." / "out")
    assert (out / "data.yaml").read_text() == "mine: true\n" and not (tmp_path / "nox").exists()
    assert sorted(p.name for p in out.iterdir()) == ["data.yaml"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file"):
        convert(tmp_path / "voc", fmt="voc", out=tmp_path / "file")
    with pytest.raises(UserError, match="not a writable folder"):
        convert(tmp_path / "voc", fmt="voc", out=tmp_path / "file" / "below")
    with pytest.raises(UserError, match="inside the source"):
        convert(tmp_path / "voc", fmt="voc", out=tmp_path / "voc" / "yolo")
    assert not (tmp_path / "voc" / "yolo").exists()


def test_a_voc_folder_read_as_yolo_names_the_format_it_looks_like(tmp_path):
    """It said only 'no annotation names one; pass --names' (walkthrough review)."""
    with pytest.raises(UserError, match=r"no annotation names one \(it holds XML annotations: if it is Pascal VOC, "
                                        r"pass --format voc\); pass --names"):
        convert(make_voc(tmp_path / "voc"), fmt="yolo", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_layout_read_as_another_format_names_the_format_it_holds(tmp_path):
    """A COCO folder read as VOC said only "pass --annotations DIR"; a data yaml over VOC's JPEGImages read as YOLO
    said "is it a YOLO dataset?", and train had advised exactly that conversion (walkthrough hunt)."""
    from .builders import make_coco

    make_coco(tmp_path / "coco")
    with pytest.raises(UserError) as e:
        convert(tmp_path / "coco", fmt="voc", out=tmp_path / "out")
    assert str(e.value).endswith(f"and beside the images): it holds a COCO JSON ({tmp_path / 'coco' / 'ann.json'}): "
                                 "if it is COCO, pass --format coco")
    voc = make_voc(tmp_path / "voc")
    for i, path in enumerate(sorted((voc / "JPEGImages").iterdir())):
        image(path, seed=i)  # of one name length, make_voc's images are one image to the YOLO reader
    (tmp_path / "data.yaml").write_text(f"path: {voc}\ntrain: JPEGImages\nnames: [cat, dog]\n")
    with pytest.raises(UserError, match=r"every image would be background; is it a YOLO dataset\? \(it holds XML "
                                        r"annotations: if it is Pascal VOC, pass --format voc\)$"):
        convert(tmp_path / "data.yaml", fmt="yolo", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_format_hint_prefers_voc_xml_and_takes_only_a_coco_looking_json(tmp_path):
    """train's advice took whichever format it met first, and any JSON for COCO: a classes.json beside VOC images
    gave "convert .../classes.json --format coco", which fails (review)."""
    from yolodistill.layout import convert_hint, format_hint

    voc = make_voc(tmp_path / "set" / "voc")
    (voc / "JPEGImages" / "classes.json").write_text('{"0": "cat", "1": "dog"}')
    (voc / "package.json").write_text('{"name": "x"}')
    images = sorted((voc / "JPEGImages").iterdir())
    assert format_hint([voc / "JPEGImages"], "yolo", deep=False) == ("it holds XML annotations: if it is Pascal VOC, "
                                                                     "pass --format voc")
    assert f"data convert {voc} --format voc" in convert_hint(tmp_path / "set" / "data.yaml", images)
    for xml in (voc / "Annotations").iterdir():
        xml.unlink()
    assert format_hint([voc / "JPEGImages"], "yolo", deep=False) == ""  # no JSON there is COCO's
    (voc / "JPEGImages" / "labels.json").write_text('{"images": [{"id": 1, "file_name": "img0.jpg"}]}')
    assert f"data convert {voc / 'JPEGImages' / 'labels.json'} --format coco" in convert_hint(
        tmp_path / "set" / "data.yaml", images)


@pytest.mark.parametrize("kwargs, needle", [
    (dict(fmt="kitti"), "unknown format 'kitti'"),
    (dict(imgsz=100), "--imgsz 100 is not a positive multiple of 32"),
    (dict(imgsz=0), "--imgsz 0 is not a positive multiple of 32 .*: use 32$"),
    (dict(val_fraction=1.0), r"--val-fraction must be in \(0, 1\): a share of the images for val, got 1.0"),
    (dict(images="nowhere"), "--images 'nowhere' does not exist: check the path"),  # said 'is not a folder'
    (dict(images=__file__), f"--images '{__file__}' is not a folder: pass the folder that holds them"),
    # from Python: None or a string where the CLI parses a path or number was a TypeError or AttributeError
    (dict(fmt=None), "unknown format None"),
    (dict(out=None), "--out must be the path of a folder, got None"),
    (dict(val_fraction="0.2"), "the validation fraction must be a number"),
    (dict(images=3), "--images must be the path of a folder, got 3"),
    (dict(names=5), "--names must be the class names, comma-separated .* or a list of them, got 5"),  # TypeErrors
    (dict(names={0: "cat"}), "--names must be the class names, .*got {0: 'cat'}"),
])
def test_bad_options(tmp_path, kwargs, needle):
    from yolodistill.errors import UserError

    with pytest.raises(UserError, match=needle):
        convert(make_voc(tmp_path / "voc"), **{"fmt": "voc", "out": tmp_path / "out", **kwargs})
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("names", ["cat,,dog", ["cat", " ", "dog"]])
def test_an_empty_class_name_is_refused_from_python_too(tmp_path, names):
    """The command line refused "cat,,dog"; convert() itself wrote a class with an empty name."""
    with pytest.raises(UserError, match="has an empty name"):
        convert(make_voc(tmp_path / "voc"), fmt="voc", out=tmp_path / "out", names=names)
    assert not (tmp_path / "out").exists()


def test_names_as_one_string_are_split_at_commas(tmp_path):
    """From Python, names="a,b" became the classes 'a', ',' and 'b'."""
    data = convert(make_voc(tmp_path / "voc"), fmt="voc", out=tmp_path / "out", names="cat, dog").data_yaml
    assert list(yaml.safe_load(data.read_text())["names"].values()) == ["cat", "dog"]


def test_cli_convert_prints_counts(tmp_path):
    src = make_voc(tmp_path / "voc")
    r = CliRunner().invoke(app, ["data", "convert", str(src), "--format", "voc", "--out", str(tmp_path / "out"),
                                 "--imgsz", "64", "--names", "dog,cat"], terminal_width=200)
    assert r.exit_code == 0, r.output
    flat = " ".join(r.stdout.split())
    assert "Images: 3 train, 2 val" in flat and "1 clipped" in flat and "2 dropped" in flat
    assert "Classes (2): dog, cat" in flat and "Box sizes at imgsz 64" in flat
    assert f"Counts: {tmp_path / 'out' / 'dataset.json'}" in flat
    assert (tmp_path / "out" / "data.yaml").is_file()


@pytest.mark.parametrize("args, needle", [
    (["--format", "kitti"], "unknown format 'kitti'"),
    (["--format", "voc", "--names", "cat,,dog"], "has an empty name"),
    (["--format", "voc", "--annotations", "missing"], "--annotations 'missing' does not exist: check the path"),
])
def test_cli_convert_bad_input_is_one_line(tmp_path, args, needle):
    src = make_voc(tmp_path / "voc")
    r = CliRunner().invoke(app, ["data", "convert", str(src), *args, "--out", str(tmp_path / "out")])
    assert_one_line_error(r, needle)
    assert not (tmp_path / "out").exists()


def test_output_inside_a_folder_of_source_images_is_refused(tmp_path):
    """--out inside a split folder (named through the yaml's path:) would add its images to that split."""
    from .builders import files

    root = tmp_path / "ds"
    for split in ("train", "val"):
        for i in range(2):
            image(root / "images" / split / f"{split}{i}.jpg", seed=i + 5 * (split == "val"))
    (tmp_path / "cfg").mkdir()
    yaml_file = tmp_path / "cfg" / "data.yaml"
    yaml_file.write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames: [a]\n")
    before = files(root)
    with pytest.raises(UserError, match="is inside the source '.*ds'"):  # the dataset the yaml names
        convert(yaml_file, fmt="yolo", out=root / "images" / "train", names=["a"])
    assert files(root) == before


@pytest.mark.parametrize("existing", ["dataset.json", "issues.txt", "unmatched.txt", "images"])
def test_files_of_the_users_in_out_are_never_replaced(tmp_path, existing):
    src = make_voc(tmp_path / "voc")
    out = tmp_path / "keep"
    out.mkdir()
    (out / existing).write_text("precious")
    with pytest.raises(UserError, match=f"'{out / existing}'"):
        convert(src, fmt="voc", out=out)
    assert (out / existing).read_text() == "precious" and sorted(p.name for p in out.iterdir()) == [existing]


def test_no_classes_and_repeated_names_are_refused(tmp_path):
    from .builders import voc_xml

    src = tmp_path / "empty"
    for i in range(3):
        image(src / "JPEGImages" / f"e{i}.jpg")
        voc_xml(src / "Annotations" / f"e{i}.xml", [], filename=f"e{i}.jpg")
    with pytest.raises(UserError, match="no classes in"):  # Ultralytics would refuse the 0-class data.yaml later
        convert(src, fmt="voc", out=tmp_path / "out")
    with pytest.raises(UserError, match="'cat' more than once"):
        convert(make_voc(tmp_path / "voc"), fmt="voc", out=tmp_path / "out", names=["cat", "dog", "cat"])
    assert not (tmp_path / "out").exists()


def test_out_through_a_link_to_a_folder_not_made_yet(tmp_path):
    # mkdir failed on the link after the conversion's work: a FileExistsError traceback
    (tmp_path / "out").symlink_to(tmp_path / "real")
    s = convert(make_voc(tmp_path / "voc"), fmt="voc", out=tmp_path / "out")
    assert (tmp_path / "out").is_symlink() and (tmp_path / "real" / "data.yaml").is_file()
    assert s.boxes == 5 and len(list((tmp_path / "real" / "labels").rglob("*.txt"))) == 5


def test_out_below_a_link_to_a_folder_not_made_yet(tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "real")
    convert(make_voc(tmp_path / "voc"), fmt="voc", out=tmp_path / "link" / "sub")
    assert (tmp_path / "real" / "sub" / "data.yaml").is_file()


@pytest.mark.parametrize("fmt", ["coco", "voc"])
def test_clipping_alone_is_listed_in_issues_txt(tmp_path, fmt):
    """The help says what was fixed goes to issues.txt: with clipping the only fix, no issues.txt was written."""
    from .builders import voc_xml

    src = tmp_path / "src"
    boxes = {0: (4, 3, 20, 15), 1: (30, 20, 50, 40), 2: (4, 3, 20, 15)}  # img1's box sticks out of the 40x30 image
    for i, (x1, y1, x2, y2) in boxes.items():
        image(src / "images" / f"img{i}.png")
        voc_xml(src / "Annotations" / f"img{i}.xml", [("cat", (x1, y1, x2, y2))], filename=f"img{i}.png")
    (src / "ann.json").write_text(json.dumps(coco_dict([f"img{i}.png" for i in boxes],
                                                       [(i, 7, [x1, y1, x2 - x1, y2 - y1])
                                                        for i, (x1, y1, x2, y2) in boxes.items()])))
    s = convert(src / "ann.json" if fmt == "coco" else src, fmt=fmt, out=tmp_path / "out", images=src / "images",
                val_fraction=0.34)
    assert (s.clipped, s.dropped, s.checks) == (1, 0, {})
    issues = (tmp_path / "out" / "issues.txt").read_text()
    assert issues.count("clipped") == 1 and "img1.png: a " in issues
    assert "(30, 20, 50, 40) reaches outside the 40x30 image, clipped" in issues
    boxes_line = Text.from_markup(s.render()).plain.split("Boxes:")[1].splitlines()[0]
    assert f"listed in {tmp_path / 'out' / 'issues.txt'}" in boxes_line


def test_an_images_folder_that_takes_no_file_is_one_line_before_any_work(tmp_path, monkeypatch):
    """An empty images/ on a read-only mount passed the check of --out's nearest existing parent: a traceback once
    everything was converted."""
    import yolodistill.errors as errors

    src, out = make_voc(tmp_path / "voc"), tmp_path / "out"
    (out / "images").mkdir(parents=True)
    real = errors.writable
    monkeypatch.setattr(errors, "writable", lambda p: Path(p).name != "images" and real(p))  # root writes anywhere
    with pytest.raises(UserError, match=f"--out '{out / 'images'}' cannot be written: it is not a writable folder"):
        convert(src, fmt="voc", out=out)
    assert [p.name for p in out.iterdir()] == ["images"]


def test_a_full_disk_while_copying_names_the_output_not_the_source(tmp_path, monkeypatch):
    """shutil names the source file; the full disk is the output's (images are copied where a link cannot be made)."""
    import errno
    import os

    import yolodistill.convert as conv

    def no_link(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", str(src))

    monkeypatch.setattr(os, "link", no_link)
    monkeypatch.setattr(conv.shutil, "copy2", full)
    src, out = make_voc(tmp_path / "voc"), tmp_path / "out"
    result = CliRunner().invoke(app, ["data", "convert", str(src), "--format", "voc", "--out", str(out)])
    assert result.exit_code == 1 and "no space left on the device to write" in result.output, result.output
    assert str(out) in "".join(result.output.split()) and str(src) not in "".join(result.output.split()), result.output


@pytest.mark.parametrize("made", [False, True])
def test_an_interrupted_conversion_leaves_nothing_and_a_rerun_works(tmp_path, monkeypatch, made):
    # images were written into --out one by one: an interrupt left a half dataset that the rerun refused as not empty
    import yolodistill.convert as conv

    src, out = make_voc(tmp_path / "voc"), tmp_path / "new" / "deeper" / "out"
    if made:
        (out / "images").mkdir(parents=True)  # an empty images/ of the user's is allowed, and stays
        (out / "notes.txt").write_text("mine")
    real, calls = conv._link_or_copy, []

    def interrupted(a, b):
        calls.append(b)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real(a, b)

    monkeypatch.setattr(conv, "_link_or_copy", interrupted)
    with pytest.raises(KeyboardInterrupt):
        convert(src, fmt="voc", out=out)
    if made:
        assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["images", "notes.txt"]
    else:
        assert not (tmp_path / "new").exists()  # every folder it made, parents too
    monkeypatch.setattr(conv, "_link_or_copy", real)
    (out / conv.STAGE / "images" / "train").mkdir(parents=True)  # what a kill (no cleanup at all) leaves
    (out / conv.STAGE / "images" / "train" / "stale.jpg").write_bytes(b"x")
    s = convert(src, fmt="voc", out=out)
    assert s.boxes == 5 and len(list((out / "labels").rglob("*.txt"))) == 5
    assert len(list((out / "images").rglob("*.*"))) == 5 and not (out / conv.STAGE).exists()


@pytest.mark.parametrize("at", ["the labels' move", "dataset.json"])
def test_an_interrupt_while_the_dataset_is_put_in_place_leaves_nothing(tmp_path, monkeypatch, at):
    """Between moving images/ in and writing dataset.json, an interrupt left images without labels, or a dataset
    without its records, which a rerun refused as not empty (the last note's 'window between renames')."""
    import yolodistill.convert as conv

    src, out = make_voc(tmp_path / "voc"), tmp_path / "out"
    real_replace, real_json = conv.os.replace, conv.atomic_write_json

    def replace(a, b):
        if Path(b).parent.name == "labels":
            raise KeyboardInterrupt
        real_replace(a, b)

    def record(*a, **k):
        raise KeyboardInterrupt

    if at == "dataset.json":
        monkeypatch.setattr(conv, "atomic_write_json", record)
    else:
        monkeypatch.setattr(conv.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        convert(src, fmt="voc", out=out)
    assert not out.exists()
    monkeypatch.setattr(conv.os, "replace", real_replace)
    monkeypatch.setattr(conv, "atomic_write_json", real_json)
    assert convert(src, fmt="voc", out=out).boxes == 5 and (out / "dataset.json").is_file()


def test_a_second_ctrl_c_while_the_moved_splits_are_taken_out_waits_for_that(tmp_path, monkeypatch, python_sigint):
    """Taking a large dataset's splits out of --out takes seconds, and users press Ctrl-C twice: the second one cut
    the removal short, leaving images/ half full, which a rerun refused as not empty."""
    import signal

    import yolodistill.convert as conv

    src, out = make_voc(tmp_path / "voc"), tmp_path / "out"
    real_rmtree, seen = shutil.rmtree, []

    def record(*a, **k):
        raise KeyboardInterrupt

    def rmtree(path, *a, **k):  # the second Ctrl-C, as the first split moved in is taken out again
        seen.append(Path(path))
        if Path(path).parent.name == "images" and len([p for p in seen if p.parent.name == "images"]) == 1:
            signal.raise_signal(signal.SIGINT)
        real_rmtree(path, *a, **k)

    monkeypatch.setattr(conv, "atomic_write_json", record)  # the first Ctrl-C: the splits are in, the records not
    monkeypatch.setattr(conv.shutil, "rmtree", rmtree)
    with pytest.raises(KeyboardInterrupt):
        convert(src, fmt="voc", out=out)
    assert not out.exists()  # every removal ran: both splits' folders in images/ and labels/, --out itself


def test_a_ctrl_c_before_the_first_image_removes_the_folders_it_made(tmp_path, monkeypatch):
    """The stale stage of a killed run is removed, and --out made with its parents, before the first image: a Ctrl-C
    there left those new, empty folders."""
    import yolodistill.convert as conv

    src, out = make_voc(tmp_path / "voc"), tmp_path / "new" / "out"
    real_rmtree, calls = shutil.rmtree, []

    def rmtree(path, *a, **k):
        calls.append(path)
        if len(calls) == 1:  # the stale stage's removal, before any image
            raise KeyboardInterrupt
        real_rmtree(path, *a, **k)

    monkeypatch.setattr(conv.shutil, "rmtree", rmtree)
    with pytest.raises(KeyboardInterrupt):
        convert(src, fmt="voc", out=out)
    assert not (tmp_path / "new").exists()


def test_an_empty_images_folder_that_is_a_link_is_written_through(tmp_path):
    # moving the stage's images/ in place of a link to an empty folder failed with NotADirectoryError
    out, elsewhere = tmp_path / "out", tmp_path / "bigdisk" / "images"
    elsewhere.mkdir(parents=True)
    out.mkdir()
    (out / "images").symlink_to(elsewhere)
    convert(make_voc(tmp_path / "voc"), fmt="voc", out=out)
    assert (out / "images").is_symlink() and len(list(elsewhere.rglob("*.*"))) == 5


def test_out_beside_a_data_yaml_that_names_a_dataset_elsewhere(synth_data, tmp_path, monkeypatch):
    # the yaml's own folder was taken as the source: --out datasets/clean beside a project's data.yaml was refused
    import shutil

    raw = yaml.safe_load(synth_data.read_text())
    root = tmp_path / "dataset"
    shutil.copytree(synth_data.parent, root)
    project = tmp_path / "project"
    project.mkdir()
    (project / "data.yaml").write_text(yaml.safe_dump({**raw, "path": str(root)}))
    monkeypatch.chdir(project)
    s = convert("data.yaml", fmt="yolo", out="datasets/clean")
    assert (project / "datasets" / "clean" / "data.yaml").is_file() and s.images["val"] > 0
    # a relative path: would be read from wherever training runs (or Ultralytics' datasets folder)
    written = Path(yaml.safe_load((project / "datasets" / "clean" / "data.yaml").read_text())["path"])
    assert written.is_absolute() and written == (project / "datasets" / "clean").resolve()
    (root / "data.yaml").write_text(yaml.safe_dump({**raw, "path": str(root)}))  # a yaml at its dataset's root
    with pytest.raises(UserError, match="inside the source"):
        convert(root / "data.yaml", fmt="yolo", out=root / "clean")


def test_a_broken_yaml_in_the_current_folder_is_named_as_broken(tmp_path, monkeypatch):
    """Converting a broken data yaml in the current folder, with --out beside it, said '--out is inside the source',
    as the yaml's dataset was taken to be its folder."""
    monkeypatch.chdir(tmp_path)
    Path("bad.yaml").write_text("train: [\n")
    result = CliRunner().invoke(app, ["data", "convert", "bad.yaml", "--format", "yolo", "--out", "clean"])
    assert_one_line_error(result, "'bad.yaml' is not valid YAML")
    assert not Path("clean").exists()



def _voc_pairs(root: Path, matched: int, missing: int = 0) -> Path:
    """A VOC folder without ImageSets (so a seeded split): `matched` images with one cat each, and `missing` XMLs
    whose image is not there."""
    from .builders import voc_xml

    for i in range(matched + missing):
        if i < matched:
            image(root / "JPEGImages" / f"p{i}.jpg")
        voc_xml(root / "Annotations" / f"p{i}.xml", [("cat", (4, 3, 20, 15))], filename=f"p{i}.jpg")
    return root


@pytest.mark.parametrize("n, val_fraction, n_val", [(2, 0.1, 1), (2, 0.9, 1), (4, 0.4, 2)])
def test_a_seeded_split_keeps_an_image_in_train_and_in_val(tmp_path, n, val_fraction, n_val):
    """val gets the fraction rounded (1.6 images: 2), and one that rounds to none or all of the images still leaves
    one image on each side; data.yaml names only the splits written (no test: key for a folder that does not exist);
    --format is read in any case."""
    s = convert(_voc_pairs(tmp_path / "voc", n), fmt=" VOC ", out=tmp_path / "out", val_fraction=val_fraction)
    assert s.images == {"train": n - n_val, "val": n_val}
    assert list(yaml.safe_load(s.data_yaml.read_text())) == ["path", "train", "val", "names"]
    assert len(list((tmp_path / "out" / "images" / "val").iterdir())) == n_val


def test_one_image_is_refused_as_too_few_for_a_split(tmp_path):
    with pytest.raises(UserError, match="only 1 image found: a train and a val split need at least 2"):
        convert(_voc_pairs(tmp_path / "voc", 1), fmt="voc", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_up_to_half_unmatched_is_converted_more_is_a_misread_layout(tmp_path):
    """Half the annotations without an image is still data with gaps; more than half means the layout was misread."""
    s = convert(_voc_pairs(tmp_path / "half", 2, missing=2), fmt="voc", out=tmp_path / "out")
    assert s.unmatched == 2 and len((tmp_path / "out" / "unmatched.txt").read_text().splitlines()) == 2
    with pytest.raises(UserError, match="3 of 5 annotations have no image"):
        convert(_voc_pairs(tmp_path / "more", 2, missing=3), fmt="voc", out=tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


def test_box_sizes_at_the_coco_edges(tmp_path):
    """COCO's ranges are half-open: a 32x32 box is medium and a 96x96 box large (at an imgsz that keeps the image's
    size), and exactly half the boxes small is not 'above half', so no note."""
    src, names = tmp_path / "edges", [f"e{i}.png" for i in range(4)]
    for name in names:
        image(src / "images" / name, w=128, h=96)
    sides = [31, 31, 32, 96]
    (src / "ann.json").write_text(json.dumps(coco_dict(names, [(i, 3, [0, 0, a, a]) for i, a in enumerate(sides)],
                                                       size=(128, 96))))
    s = convert(src / "ann.json", fmt="coco", out=tmp_path / "out", imgsz=128)
    assert s.sizes["total"] == {"small": 2, "medium": 1, "large": 1}
    text = Text.from_markup(s.render()).plain
    assert "small 2 (50%)" in text and "of the boxes are small" not in text


def test_boxes_the_yolo_reader_lists_as_clipped_are_listed_once(tmp_path):
    """The YOLO reader lists an out-of-range row by its label line; the shared clipping must not list it again."""
    root = tmp_path / "yolo"
    for split, stem in (("train", "a"), ("train", "b"), ("val", "c")):
        image(root / "images" / split / f"{stem}.png", seed=ord(stem))
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        row = "0 0.9 0.5 0.4 0.2" if stem == "a" else "0 0.5 0.5 0.2 0.2"  # a's box reaches x = 1.1
        (root / "labels" / split / f"{stem}.txt").write_text(row + "\n")
    (root / "data.yaml").write_text("train: images/train\nval: images/val\nnames: [thing]\n")
    s = convert(root / "data.yaml", fmt="yolo", out=tmp_path / "out")
    assert s.clipped == 1
    issues = (tmp_path / "out" / "issues.txt").read_text().splitlines()
    assert len([line for line in issues if "a.txt" in line or "a.png" in line]) == 1, issues


def test_a_pose_dataset_keeps_each_row_s_box_and_is_refused_by_the_commands_that_train_on_it(tmp_path):
    """kpt_shape's rows hold keypoints after the box: read as a polygon (as Ultralytics' detection loader reads them),
    their visibility flags as coordinates, each box was wrong and two alike objects were dropped as repeats."""
    from yolodistill.checks import check_data
    from yolodistill.export import load_data

    root = tmp_path / "pose"
    rows = {"a": ["0 0.75 0.65 0.25 0.25 0.75 0.65 2 0.7 0.6 2", "1 0.3 0.3 0.2 0.2 0.3 0.3 2 0.3 0.3 2"],
            "b": ["0 0.5 0.5 0.2 0.2 0.5 0.5 2 0.5 0.5 2"], "c": ["1 0.5 0.5 0.4 0.2 0.5 0.5 1 0.4 0.4 2",
                                                              "0 0.5 0.5 0.2 0.2 0.5 0.5 2"]}  # c's second: short
    for split, stem in (("train", "a"), ("train", "b"), ("val", "c")):
        image(root / "images" / split / f"{stem}.png", seed=ord(stem))
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split / f"{stem}.txt").write_text("\n".join(rows[stem]) + "\n")
    (data := root / "data.yaml").write_text("train: images/train\nval: images/val\nnames: [a, b]\nkpt_shape: [2, 3]\n")
    s = convert(data, fmt="yolo", out=tmp_path / "out")
    written = (tmp_path / "out" / "labels" / "train" / "a.txt").read_text().split("\n")[:2]
    assert [[round(float(v), 4) for v in r.split()] for r in written] == [[0, 0.75, 0.65, 0.25, 0.25],
                                                                         [1, 0.3, 0.3, 0.2, 0.2]]
    assert s.checks["malformed label rows (dropped)"] == 1 and "kpt_shape" not in (tmp_path / "out" / "data.yaml").read_text()
    issues = (tmp_path / "out" / "issues.txt").read_text()
    assert "a pose dataset (kpt_shape [2, 3]): each row's box kept, its keypoints left out" in issues
    assert "is not 'class cx cy w h' and 6 keypoint values, dropped" in issues
    for check in (check_data, load_data):  # train and compare; export and bench
        with pytest.raises(UserError, match=r"is a pose dataset \(kpt_shape: \[2, 3\]\): Ultralytics' detection loader "
                                            r"reads the keypoints after each box as a polygon, a wrong box; make a "
                                            r"detection copy \(boxes only\) and pass its data.yaml: yolodistill data "
                                            r"convert .*data.yaml --format yolo --out "):
            check(data)
    assert check_data(tmp_path / "out" / "data.yaml")["nc"] == 2


def test_rows_of_confidences_and_a_misspelt_unlabeled_key_are_named(tmp_path):
    """Rows of 'class cx cy w h conf' (as save_conf writes them) were 'no box: is it a YOLO dataset?', naming no row;
    `unlabelled:` was dropped from the copy, which then trained with no unlabelled folder, silently."""
    root = tmp_path / "yolo"
    for split, stem in (("train", "a"), ("val", "b")):
        image(root / "images" / split / f"{stem}.png", seed=ord(stem))
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split / f"{stem}.txt").write_text("0 0.5 0.5 0.2 0.2 0.91\n")
    (data := root / "data.yaml").write_text("train: images/train\nval: images/val\nnames: [thing]\n")
    with pytest.raises(UserError, match=r"every image would be background; 2 label rows were dropped as malformed, "
                                        r"e.g. .*[ab].txt line 1: '0 0.5 0.5 0.2 0.2 0.91' is not 'class cx cy w h'"):
        convert(data, fmt="yolo", out=tmp_path / "out")
    for split, stem in (("train", "a"), ("val", "b")):
        (root / "labels" / split / f"{stem}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    data.write_text("train: images/train\nval: images/val\nnames: [thing]\nunlabelled: footage\n")
    with pytest.raises(UserError, match=r"^'unlabelled:' in '.*data.yaml' is not read: the key is 'unlabeled:'"):
        convert(data, fmt="yolo", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("mine", ["dangling link", "images not empty"])
def test_what_the_user_has_in_out_is_refused_and_kept(tmp_path, mine):
    """A data.yaml that is a link to nowhere is the user's too (exists() says False); so is a non-empty images/."""
    out = tmp_path / "out"
    out.mkdir()
    if mine == "dangling link":
        (out / "data.yaml").symlink_to(tmp_path / "nowhere.yaml")
        needle = "already exists"
    else:
        image(out / "images" / "mine.jpg")
        needle = "is not empty"
    with pytest.raises(UserError, match=needle):
        convert(make_voc(tmp_path / "voc"), fmt="voc", out=out)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == (
        ["data.yaml"] if mine == "dangling link" else ["images", "images/mine.jpg"])
    assert mine != "dangling link" or (out / "data.yaml").is_symlink()


def test_out_inside_the_images_folder_given_with_images_is_refused(tmp_path):
    """With --images the images lie outside the source folder: --out among them would join the next conversion."""
    src = _voc_pairs(tmp_path / "voc", 3)
    pics = (src / "JPEGImages").rename(tmp_path / "pics")
    with pytest.raises(UserError, match="which holds the source's images"):
        convert(src, fmt="voc", out=pics / "out", images=pics)
    assert not (pics / "out").exists()
    cams = tmp_path / "cams"  # --images is searched with its subfolders: images in cams/cam0, --out cams/out
    (cams / "cam0").mkdir(parents=True)
    pics.rename(cams / "cam0" / "pics")
    with pytest.raises(UserError, match=f"--out '{cams / 'out'}' is inside '{cams}', which holds the source's images"):
        convert(src, fmt="voc", out=cams / "out", images=cams)
    assert not (cams / "out").exists()


def test_a_published_split_whose_images_were_not_found_says_so(tmp_path):
    """Two of six images (val's) are in another folder: it said 'the published val split is empty: add images'."""
    names = [f"{i}.png" for i in range(6)]
    for name in names[:4]:
        image(tmp_path / "set" / "images" / name)
    for name in names[4:]:
        image(tmp_path / "elsewhere" / name)
    ann = tmp_path / "set" / "annotations"
    ann.mkdir()
    for split, part in (("train", range(4)), ("val", range(4, 6))):
        data = coco_dict(names, [(i, 7, [4, 3, 16, 12]) for i in part])
        data["images"] = [im for im in data["images"] if im["id"] in part]
        (ann / f"instances_{split}.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match=r"the published val split of .* has no image found, and 2 images the JSON "
                                        r"names are not on disk \(first: .*instances_val.json: image '4.png'.*\): "
                                        "if they are its images, pass --images DIR where they are"):
        convert(tmp_path / "set", fmt="coco", out=tmp_path / "out")


def test_out_names_are_unique_per_split_whatever_the_case(tmp_path):
    """Labels are named by stem: a.jpg and A.png in one split would share a label file on a case-blind disk; in
    different splits they do not meet, so keep their names."""
    from yolodistill.convert import Item, _out_names

    items = [Item(tmp_path / "x" / "a.jpg", split="train"), Item(tmp_path / "y" / "A.png", split="train"),
             Item(tmp_path / "z" / "a.bmp", split="train"), Item(tmp_path / "w" / "a.jpg", split="val")]
    assert _out_names(items) == ["a.jpg", "A-2.png", "a-3.bmp", "a.jpg"]
    # a name that is already some other's -N: the count goes on past it, as it did when it started again from 2
    items = [Item(tmp_path / d / n, split="train") for d, n in (("x", "a.jpg"), ("y", "a.jpg"), ("z", "a-2.jpg"),
                                                                   ("w", "a.jpg"), ("v", "a-2.jpg"), ("u", "a.jpg"))]
    assert _out_names(items) == ["a.jpg", "a-2.jpg", "a-2-2.jpg", "a-3.jpg", "a-2-3.jpg", "a-4.jpg"]


def test_a_box_past_the_edge_by_more_than_label_rounding_is_counted_as_clipped(tmp_path):
    """EPS only forgives the 6-decimal rounding of a label: 0.01 px past the edge of a 40 px image is clipped and
    counted; 0.00001 px past it is on the edge."""
    src, names = tmp_path / "edge", [f"g{i}.png" for i in range(3)]
    for name in names:
        image(src / "images" / name)
    boxes = [(0, 7, [0, 0, 40.01, 10]), (1, 7, [0, 0, 40.00001, 10]), (2, 7, [0, 0, 10, 10])]
    (src / "ann.json").write_text(json.dumps(coco_dict(names, boxes)))
    s = convert(src / "ann.json", fmt="coco", out=tmp_path / "out")
    assert (s.clipped, s.dropped, s.boxes) == (1, 0, 3)
    assert "g0.png" in (tmp_path / "out" / "issues.txt").read_text()


@pytest.mark.parametrize("case", ["empty COCO", "two VOC sources"])
def test_nothing_to_read_and_several_non_coco_sources_are_refused(tmp_path, case):
    """A JSON listing no image is a misread source, not an empty dataset; a second VOC source is not ignored."""
    if case == "empty COCO":
        (tmp_path / "ann.json").write_text(json.dumps(coco_dict([], [])))
        src, fmt, needle = tmp_path / "ann.json", "coco", "no images found; searched"
    else:
        src, fmt = [_voc_pairs(tmp_path / "a", 2), _voc_pairs(tmp_path / "b", 2)], "voc"
        needle = "several sources are only for COCO"
    with pytest.raises(UserError, match=needle):
        convert(src, fmt=fmt, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fmt", ["voc", "coco"])
def test_images_ultralytics_would_leave_out_are_left_out_and_listed(tmp_path, fmt):
    """PIL opens a JPEG cut short (an interrupted download) and an 8x8 image, so they were counted; Ultralytics'
    check_image drops them, then train's 'No valid images' pointed back at convert, which passed them again. Every
    image convert counts must be one Ultralytics trains on."""
    from ultralytics.data.dataset import YOLODataset

    src, names = tmp_path / "set", [f"{i}.jpg" for i in range(6)]
    for name in names:
        image(src / name, w=64, h=48)
    image(src / "tiny.png", w=8, h=8)
    from PIL import Image

    Image.new("RGB", (64, 48)).save(src / "gif.jpg", format="GIF")  # a GIF under a .jpg name: Ultralytics drops it
    whole = (src / "0.jpg").read_bytes()
    (src / "0.jpg").write_bytes(whole[: len(whole) // 2])
    all_names = [*names, "tiny.png", "gif.jpg"]
    boxes = [(i, 7, [2, 2, 4, 4] if n == "tiny.png" else [4, 4, 26, 26]) for i, n in enumerate(all_names)]  # x y w h
    if fmt == "voc":
        for i, name in enumerate(all_names):
            x, y, w, h = boxes[i][2]
            voc_xml(src / f"{Path(name).stem}.xml", [("cat", (x, y, x + w, y + h))], filename=name)
    else:
        data = coco_dict(all_names, boxes, size=(64, 48))
        data["images"][-2].update(width=8, height=8)
        (src / "ann.json").write_text(json.dumps(data))
    s = convert(src if fmt == "voc" else src / "ann.json", fmt=fmt, out=tmp_path / "out", val_fraction=0.25, seed=0)
    issues = (tmp_path / "out" / "issues.txt").read_text()
    assert sum(s.images.values()) == 5 and s.checks["unreadable images (left out)"] == 3, s.render()
    assert "0.jpg: Ultralytics cannot read it (image file is truncated" in issues
    assert "tiny.png: its size 8x8 is under 10 px, which Ultralytics does not train on, left out" in issues
    info = yaml.safe_load((tmp_path / "out" / "data.yaml").read_text())
    assert "gif.jpg: it is a GIF file, a format Ultralytics does not train on, left out" in issues
    kept = sum(len(YOLODataset(img_path=str(tmp_path / "out" / info[split]), data={**info, "channels": 3},
                               augment=False).im_files) for split in ("train", "val"))
    assert kept == sum(s.images.values())


def test_the_summary_names_issues_txt_whenever_it_has_lines(tmp_path):
    """A data.yaml whose test folder is gone (Roboflow writes 'test:' for exports without one): its line went to
    issues.txt, and the summary named that file only beside clipped or dropped boxes or a counted check."""
    src = tmp_path / "ds"
    for split, n in (("train", 3), ("val", 1)):
        for i in range(n):
            image(src / split / "images" / f"{split}{i}.jpg", seed=10 * len(split) + i)
            (src / split / "labels").mkdir(parents=True, exist_ok=True)
            (src / split / "labels" / f"{split}{i}.txt").write_text("0 0.5 0.5 0.3 0.3\n")
    (src / "data.yaml").write_text(yaml.safe_dump({"train": "../train/images", "val": "../val/images",
                                                   "test": "../test/images", "names": ["cat"]}))
    s = convert(src / "data.yaml", fmt="yolo", out=tmp_path / "out")
    assert s.images == {"train": 3, "val": 1} and s.boxes == 4 and not s.checks and not (s.clipped or s.dropped)
    assert "does not exist: left out" in (tmp_path / "out" / "issues.txt").read_text()
    assert f"listed in {tmp_path / 'out' / 'issues.txt'}" in Text.from_markup(s.render()).plain
