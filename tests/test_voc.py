"""Pascal VOC in the layouts found in the wild: every layout converts to the same labels, images are found by
filename, path or stem, and what cannot be matched is counted, listed, and fatal only when it is most of the data."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
import yaml
from rich.text import Text

from yolodistill.voc import UNKNOWN, UNLISTED
from yolodistill.convert import convert
from yolodistill.errors import UserError

from .builders import CLIPPED, INSIDE, exif_image, files, image, make_voc, rows, voc_xml

CAT, DOG = (4, 3, 20, 15), (30, 20, 50, 40)  # DOG sticks out of the 40x30 image: clipped


def labels_by_image(out: Path) -> dict[str, list[list[float]]]:
    """Label rows of the converted dataset, keyed by image file name (labels and images share the stem)."""
    found = {}
    for img in (out / "images").rglob("*.*"):
        found[img.name] = rows(out / "labels" / img.parent.name / f"{img.stem}.txt")
    return found


def test_vocdevkit_published_split(tmp_path):
    src = make_voc(tmp_path / "voc")
    before = files(src)
    s = convert(src, fmt="voc", out=tmp_path / "out")

    assert s.names == ["cat", "dog"]
    assert s.images == {"train": 3, "val": 2}  # trainval and test; val.txt ignored
    assert (s.boxes, s.clipped, s.dropped, s.unmatched) == (5, 1, 2, 0)
    assert "published" in s.split
    out = tmp_path / "out"
    assert sorted(p.name for p in (out / "images" / "val").iterdir()) == ["img3.jpg", "img4.jpg"]
    assert rows(out / "labels" / "train" / "img0.txt") == [pytest.approx([0, *INSIDE], abs=1e-6)]
    assert rows(out / "labels" / "train" / "img1.txt") == [pytest.approx([1, *CLIPPED], abs=1e-6)]
    assert (out / "images" / "train" / "img0.jpg").read_bytes() == (src / "JPEGImages" / "img0.jpg").read_bytes()
    assert files(src) == before  # nothing written into the source
    assert not (out / "unmatched.txt").exists()

    from ultralytics.data import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    data = check_det_dataset(str(s.data_yaml))
    assert data["names"] == {0: "cat", 1: "dog"}
    assert Path(data["val"]) == (out / "images" / "val").resolve()
    ds = YOLODataset(img_path=data["train"], data=data, augment=False, imgsz=64)
    assert sum(len(lb["cls"]) for lb in ds.labels) == 3  # Ultralytics reads every train box, none corrupt


def test_voc2012_without_test_list_trains_on_trainval_minus_val(tmp_path):
    src = make_voc(tmp_path / "voc")
    (src / "ImageSets" / "Main" / "test.txt").unlink()  # VOC2012 style: trainval = train + val
    s = convert(src, fmt="voc", out=tmp_path / "out")
    assert s.images == {"train": 2, "val": 1}  # img2 only in val; img3-4 are in no list and left out
    assert sorted(p.name for p in (tmp_path / "out" / "images" / "train").iterdir()) == ["img0.jpg", "img1.jpg"]
    # an empty test.txt is no list either: val.txt still names the held-out images (it was "the val split is empty")
    (src / "ImageSets" / "Main" / "test.txt").write_text("\n")
    assert convert(src, fmt="voc", out=tmp_path / "out2").images == {"train": 2, "val": 1}


def test_vocdevkit_folder_holding_one_year(tmp_path):
    make_voc(tmp_path / "VOCdevkit" / "VOC2012")
    s = convert(tmp_path / "VOCdevkit", fmt="voc", out=tmp_path / "out")
    assert s.images == {"train": 3, "val": 2} and "published" in s.split
    make_voc(tmp_path / "VOCdevkit" / "VOC2007")
    with pytest.raises(UserError, match="several VOC datasets .*VOC2007, VOC2012"):
        convert(tmp_path / "VOCdevkit", fmt="voc", out=tmp_path / "out2")


def test_seeded_split_is_deterministic(tmp_path):
    src = make_voc(tmp_path / "voc", n=10, splits=False)

    def val_names(seed: int, out: str) -> list[str]:
        s = convert(src, fmt="voc", out=tmp_path / out, val_fraction=0.3, seed=seed)
        assert s.images == {"train": 7, "val": 3}
        assert f"seed {seed}" in s.split
        return sorted(p.name for p in (tmp_path / out / "images" / "val").iterdir())

    first = val_names(0, "a")
    assert val_names(0, "b") == first
    assert val_names(1, "c") != first
    assert files(tmp_path / "a" / "labels") == files(tmp_path / "b" / "labels")


def test_explicit_names_keep_their_order(tmp_path):
    s = convert(make_voc(tmp_path / "voc"), fmt="voc", out=tmp_path / "out", names=["dog", "cat", "bird"])
    assert yaml.safe_load(s.data_yaml.read_text())["names"] == {0: "dog", 1: "cat", 2: "bird"}
    assert rows(tmp_path / "out" / "labels" / "train" / "img0.txt")[0][0] == 1  # cat is class 1 now


def wild(root: Path, ann: str | None, img: str, n: int = 4) -> Path:
    """n images a0..; a0 holds a cat, the others a dog; XML in `ann` (None: beside the images) with no ImageSets."""
    for i in range(n):
        image(root / img / f"a{i}.jpg", seed=i)
        voc_xml(root / (ann or img) / f"a{i}.xml", [("cat", CAT)] if i == 0 else [("dog", DOG)], filename=f"a{i}.jpg")
    return root


@pytest.mark.parametrize("ann, img", [
    ("annotations", "images"), ("annots", "images"), ("labels", "images"), ("Annotations", "Images"),
    ("xml", "JPEGImages"), (None, "images"), (None, "."),
])
def test_common_layouts_convert_alike(tmp_path, ann, img):
    src = wild(tmp_path / "set", ann, img)
    s = convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.25)
    assert (s.images, s.unmatched, s.names) == ({"train": 3, "val": 1}, 0, ["cat", "dog"])
    got = labels_by_image(tmp_path / "out")
    assert got["a0.jpg"] == [pytest.approx([0, *INSIDE], abs=1e-6)]
    assert all(got[f"a{i}.jpg"] == [pytest.approx([1, *CLIPPED], abs=1e-6)] for i in (1, 2, 3))


def test_images_resolve_by_filename_then_path_then_stem(tmp_path):
    """Each XML names its image another way; the box tells which image it landed on (all images are 40x30)."""
    src = tmp_path / "set"
    for name in ("IMG_0001.JPG", "photo-b.jpg", "c.png", "d.jpeg"):
        image(src / "images" / name)
    ann = src / "annots"
    voc_xml(ann / "a.xml", [("cat", (0, 0, 10, 10))], filename="img_0001.jpg")  # only the case differs
    voc_xml(ann / "b.xml", [("cat", (0, 0, 20, 10))], filename="DSC_9.jpg",  # wrong filename, right path (Windows)
            xml_path=r"C:\Users\me\Desktop\raw\photo-b.jpg")
    voc_xml(ann / "c.xml", [("cat", (0, 0, 30, 10))], filename="c.jpg", xml_path="/home/me/c.jpg")  # stem: c.png
    voc_xml(ann / "d.xml", [("cat", (0, 0, 40, 10))], filename="exports/d.jpeg")  # filename with a folder
    s = convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.25)
    assert s.unmatched == 0 and sum(s.images.values()) == 4
    widths = {name: r[0][3] for name, r in labels_by_image(tmp_path / "out").items()}
    assert widths == pytest.approx({"IMG_0001.JPG": 0.25, "photo-b.jpg": 0.5, "c.png": 0.75, "d.jpeg": 1.0})


def test_explicit_folders_always_win(tmp_path):
    """A decoy images/ with the same names as the real photos: --images picks the real ones."""
    src = wild(tmp_path / "set", "annotations", "images")
    real = tmp_path / "elsewhere" / "photos"
    for i in range(4):
        image(real / f"a{i}.jpg", seed=100 + i)
    xml = tmp_path / "elsewhere" / "xml"
    for i in range(4):
        voc_xml(xml / f"a{i}.xml", [("bird", CAT)], filename=f"a{i}.jpg")
    s = convert(src, fmt="voc", out=tmp_path / "out", images=real, annotations=xml, val_fraction=0.25)
    assert s.names == ["bird"]  # the given annotations, not the ones in src/annotations
    out_images = {p.name: p.read_bytes() for p in (tmp_path / "out" / "images").rglob("*.jpg")}
    assert out_images == {f"a{i}.jpg": (real / f"a{i}.jpg").read_bytes() for i in range(4)}


def test_same_name_in_two_folders_gets_two_files(tmp_path):
    """day/0001.jpg and night/0001.jpg both land in the flat output; each keeps its own boxes."""
    src, expected = tmp_path / "set", {}
    for k, (sub, stem) in enumerate((("day", "0001"), ("night", "0001"), ("day", "0002"), ("night", "0002"))):
        img = image(src / sub / f"{stem}.jpg", seed=k)
        box = CAT if sub == "day" else DOG
        voc_xml(src / sub / f"{stem}.xml", [("cat", box)], filename=f"{stem}.jpg")
        expected[img.read_bytes()] = INSIDE if sub == "day" else CLIPPED
    s = convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.25)
    assert s.images == {"train": 3, "val": 1}
    out = list((tmp_path / "out" / "images").rglob("*.jpg"))
    assert len(out) == 4 and any(p.name.endswith("-2.jpg") for p in out)  # three in train: one pair shares a name
    for p in out:
        label = tmp_path / "out" / "labels" / p.parent.name / f"{p.stem}.txt"
        assert rows(label)[0][1:] == pytest.approx(expected[p.read_bytes()], abs=1e-6)


def test_one_folder_per_sample_with_one_image_name_keeps_each_sample_s_boxes(tmp_path):
    """sample_i/image.jpg beside sample_i/image.xml: every annotation scanned every image of that name, and each
    output name counted up from image-2 again (4000 samples: a minute, now seconds); each keeps its own image."""
    src, boxes = tmp_path / "set", {}
    for k in range(12):
        img = image(src / f"s{k:02d}" / "image.jpg", seed=k)
        box = (4 + k, 3, 20 + k, 15)
        voc_xml(src / f"s{k:02d}" / "image.xml", [("cat", box)], filename="image.jpg")
        boxes[img.read_bytes()] = box
    convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.25)
    out = sorted((tmp_path / "out" / "images").rglob("*.jpg"))
    assert len(out) == 12 and len({p.name for p in out if p.parent.name == "train"}) == 9
    for p in out:
        x1, y1, x2, y2 = boxes[p.read_bytes()]  # the box of the sample whose image this is
        w, h = cv2.imread(str(p)).shape[1::-1]
        label = rows(tmp_path / "out" / "labels" / p.parent.name / f"{p.stem}.txt")[0][1:]
        assert label == pytest.approx([(x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h], abs=1e-6)


def test_same_stem_with_two_suffixes_gets_two_label_files(tmp_path):
    """pair.jpg and pair.png in one split would share pair.txt, and one image would take the other's boxes."""
    src = tmp_path / "set"
    for k, (suffix, box) in enumerate(((".jpg", CAT), (".png", DOG), (".jpg", CAT), (".jpg", CAT))):
        stem = "pair" if k < 2 else f"other{k}"
        image(src / f"{stem}{suffix}", seed=k)
        voc_xml(src / f"{stem}{suffix[1:]}.xml", [("cat", box)], filename=f"{stem}{suffix}")
    s = convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.25, seed=1)
    out = tmp_path / "out"
    by_stem = {p.stem: p for p in (out / "images").rglob("*.*")}
    assert len(by_stem) == 4 and s.boxes == 4
    labels = {stem: rows(out / "labels" / p.parent.name / f"{stem}.txt") for stem, p in by_stem.items()}
    assert sum(map(len, labels.values())) == 4  # every box on disk, none lost to a shared label file
    for stem, p in by_stem.items():
        want = CLIPPED if p.suffix == ".png" else INSIDE
        assert labels[stem][0][1:] == pytest.approx(want, abs=1e-6), stem


