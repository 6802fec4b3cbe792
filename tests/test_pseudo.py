"""`data pseudo-label`: a valid YOLO dataset from the teacher's detections, built atomically, the source untouched."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import yaml
from ultralytics.data.utils import check_det_dataset

from yolodistill.errors import UserError
from yolodistill.pseudo import pseudo_label, unique_name

from .conftest import assert_one_line_error


@pytest.fixture
def source(tmp_path, synth_data) -> Path:
    """Unlabelled images in two subfolders with clashing names (different images: copies share a split), and one
    unreadable file."""
    root = tmp_path / "footage"
    val = sorted((synth_data.parent / "images" / "val").iterdir())
    for cam, imgs in (("cam0", val[:3]), ("cam1", val[3:6])):
        (root / cam).mkdir(parents=True)
        for img, name in zip(imgs, val[:3]):
            shutil.copy(img, root / cam / name.name)
    (root / "cam0" / "broken.png").write_bytes(b"not an image")
    return root


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def test_writes_a_dataset_ultralytics_accepts_and_leaves_the_source_alone(teacher26, source, tmp_path):
    before = snapshot(source)
    result = pseudo_label(teacher26, source, tmp_path / "out", conf=0.001, imgsz=64, val_fraction=0.34,
                          progress=False)
    assert snapshot(source) == before  # read only
    info = check_det_dataset(str(result.data_yaml))
    assert info["nc"] == 3 and result.images == 6 and result.skipped == 1
    train = sorted((tmp_path / "out" / "images" / "train").iterdir())
    val = sorted((tmp_path / "out" / "images" / "val").iterdir())
    assert len(train) + len(val) == 6 and len(val) == 2
    assert {p.name.split("__")[0] for p in train + val} == {"cam0", "cam1"}  # same names, no collision
    rows = [line.split() for p in (tmp_path / "out" / "labels").rglob("*.txt") for line in p.read_text().splitlines()]
    assert len(rows) == result.boxes > 0 and sum(result.per_class.values()) == result.boxes
    assert all(0 <= int(r[0]) < 3 and all(0 <= float(v) <= 1 for v in r[1:]) for r in rows)
    meta = yaml.safe_load(result.data_yaml.read_text())["pseudo_labels"]
    assert meta["conf"] == 0.001 and meta["source"] == str(source.resolve())
    assert not list(tmp_path.glob(".out.partial*"))


def test_the_unreadable_image_and_the_videos_left_out_are_named(teacher26, source, tmp_path):
    """It said "1 unreadable skipped" and nothing of a video, where train --unlabeled names both (walkthrough hunt)."""
    (source / "cam1" / "clip.mp4").write_bytes(b"\x00" * 64)
    shown = pseudo_label(teacher26, source, tmp_path / "out", imgsz=64, progress=False).render()
    assert f"1 unreadable skipped, e.g. {source / 'cam0' / 'broken.png'})" in shown
    assert f"Videos: 1 video(s) left out, e.g. {source / 'cam1' / 'clip.mp4'}: only images are read" in shown
    for image in [f for f in source.rglob("*") if f.is_file() and f.name not in ("broken.png", "clip.mp4")]:
        image.unlink()
    with pytest.raises(UserError, match=r"holds no readable images \(1 unreadable\) and 1 video\(s\), which are not "
                                        r"read: extract their frames first: pass a folder of images"):
        pseudo_label(teacher26, source, tmp_path / "out2", imgsz=64, progress=False)


def test_each_label_file_holds_the_teacher_s_detections_of_its_image(teacher26, source, tmp_path, monkeypatch):
    """Rows in [0, 1] with 5 columns held as well for xyxyn boxes or another image's: compare with what the teacher's
    predict returned for that image, called with the --conf, --iou, --tta and --imgsz given, in --batch chunks (6
    images in 4 + 2: none left out between them)."""
    import numpy as np
    from ultralytics import YOLO

    seen, calls = {}, []
    real = YOLO.predict

    def spy(self, source, **kw):
        results = real(self, source, **kw)
        calls.append(kw)
        seen.update({Path(s).resolve(): (r.boxes.cls.numpy(), r.boxes.xywhn.numpy()) for s, r in zip(source, results)})
        return results

    monkeypatch.setattr(YOLO, "predict", spy)
    out = tmp_path / "out"
    pseudo_label(teacher26, source, out, conf=0.001, iou=0.5, tta=True, imgsz=96, batch=4, progress=False)
    assert len(calls) == 2 and all((k["conf"], k["iou"], k["augment"], k["imgsz"]) == (0.001, 0.5, True, 96) for k in calls)
    labels = {p.stem: p for p in (out / "labels").rglob("*.txt")}
    assert len(seen) == 6 and sum(len(c) for c, _ in seen.values()) > 0
    for image, (cls, xywhn) in seen.items():
        rows = np.loadtxt(labels["__".join(image.relative_to(source.resolve()).with_suffix("").parts)], ndmin=2)
        # each detection once, in the teacher's order: equal rows (boxes clipped alike after NMS) are one
        want = list(dict.fromkeys(tuple(np.round([c, *b], 6)) for c, b in zip(cls, xywhn)))
        assert rows.shape == (len(want), 5) if want else rows.size == 0
        if want:
            assert np.allclose(rows, np.array(want), atol=1e-6)


def test_its_options_may_go_as_key_value_words(teacher26, source, tmp_path):
    from typer.testing import CliRunner

    from yolodistill.cli import app

    out = tmp_path / "out"
    command = ["data", "pseudo-label", "--teacher", str(teacher26), "--images", str(source), "--out", str(out)]
    result = CliRunner().invoke(app, [*command, "conf=0.001", "imgsz=64", "device=cpu"])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load((out / "data.yaml").read_text())["pseudo_labels"]["conf"] == 0.001
    result = CliRunner().invoke(app, [*command[:-1], str(tmp_path / "other"), "lr0=0.1"])
    assert_one_line_error(result, "unknown setting(s) lr0: yolodistill data pseudo-label takes only its options")
    # its required options too, as its help says ("Missing option '--teacher'" before)
    words = ["data", "pseudo-label", f"teacher={teacher26}", f"images={source}", f"out={tmp_path / 'words'}", "imgsz=64"]
    result = CliRunner().invoke(app, words)
    assert result.exit_code == 0 and (tmp_path / "words" / "data.yaml").is_file(), result.output
    result = CliRunner().invoke(app, ["data", "pseudo-label", f"images={source}"])
    assert_one_line_error(result, "missing --teacher, --out: pass --teacher TEACHER --out OUT")


def test_a_large_val_fraction_still_leaves_a_train_split(teacher26, source, tmp_path):
    """data.yaml names images/train: a split that put every image in val would give Ultralytics nothing to train."""
    result = pseudo_label(teacher26, source, tmp_path / "out", imgsz=64, val_fraction=0.95, progress=False)
    train = list((tmp_path / "out" / "images" / "train").iterdir())
    assert len(train) == 1 and len(list((tmp_path / "out" / "images" / "val").iterdir())) == result.images - 1


@pytest.mark.parametrize("fraction, n_val", [(0.05, 1), (0.0, 0)])
def test_a_small_val_fraction_of_few_images_still_makes_a_val_split(teacher26, source, tmp_path, fraction, n_val):
    """5 % of 6 images rounded to none, and data.yaml silently validated on the train images; 0 asks for that."""
    pseudo_label(teacher26, source, tmp_path / "out", imgsz=64, val_fraction=fraction, progress=False)
    data = yaml.safe_load((tmp_path / "out" / "data.yaml").read_text())
    val = tmp_path / "out" / "images" / "val"
    assert (len(list(val.iterdir())) if val.exists() else 0) == n_val
    assert data["val"] == ("images/val" if n_val else "images/train")


def test_teachers_are_taken_as_train_takes_them(mid_training, source, tmp_path, monkeypatch):
    """A mid-training last.pt was an AttributeError; an official name not on disk said 'does not exist', where train
    fetches it (offline: says so); a missing --images folder was 'not a folder'."""
    import ultralytics.utils

    with pytest.raises(UserError, match="was saved mid-run by a distillation run"):
        pseudo_label(mid_training, source, tmp_path / "out", progress=False)
    monkeypatch.setattr(ultralytics.utils, "is_online", lambda: False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="'yolo26x.pt' is not on disk and this machine is offline"):
        pseudo_label("yolo26x.pt", source, tmp_path / "out", progress=False)
    with pytest.raises(UserError, match="--images '.*gone' does not exist"):
        pseudo_label(mid_training, tmp_path / "gone", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_an_official_teacher_fetched_for_out_dot_is_kept_out_of_out(teacher26, source, tmp_path, monkeypatch):
    """--out . in a new folder, yolo26x.pt not on disk: Ultralytics fetched it into the working folder, which is --out,
    and after labelling every image the move refused an --out 'given files while labelling'. It goes to the cache."""
    import ultralytics.utils
    import ultralytics.utils.downloads

    def fetch(file):  # Ultralytics' fetch (no network here): the file lands where it is asked to
        Path(file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(teacher26, file)
        return str(file)

    monkeypatch.setenv("YOLODISTILL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(ultralytics.utils, "is_online", lambda: True)
    monkeypatch.setattr(ultralytics.utils.downloads, "attempt_download_asset", fetch)
    (out := tmp_path / "here").mkdir()
    monkeypatch.chdir(out)
    result = pseudo_label("yolo26x.pt", source, ".", imgsz=64, progress=False)
    assert result.images == 6 and sorted(p.name for p in out.iterdir()) == ["data.yaml", "images", "labels"]
    assert (tmp_path / "cache" / "weights" / "yolo26x.pt").is_file()


def test_confidence_threshold_filters_detections(teacher26, source, tmp_path):
    low = pseudo_label(teacher26, source, tmp_path / "low", conf=0.001, imgsz=64, progress=False)
    high = pseudo_label(teacher26, source, tmp_path / "high", conf=0.9, imgsz=64, progress=False)
    assert low.boxes > high.boxes and high.empty == high.images  # an untrained teacher is never that sure


@pytest.mark.parametrize("case", ["after-an-image", "before-any-image", "foreign-data-yaml"])
def test_an_interrupted_run_leaves_nothing(teacher26, source, tmp_path, monkeypatch, case):
    """A stop before the dataset is in place leaves --out as it was and claims nothing, so the CLI says 'Nothing was
    written'; a data.yaml something else put into the empty --out meanwhile is not taken for a finished dataset."""
    import yolodistill.pseudo as pseudo

    out = tmp_path / "out"
    if case == "foreign-data-yaml":
        out.mkdir()

    def broken(*args, **kwargs):
        if case != "before-any-image":
            yield str(next(source.rglob("*.png"))), ["0 0.5 0.5 0.1 0.1"]
        if case == "foreign-data-yaml":
            (out / "data.yaml").write_text("path: elsewhere\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(pseudo, "detect", broken)
    with pytest.raises(KeyboardInterrupt) as stopped:
        pseudo_label(teacher26, source, out, progress=False)
    assert str(stopped.value) == "" and not list(tmp_path.glob(".out*"))
    if case == "foreign-data-yaml":
        assert [p.name for p in out.iterdir()] == ["data.yaml"]  # theirs, kept
    else:
        assert not out.exists()


@pytest.mark.parametrize("existing", [False, True], ids=["renamed", "filled"])
def test_a_stop_once_the_dataset_is_in_place_says_it_was_written(teacher26, source, tmp_path, monkeypatch, existing):
    """A Ctrl-C held while the dataset moves in (fill) or landing just after the rename arrives when it is whole:
    the command said 'Nothing was written' over a finished dataset, which is kept."""
    import yolodistill.pseudo as pseudo

    out, placed = tmp_path / "out", {"fill": pseudo.fill, "replace": os.replace}
    if existing:
        out.mkdir()

    def fill_then_stop(tmp, dest, given):
        placed["fill"](tmp, dest, given)
        raise KeyboardInterrupt

    def replace_then_stop(src, dst):
        placed["replace"](src, dst)
        if Path(dst) == out:
            raise KeyboardInterrupt

    monkeypatch.setattr(pseudo, "fill", fill_then_stop)
    monkeypatch.setattr(pseudo.os, "replace", replace_then_stop)
    with pytest.raises(KeyboardInterrupt, match=re.escape(f"written whole before the stop: {out / 'data.yaml'}")):
        pseudo_label(teacher26, source, out, imgsz=64, progress=False)
    assert check_det_dataset(str(out / "data.yaml"))["nc"] == 3 and not list(tmp_path.glob(".out*"))


@pytest.mark.parametrize("where, message", [("inside", "inside the source folder"), ("source", "inside the source folder"),
                                            ("taken", "exists and is not empty"),
                                            ("taken-around", "exists and is not empty"),  # nox/.. as written
                                            ("no-images", "does not exist"), ("a-file", "is a file: pass a folder"),
                                            ("unwritable", "'/proc' is not a writable folder")])
def test_bad_output_or_source_is_refused_before_any_work(teacher26, source, tmp_path, where, message):
    out = {"inside": source / "labels", "source": source, "taken": tmp_path / "taken",
           "taken-around": tmp_path / "nox" / ".." / "taken", "no-images": tmp_path / "new",
           "a-file": tmp_path / "taken" / "mine.txt", "unwritable": Path("/proc/yolodistill-pseudo")}[where]
    images = tmp_path / "missing" if where == "no-images" else source
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("keep me")
    with pytest.raises(UserError, match=message):
        pseudo_label(teacher26, images, out, progress=False)
    assert (tmp_path / "taken" / "mine.txt").read_text() == "keep me" and not (source / "labels").exists()


@pytest.mark.parametrize("setting, message", [({"batch": 0}, "--batch must be at least 1"),
                                              ({"imgsz": 70}, "--imgsz 70 is not a positive multiple of 32"),
                                              # from Python: TypeErrors in the range checks and in Path(None)
                                              ({"conf": "0.3"}, "--conf must be a number, got '0.3'"),
                                              ({"val_fraction": "0.1"}, "--val-fraction must be a number"),
                                              # the ends of each range: all-confident, no overlap, no train split
                                              ({"conf": 1.0}, r"--conf must be in \[0, 1\)"),
                                              ({"iou": 0.0}, r"--iou in \(0, 1\], got 0.25 and 0.0"),
                                              ({"val_fraction": 1.0}, r"--val-fraction must be in \[0, 1\), got 1.0"),
                                              ({"out": None}, "missing --out: pass --out OUT"),
                                              ({"device": "9"}, "--device 9"),  # was Ultralytics' ValueError
                                              ({"device": "gpu"}, "is not a device"),
                                              ({"tta": "no"}, "--tta must be True or False, got 'no'"),
                                              ({"progress": "no"}, "progress must be True or False, got 'no'"),
                                              # its printout was taken for a file name: an OSError, too long
                                              ({"teacher": "YOLO"}, "--teacher must be the path of a file, got a "
                                                                    r"YOLO object: pass the path of the file it was loaded from \(.*yolo26s.pt\)"),
                                              ({"out": "o" * 300}, "is too long for the filesystem")])
def test_bad_settings_are_refused_before_any_work(teacher26, source, tmp_path, setting, message):
    if setting.get("teacher") == "YOLO":
        from ultralytics import YOLO

        setting = {"teacher": YOLO(teacher26)}
    with pytest.raises(UserError, match=message):
        pseudo_label(**{"teacher": teacher26, "images": source, "out": tmp_path / "out", "progress": False, **setting})
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def test_a_folder_without_images_says_which_files_count_as_images(teacher26, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("no pictures here")
    with pytest.raises(UserError, match=r"--images '.*notes' holds no readable images: pass a folder of images "
                                        r"\(.*\.jpg.*\.png.*\), searched with its subfolders"):
        pseudo_label(teacher26, tmp_path / "notes", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_image_names_never_share_a_label_file(tmp_path):
    """Two images whose flattened stems match would write one label file twice: the later one gets a suffix."""
    taken: set[str] = set()
    paths = ("img.jpg", "img.png", "a/b.jpg", "a__b.jpg", "IMG.bmp")
    names = [unique_name(tmp_path / p, tmp_path, taken) for p in paths]
    assert names == ["img.jpg", "img_2.png", "a__b.jpg", "a__b_2.jpg", "IMG_3.bmp"]
    assert len({Path(n).stem.lower() for n in names}) == len(names)
    hidden = [unique_name(tmp_path / p, tmp_path, set()) for p in (".a.png", ".thumbs/b.png")]
    assert hidden == ["a.png", "thumbs__b.png"]  # Ultralytics' loader skips a name with a leading dot


def test_out_whose_parent_refuses_writes_is_refused_before_any_work(teacher26, source, tmp_path, monkeypatch):
    """The .partial folder is made beside --out and renamed into place: an empty, writable --out whose parent
    takes no files (a volume mounted in a read-only tree) would fail after the teacher had run."""
    from yolodistill import errors

    out = tmp_path / "mount"
    out.mkdir()
    writable = errors.writable
    monkeypatch.setattr(errors, "writable", lambda folder: folder != tmp_path and writable(folder))
    with pytest.raises(UserError, match=f"--out '{out}' cannot be created: '{tmp_path}' is not a writable folder"):
        pseudo_label(teacher26, source, out, progress=False)
    assert list(out.iterdir()) == [] and not list(tmp_path.glob(".mount*"))


def test_imgsz_is_checked_against_the_teachers_own_stride(source, tmp_path):
    """A P6 teacher strides 64: --imgsz 96 would be rounded up to 128 without a word."""
    from .conftest import save_checkpoint

    p6 = save_checkpoint("yolov8n-p6.yaml", tmp_path / "p6.pt")
    with pytest.raises(UserError, match=r"--imgsz 96 is not a positive multiple of 64 .*: use 64 or 128"):
        pseudo_label(p6, source, tmp_path / "out", imgsz=96, progress=False)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def labelled_by_a_stub(monkeypatch) -> None:
    """Skip the teacher's inference where a test is about where the dataset goes: one box on every image."""
    import yolodistill.pseudo as pseudo

    monkeypatch.setattr(pseudo, "detect", lambda teacher, files, *args: ((f, ["0 0.5 0.5 0.1 0.1"]) for f in files))


def test_out_may_be_the_working_folder(teacher26, source, tmp_path, monkeypatch):
    """`--out .` from inside a new, empty folder (the path '.' has no name to build a hidden twin beside): the dataset
    is written into that folder, which stays the same folder, so the shell that is in it sees the files."""
    here = tmp_path / "here"
    here.mkdir()
    inode = here.stat().st_ino
    monkeypatch.chdir(here)
    labelled_by_a_stub(monkeypatch)
    result = pseudo_label(teacher26, source, ".", imgsz=64, progress=False)
    assert os.stat(".").st_ino == inode and (here / "data.yaml").is_file() and result.images == 6
    assert yaml.safe_load((here / "data.yaml").read_text())["path"] == str(here.resolve())
    assert check_det_dataset(str(here / "data.yaml"))["nc"] == 3 and not list(tmp_path.glob(".*partial"))


def test_out_on_another_filesystem_is_filled_by_copying(teacher26, source, tmp_path, monkeypatch):
    """A mount point as --out: the hidden twin is built beside it, on the parent's filesystem, and a rename across
    filesystems fails (EXDEV), which here is simulated; the dataset is copied in instead."""
    import errno

    renames = {"replace": os.replace, "rename": os.rename}

    def across(name):
        def move(src, dst, *a, **k):
            if ".partial" in str(src):
                raise OSError(errno.EXDEV, "Invalid cross-device link", str(src))
            return renames[name](src, dst, *a, **k)
        return move

    monkeypatch.setattr(os, "replace", across("replace"))
    monkeypatch.setattr(os, "rename", across("rename"))
    mount = tmp_path / "mnt"
    mount.mkdir()
    labelled_by_a_stub(monkeypatch)
    result = pseudo_label(teacher26, source, mount, imgsz=64, progress=False)
    assert result.images == 6 and check_det_dataset(str(mount / "data.yaml"))["nc"] == 3
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.parametrize("target", ["empty folder", "not there yet"])
def test_out_through_a_link_is_written_where_it_points_and_the_link_kept(teacher26, source, tmp_path, monkeypatch,
                                                                         target):
    """Renaming the built folder over a link fails (after inference) or would replace the user's link: the dataset
    goes to the folder the link names instead."""
    real, link = tmp_path / "real", tmp_path / "link"
    if target == "empty folder":
        real.mkdir()
    link.symlink_to(real)
    labelled_by_a_stub(monkeypatch)
    result = pseudo_label(teacher26, source, link, imgsz=64, progress=False)
    assert link.is_symlink() and os.readlink(link) == str(real) and (real / "data.yaml").is_file()
    assert result.data_yaml == link / "data.yaml" and check_det_dataset(str(result.data_yaml))["nc"] == 3
    assert len(list((real / "labels").rglob("*.txt"))) == 6 and not list(tmp_path.glob(".*partial"))


def renamed_teacher(tmp_path: Path, names) -> Path:
    """A three-class yolo26n checkpoint whose `names` was then set to `names`, as a user editing it would."""
    import torch

    from .conftest import save_checkpoint

    path = save_checkpoint("yolo26n.yaml", tmp_path / "t.pt")
    ckpt = torch.load(path, weights_only=False)
    ckpt["model"].names = names
    torch.save(ckpt, path)
    return path


@pytest.mark.parametrize("names, message", [(["a", "b"], "has 2 names (ids 0-1)"), ({}, "has no usable names"),
                                            ({1: "a", 2: "b", 3: "c"}, "has 3 names (ids 1-3)")])
def test_teacher_class_names_that_do_not_fit_its_head_are_refused_before_any_work(source, tmp_path, monkeypatch,
                                                                                   names, message):
    """A list of the wrong length, an empty mapping or ids not 0..nc-1 crashed (a ValueError, or an AttributeError
    inside Ultralytics) or would fail at the first detection of a class without a name."""
    import yolodistill.pseudo as pseudo

    teacher = renamed_teacher(tmp_path, names)
    monkeypatch.setattr(pseudo, "detect", lambda *args: pytest.fail("the teacher ran"))
    with pytest.raises(UserError, match=re.escape(f"its head predicts 3 classes but the checkpoint {message}")):
        pseudo_label(teacher, source, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def test_teacher_class_names_may_be_a_list(source, tmp_path):
    """Ultralytics accepts names as a list (and makes it a dict): so does pseudo-label."""
    result = pseudo_label(renamed_teacher(tmp_path, ["a", "b", "c"]), source, tmp_path / "out", conf=0.001, imgsz=64,
                          progress=False)
    assert list(result.per_class) == ["a", "b", "c"]
    assert yaml.safe_load(result.data_yaml.read_text())["names"] == {0: "a", 1: "b", 2: "c"}
    twice = pseudo_label(renamed_teacher(tmp_path, ["a", "a", "c"]), source, tmp_path / "twice", conf=0.001,
                         imgsz=64, progress=False)  # counted by name, class 0's and 1's boxes were one 'a'
    by_id = [0, 0, 0]
    for label in (tmp_path / "twice").rglob("*.txt"):
        for line in label.read_text().splitlines():
            by_id[int(line.split()[0])] += 1
    assert twice.per_class == {"a (id 0)": by_id[0], "a (id 1)": by_id[1], "c": by_id[2]} and sum(by_id) > 0


def test_files_put_into_an_empty_out_while_labelling_are_kept(teacher26, source, tmp_path, monkeypatch):
    """The built dataset is moved into an existing empty --out: a file the user saved there meanwhile is not
    overwritten, and the run says so."""
    import yolodistill.pseudo as pseudo

    out = tmp_path / "out"
    out.mkdir()

    def meanwhile(teacher, files, *args):
        (out / "data.yaml").write_text("mine")
        yield from ((f, []) for f in files)

    monkeypatch.setattr(pseudo, "detect", meanwhile)
    with pytest.raises(UserError, match="was given files while labelling: nothing was written to it"):
        pseudo_label(teacher26, source, out, imgsz=64, progress=False)
    assert [p.name for p in out.iterdir()] == ["data.yaml"] and (out / "data.yaml").read_text() == "mine"
    assert not list(tmp_path.glob(".out*"))


@pytest.mark.parametrize("seed", range(6))
def test_copies_of_an_image_land_in_one_split(teacher26, synth_data, tmp_path, monkeypatch, seed):
    """The same frame in two folders (a/00010.png, b/00010.png) went one to train and one to val by chance, and val
    scored images trained on: a group of byte-identical files is kept in one split, as `data convert` keeps them."""
    labelled_by_a_stub(monkeypatch)
    val = sorted((synth_data.parent / "images" / "val").iterdir())
    root = tmp_path / "footage"
    for sub, imgs in (("a", val[:5]), ("b", val[:5]), ("c", val[5:7])):
        (root / sub).mkdir(parents=True)
        for img in imgs:
            shutil.copy(img, root / sub / img.name)
    result = pseudo_label(teacher26, root, tmp_path / "out", val_fraction=0.25, seed=seed, progress=False)
    split = {s: {p.name: p.read_bytes() for p in (tmp_path / "out" / "images" / s).iterdir()} for s in ("train", "val")}
    assert split["val"] and split["train"] and len(split["val"]) + len(split["train"]) == result.images == 12
    leaked = [name for name, data in split["val"].items() if data in split["train"].values()]
    assert not leaked, f"seed {seed}: val images with a byte-identical copy in train: {leaked}"
    again = pseudo_label(teacher26, root, tmp_path / "again", val_fraction=0.25, seed=seed, progress=False)
    assert sorted(p.name for p in (again.out / "images" / "val").iterdir()) == sorted(split["val"])  # seeded


def test_copies_of_one_image_have_no_val_split_and_say_so(teacher26, synth_data, tmp_path, monkeypatch):
    # one group of copies cannot be split: val silently became the train images
    labelled_by_a_stub(monkeypatch)
    frame = sorted((synth_data.parent / "images" / "val").iterdir())[0]
    for sub in "abc":
        (tmp_path / "footage" / sub).mkdir(parents=True)
        shutil.copy(frame, tmp_path / "footage" / sub / frame.name)
    result = pseudo_label(teacher26, tmp_path / "footage", tmp_path / "out", progress=False)
    assert result.images == 3 and result.val == 0
    assert "No val split of its own" in result.render() and "Images: 3, 0 of them val" in result.render()
    assert yaml.safe_load(result.data_yaml.read_text())["val"] == "images/train"


def test_the_command_labels_what_a_trained_teacher_finds(trained_student, learnable_data, tmp_path):
    from typer.testing import CliRunner

    from yolodistill.cli import app

    images = learnable_data.parent / "images" / "val"
    result = CliRunner().invoke(app, ["data", "pseudo-label", "--teacher", str(trained_student), "--images",
                                      str(images), "--out", str(tmp_path / "pseudo"), "--conf", "0.5"])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load((tmp_path / "pseudo" / "data.yaml").read_text())
    assert data["names"] == {0: "circle", 1: "square", 2: "triangle"} and data["pseudo_labels"]["conf"] == 0.5
    rows = [r.split() for p in (tmp_path / "pseudo" / "labels").rglob("*.txt") for r in p.read_text().splitlines()]
    assert len(rows) >= 25  # the trained model finds shapes: 50 images, 1 to 4 each
    assert all(len(r) == 5 and r[0] in "012" and all(0 <= float(v) <= 1 for v in r[1:]) for r in rows)
    assert f"Boxes: {len(rows)}" in " ".join(result.output.split())



def test_when_every_group_of_copies_is_larger_than_the_val_share_the_smallest_goes_to_val(tmp_path):
    """A share of one image between a pair and a triple of copies: no group fits, and rounding val down to nothing
    would validate on the train images; the pair goes to val (the least taken from train), the triple stays."""
    from yolodistill.pseudo import split_val

    from .builders import image

    pair = [str(image(tmp_path / d / "pair.png", seed=1)) for d in "ab"]
    triple = [str(image(tmp_path / d / "triple.png", seed=2)) for d in "abc"]
    files = sorted(pair + triple)
    for seed in range(4):
        assert {files[i] for i in split_val(files, 0.1, seed)} == set(pair), seed


def test_the_val_split_follows_the_seed(tmp_path):
    """--seed picks which images are held out: a different seed, a different val split; the same, the same one."""
    from yolodistill.pseudo import split_val

    from .builders import image

    files = [str(image(tmp_path / f"{i:02d}.png", seed=i)) for i in range(10)]
    splits = [frozenset(split_val(files, 0.3, seed)) for seed in range(5)]
    assert all(len(s) == 3 for s in splits) and len(set(splits)) > 1
    assert split_val(files, 0.3, 3) == splits[3]


def test_data_yaml_is_moved_into_an_existing_out_last(tmp_path, monkeypatch):
    """A move cut short (a full disk) must not leave a data.yaml that names splits not yet there, whatever order
    the filesystem lists the built folder in (here data.yaml first)."""
    from yolodistill.pseudo import fill

    tmp, dest = tmp_path / ".out.partial", tmp_path / "out"
    dest.mkdir()
    for split in ("images", "labels"):
        (tmp / split / "train").mkdir(parents=True)
        (tmp / split / "train" / "0.txt").write_text(split)
    (tmp / "data.yaml").write_text("path: .")
    listed = Path.iterdir
    monkeypatch.setattr(Path, "iterdir", lambda p: iter(sorted(listed(p), key=lambda e: e.name != "data.yaml")))
    moved, real = [], shutil.move
    monkeypatch.setattr(shutil, "move", lambda src, dst: moved.append(Path(src).name) or real(src, dst))
    fill(tmp, dest, dest)
    assert moved[-1] == "data.yaml" and sorted(moved) == sorted(p.name for p in dest.iterdir()) and not tmp.exists()


def test_what_a_killed_run_left_beside_out_is_not_taken_into_the_dataset(teacher26, source, tmp_path, monkeypatch):
    """A run killed outright leaves its hidden .partial folder; the next run starts it afresh."""
    from yolodistill.utils import partial_twin

    out = tmp_path / "out"
    stale = partial_twin(out) / "images" / "train"
    stale.mkdir(parents=True)
    (stale / "old.png").write_bytes(next(source.rglob("*.png")).read_bytes())
    labelled_by_a_stub(monkeypatch)
    result = pseudo_label(teacher26, source, out, imgsz=64, progress=False)
    images = list((out / "images").rglob("*.png"))
    assert len(images) == result.images == 6 and "old.png" not in {p.name for p in images}


def test_equal_rows_are_written_once_and_counted_once(monkeypatch, tmp_path):
    """Ultralytics' NMS runs before boxes are clipped to the image, so two boxes past one edge can come out equal:
    written twice, counted twice in 'Boxes:', and dropped by Ultralytics' loader as duplicate labels."""
    import types

    import torch
    import ultralytics

    from yolodistill.pseudo import detect

    boxes = types.SimpleNamespace(xywhn=torch.tensor([[0.1, 0.2, 0.3, 0.4]] * 2 + [[0.5, 0.5, 0.2, 0.2]]),
                                  cls=torch.tensor([1.0, 1.0, 1.0]))
    fake = types.SimpleNamespace(predict=lambda chunk, **k: [types.SimpleNamespace(boxes=boxes) for _ in chunk])
    monkeypatch.setattr(ultralytics, "YOLO", lambda teacher: fake)
    (got,) = detect("t.pt", ["a.png"], 0.25, 0.7, False, 64, "cpu", 1, False)
    assert got == ("a.png", ["1 0.100000 0.200000 0.300000 0.400000", "1 0.500000 0.500000 0.200000 0.200000"])


@pytest.mark.parametrize("val_fraction, why", [(0, "(--val-fraction 0)"), (0.1, "(one image, or copies of one)")])
def test_no_val_split_is_put_down_to_what_made_it(tmp_path, val_fraction, why):
    """--val-fraction 0 on 80 distinct images was said to be 'one image, or copies of one'."""
    from yolodistill.pseudo import PseudoLabelResult

    shown = PseudoLabelResult(tmp_path, tmp_path / "data.yaml", 80, 5, 0, 0, val=0, val_fraction=val_fraction).render()
    assert f"No val split of its own {why}: data.yaml validates on the train images" in shown



def test_val_fraction_0_reaches_the_summary(teacher26, source, tmp_path):
    result = pseudo_label(teacher26, source, tmp_path / "out", val_fraction=0, progress=False)
    assert result.val == 0 and "No val split of its own (--val-fraction 0)" in result.render()


def test_a_size_far_from_the_teacher_s_is_warned_of_as_in_train(teacher26, source, tmp_path, monkeypatch):
    """train warns when it distils at over 1.5 times the teacher's size; pseudo-label, which trusts the same teacher
    for every label, said nothing (a teacher of 64 px found 444 boxes at 128 against 2 at 64)."""
    from ultralytics.utils import LOGGER

    from yolodistill import checks

    warned = []
    monkeypatch.setattr(checks, "WARNED_SIZES", set())
    monkeypatch.setattr(LOGGER, "warning", lambda message, *a, **k: warned.append(message))
    pseudo_label(teacher26, source, tmp_path / "near", imgsz=64, progress=False)
    assert not any("The teacher was trained at" in m for m in warned), warned
    pseudo_label(teacher26, source, tmp_path / "far", imgsz=192, progress=False)
    assert any("The teacher was trained at imgsz=64 and this run labels at imgsz=192: it sees objects at 3 times the size it learnt and may do worse than no teacher" in m for m in warned), warned


def test_piped_its_stdout_is_the_summary_alone(teacher26, source, tmp_path):
    """Its bar was drawn where stdout was no terminal: a piped stdout began with a blank line, as convert's and
    synth's no longer did."""
    import subprocess

    from .conftest import PYTHON

    run = subprocess.run([PYTHON, "-m", "yolodistill", "data", "pseudo-label", "--teacher", str(teacher26), "--images",
                          str(source), "--out", str(tmp_path / "out"), "--imgsz", "64", "--device", "cpu"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("Wrote "), run.stdout[:80]


def test_a_one_channel_teacher_s_dataset_says_its_channels(source, tmp_path):
    """The data.yaml left channels: out: used as Ultralytics data it trained a 3-channel model, and train refused the
    teacher that labelled it ("teacher takes 1-channel images but the data has 3 channels")."""
    from .conftest import save_checkpoint

    grey = save_checkpoint("yolo11n.yaml", tmp_path / "grey.pt", ch=1)
    result = pseudo_label(grey, source, tmp_path / "out", conf=0.001, imgsz=64, progress=False)
    assert yaml.safe_load(result.data_yaml.read_text())["channels"] == 1
    colour = pseudo_label(save_checkpoint("yolo11n.yaml", tmp_path / "c.pt"), source, tmp_path / "out2", imgsz=64,
                          progress=False)
    assert "channels" not in yaml.safe_load(colour.data_yaml.read_text())  # 3, Ultralytics' default: as before


def test_an_image_under_10_px_is_left_out_and_counted(teacher26, source, tmp_path):
    """Ultralytics' training drops a side under 10 px as corrupt: kept, such an image was the whole val split."""
    from PIL import Image

    Image.new("RGB", (8, 8), (200, 10, 10)).save(source / "cam0" / "tiny.png")
    Image.new("RGB", (64, 64), (10, 200, 10)).save(source / "cam1" / "gif.jpg", format="GIF")  # a format it drops
    result = pseudo_label(teacher26, source, tmp_path / "out", conf=0.001, imgsz=64, progress=False)
    assert result.small == 2 and result.images == 6 and "2 skipped that Ultralytics does not train on" in result.render()
    assert not list((tmp_path / "out").rglob("*tiny*")) and not list((tmp_path / "out").rglob("*gif*"))
    only = tmp_path / "only"
    only.mkdir()
    Image.new("RGB", (8, 8)).save(only / "a.png")
    with pytest.raises(UserError, match="holds only images Ultralytics does not train on .*under 10 px"):
        pseudo_label(teacher26, only, tmp_path / "out2", imgsz=64, progress=False)


def test_a_teacher_that_detects_nothing_is_said_to_have(tmp_path):
    """A teacher that saw nothing above --conf wrote an all-background dataset, exit 0, with no word; convert
    refuses a dataset without a box."""
    from yolodistill.pseudo import PseudoLabelResult

    none = PseudoLabelResult(tmp_path, tmp_path / "data.yaml", 225, 0, 225, 0, val=22).render()
    some = PseudoLabelResult(tmp_path, tmp_path / "data.yaml", 225, 3, 224, 0, val=22).render()
    assert "the teacher detected nothing above --conf, so every image is background: lower --conf" in none
    assert "detected nothing" not in some
