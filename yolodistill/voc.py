"""Pascal VOC XML in the layouts found in the wild: the VOCdevkit names (Annotations/, JPEGImages/, ImageSets/Main/),
annotations/ or annots/ or labels/ beside images/, XML beside each image, or folders named with --images and
--annotations. Datasets found online rarely keep the VOCdevkit names, and their XML often names an image by a
`filename` or `path` that differs from the file on disk.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path, PureWindowsPath

from .convert import Item, Source
from .errors import UserError
from .layout import format_hint
from .utils import files_under
from .subsets import folder_splits

# Matched case-insensitively, in this order of preference.
ANNOTATION_DIRS = ("annotations", "annots", "annotation", "labels", "xml", "xmls")
IMAGE_DIRS = ("jpegimages", "images", "imgs", "img", "photos", "pictures")
UNLISTED = "annotations in none of the split lists read (left out)"
UNKNOWN = "subsets of unknown names in ImageSets/Main (seeded split made instead)"
# ImageSets/Main list names (lower-cased) by the split they publish: VOC's own, then CVAT's and Roboflow's spellings
LIST_WORDS = {"trainval": "trainval", "train": "train", "val": "val", "valid": "val", "validation": "val",
              "test": "test"}
UNANNOTATED = "images beside annotated ones that no annotation names (left out)"
COMMON = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")  # preferred, in order, among images of one stem


class ImageIndex:
    """The image files under some folders, found by file name or stem, case-insensitively; the folders are searched
    in order, so the first one that holds a name wins."""

    def __init__(self, folders: list[Path]):
        from .unlabeled import image_suffixes  # Ultralytics' own list: the formats it trains on

        self.folders = list(dict.fromkeys(f.resolve() for f in folders if f.is_dir()))
        self.suffixes = image_suffixes()
        self.by_name: list[dict[str, list[Path]]] = []
        self.by_stem: list[dict[str, list[Path]]] = []
        for folder in self.folders:
            names: dict[str, list[Path]] = {}
            stems: dict[str, list[Path]] = {}
            for p in files_under(folder):
                if p.suffix.lower() in self.suffixes:
                    names.setdefault(p.name.lower(), []).append(p)
                    stems.setdefault(p.stem.lower(), []).append(p)
            self.by_name.append(names)
            self.by_stem.append(stems)
        self.groups: dict[tuple, dict[str, list[Path]]] = {}  # hits of one name split by spelling, then folder name

    def among(self, key: tuple, hits: list[Path], by) -> dict[str, list[Path]]:
        """`hits` grouped `by` once: filtering every image of one name for each annotation was quadratic (one folder
        per sample, each with its image.jpg: 4000 took a minute)."""
        if key not in self.groups:
            self.groups[key] = {}
            for p in hits:
                self.groups[key].setdefault(by(p), []).append(p)
        return self.groups[key]

    def describe(self) -> str:
        return ", ".join(f"'{f}'" for f in self.folders) or "no existing folder"

    def find(self, name: str, near: Path | None = None, stem: bool = False) -> tuple[Path | None, str]:
        """The image called `name` (or with stem `name` and any image suffix), and why not when there is none or
        several: among several, the exact spelling, then the one beside `near` (the annotation) wins."""
        key = name.lower()
        for i, index in enumerate(self.by_stem if stem else self.by_name):
            hits = index.get(key, [])
            if len(hits) > 1:
                hits = self.among((i, stem, key), hits, lambda p: p.stem if stem else p.name).get(name) or hits
            if len(hits) > 1 and near is not None:  # its own folder, or one of that name (beside a parallel tree)
                hits = self.among((i, stem, key, name), hits, lambda p: p.parent.name).get(near.parent.name) or hits
            if len(hits) > 1 and stem:  # IMG_1.jpg beside the phone's IMG_1.heic: the usual format wins
                hits = [p for p in hits if common_rank(p) == min(map(common_rank, hits))]
            if len(hits) == 1:
                return hits[0], ""
            if hits:
                return None, f"{len(hits)} images are called '{name}'"
        return None, ""


def common_rank(image: Path) -> int:
    suffix = image.suffix.lower()
    return COMMON.index(suffix) if suffix in COMMON else len(COMMON)


def xml_files(folder: Path) -> list[Path]:
    return [p for p in files_under(folder) if p.suffix.lower() == ".xml"]


def read(src: Path, names: list[str] | None, images: Path | None, annotations: Path | None) -> Source:
    """Images and boxes of a VOC dataset; XML whose image cannot be found are listed, not fatal (see convert)."""
    root = voc_root(src)
    ann_dir = annotations or annotation_dir(root)
    folders = [images] if images else [*children(root, IMAGE_DIRS), ann_dir, root]
    index = ImageIndex(folders)
    searched = f"annotations in '{ann_dir}', images in {index.describe()}"
    main = root / "ImageSets" / "Main"
    splits, read_lists = published_split(main) if annotations is None else ({}, [])
    unmatched: list[str] = []
    issues, checks, left = [], {}, []
    if splits:
        xmls = []
        for stem, split in splits.items():
            xml = ann_dir / f"{stem}.xml"
            if xml.is_file():
                xmls.append((xml, split))
            else:
                unmatched.append(f"{stem}: listed in ImageSets/Main but there is no '{xml}'")
        listed = {xml.resolve() for xml, _ in xmls}
        left = [p for p in xml_files(ann_dir) if p.resolve() not in listed]
        issues += [f"{p}: in none of the split lists read ({', '.join(read_lists)} in '{main}'), left out"
                   for p in left]
        checks[UNLISTED] = len(left)
    else:  # train/, valid/, test/ folders (Roboflow's VOC export) are the published split, as for COCO and YOLO
        found_xml = xml_files(ann_dir)
        by_folder = (folder_splits(found_xml, ann_dir) if annotations is None else None) or {}
        xmls = [(p, by_folder.get(p)) for p in found_xml]
    parsed, owner, stale = [], {}, {}
    for xml, split in xmls:
        filename, path, objects, size = parse_xml(xml)
        image, why = resolve(index, xml, filename, path)
        if image is None:
            unmatched.append(f"{xml}: {why}")
            continue
        parsed.append((xml, split, image, objects, size))
        # of XMLs naming one image, the one named after it (a copied XML keeps its <filename>); else the first
        if image not in owner or (named_after(xml, image) and not named_after(owner[image], image)):
            owner[image] = xml
    found, claimed = [], {}
    for xml, split, image, objects, size in parsed:
        if owner[image] != xml:
            unmatched.append(f"{xml}: it names '{image.name}', which is the image of '{owner[image]}'"
                             + (" (named after it): fix its <filename> if it annotates another image"
                                if named_after(owner[image], image) else ""))
            stale[xml.stem.lower()] = xml
        else:
            claimed[image] = xml
            found.append((image, objects, split, size))
    if not splits and not any(split for _, _, split, _ in found) and images is None:  # flat XML, split image folders
        by_image = folder_splits([image for image, *_ in found], root) if all(
            image.is_relative_to(root) for image, *_ in found) else None
        found = [(image, objects, (by_image or {}).get(image), size) for image, objects, _, size in found]
    if annotations is None and not splits and not all(split for _, _, split, _ in found):
        refuse_unread_lists(root)
        if unknown := unread_subsets(main):
            said = "; ".join(f"'{Path(lists[0]).stem[-len(s):]}' in {', '.join(lists[:3])}"
                             + (f" and {len(lists) - 3} more" if len(lists) > 3 else "") for s, lists in unknown.items())
            issues.append(f"{main}: lists of subsets this reader does not know: {said} (it reads "
                          f"{', '.join(LIST_WORDS)}): a seeded split was made instead, which may train on their "
                          "held-out images; rename the lists to keep their split")
            checks[UNKNOWN] = len(unknown)
    classes = sorted({name for _, objects, *_ in found for name, *_ in objects})
    if names is None:
        names = classes
    elif unknown := [n for n in classes if n not in names]:
        raise UserError(f"the annotations name classes {unknown} that are not in the class list {list(names)}: "
                        "add them to the list or fix the annotations")
    index_of = {n: i for i, n in enumerate(names)}
    items = [Item(image, [(index_of[n], *box) for n, *box in objects], split, declared=size)
             for image, objects, split, size in found]
    beside = {image.parent for image in claimed}  # images among the annotated ones that no annotation names
    unlisted = {p.stem.lower() for p in left}  # said already
    bare = [p for folder in sorted(beside) for p in sorted(folder.iterdir()) if p.suffix.lower() in index.suffixes
            and p.is_file() and p not in claimed and p.stem.lower() not in unlisted]
    issues += [f"{p}: its annotation '{stale[p.stem.lower()]}' names another image, left out" if p.stem.lower() in stale
               else f"{p}: no annotation names this image, left out" for p in bare]
    checks[UNANNOTATED] = len(bare)
    return Source(list(names), items, searched, unmatched=unmatched, issues=issues, checks=checks)


def named_after(xml: Path, image: Path) -> bool:
    return xml.stem.lower() == image.stem.lower()


def children(folder: Path, wanted: tuple[str, ...]) -> list[Path]:
    """Subfolders of `folder` whose lower-case name is in `wanted`, in the order of `wanted`."""
    subs = {p.name.lower(): p for p in sorted(folder.iterdir()) if p.is_dir()} if folder.is_dir() else {}
    return [subs[w] for w in wanted if w in subs]


def voc_root(src: Path) -> Path:
    """SRC itself, or the one VOC20xx folder that holds the annotations in SRC (a VOCdevkit/) or in the VOCdevkit/ in
    SRC (a VOC tarball extracted into a folder, whose split lists went unread: its val images were trained on)."""
    if children(src, ANNOTATION_DIRS) or not src.is_dir():
        return src
    for folder in (src, *children(src, ("vocdevkit",))):
        inner = [p for p in sorted(folder.iterdir()) if p.is_dir() and children(p, ("annotations",))]
        if len(inner) > 1:
            raise UserError(f"'{folder}' holds several VOC datasets ({', '.join(p.name for p in inner)}): "
                            "convert one at a time, e.g. " + str(inner[0]))
        if inner:
            return inner[0]
    return src


def annotation_dir(root: Path) -> Path:
    """The first annotation folder that holds XML, else SRC itself when its XML lie beside the images."""
    if not root.is_dir():
        raise UserError(f"'{root}' is a file: pass the folder of the VOC dataset")
    for folder in children(root, ANNOTATION_DIRS):
        if xml_files(folder):
            return folder
    if xml_files(root):
        return root
    raise UserError(f"no Pascal VOC XML in '{root}' (looked in {', '.join(d + '/' for d in ANNOTATION_DIRS)} and "
                    f"beside the images): {format_hint(root, 'voc') or 'pass --annotations DIR'}")


def split_lists(main: Path) -> dict[str, list[Path]]:
    """The lists of ImageSets/Main by the split they name, case-insensitively (CVAT writes Train.txt and
    Validation.txt, Roboflow valid): VOC's own spelling first."""
    if not main.is_dir():
        return {}
    order = list(LIST_WORDS)
    files = sorted((p for p in main.iterdir() if p.suffix.lower() == ".txt" and p.stem.lower() in LIST_WORDS),
                   key=lambda p: (order.index(p.stem.lower()), p.stem != p.stem.lower(), p.name))
    lists: dict[str, list[Path]] = {}
    for f in files:
        if f.is_file():
            lists.setdefault(LIST_WORDS[f.stem.lower()], []).append(f)
    return lists


