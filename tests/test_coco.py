"""COCO JSON: one file or one per split, images beside the JSON or in a folder given with --images, Roboflow's
export layout, and images the JSON names that are not on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from yolodistill.convert import convert
from yolodistill.errors import UserError

from .builders import CLIPPED, INSIDE, W, H, coco_dict, image, make_coco, rows


def test_json_file(tmp_path):
    s = convert(make_coco(tmp_path / "coco"), fmt="coco", out=tmp_path / "out", val_fraction=0.25, seed=0)

    assert s.names == ["ant", "zebra"]
    assert s.images == {"train": 3, "val": 1}
    assert (s.boxes, s.clipped, s.dropped) == (3, 1, 1)  # the crowd box is skipped, not written...
    assert s.checks == {"crowd boxes (skipped)": 1}  # ...but counted and listed, so no box disappears unsaid
    assert "annotation 99 on 'img0.png' is a crowd region" in (tmp_path / "out" / "issues.txt").read_text()
    labels = {p.stem: rows(p) for p in (tmp_path / "out" / "labels").rglob("*.txt")}
    assert labels["img0"] == [pytest.approx([1, *INSIDE], abs=1e-6)]
    assert labels["img1"] == [pytest.approx([0, *CLIPPED], abs=1e-6)]
    assert labels["img2"] == []
    assert labels["img3"] == [pytest.approx([0, 0.5, 0.5, 1, 1], abs=1e-6)]

    from ultralytics.data.utils import check_det_dataset

    assert check_det_dataset(str(s.data_yaml))["names"] == {0: "ant", 1: "zebra"}


def test_an_image_listed_twice_is_one_image_with_both_boxes(tmp_path):
    """Merged COCO files list one file under two ids: it must not be written twice, each copy missing a box."""
    root = tmp_path / "coco"
    names = ["img0.png", "img1.png", "img2.png", "img0.png"]  # ids 0 and 3 are the same file
    for name in names[:3]:
        image(root / "images" / name)
    data = coco_dict(names, [(0, 7, [4, 3, 16, 12]), (3, 3, [30, 20, 20, 20]), (1, 7, [4, 3, 16, 12])])
    (root / "ann.json").write_text(json.dumps(data))
    for seed in range(3):  # whichever split img0 lands in, once
        out = tmp_path / f"out{seed}"
        s = convert(root / "ann.json", fmt="coco", out=out, val_fraction=0.34, seed=seed)
        assert sum(s.images.values()) == 3 and s.boxes == 3
        label = next(out.glob("labels/*/img0.txt"))
        assert sorted(rows(label)) == [pytest.approx([0, *CLIPPED], abs=1e-6), pytest.approx([1, *INSIDE], abs=1e-6)]


def test_two_images_that_find_one_file_only_by_its_name_are_both_left_out(tmp_path):
    """cam1/x.png and cam2/x.png where only images/x.png exists: found by the file name alone, they are two images
    on one file, and which one it is cannot be told; it was written once with the boxes of both. The same name
    written two ways (./img0.png) is still one image."""
    root = tmp_path / "coco"
    names = ["cam1/img0.png", "cam2/img0.png", "img1.png", "img2.png", "./img1.png"]
    for name in ("img0.png", "img1.png", "img2.png"):
        image(root / "images" / name)
    data = coco_dict(names, [(0, 7, [4, 3, 16, 12]), (1, 3, [30, 20, 20, 20]), (2, 7, [4, 3, 16, 12]),
                             (4, 3, [30, 20, 20, 20]), (3, 7, [4, 3, 16, 12])])
    (root / "ann.json").write_text(json.dumps(data))
    s = convert(root / "ann.json", fmt="coco", out=tmp_path / "out", val_fraction=0.5, seed=0)
    assert sum(s.images.values()) == 2 and s.boxes == 3 and s.unmatched == 1
    assert not list((tmp_path / "out").glob("images/*/img0.png"))
    unmatched = (tmp_path / "out" / "unmatched.txt").read_text()
    assert "'cam2/img0.png' (id 1) and 'cam1/img0.png' (id 0) both find" in unmatched
    assert len(rows(next((tmp_path / "out").glob("labels/*/img1.txt")))) == 2  # img1.png and ./img1.png: one image


@pytest.mark.parametrize("written, lists, keys", [
    (float, ("images", "annotations"), ("id", "image_id", "category_id")),
    (str, ("categories", "annotations"), ("id", "category_id")),
], ids=["whole-floats", "category-strings"])
def test_ids_written_alike_in_another_type_match(tmp_path, written, lists, keys):
    """Exporters built on pandas write ids as 1.0: they converted before ids were checked, and still do. Categories'
    "7" is read as 7, and an annotation's "7" was then not found: the refusal told the user to write the ids alike,
    which they were."""
    root = tmp_path / "coco"
    names = ["img0.png", "img1.png"]
    for name in names:
        image(root / "images" / name)
    data = coco_dict(names, [(0, 7, [4, 3, 16, 12]), (1, 3, [4, 3, 16, 12])])
    for entry in (entry for listed in lists for entry in data[listed]):
        entry.update({k: written(entry[k]) for k in keys if k in entry})
    (root / "ann.json").write_text(json.dumps(data))
    s = convert(root / "ann.json", fmt="coco", out=tmp_path / "out")
    assert s.boxes == 2 and s.per_class["ant"]["total"] == s.per_class["zebra"]["total"] == 1


def test_annotations_without_a_bbox_take_their_polygons_box(tmp_path):
    """Some exports (CVAT, Label Studio masks) leave bbox out: a polygon gives the box, an RLE mask, which needs
    pycocotools to decode, is skipped; both are counted and listed."""
    root = tmp_path / "coco"
    names = ["img0.png", "img1.png", "img2.png"]
    for name in names:
        image(root / name)
    data = coco_dict(names, [(0, 3, [1, 1, 1, 1]), (1, 7, [4, 3, 16, 12]), (2, 3, [1, 1, 1, 1])])
    del data["annotations"][0]["bbox"]
    data["annotations"][0]["segmentation"] = [[4, 3, 20, 3], [12, 15, 8, 9]]  # two parts: (4, 3)-(20, 15)
    data["annotations"][2]["bbox"] = []
    data["annotations"][2]["segmentation"] = {"counts": "0X1", "size": [H, W]}
    (root / "ann.json").write_text(json.dumps(data))
    s = convert(root / "ann.json", fmt="coco", out=tmp_path / "out", val_fraction=0.34)
    labels = {p.stem: rows(p) for p in (tmp_path / "out" / "labels").rglob("*.txt")}
    assert labels["img0"] == [pytest.approx([0, *INSIDE], abs=1e-6)] and labels["img2"] == []
    assert s.checks == {"boxes from polygons (no bbox)": 1, "RLE masks without a bbox (skipped)": 1}
    issues = (tmp_path / "out" / "issues.txt").read_text()
    assert "annotation 0 on 'img0.png' has no bbox" in issues and "annotation 2 on 'img2.png'" in issues


def test_train_and_val_json_in_annotations(tmp_path):
    src = tmp_path / "coco"
    for split, names in (("train", ["a.png", "b.png"]), ("val", ["c.png"])):
        for f in names:
            image(src / "images" / f"{split}2017" / f)
        (src / "annotations").mkdir(parents=True, exist_ok=True)
        data = coco_dict(names, [(0, 7, [4, 3, 16, 12])])
        (src / "annotations" / f"instances_{split}2017.json").write_text(json.dumps(data))
    (src / "annotations" / "captions_train2017.json").write_text("{}")  # not a detection file: must be passed over

    s = convert(src, fmt="coco", out=tmp_path / "out")
    assert s.images == {"train": 2, "val": 1} and "published" in s.split
    assert sorted(p.name for p in (tmp_path / "out" / "labels" / "val").iterdir()) == ["c.txt"]


def elsewhere(tmp_path: Path) -> tuple[Path, Path]:
    """train.json and val.json in labels/, their images in photos/train and photos/val: nowhere near the JSON."""
    photos, jsons = tmp_path / "photos", tmp_path / "labels"
    jsons.mkdir()
    for split, names in (("train", ["t0.jpg", "t1.jpg", "t2.jpg"]), ("val", ["v0.jpg"])):
        for f in names:
            image(photos / split / f)
        boxes = [(i, 7 if i % 2 else 3, [4, 3, 16, 12]) for i in range(len(names))]
        (jsons / f"{split}.json").write_text(json.dumps(coco_dict(names, boxes)))
    return photos, jsons


def test_images_in_another_folder_than_the_json(tmp_path):
    photos, jsons = elsewhere(tmp_path)
    with pytest.raises(UserError, match="all 4 images the JSON names are not on disk") as e:
        convert([jsons / "train.json", jsons / "val.json"], fmt="coco", out=tmp_path / "out")
    assert "pass --images DIR" in str(e.value) and not (tmp_path / "out").exists()

    s = convert([jsons / "train.json", jsons / "val.json"], fmt="coco", out=tmp_path / "out", images=photos)
    assert s.images == {"train": 3, "val": 1} and "published" in s.split
    assert sorted(p.name for p in (tmp_path / "out" / "images" / "val").iterdir()) == ["v0.jpg"]
    assert s.per_class == {"ant": {"train": 2, "val": 1, "total": 3}, "zebra": {"train": 1, "val": 0, "total": 1}}


def test_a_folder_of_jsons_uses_images_given(tmp_path):
    photos, jsons = elsewhere(tmp_path)
    s = convert(jsons, fmt="coco", out=tmp_path / "out", images=photos)
    assert s.images == {"train": 3, "val": 1}


def test_several_jsons_need_split_names(tmp_path):
    photos, jsons = elsewhere(tmp_path)
    (jsons / "val.json").rename(jsons / "extra.json")
    with pytest.raises(UserError, match=r"train.json: train, extra.json: \?"):
        convert([jsons / "train.json", jsons / "extra.json"], fmt="coco", out=tmp_path / "out", images=photos)


def test_roboflow_export_with_three_splits(tmp_path):
    """train/, valid/ and test/ each hold _annotations.coco.json beside their images, and the categories start with
    the dataset's own name (id 0), the supercategory of the real classes, which no box uses."""
    src = tmp_path / "rf"
    for k, (split, n) in enumerate((("train", 3), ("valid", 2), ("test", 1))):
        names = [f"{split}{i}_jpg.rf.abc.jpg" for i in range(n)]
        for i, f in enumerate(names):
            image(src / split / f, seed=10 * k + i)
        data = coco_dict(names, [(i, 3, [4, 3, 16, 12]) for i in range(n)])
        data["categories"] = [{"id": 0, "name": "cells", "supercategory": "none"},
                              {"id": 3, "name": "ant", "supercategory": "cells"},
                              {"id": 7, "name": "zebra", "supercategory": "cells"}]
        (src / split / "_annotations.coco.json").write_text(json.dumps(data))
    s = convert(src, fmt="coco", out=tmp_path / "out")
    assert s.names == ["ant", "zebra"] and s.images == {"train": 3, "val": 2, "test": 1}
    assert yaml.safe_load(s.data_yaml.read_text())["test"] == "images/test"
    assert s.checks == {"categories without boxes (left out)": 1}
    assert "'cells' (id 0)" in (tmp_path / "out" / "issues.txt").read_text()
    assert {r[0] for p in (tmp_path / "out" / "labels").rglob("*.txt") for r in rows(p)} == {0}  # ant is class 0