def test_a_split_left_without_readable_images_is_refused(tmp_path):
    """Ultralytics refuses a data.yaml whose val folder is missing: say so before writing one."""
    src = make_voc(tmp_path / "voc")  # img3 and img4 are the published val (test) split
    for name in ("img3.jpg", "img4.jpg"):
        (src / "JPEGImages" / name).write_bytes(b"not a jpeg")
    with pytest.raises(UserError, match="the val split of .* has no readable image left"):
        convert(src, fmt="voc", out=tmp_path / "out")
    assert not (tmp_path / "out" / "data.yaml").exists()


@pytest.mark.parametrize("tag, suffix", [*((t, ".png") for t in range(1, 9)), *((t, ".tif") for t in (1, 5, 6, 8))])
def test_exif_turned_images_get_boxes_where_ultralytics_sees_them(tmp_path, tag, suffix):
    """A photo stored 100x80 with EXIF orientation `tag` trains as Ultralytics' imread turns it. A white patch annotated
    on the stored pixels (VOC <size> the stored one) must be labelled where imread shows it whenever the size tells
    (tags 5 to 8 swap width and height); where it cannot tell (2 to 4), the box is taken as drawn on what shows.
    PIL gives a TIFF's size turned already, which once hid its stored size and left its boxes unturned."""
    import numpy as np
    from ultralytics.utils.patches import imread

    src, stored_box = tmp_path / "set", (10, 5, 30, 20)  # exif_image's patch
    src.mkdir()
    exif_image(src / f"photo{suffix}", tag)
    shown = imread(str(src / f"photo{suffix}"))  # as Ultralytics loads it
    ys, xs = np.where(shown[..., 0] > 127)
    h, w = shown.shape[:2]
    where = [(xs.min() + xs.max() + 1) / 2 / w, (ys.min() + ys.max() + 1) / 2 / h, (xs.max() + 1 - xs.min()) / w,
             (ys.max() + 1 - ys.min()) / h]
    voc_xml(src / "photo.xml", [("cat", stored_box)], filename=f"photo{suffix}", size=(100, 80))
    for k in range(2):
        image(src / f"plain{k}.jpg", seed=k)
        voc_xml(src / f"plain{k}.xml", [("cat", CAT)], filename=f"plain{k}.jpg")
    s = convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.34, seed=0)
    out = tmp_path / "out"
    label = rows(next(out.glob("labels/*/photo.txt")))
    issues = (out / "issues.txt").read_text() if (out / "issues.txt").exists() else ""
    if tag == 1 or tag >= 5:  # the size says the box was drawn on the stored pixels: it follows them
        assert label == [pytest.approx([0, *where], abs=1e-6)]
    else:  # 2 to 4 keep the size, so it cannot tell: the box is taken as drawn on what shows, and said so
        assert label == [pytest.approx([0, 20 / 100, 12.5 / 80, 20 / 100, 15 / 80], abs=1e-6)]
    assert (f"EXIF orientation {tag}" in issues) == (tag != 1) and sum(s.images.values()) == 3