def published_split(main: Path) -> tuple[dict[str, str], list[str]]:
    """Image ids of the published split, and the names of the lists it comes from.

    With a trainval list (VOCdevkit), train on it and validate on test, else on val; ids also in the val list leave
    train, so VOC2012 (trainval = train + val, no test) does not train on its val images. Without one (CVAT writes
    a list per subset), train, val and test are kept as listed; a test list without a val list is the val split, as
    for COCO and YOLO. No train or no held-out list means no published split.
    """
    lists = split_lists(main)

    def first(split: str) -> tuple[list[str], str] | None:  # the first list that names images (an empty test.txt)
        for f in lists.get(split, []):
            if ids := [line.split()[0] for line in f.read_text(encoding="utf-8-sig").splitlines() if line.strip()]:
                return ids, f.name
        return None

    trainval, train, val, test = (first(s) for s in ("trainval", "train", "val", "test"))
    held = [(test or val, "val")] if trainval else [(test, "test" if val else "val"), (val, "val")]
    if not (trainval or train) or not any(listed for listed, _ in held):
        return {}, []
    used = [(listed, split) for listed, split in [(trainval or train, "train"), *held] if listed]
    return {i: split for (ids, _), split in used for i in ids}, [name for (_, name), _ in used]


def voc_splits(main: Path) -> dict[str, str]:
    """Image ids of the published split (see published_split)."""
    return published_split(main)[0]