def test_file_names_with_folders_and_a_missing_image(tmp_path):
    src = tmp_path / "coco"
    names = [f"train2017/{i:03d}.jpg" for i in range(4)]
    for f in names[:3]:
        image(src / "images" / Path(f).name)  # stored flat although the JSON names a folder
    (src / "ann.json").write_text(json.dumps(coco_dict(names, [(i, 7, [4, 3, 16, 12]) for i in range(4)])))
    s = convert(src / "ann.json", fmt="coco", out=tmp_path / "out", val_fraction=0.34)
    assert sum(s.images.values()) == 3 and s.unmatched == 1 and s.boxes == 3
    listed = (tmp_path / "out" / "unmatched.txt").read_text()
    assert "'train2017/003.jpg' (id 3)" in listed


def _bad_json(tmp: Path):
    src = make_coco(tmp / "coco")
    src.write_text('{"images": [')
    return src, "not valid JSON"


def _not_coco(tmp: Path):
    src = make_coco(tmp / "coco")
    src.write_text('{"images": []}')
    return src, "not a COCO detection file"


def _all_images_missing(tmp: Path):
    src = make_coco(tmp / "coco")
    for p in (src.parent / "images").iterdir():
        p.unlink()
    return src, "all 4 images the JSON names are not on disk"