def test_a_few_unmatched_are_counted_listed_and_left_out(tmp_path):
    src = wild(tmp_path / "set", "annotations", "images", n=5)
    voc_xml(src / "annotations" / "lost.xml", [("cat", CAT)], filename="lost.jpg", xml_path="D:\\lost.jpg")
    (src / "images" / "a4.jpg").unlink()
    s = convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.25)
    assert s.unmatched == 2 and sum(s.images.values()) == 4
    listed = (tmp_path / "out" / "unmatched.txt").read_text().splitlines()
    assert len(listed) == 2 and "a4.xml" in listed[0] and "lost.xml" in listed[1] and "'lost.jpg'" in listed[1]
    assert json.loads((tmp_path / "out" / "dataset.json").read_text())["unmatched"] == 2
    assert "Unmatched: 2 annotations, left out" in Text.from_markup(s.render()).plain


def test_nothing_matched_names_the_folders_searched(tmp_path):
    src = wild(tmp_path / "set", "annotations", "images")
    for p in (src / "images").iterdir():
        p.rename(p.with_name(f"renamed-{p.name}"))
    with pytest.raises(UserError) as e:
        convert(src, fmt="voc", out=tmp_path / "out")
    msg = str(e.value)
    assert "all 4 annotations have no image" in msg and "\n" not in msg
    assert f"annotations in '{src / 'annotations'}'" in msg and str((src / "images").resolve()) in msg
    assert "--images DIR and --annotations DIR" in msg
    assert not (tmp_path / "out").exists()


