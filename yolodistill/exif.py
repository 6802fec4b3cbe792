"""EXIF orientation: Ultralytics trains on an image turned upright as its EXIF tag says (cv2.imread and exif_size
both apply it), while a pixel annotation may have been drawn on the stored pixels or on the turned image.

`read` gives both sizes and the tag; `upright_box` moves a box from the stored pixels onto the turned image. The
annotation's own size field tells which it was drawn on only where the turn swaps width and height (tags 5 to 8).
"""

from __future__ import annotations

from pathlib import Path

ORIENTATION = 0x0112  # the EXIF tag


def read(path: Path) -> tuple[tuple[int, int], tuple[int, int], int] | None:
    """(width, height) as Ultralytics loads it (its exif_size, which asks cv2 where formats differ) and as stored,
    and the orientation tag (1: none); None when unreadable."""
    from PIL import UnidentifiedImageError
    from ultralytics.data.utils import exif_size

    from .utils import open_image

    try:
        with open_image(path) as img:
            stored, upright = img.size, exif_size(img)
            tag = int(img.getexif().get(ORIENTATION, 1) or 1)
            if img.format == "TIFF" and {256, 257} <= set(img.tag_v2):  # PIL gives a TIFF's size turned already
                stored = (int(img.tag_v2[256]), int(img.tag_v2[257]))  # ImageWidth, ImageLength: as stored
    except (OSError, UnidentifiedImageError, ValueError, ImportError):  # ImportError: a .heic without its plugin
        return None
    return tuple(upright), tuple(stored), tag if 1 <= tag <= 8 else 1


def skipped(path: Path) -> str | None:
    """Why Ultralytics' dataset check (check_image) would leave out this readable image, or None: PIL's verify fails,
    a side under 10 px, a format it does not train on whatever the suffix, or a JPEG cut short that it cannot restore
    (it restores, in place, one that still decodes)."""
    from PIL import ImageOps, UnidentifiedImageError
    from ultralytics.data.utils import IMG_FORMATS, exif_size

    from .utils import open_image

    try:
        with open_image(path) as img:
            img.verify()
        with open_image(path) as img:
            w, h = exif_size(img)
            if min(w, h) < 10:
                return f"its size {w}x{h} is under 10 px, which Ultralytics does not train on"
            if str(img.format).lower() not in IMG_FORMATS | {"jpeg2000"}:  # a GIF saved as .jpg
                return f"it is a {img.format} file, a format Ultralytics does not train on"
            if img.format == "JPEG":  # as check_image: a JPEG, not an MPO
                with open(path, "rb") as f:
                    f.seek(-2, 2)
                    if f.read() != b"\xff\xd9":  # no end marker: cut short, or trailing bytes
                        ImageOps.exif_transpose(img).load()
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, ImportError) as e:
        return f"Ultralytics cannot read it ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
    return None


def upright_box(box: tuple[float, float, float, float], tag: int, stored: tuple[int, int]) -> tuple[float, ...]:
    """A box (x1, y1, x2, y2) on the stored pixels, moved to where the image turned by `tag` shows it (PIL's
    exif_transpose: 2 mirror, 3 half turn, 4 flip, 5 transpose, 6 quarter turn clockwise, 7 transverse, 8 anticlockwise)."""
    w, h = stored

    def move(x: float, y: float) -> tuple[float, float]:
        return {1: (x, y), 2: (w - x, y), 3: (w - x, h - y), 4: (x, h - y), 5: (y, x), 6: (h - y, x),
                7: (h - y, w - x), 8: (y, w - x)}[tag]

    (ax, ay), (bx, by) = move(*box[:2]), move(*box[2:])
    return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)