# make_coco's JSON, changed: (edit, the error's words)
EDITS = {
    "unknown category": (lambda d: d["annotations"][0].update(category_id=42), "category_id 42"),
    "orphan annotation": (lambda d: d["annotations"][0].update(image_id=77), "image_id 77"),
    # its box would land on whichever file came last, and the other would become an empty background image
    "one id, two files": (lambda d: d["images"][2].update(id=1),
                          "image id 1 is given to both 'img1.png' and 'img2.png'"),
    "no bbox nor polygon": (lambda d: d["annotations"][1].pop("bbox"),
                            "annotation 1 has no 'bbox' and no polygon in 'segmentation'"),
    "short bbox": (lambda d: d["annotations"][3].update(bbox=[0, 0, 5]),
                   r"annotation 3 has bbox \[0, 0, 5\], not \[x, y, width, height\]"),
    "no image_id": (lambda d: d["annotations"][2].pop("image_id"), "annotation 2's 'image_id' is missing"),
    # as --names refuses them: two classes no one could tell apart, merged in dataset.json's counts
    "two categories, one name": (lambda d: d["categories"][1].update(name="zebra"),
                                 "categories 7, 3 are all named 'zebra'"),
    "empty category name": (lambda d: d["categories"][0].update(name=" "), "category id 7 has an empty name"),
    # it said "pass --names", which COCO refuses
    "no categories": (lambda d: d.update(categories=[], annotations=[]), "the JSON's 'categories' is empty: add them"),
    # the id is there, as a number: "not in 'images'" alone read as a contradiction
    "image_id as a string": (lambda d: d["annotations"][0].update(image_id="0"),
                             r"image_id '0', which is not in 'images' \(it is there as 0: write the ids alike"),
    # a dict keyed by id would keep the last and silently move the other's boxes onto it
    "two categories, one id": (lambda d: d["categories"][1].update(id=7), "two categories share an id"),
    # a stray coordinate would widen the box to a point that is not on the outline
    "odd polygon": (lambda d: d["annotations"][1].pop("bbox") and d["annotations"][1].update(
        segmentation=[[4, 3, 20, 3, 12]]), "annotation 1 has no 'bbox' and no polygon"),
    # 0.5 is no whole number: it matched no exporter's id on purpose, so it is a broken id, not a key
    "fractional image id": (lambda d: d["images"][0].update(id=0.5), r"image #1 in 'images' .*lacks an 'id'"),
}