def test_more_than_half_unmatched_is_an_error(tmp_path):
    src = wild(tmp_path / "set", "annotations", "images", n=5)
    for i in (0, 1, 2):
        (src / "images" / f"a{i}.jpg").unlink()
    with pytest.raises(UserError, match="3 of 5 annotations have no image"):
        convert(src, fmt="voc", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    image(src / "images" / "a0.jpg")  # 2 of 5 unmatched: converted
    assert convert(src, fmt="voc", out=tmp_path / "out").unmatched == 2


@pytest.mark.parametrize("make, expected", [
    (lambda src: (src / "JPEGImages" / "img2.jpg").unlink(), None),
    (lambda src: (src / "Annotations" / "img3.xml").write_text("<annotation><object>"), "not valid XML"),
    (lambda src: voc_xml(src / "Annotations" / "img3.xml", [("", (1, 1, 5, 5))], filename="img3.jpg"),
     "empty <name>"),
    (lambda src: (src / "Annotations" / "img3.xml").write_text(
        "<annotation><filename>img3.jpg</filename><object><name>cat</name></object></annotation>"), "bndbox"),
])
def test_broken_annotations(tmp_path, make, expected):
    src = make_voc(tmp_path / "voc")
    make(src)
    if expected is None:  # one image of five missing: converted without it
        assert convert(src, fmt="voc", out=tmp_path / "out").unmatched == 1
        return
    with pytest.raises(UserError, match=expected) as e:
        convert(src, fmt="voc", out=tmp_path / "out")
    assert "\n" not in str(e.value) and not (tmp_path / "out").exists()


def test_no_xml_anywhere(tmp_path):
    image(tmp_path / "set" / "images" / "a.jpg")
    with pytest.raises(UserError, match="no Pascal VOC XML .*pass --annotations DIR"):
        convert(tmp_path / "set", fmt="voc", out=tmp_path / "out")


def test_unknown_class_in_the_given_names(tmp_path):
    with pytest.raises(UserError, match=r"classes \['dog'\] that are not in the class list"):
        convert(make_voc(tmp_path / "voc"), fmt="voc", out=tmp_path / "out", names=["cat"])


def test_images_resized_since_they_were_annotated_get_their_boxes_scaled(tmp_path):
    """XML of 400x300 on 40x30 images, a box that only fits the 400x300 frame: the images were shrunk since, and the
    boxes shrink with them, r2's too, whose small box would also fit the 40x30 image (decided for the dataset, not
    per image). make_voc's img0 (400x300 declared, alone, its box inside the real 40x30 image) keeps its box."""
    src = tmp_path / "resized"
    for i in range(3):
        image(src / "JPEGImages" / f"r{i}.jpg")
        voc_xml(src / "Annotations" / f"r{i}.xml", [("cat", (40, 30, 200, 150) if i < 2 else (4, 3, 20, 15))],
                filename=f"r{i}.jpg", size=(400, 300))
    s = convert(src, fmt="voc", out=tmp_path / "out")
    assert s.checks == {"images resized since they were annotated (boxes scaled with them)": 3}
    got = labels_by_image(tmp_path / "out")
    assert got["r0.jpg"] == [pytest.approx([0, *INSIDE], abs=1e-6)]
    assert got["r2.jpg"] == [pytest.approx([0, 0.03, 0.03, 0.04, 0.04], abs=1e-6)]
    assert "says 400x300, the image is 40x30: boxes scaled" in (tmp_path / "out" / "issues.txt").read_text()

    kept = convert(make_voc(tmp_path / "voc"), fmt="voc", out=tmp_path / "out2")
    assert kept.checks["images of another size than their annotation says (boxes taken as drawn)"] == 1
    assert rows(tmp_path / "out2" / "labels" / "train" / "img0.txt") == [pytest.approx([0, *INSIDE], abs=1e-6)]


def test_what_voc_leaves_out_is_listed(tmp_path):
    """An image beside annotated ones with no XML, an XML in no ImageSets list, and boxes with no area: each named in
    issues.txt, none silently gone."""
    src = make_voc(tmp_path / "voc", n=6)
    (src / "Annotations" / "img5.xml").unlink()  # img5.jpg stays, annotated by nothing
    voc_xml(src / "Annotations" / "extra.xml", [("cat", (4, 3, 20, 15))], filename="extra.jpg")
    image(src / "JPEGImages" / "extra.jpg")
    s = convert(src, fmt="voc", out=tmp_path / "out")
    assert s.checks["images beside annotated ones that no annotation names (left out)"] == 1
    assert s.checks["annotations in none of the split lists read (left out)"] == 1
    issues = (tmp_path / "out" / "issues.txt").read_text()
    assert "img5.jpg: no annotation names this image" in issues
    assert "extra.xml: in none of the split lists read (trainval.txt, test.txt in" in issues
    assert "extra.jpg: no annotation" not in issues  # said once, as its XML
    assert issues.count("has no area inside the 40x30 image, dropped") == s.dropped == 2
    assert "listed in" in Text.from_markup(s.render()).plain.split("Boxes:")[1].splitlines()[0]


@pytest.mark.parametrize("encoding", ["GBK", "Big5", "Shift_JIS", "UTF-16"])
def test_xml_in_the_encoding_it_declares(tmp_path, encoding):
    """ElementTree's parser refuses multi-byte encodings: a Chinese dataset's GBK XML was a ValueError traceback."""
    src = tmp_path / "voc"
    name = {"GBK": "细胞", "Big5": "細胞", "Shift_JIS": "細胞", "UTF-16": "細胞"}[encoding]
    for i in range(4):
        image(src / "images" / f"im{i}.jpg", seed=i)
        xml = (f'<?xml version="1.0" encoding="{encoding}"?>\n<annotation><filename>im{i}.jpg</filename><object>'
               f'<name>{name if i % 2 else "cell"}</name><bndbox><xmin>4</xmin><ymin>3</ymin><xmax>20</xmax>'
               '<ymax>15</ymax></bndbox></object></annotation>')
        (src / "annotations").mkdir(parents=True, exist_ok=True)
        (src / "annotations" / f"im{i}.xml").write_bytes(xml.encode(encoding))
    s = convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.5)
    assert s.names == ["cell", name] and s.boxes == 4
    assert f"1: {name}" in s.data_yaml.read_text(encoding="utf-8")  # readable, not "\\u7EC6\\u80DE"
    (src / "annotations" / "im0.xml").write_bytes(b'<?xml version="1.0" encoding="utf8x"?><annotation/>')
    with pytest.raises(UserError, match="declares the encoding 'utf8x', which Python does not know: save it as UTF-8"):
        convert(src, fmt="voc", out=tmp_path / "out2")


