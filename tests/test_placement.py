"""Where converted boxes land: turned with an EXIF-turned image as PIL turns its pixels, scaled with a resized image
only where the sizes plainly say so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from yolodistill import exif, placement
from yolodistill.convert import Item, Source

from .builders import exif_image, image


def item(declared, size, boxes, stored=None, tag=1) -> Item:
    return Item(path=Path("a.jpg"), boxes=list(boxes), size=size, stored=stored, tag=tag, declared=declared)


def placed(it: Item) -> tuple[Item, Source]:
    """`it` placed as convert places it, with the resized pairs decided over it alone."""
    source = Source(names=["cat"], items=[it], searched="here")
    placement.place(it, source, placement.resized_pairs([it]))
    return it, source


@pytest.mark.parametrize("tag", range(1, 9))
def test_upright_box_lands_where_pil_turns_the_pixels(tmp_path, tag):
    """Every tag, mirrors included (convert only reaches 5 to 8, but the function promises all): the box must cover
    the patch in the image PIL's exif_transpose gives."""
    path = exif_image(tmp_path / "a.png", tag)
    with Image.open(path) as img:
        shown = np.asarray(ImageOps.exif_transpose(img))
    ys, xs = np.where(shown[..., 0] > 127)
    assert exif.upright_box((10, 5, 30, 20), tag, (100, 80)) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


def test_read_gives_the_upright_size_the_stored_size_and_the_tag(tmp_path):
    """Tag 6 turns a 100x80 photo to 80x100; image_size is the upright one, the size Ultralytics trains on."""
    path = exif_image(tmp_path / "a.png", 6)
    assert exif.read(path) == ((80, 100), (100, 80), 6)
    assert placement.image_size(path) == (80, 100)
    (tmp_path / "b.jpg").write_bytes(b"not an image")
    assert exif.read(tmp_path / "b.jpg") is None and placement.image_size(tmp_path / "b.jpg") is None


def test_an_out_of_range_orientation_is_read_as_none(tmp_path):
    """Some cameras write 0 or 9+: no turn, so no upright_box lookup that would fail on an unknown tag."""
    path = exif_image(tmp_path / "a.png", 9)
    assert exif.read(path)[2] == 1
    assert exif.read(image(tmp_path / "plain.jpg"))[2] == 1  # no EXIF at all


def test_each_axis_is_scaled_by_its_own_factor():
    """333x250 shrunk to 100x75 (factors 0.3003 and 0.3): a box reaching the annotation's corner reaches the image's."""
    it, source = placed(item((333, 250), (100, 75), [(0, 33.3, 25, 333, 250)]))
    assert it.boxes == [(0, pytest.approx(10), pytest.approx(7.5), pytest.approx(100), pytest.approx(75))]
    assert source.checks == {placement.RESIZED: 1}


def test_portrait_images_resized_get_their_boxes_scaled():
    """A box low in a 300x400 frame fits the annotation's height, not its width: still a resized image."""
    it, source = placed(item((300, 400), (30, 40), [(0, 10, 300, 200, 390)]))
    assert it.boxes == [(0, pytest.approx(1), pytest.approx(30), pytest.approx(20), pytest.approx(39))]
    assert source.checks == {placement.RESIZED: 1}


@pytest.mark.parametrize("size, box, why", [
    ((40, 60), (0, 40, 30, 200, 150), "another shape, not one factor"),
    ((40, 30), (0, 40, 30, 500, 150), "the box fits neither size: the size field is suspect"),
    ((40, 30), (0, 4, 3, 20, 15), "the box fits the image as it is"),
])
def test_boxes_are_taken_as_drawn_unless_the_sizes_plainly_say_resized(size, box, why):
    """Scaling a box by a wrong factor moves it off its object: only the plain case scales, the rest are flagged."""
    it, source = placed(item((400, 300), size, [box]))
    assert it.boxes == [box], why
    assert source.checks == {placement.OTHER_SIZE: 1}


@pytest.mark.parametrize("declared", [(40, 30), (0, 0), None])
def test_an_annotation_of_the_images_own_size_or_no_size_is_left_alone(declared):
    """Its own size, none, or 0x0 (as some tools write when they do not know): nothing to place, nothing to flag."""
    it, source = placed(item(declared, (40, 30), [(0, 4, 3, 20, 15)]))
    assert it.boxes == [(0, 4, 3, 20, 15)] and source.checks == {} and source.issues == []