def _edited(name: str):
    def case(tmp: Path):
        src = make_coco(tmp / "coco")
        data = json.loads(src.read_text())
        EDITS[name][0](data)
        src.write_text(json.dumps(data))
        return src, EDITS[name][1]
    return case


@pytest.mark.parametrize("case", [_bad_json, _not_coco, _all_images_missing, *map(_edited, EDITS)])
def test_bad_json_is_one_line_and_writes_nothing(tmp_path, case):
    src, expected = case(tmp_path)
    with pytest.raises(UserError, match=expected) as e:
        convert(src, fmt="coco", out=tmp_path / "out")
    assert "\n" not in str(e.value) and not (tmp_path / "out").exists()


def test_names_and_annotations_are_not_for_coco(tmp_path):
    src = make_coco(tmp_path / "coco")
    with pytest.raises(UserError, match="class names come from the JSON"):
        convert(src, fmt="coco", out=tmp_path / "out", names=["a"])
    with pytest.raises(UserError, match="--annotations is for VOC XML folders: for COCO pass the JSON"):
        convert(src, fmt="coco", out=tmp_path / "out", annotations=tmp_path)
    with pytest.raises(UserError, match="--annotations is for VOC XML folders: a YOLO dataset's labels are found "
                                        "beside its images: drop --annotations"):  # it spoke of COCO
        convert(src.parent, fmt="yolo", out=tmp_path / "out", annotations=tmp_path)
    with pytest.raises(UserError, match="--imgsz must be a whole number, got None"):  # a TypeError once all was read
        convert(src, fmt="coco", out=tmp_path / "out", imgsz=None)
    assert W == 40 and H == 30