def test_split_folders_of_a_roboflow_voc_export_are_the_published_split(tmp_path):
    """train/, valid/, test/ with the XML beside the images: the split was thrown away, the test images trained on."""
    src = tmp_path / "rf"
    for k, (split, n) in enumerate((("train", 3), ("valid", 2), ("test", 1))):
        for i in range(n):
            image(src / split / f"{split}{i}.jpg", seed=10 * k + i)
            voc_xml(src / split / f"{split}{i}.xml", [("cat", CAT)], filename=f"{split}{i}.jpg")
    s = convert(src, fmt="voc", out=tmp_path / "out")
    assert s.images == {"train": 3, "val": 2, "test": 1} and "published" in s.split
    assert sorted(p.name for p in (tmp_path / "out" / "images" / "test").iterdir()) == ["test0.jpg"]


def test_a_dataset_without_a_box_is_refused(tmp_path):
    # a VOC folder read as YOLO: every image background, which trains nothing
    for i in range(4):
        image(tmp_path / "voc" / f"im{i}.jpg", seed=i)
        voc_xml(tmp_path / "voc" / f"im{i}.xml", [("cat", CAT)], filename=f"im{i}.jpg")
    with pytest.raises(UserError, match="no box in .*every image would be background; is it a YOLO dataset"):
        convert(tmp_path / "voc", fmt="yolo", out=tmp_path / "out", names=["cat"])
    assert not (tmp_path / "out").exists()


def test_flat_annotations_with_split_image_folders_keep_the_split(tmp_path):
    """Annotations/ flat, images in images/train and images/val: the published val images went into a seeded split."""
    src = tmp_path / "voc"
    for k, (split, n) in enumerate((("train", 3), ("val", 2))):
        for i in range(n):
            image(src / "images" / split / f"{split}{i}.jpg", seed=10 * k + i)
            voc_xml(src / "Annotations" / f"{split}{i}.xml", [("cat", CAT)], filename=f"{split}{i}.jpg")
    s = convert(src, fmt="voc", out=tmp_path / "out")
    assert s.images == {"train": 3, "val": 2} and "published" in s.split
    assert sorted(p.name for p in (tmp_path / "out" / "images" / "val").iterdir()) == ["val0.jpg", "val1.jpg"]


def test_folder_holding_vocdevkit_keeps_the_published_split(tmp_path):
    """A VOC tarball extracted into voc/: voc/VOCdevkit/VOC2012 was not looked for, and val.txt's images were split at
    random (seed 0, val fraction 0.2) with no word said. It converts as VOCdevkit/ itself does."""
    src = make_voc(tmp_path / "voc" / "VOCdevkit" / "VOC2012")
    main = src / "ImageSets" / "Main"
    for f in ("trainval.txt", "test.txt"):  # VOC2012 publishes train.txt and val.txt
        (main / f).unlink()
    (main / "train.txt").write_text("img0\nimg1\nimg3\n")
    (main / "val.txt").write_text("img2\nimg4\n")
    s = convert(tmp_path / "voc", fmt="voc", out=tmp_path / "out")
    assert s.split == "published split" and s.images == {"train": 3, "val": 2}
    assert sorted(p.name for p in (tmp_path / "out" / "images" / "val").iterdir()) == ["img2.jpg", "img4.jpg"]
    assert files(tmp_path / "out" / "labels") == files(convert(tmp_path / "voc" / "VOCdevkit", fmt="voc",
                                                               out=tmp_path / "out2").data_yaml.parent / "labels")
    make_voc(tmp_path / "voc" / "VOCdevkit" / "VOC2007")  # several years: one at a time, as from VOCdevkit/
    with pytest.raises(UserError, match="VOCdevkit' holds several VOC datasets .*VOC2007, VOC2012"):
        convert(tmp_path / "voc", fmt="voc", out=tmp_path / "out3")


def test_split_lists_left_unread_refuse_a_seeded_split(tmp_path):
    """A VOC dataset deeper than the reader looks: its published split is named, not silently replaced by a seeded
    one; --annotations DIR asks for the seeded split."""
    make_voc(tmp_path / "downloads" / "voc" / "VOCdevkit" / "VOC2007")
    with pytest.raises(UserError, match=r"ImageSets/Main' lists the published split of .*VOC2007', .*pass .*VOC2007'"):
        convert(tmp_path / "downloads", fmt="voc", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    s = convert(tmp_path / "downloads", fmt="voc", out=tmp_path / "out", annotations=tmp_path / "downloads")
    assert "seeded" in s.split and sum(s.images.values()) == 5
    main = tmp_path / "downloads" / "voc" / "VOCdevkit" / "VOC2007" / "ImageSets" / "Main"
    for name in ("trainval.txt", "train.txt"):
        if (main / name).exists():
            (main / name).write_bytes(b"\xff\xfe img0\n")  # not UTF-8: publishes nothing this reader could use
    s = convert(tmp_path / "downloads", fmt="voc", out=tmp_path / "out2")  # was a UnicodeDecodeError traceback
    assert "seeded" in s.split


def test_difficult_and_truncated_objects_are_kept(tmp_path):
    """parse_xml's promise: difficult and truncated objects are real objects, and their boxes are written."""
    src = wild(tmp_path / "set", "annotations", "images")
    (src / "annotations" / "a0.xml").write_text(
        "<annotation><filename>a0.jpg</filename>"
        "<object><name>cat</name><truncated>1</truncated><difficult>1</difficult><bndbox><xmin>4</xmin>"
        "<ymin>3</ymin><xmax>20</xmax><ymax>15</ymax></bndbox></object>"
        "<object><name>dog</name><truncated>1</truncated><difficult>0</difficult><bndbox><xmin>30</xmin>"
        "<ymin>20</ymin><xmax>50</xmax><ymax>40</ymax></bndbox></object></annotation>")
    s = convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.25)
    assert s.boxes == 5
    assert sorted(labels_by_image(tmp_path / "out")["a0.jpg"]) == [pytest.approx([0, *INSIDE], abs=1e-6),
                                                                   pytest.approx([1, *CLIPPED], abs=1e-6)]