def unread_subsets(main: Path) -> dict[str, list[str]]:
    """The subsets of ImageSets/Main that this reader does not know, each with its lists (CVAT's Holdout.txt beside
    Train.txt), where no published split was found: a seeded split would mix their images without a word. A list
    <x>_<S>.txt is a per-class list of subset S (VOCdevkit's aeroplane_train.txt, CVAT's cat_default.txt); one
    subset alone (CVAT's default) has no held-out images to mix, so none is said."""
    if not main.is_dir():
        return {}
    lists = [p for p in sorted(main.iterdir()) if p.suffix.lower() == ".txt" and p.is_file()]
    stems = {p.stem.lower() for p in lists}
    subsets = {s for s in stems if any(t.endswith("_" + s) for t in stems - {s})}  # those with per-class lists

    def subset_of(stem: str) -> str:
        if stem in subsets:
            return stem
        of = max((s for s in subsets | set(LIST_WORDS) if stem.endswith("_" + s)), key=len, default=None)
        return of or stem.rsplit("_", 1)[-1]

    found: dict[str, list[str]] = {}
    for p in lists:
        if p.read_text(encoding="utf-8-sig", errors="replace").strip():  # an empty list has no images to mix
            found.setdefault(subset_of(p.stem.lower()), []).append(p.name)
    unknown = {s: sorted(names, key=lambda n: (n.lower() != f"{s}.txt", n.lower()))  # the subset's own list first
               for s, names in sorted(found.items()) if s not in LIST_WORDS}
    return unknown if unknown and len(found) > 1 else {}