def test_a_json_with_a_bom_nan_boxes_and_images_ultralytics_skips(tmp_path):
    """A Windows BOM was 'not valid JSON'; a NaN box (pandas writes them) was written as `nan`, which makes Ultralytics
    drop the whole image; a .gif was copied and counted, and Ultralytics never trains on it."""
    import math

    src = make_coco(tmp_path / "coco")
    data = json.loads(src.read_text())
    data["annotations"][0]["bbox"] = [float("nan"), 3, 16, 12]
    image(src.parent / "images" / "img4.png").rename(src.parent / "images" / "img4.gif")
    data["images"].append({"id": 4, "file_name": "img4.gif", "width": W, "height": H})
    data["annotations"].append({"id": 50, "image_id": 4, "category_id": 3, "bbox": [1, 1, 5, 5], "iscrowd": 0})
    image(src.parent / "images" / "img5.png", seed=5).rename(src.parent / "images" / "img5.jp2")  # one it reads
    data["images"].append({"id": 5, "file_name": "img5.jp2", "width": W, "height": H})
    src.write_bytes(b"\xef\xbb\xbf" + json.dumps(data).encode())
    s = convert(src, fmt="coco", out=tmp_path / "out", val_fraction=0.25)
    assert sum(s.images.values()) == 5 and (s.boxes, s.clipped, s.dropped) == (2, 1, 2)
    assert s.checks["images in a format Ultralytics does not train on (left out)"] == 1
    issues = (tmp_path / "out" / "issues.txt").read_text()
    assert "not a finite number, dropped" in issues and "'img4.gif' (id 4)" in issues
    values = [v for p in (tmp_path / "out" / "labels").rglob("*.txt") for r in rows(p) for v in r]
    assert values and all(map(math.isfinite, values))