def test_two_annotations_of_one_image_keep_the_first(tmp_path):
    """A copied XML naming an image already annotated would write its boxes twice or swap them: it is unmatched."""
    src = wild(tmp_path / "set", "annotations", "images")
    voc_xml(src / "annotations" / "copy.xml", [("cat", CAT)], filename="a1.jpg")
    s = convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.25)
    assert s.unmatched == 1 and sum(s.images.values()) == 4
    assert "copy.xml: it names 'a1.jpg', which is the image of" in (tmp_path / "out" / "unmatched.txt").read_text()
    assert labels_by_image(tmp_path / "out")["a1.jpg"] == [pytest.approx([1, *CLIPPED], abs=1e-6)]


def test_one_name_in_two_unrelated_folders_is_not_guessed(tmp_path):
    """images/day/x.jpg and images/night/x.jpg, neither beside x.xml: which one it annotates is unknown."""
    src = wild(tmp_path / "set", "annotations", "images")
    for k, sub in enumerate(("day", "night")):
        image(src / "images" / sub / "x.jpg", seed=20 + k)
    voc_xml(src / "annotations" / "x.xml", [("cat", CAT)], filename="x.jpg")
    s = convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.25)
    assert s.unmatched == 1 and sum(s.images.values()) == 4
    assert "2 images are called 'x.jpg'" in (tmp_path / "out" / "unmatched.txt").read_text()


def test_names_differing_only_in_case_find_the_exact_spelling(tmp_path):
    """a0.jpg and A0.jpg are two files on Linux: an XML naming A0.jpg gets A0.jpg, not whichever came first."""
    src = wild(tmp_path / "set", "annotations", "images")
    upper = image(src / "images" / "A0.jpg", seed=50)
    voc_xml(src / "annotations" / "upper.xml", [("dog", DOG)], filename="A0.jpg")
    s = convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.2)
    assert s.unmatched == 0 and sum(s.images.values()) == 5
    for p in (tmp_path / "out" / "images").rglob("*.jpg"):
        label = rows(tmp_path / "out" / "labels" / p.parent.name / f"{p.stem}.txt")
        if p.read_bytes() == upper.read_bytes():
            assert label == [pytest.approx([1, *CLIPPED], abs=1e-6)]
        elif p.read_bytes() == (src / "images" / "a0.jpg").read_bytes():
            assert label == [pytest.approx([0, *INSIDE], abs=1e-6)]


def test_a_train_list_alone_publishes_no_split(tmp_path):
    """No val (or test) list means no published split: a seeded one holds images out, none are trained on twice."""
    src = make_voc(tmp_path / "voc", n=8, splits=False)
    (src / "ImageSets" / "Main").mkdir(parents=True)
    (src / "ImageSets" / "Main" / "train.txt").write_text("".join(f"img{i}\n" for i in range(8)))
    s = convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.25)
    assert "seeded" in s.split and s.images == {"train": 6, "val": 2}


def test_annotations_given_leave_the_split_lists_unread(tmp_path):
    """--annotations DIR asks for a seeded split (as the refusal of unread lists advises): ImageSets is not used."""
    src = make_voc(tmp_path / "voc", n=8)
    s = convert(src, fmt="voc", out=tmp_path / "out", annotations=src / "Annotations", val_fraction=0.25)
    assert "seeded" in s.split and s.images == {"train": 6, "val": 2} and s.checks.get(
        "annotations in none of the split lists read (left out)", 0) == 0


def test_an_annotation_folder_without_xml_is_passed_over(tmp_path):
    """labels/ holding YOLO .txt beside images/ with their XML: the XML beside the images are the annotations."""
    src = wild(tmp_path / "set", None, "images")
    (src / "labels").mkdir()
    (src / "labels" / "a0.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    s = convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.25)
    assert (s.images, s.unmatched, s.names) == ({"train": 3, "val": 1}, 0, ["cat", "dog"])


def test_a_size_written_as_decimals_still_scales_the_boxes(tmp_path):
    """Some tools write <width>400.0</width>: the declared size is still read, so a shrunk image's boxes shrink."""
    src = tmp_path / "resized"
    for i in range(2):
        image(src / "JPEGImages" / f"r{i}.jpg")
        voc_xml(src / "Annotations" / f"r{i}.xml", [("cat", (40, 30, 200, 150))], filename=f"r{i}.jpg",
                size=(400.0, 300.0))
    s = convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.5)
    assert s.checks == {"images resized since they were annotated (boxes scaled with them)": 2}
    assert labels_by_image(tmp_path / "out")["r0.jpg"] == [pytest.approx([0, *INSIDE], abs=1e-6)]


def test_jpegimages_is_preferred_to_images(tmp_path):
    """IMAGE_DIRS is an order of preference: a VOC folder's JPEGImages/ wins over a stray images/ of the same names."""
    src = wild(tmp_path / "set", "Annotations", "JPEGImages")
    for i in range(4):
        image(src / "images" / f"a{i}.jpg", seed=100 + i)  # e.g. previews of another size or crop
    convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.25)
    out_images = {p.name: p.read_bytes() for p in (tmp_path / "out" / "images").rglob("*.jpg")}
    assert out_images == {f"a{i}.jpg": (src / "JPEGImages" / f"a{i}.jpg").read_bytes() for i in range(4)}


def test_images_beside_the_given_annotations_are_found(tmp_path):
    """--annotations DIR whose XML lie beside their images, outside SRC: that folder is searched for the images."""
    (tmp_path / "set").mkdir()
    other = wild(tmp_path / "other", None, "xml_and_images")
    s = convert(tmp_path / "set", fmt="voc", out=tmp_path / "out", annotations=other / "xml_and_images",
                val_fraction=0.25)
    assert s.unmatched == 0 and s.images == {"train": 3, "val": 1}