def refuse_unread_lists(root: Path) -> None:
    """Refuse a seeded split where an ImageSets/Main under SRC that this reader did not read (a VOC dataset deeper
    than it looks) publishes one: its val images would be trained on, and nothing would say so."""
    for folder, _, _ in sorted(os.walk(root)):  # folder names only: no file of a large tree is looked at
        main = Path(folder)
        if main.name != "Main" or main.parent.name != "ImageSets":
            continue
        try:
            published = voc_splits(main)
        except (OSError, UnicodeDecodeError):  # lists this reader cannot read publish nothing it could use
            continue
        if published:
            dataset = main.parent.parent
            raise UserError(f"'{main}' lists the published split of the VOC dataset '{dataset}', which reading "
                            f"'{root}' does not use: pass '{dataset}' to convert it with that split, or --annotations "
                            "DIR for a seeded split")


def parse_xml(xml: Path) -> tuple[str, str, list[tuple[str, float, float, float, float]], tuple[int, int] | None]:
    """The `filename`, the `path`, the (name, x1, y1, x2, y2) objects and the <size> (width, height, when given) of
    one VOC annotation.

    Coordinates are taken as given: the box spans xmin..xmax, so a box with xmin == xmax has no area and is dropped
    later. Names are stripped of surrounding whitespace; difficult objects are kept, they are real objects.
    """
    root = xml_root(xml)
    objects = []
    for obj in root.findall("object"):
        name = (obj.findtext("name") or "").strip()
        try:
            box = tuple(float(obj.find("bndbox").findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        except (AttributeError, TypeError, ValueError):
            raise UserError(f"'{xml}': object '{name}' lacks a numeric bndbox xmin/ymin/xmax/ymax: fix it") from None
        if not name:
            raise UserError(f"'{xml}': an object has an empty <name>: fix the XML")
        objects.append((name, *box))
    try:
        size = (int(float(root.findtext("size/width"))), int(float(root.findtext("size/height"))))
    except (TypeError, ValueError):
        size = None  # absent or not numbers: the image's own size decides alone
    return (root.findtext("filename") or "").strip(), (root.findtext("path") or "").strip(), objects, size


def xml_root(xml: Path) -> ET.Element:
    """The root element of one annotation. ElementTree's parser reads UTF-8, UTF-16 and one-byte encodings only: XML
    that declares GBK, Big5 or Shift_JIS (as Chinese and Japanese datasets do) is decoded with Python's codecs."""
    try:
        data = xml.read_bytes()
        return ET.fromstring(data)
    except ET.ParseError as e:
        raise UserError(f"'{xml}' is not valid XML ({e}): fix or remove it") from None
    except OSError as e:
        raise UserError(f"'{xml}' cannot be read ({e.strerror or type(e).__name__}): fix or remove it") from None
    except (ValueError, LookupError):  # "multi-byte encodings are not supported", or an encoding name unknown to it
        pass
    declared = re.match(rb"\s*<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']+)[\"'][^>]*\?>", data)
    encoding = declared.group(1).decode("ascii", "replace") if declared else "utf-8"
    try:
        text = data[declared.end() if declared else 0:].decode(encoding)
    except LookupError:
        raise UserError(f"'{xml}' declares the encoding '{encoding}', which Python does not know: save it as "
                        "UTF-8") from None
    except UnicodeDecodeError as e:
        raise UserError(f"'{xml}' is not valid {encoding} text ({e.reason} at byte {e.start}): save it as "
                        "UTF-8") from None
    try:
        return ET.fromstring(text)
    except ET.ParseError as e:
        raise UserError(f"'{xml}' is not valid XML ({e}): fix or remove it") from None


def resolve(index: ImageIndex, xml: Path, filename: str, path: str) -> tuple[Path | None, str]:
    """The image of one XML: its `filename`, else its `path`'s file name, else its own stem with any image suffix.

    Only file names count (a Windows or another machine's folder in `path` means nothing here); among images of the
    same name the one beside the XML, or in a folder of the same name, wins.
    """
    tried = []
    for name in dict.fromkeys(PureWindowsPath(t).name for t in (filename, path) if t):  # both / and \ separate
        image, why = index.find(name, near=xml)
        if image is not None or why:
            return image, why
        tried.append(f"'{name}'")
    image, why = index.find(xml.stem, near=xml, stem=True)
    if image is not None or why:
        return image, why
    return None, f"no image named {' or '.join([*tried, repr(xml.stem + '.*')])}"