def test_one_image_in_both_splits_by_two_spellings_is_refused(tmp_path):
    """The train JSON names ../shared/x.jpg (from annotations/), the val JSON shared/x.jpg (from the root): one file,
    hard-linked into both splits, val leaking into train."""
    root = tmp_path / "coco"
    for i, name in enumerate(("x.jpg", "y.jpg", "z.jpg")):
        image(root / "shared" / name, seed=i)
    (root / "annotations").mkdir(parents=True)
    for split, names in (("train", ["../shared/x.jpg", "../shared/y.jpg"]), ("val", ["shared/x.jpg", "shared/z.jpg"])):
        data = coco_dict(names, [(0, 7, [4, 3, 16, 12]), (1, 7, [4, 3, 16, 12])])
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match="x.jpg' is in both the train and the val split: keep it in one"):
        convert(root, fmt="coco", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_train_and_test_jsons_validate_on_test_and_need_a_train(tmp_path):
    """A train and a test JSON (no val): the test split is the only held-out one and is validated on; val and test
    without a train JSON cannot be trained on and are refused."""
    photos, jsons = elsewhere(tmp_path)
    (photos / "val").rename(photos / "test")
    (jsons / "val.json").rename(jsons / "test.json")
    s = convert([jsons / "train.json", jsons / "test.json"], fmt="coco", out=tmp_path / "out", images=photos)
    assert s.images == {"train": 3, "val": 1}
    assert sorted(p.name for p in (tmp_path / "out" / "images" / "val").iterdir()) == ["v0.jpg"]
    (jsons / "train.json").rename(jsons / "val.json")
    with pytest.raises(UserError, match=r"cannot tell one train .*val.json: val, test.json: test"):
        convert([jsons / "val.json", jsons / "test.json"], fmt="coco", out=tmp_path / "out2", images=photos)


def test_splits_with_other_categories_are_refused(tmp_path):
    """Class indices come from one category list: a val JSON with another list would write other classes."""
    photos, jsons = elsewhere(tmp_path)
    data = json.loads((jsons / "val.json").read_text())
    data["categories"][0]["name"] = "horse"
    (jsons / "val.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match="other categories than .*train.json"):
        convert(jsons, fmt="coco", out=tmp_path / "out", images=photos)
    assert not (tmp_path / "out").exists()


def test_a_supercategory_with_boxes_of_its_own_is_a_class(tmp_path):
    """Only a parent category that no box uses is Roboflow's dataset name: one that boxes use is a real class, and
    each crowd box of several is counted."""
    root = tmp_path / "coco"
    names = ["img0.png", "img1.png"]
    for name in names:
        image(root / name)
    data = coco_dict(names, [(0, 7, [4, 3, 16, 12]), (1, 3, [4, 3, 16, 12])], crowd=True)
    data["categories"][0]["supercategory"] = "ant"  # zebra's parent is ant, and ant has a box
    data["annotations"].append({"id": 98, "image_id": 1, "category_id": 3, "bbox": [0, 0, 9, 9], "iscrowd": 1})
    (root / "ann.json").write_text(json.dumps(data))
    s = convert(root / "ann.json", fmt="coco", out=tmp_path / "out", val_fraction=0.5)
    assert s.names == ["ant", "zebra"] and s.boxes == 2
    assert s.checks == {"crowd boxes (skipped)": 2}


def test_a_file_name_with_a_folder_prefers_that_folder(tmp_path):
    """file_name sub/x.png is images/sub/x.png even where an images/x.png exists: the name alone is the fallback."""
    root = tmp_path / "coco"
    wanted = image(root / "images" / "sub" / "x.png", seed=1)
    image(root / "images" / "x.png", seed=2)  # a decoy of the same name, other pixels
    image(root / "images" / "y.png", seed=3)
    (root / "ann.json").write_text(json.dumps(coco_dict(["sub/x.png", "y.png"], [(0, 7, [4, 3, 16, 12])])))
    convert(root / "ann.json", fmt="coco", out=tmp_path / "out", val_fraction=0.5)
    assert wanted.read_bytes() in {p.read_bytes() for p in (tmp_path / "out" / "images").rglob("x.png")}


def test_a_flat_polygon_gives_its_box(tmp_path):
    """segmentation written as one flat [x, y, x, y, ...] list (not a list of polygons) gives its extent too."""
    root = tmp_path / "coco"
    names = ["img0.png", "img1.png"]
    for name in names:
        image(root / name)
    data = coco_dict(names, [(0, 3, [1, 1, 1, 1]), (1, 7, [4, 3, 16, 12])])
    del data["annotations"][0]["bbox"]
    data["annotations"][0]["segmentation"] = [4, 3, 20, 3, 12, 15, 8, 9]
    (root / "ann.json").write_text(json.dumps(data))
    s = convert(root / "ann.json", fmt="coco", out=tmp_path / "out", val_fraction=0.5)
    labels = {p.stem: rows(p) for p in (tmp_path / "out" / "labels").rglob("*.txt")}
    assert labels["img0"] == [pytest.approx([0, *INSIDE], abs=1e-6)]
    assert s.checks == {"boxes from polygons (no bbox)": 1}


def test_a_name_with_two_split_words_names_no_split():
    """train_val.json could be either: no split is guessed from it (its folder's name may still tell)."""
    from yolodistill.coco import split_of

    assert split_of(Path("coco") / "train_val.json") is None
    assert split_of(Path("valid") / "train_val.json") == "val"


def test_an_absolute_file_name_from_another_machine_falls_back_to_its_name(tmp_path):
    """Annotation tools export file_name as their own absolute path (/data/upload/1/x.png): not on this machine, the
    image is looked up by its name, as VOC's reader does; two such paths that share a name are told apart by none."""
    root = tmp_path / "coco"
    for name in ("x.png", "y.png"):
        image(root / "images" / name)
    here = image(root / "here.png", seed=4)  # an absolute path that is on this machine is taken as written
    names = ["/data/upload/1/x.png", "/data/upload/2/y.png", str(here)]
    (root / "ann.json").write_text(json.dumps(coco_dict(names, [(i, 7, [4, 3, 16, 12]) for i in range(3)])))
    s = convert(root / "ann.json", fmt="coco", out=tmp_path / "out", val_fraction=0.34)
    assert sum(s.images.values()) == 3
    assert sorted(p.name for p in (tmp_path / "out" / "images").rglob("*.png")) == ["here.png", "x.png", "y.png"]
    clash = coco_dict(["/data/upload/1/x.png", "/data/upload/2/x.png", "y.png", str(here)], [(2, 7, [4, 3, 16, 12])])
    (root / "clash.json").write_text(json.dumps(clash))
    s = convert(root / "clash.json", fmt="coco", out=tmp_path / "out2", val_fraction=0.5)
    assert sorted(p.name for p in (tmp_path / "out2" / "images").rglob("*.png")) == ["here.png", "y.png"]
    assert sum(s.images.values()) == 2  # which upload is x.png is unknown: both left out


def test_roboflow_single_class_with_a_superclass_of_its_name(tmp_path):
    """Roboflow names its superclass (id 0, no box) after the annotation group: with one class of that name the
    categories read [x (id 0), x (id 1, supercategory x)], refused as two classes of one name before the
    superclass was left out, as it is with several classes."""
    src = tmp_path / "rf"
    for split, n in (("train", 3), ("valid", 2)):
        names = [f"{split}{i}_jpg.rf.abc.jpg" for i in range(n)]
        for i, f in enumerate(names):
            image(src / split / f, seed=len(split) * 10 + i)
        data = coco_dict(names, [(i, 1, [4, 3, 16, 12]) for i in range(n)] + [(0, 1, [20, 10, 10, 10])])
        data["categories"] = [{"id": 0, "name": "pothole", "supercategory": "none"},
                              {"id": 1, "name": "pothole", "supercategory": "pothole"}]
        (src / split / "_annotations.coco.json").write_text(json.dumps(data))
    s = convert(src, fmt="coco", out=tmp_path / "out")
    assert s.names == ["pothole"] and s.images == {"train": 3, "val": 2} and s.boxes == 7
    assert s.checks == {"categories without boxes (left out)": 1}
    assert "'pothole' (id 0): only the supercategory" in (tmp_path / "out" / "issues.txt").read_text()
    assert sorted(p.name for p in (tmp_path / "out" / "images" / "val").iterdir()) == [
        "valid0_jpg.rf.abc.jpg", "valid1_jpg.rf.abc.jpg"]
    assert {r[0] for p in (tmp_path / "out" / "labels").rglob("*.txt") for r in rows(p)} == {0}