def test_split_lists_saved_on_windows_are_read(tmp_path):
    """A list saved by Notepad starts with a BOM and may end lines with spaces and CRLF: its ids are still ids."""
    src = make_voc(tmp_path / "voc")
    main = src / "ImageSets" / "Main"
    (main / "trainval.txt").write_bytes(b"\xef\xbb\xbfimg0 \r\nimg1\r\nimg2 \r\n")
    s = convert(src, fmt="voc", out=tmp_path / "out")
    assert s.images == {"train": 3, "val": 2} and s.unmatched == 0
    assert s.checks.get("annotations in none of the split lists read (left out)", 0) == 0


def test_among_images_of_one_name_the_folder_named_like_the_xmls_wins(tmp_path):
    """annotations/day/x.xml with images/day/x.jpg and images/night/x.jpg: the day one, by its folder's name."""
    src = wild(tmp_path / "set", "annotations", "images")
    day = image(src / "images" / "day" / "x.jpg", seed=20)
    image(src / "images" / "night" / "x.jpg", seed=21)
    voc_xml(src / "annotations" / "day" / "x.xml", [("cat", CAT)], filename="x.jpg")
    s = convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.2)
    assert s.unmatched == 0 and sum(s.images.values()) == 5
    assert any(p.read_bytes() == day.read_bytes() for p in (tmp_path / "out" / "images").rglob("x*.jpg"))


def test_a_main_folder_outside_imagesets_publishes_nothing(tmp_path):
    """Only ImageSets/Main holds VOC split lists: some other Main/ with a train.txt and val.txt does not stop a
    seeded split."""
    src = wild(tmp_path / "set", "annotations", "images")
    (src / "Main").mkdir()
    (src / "Main" / "train.txt").write_text("a0\na1\n")
    (src / "Main" / "val.txt").write_text("a2\n")
    s = convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.25)
    assert "seeded" in s.split and s.images == {"train": 3, "val": 1}


@pytest.mark.parametrize("stale", ["a", "c"])
def test_an_xml_copied_with_another_image_s_filename_never_labels_that_image(tmp_path, stale):
    """labelImg keeps <filename> when an XML is copied: a.xml (or c.xml) naming b.png put its boxes on b.png and
    dropped b.xml whenever it sorted first. The XML named after the image keeps it, whichever sorts first."""
    src = tmp_path / "set"
    boxes = {"a": (2, 2, 10, 10), "b": (20, 10, 38, 28), "c": (4, 12, 16, 24), "d": (6, 4, 30, 20)}
    for stem, box in boxes.items():
        image(src / f"{stem}.png", seed=ord(stem))
        voc_xml(src / f"{stem}.xml", [("cat", box)], filename="b.png" if stem == stale else f"{stem}.png")
    s = convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.34, seed=0)
    out = tmp_path / "out"
    assert labels_by_image(out)["b.png"] == [pytest.approx([0, 29 / 40, 19 / 30, 18 / 40, 18 / 30], abs=1e-6)]
    assert s.unmatched == 1 and f"{stale}.png" not in labels_by_image(out)
    assert f"{stale}.xml: it names 'b.png', which is the image of '{src / 'b.xml'}' (named after it)" in (
        out / "unmatched.txt").read_text()
    assert f"{stale}.png: its annotation '{src / (stale + '.xml')}' names another image, left out" in (
        out / "issues.txt").read_text()


def test_every_image_format_ultralytics_trains_on_is_found(tmp_path):
    """A .jp2 was 'no image named i0.jp2' though it was there: VOC kept a list of its own, narrower than Ultralytics'."""
    import numpy as np
    from PIL import Image

    src = tmp_path / "set"
    src.mkdir()
    Image.fromarray(np.full((48, 64, 3), 90, np.uint8)).save(src / "i0.jp2")
    voc_xml(src / "i0.xml", [("cat", CAT)], filename="i0.jp2")
    for k in range(2):
        image(src / f"plain{k}.jpg", seed=k)
        voc_xml(src / f"plain{k}.xml", [("cat", CAT)], filename=f"plain{k}.jpg")
    s = convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.34, seed=0)
    assert s.unmatched == 0 and sum(s.images.values()) == 3 and "i0.jp2" in labels_by_image(tmp_path / "out")


def test_an_image_found_by_stem_beside_its_phone_original_is_the_usual_format(tmp_path):
    """<filename>IMG_1</filename> (no suffix) with IMG_1.jpg and the phone's IMG_1.heic beside it: once every format
    Ultralytics reads was searched, the stem named two images and the annotation was left out."""
    src = tmp_path / "set"
    for k in range(3):
        image(src / f"IMG_{k}.jpg", seed=k)
        (src / f"IMG_{k}.heic").write_bytes(b"a phone's original")
        voc_xml(src / f"IMG_{k}.xml", [("cat", CAT)], filename=f"IMG_{k}")
    s = convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.34, seed=0)
    assert s.unmatched == 0 and sorted(labels_by_image(tmp_path / "out")) == ["IMG_0.jpg", "IMG_1.jpg", "IMG_2.jpg"]


def cvat_voc(root: Path, subsets: dict[str, int], per_class: bool = False) -> Path:
    """CVAT's Pascal VOC 1.1: one ImageSets/Main list per subset, named as the subset (Train.txt); each image of
    subset S is S<i>.jpg with one cat, and a dog too in odd ones. `per_class`: also the lists <label>_<S>.txt of
    'id 1' or 'id -1' that datumaro writes for images with tags."""
    main = root / "ImageSets" / "Main"
    main.mkdir(parents=True)
    for subset, n in subsets.items():
        for i in range(n):
            image(root / "JPEGImages" / f"{subset}{i}.jpg", seed=len(subset) * 10 + i)
            voc_xml(root / "Annotations" / f"{subset}{i}.xml",
                    [("cat", (4, 3, 20, 15))] + [("dog", (22, 3, 38, 25))] * (i % 2), filename=f"{subset}{i}.jpg")
        (main / f"{subset}.txt").write_text("".join(f"{subset}{i}\n" for i in range(n)))
        for label in ("cat", "dog", "traffic_light") if per_class else ():
            (main / f"{label}_{subset}.txt").write_text("".join(f"{subset}{i} {1 if i % 2 else -1}\n" for i in
                                                                range(n)))
    return root


def split_names(out: Path) -> dict[str, list[str]]:
    return {d.name: sorted(p.name for p in d.iterdir()) for d in sorted((out / "images").iterdir())}


def test_train_val_and_test_lists_without_trainval_keep_all_three(tmp_path):
    """CVAT's train.txt, val.txt and test.txt: val.txt was never read and its images were left out as "in no
    ImageSets/Main list", while test became val. Each keeps its split now, as the COCO and YOLO readers keep test."""
    src = cvat_voc(tmp_path / "voc", {"train": 4, "val": 2, "test": 2})
    s = convert(src, fmt="voc", out=tmp_path / "out")
    assert "published" in s.split and s.images == {"train": 4, "val": 2, "test": 2}
    assert s.boxes == 12 and s.names == ["cat", "dog"] and not s.checks and s.unmatched == 0
    assert split_names(tmp_path / "out") == {"test": ["test0.jpg", "test1.jpg"], "train": [f"train{i}.jpg" for i in
                                             range(4)], "val": ["val0.jpg", "val1.jpg"]}
    assert yaml.safe_load(s.data_yaml.read_text())["test"] == "images/test"


@pytest.mark.parametrize("subsets", [("Train", "Validation"), ("train", "valid"), ("Train", "Test")])
def test_cvat_and_roboflow_list_names_publish_the_split(tmp_path, subsets):
    """Train.txt and Validation.txt (CVAT's subsets as its UI names them), valid.txt (Roboflow's): the split was
    dropped for a seeded one that trained on 5 of 6 validation images; a lone test list is the val split."""
    train, held = subsets
    src = cvat_voc(tmp_path / "voc", {train: 4, held: 3})
    s = convert(src, fmt="voc", out=tmp_path / "out")
    assert "published" in s.split and s.images == {"train": 4, "val": 3} and s.boxes == 10
    assert split_names(tmp_path / "out") == {"train": [f"{train}{i}.jpg" for i in range(4)],
                                             "val": [f"{held}{i}.jpg" for i in range(3)]}


def test_lists_of_unknown_subsets_say_the_split_was_seeded(tmp_path):
    """Train.txt beside Holdout.txt publishes a split this reader cannot read: the seeded one it makes instead may
    train on held-out images, and the summary says so."""
    src = cvat_voc(tmp_path / "voc", {"Train": 6, "Holdout": 2})
    s = convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.25)
    assert "seeded" in s.split and s.images == {"train": 6, "val": 2} and s.boxes == 12
    assert s.checks == {UNKNOWN: 1}
    assert "does not know: 'Holdout' in Holdout.txt (it reads trainval, train, val" in (
        tmp_path / "out" / "issues.txt").read_text()
    assert "issues.txt" in Text.from_markup(s.render()).plain.split("Checks:")[1]


def test_an_annotation_left_out_is_said_to_be_in_none_of_the_lists_read(tmp_path):
    """VOC2007's lists with an XML that only val.txt names: val.txt is not read beside test.txt (trainval holds
    val), so the line names the lists that were read, not "in no list"."""
    src = make_voc(tmp_path / "voc", n=6)
    (src / "ImageSets" / "Main" / "val.txt").write_text("img2\nimg5\n")
    s = convert(src, fmt="voc", out=tmp_path / "out")
    assert s.images == {"train": 3, "val": 2} and s.checks[UNLISTED] == 1
    read = f"in none of the split lists read (trainval.txt, test.txt in '{src / 'ImageSets' / 'Main'}'), left out"
    assert f"img5.xml: {read}" in (tmp_path / "out" / "issues.txt").read_text()


def test_per_class_lists_of_one_subset_are_not_unknown_subsets(tmp_path):
    """CVAT's VOC export of its one subset 'default' writes default.txt and, for tagged images, cat_default.txt,
    dog_default.txt, ...: each was counted as a list of an unknown subset, and the user told a seeded split "may
    train on their held-out images". A per-class list <x>_<S>.txt is subset S's (VOCdevkit's aeroplane_train.txt
    too), and one subset has no held-out images; two are said, once each."""
    src = cvat_voc(tmp_path / "one", {"default": 8}, per_class=True)
    s = convert(src, fmt="voc", out=tmp_path / "out", val_fraction=0.25)
    assert "seeded" in s.split and s.images == {"train": 6, "val": 2} and s.boxes == 12 and not s.checks
    assert not (tmp_path / "out" / "issues.txt").exists()
    src = cvat_voc(tmp_path / "two", {"default": 6, "Holdout": 2}, per_class=True)
    s = convert(src, fmt="voc", out=tmp_path / "out2", val_fraction=0.25)
    assert "seeded" in s.split and s.images == {"train": 6, "val": 2} and s.checks == {UNKNOWN: 2}
    issues = (tmp_path / "out2" / "issues.txt").read_text()
    assert ("does not know: 'default' in default.txt, cat_default.txt, dog_default.txt and 1 more; 'Holdout' in "
            "Holdout.txt, cat_Holdout.txt, dog_Holdout.txt and 1 more (it reads") in issues
    src = cvat_voc(tmp_path / "known", {"train": 6, "Holdout": 2}, per_class=True)  # beside a known one
    s = convert(src, fmt="voc", out=tmp_path / "out3", val_fraction=0.25)
    assert s.checks == {UNKNOWN: 1} and "does not know: 'Holdout' in Holdout.txt," in (
        tmp_path / "out3" / "issues.txt").read_text()
