"""COCO detection JSON, one file or one per split (train/val/test), with the images beside the JSON, in images/, in a
folder named after the split, or in a folder given with --images (exports often keep them apart from the JSON).

Ultralytics' `ultralytics.data.converter.convert_coco` does not fit: it maps classes as `category_id - 1` or through
the COCO-91 to COCO-80 table (wrong for any other category ids), writes into an auto-incremented save_dir with
labels/<json stem>/ folders, does not place the images, neither clips out-of-image boxes nor counts what it drops, and
appends to label files non-atomically. Boxes are simple enough to convert here.
"""

from __future__ import annotations

import json
from pathlib import Path

from .convert import Item, Source
from .errors import UserError

KEYS = ("images", "annotations", "categories")
SPLIT_WORDS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "minival": "val", "test": "test"}


def read(srcs: list[Path], names: list[str] | None, images: Path | None) -> Source:
    """Images and boxes of the COCO JSON file(s); classes are the categories sorted by id."""
    if names is not None:
        raise UserError("COCO class names come from the JSON 'categories': do not pass names for COCO")
    jsons = find_jsons(srcs[0]) if len(srcs) == 1 and srcs[0].is_dir() else split_jsons(srcs)
    first, loaded = None, []
    for path, split in jsons:
        data = load(path)
        categories = category_names(data, path)
        if first is not None and categories != first:
            raise UserError(f"'{path}' has other categories than '{jsons[0][0]}': convert them one at a time")
        first = categories
        loaded.append((path, split, data))
    used = {a.get("category_id") for _, _, data in loaded for a in data["annotations"] if isinstance(a, dict)}
    issues, kept = [], dict(first)
    for cid, name in first.items():  # Roboflow's exports add their dataset name as a category that no box uses
        parents = {str(c.get("supercategory")) for c in loaded[0][2]["categories"] if int(c["id"]) != cid}
        if cid not in used and name in parents:
            issues.append(f"category '{name}' (id {cid}): only the supercategory of others and no box has it, "
                          "left out of the classes")
            del kept[cid]
    refuse_shared_names(kept, loaded[0][0])  # after: Roboflow names its superclass after a lone class too
    index = {cid: i for i, cid in enumerate(sorted(kept))}
    items, unmatched, folders = [], [], []
    checks = {"categories without boxes (left out)": len(issues)}
    for path, split, data in loaded:
        found, missing, searched = coco_images(data, path, index, split, images, issues, checks)
        items += found
        unmatched += missing
        folders += searched
    searched = ", ".join(dict.fromkeys(f"'{f}'" for f in folders if f.is_dir())) or "no existing folder"
    return Source([kept[cid] for cid in sorted(kept)], items, f"images in {searched}", unmatched=unmatched,
                  issues=issues, checks=checks,
                  what="images the JSON names", fails="are not on disk")


def split_of(path: Path) -> str | None:
    """train, val or test from the JSON's name (instances_val2017.json) or its folder's (valid/_annotations.json)."""
    for text in (path.stem.lower(), path.parent.name.lower()):
        words = [w for w in text.replace("-", "_").replace(".", "_").split("_") if w]
        hits = {SPLIT_WORDS[w.rstrip("0123456789")] for w in words if w.rstrip("0123456789") in SPLIT_WORDS}
        if len(hits) == 1:
            return hits.pop()
    return None


def split_jsons(paths: list[Path]) -> list[tuple[Path, str | None]]:
    """One JSON keeps no split (a seeded one is made); several are the splits their names say."""
    for p in paths:
        if not p.is_file() or p.suffix.lower() != ".json":
            raise UserError(f"'{p}' is not a COCO .json file: pass the JSON file(s), or one folder that holds them")
    if len(paths) == 1:
        return [(paths[0], None)]
    splits = [split_of(p) for p in paths]
    if None in splits or len(set(splits)) < len(splits) or "train" not in splits:
        named = ", ".join(f"{p.name}: {s or '?'}" for p, s in zip(paths, splits))
        raise UserError(f"cannot tell one train and one val (or test) JSON apart ({named}): name them *train*.json "
                        "and *val*.json, or convert one at a time")
    if "val" not in splits:  # a test split is the only held-out one: validate on it
        splits = ["val" if s == "test" else s for s in splits]
    return list(zip(paths, splits))


def find_jsons(src: Path) -> list[tuple[Path, str | None]]:
    """The JSON file(s) in a folder: in annotations/, in SRC, or one per split folder (train/, valid/, test/)."""
    found = (sorted((src / "annotations").glob("*.json")) or sorted(src.glob("*.json"))
             or sorted(src.glob("*/*.json")))
    found = [p for p in found if p.name.startswith("instances_")] or found  # COCO also ships captions_, person_...
    if not found:
        raise UserError(f"no COCO JSON in '{src / 'annotations'}', '{src}' or its subfolders: pass the JSON file")
    if len(found) == 1:
        return [(found[0], None)]
    try:
        return split_jsons(found)
    except UserError:
        raise UserError(f"found {len(found)} JSON files under '{src}' and no clear train/val set among them: "
                        "pass the ones to convert as sources") from None


def load(path: Path) -> dict:
    """The parsed JSON, checked to have the three lists a COCO detection file needs."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))  # Windows tools write a BOM
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"'{path}' is not valid JSON ({e}): fix or replace it") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in KEYS):
        raise UserError(f"'{path}' is not a COCO detection file: it needs {', '.join(KEYS)} lists")
    return data


def category_names(data: dict, path: Path) -> dict[int, str]:
    """Category id -> name."""
    try:
        categories = {int(c["id"]): str(c["name"]) for c in data["categories"]}
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"'{path}': a category lacks an integer 'id' or a 'name' ({e!r}): fix the JSON") from None
    if len(categories) != len(data["categories"]):
        raise UserError(f"'{path}': two categories share an id: fix the JSON")
    if empty := [cid for cid, name in categories.items() if not name.strip()]:
        raise UserError(f"'{path}': category id {empty[0]} has an empty name: name it in 'categories'")
    return categories


def refuse_shared_names(categories: dict[int, str], path: Path) -> None:
    """Refuse two classes of one name, as --names does: no one could tell them apart."""
    for name in dict.fromkeys(categories.values()):
        if len(ids := [cid for cid, n in categories.items() if n == name]) > 1:
            raise UserError(f"'{path}': categories {', '.join(map(str, ids))} are all named '{name}': give each "
                            "its own name, or move their annotations into one of them")


def image_folders(path: Path, split: str | None, images: Path | None) -> list[Path]:
    """Where the images of one JSON may be, in order: --images (and its split subfolders), beside the JSON, images/
    and the split's folder next to an annotations/ folder."""
    base = path.parent.parent if path.parent.name.lower() == "annotations" else path.parent
    tags = list(dict.fromkeys(t for t in (path.stem.removeprefix("instances_"), split) if t))
    given = [images, *(images / t for t in tags)] if images else []
    return [*given, path.parent, base, base / "images", *(base / t for t in tags), *(base / "images" / t for t in tags)]


def coco_images(data: dict, path: Path, index: dict[int, int], split: str | None, images: Path | None,
                issues: list[str], checks: dict[str, int]) -> tuple[list[Item], list[str], list[Path]]:
    """Images found by file_name (as a relative path, then its file name alone) in `image_folders`, with their
    boxes; images not found are listed. Crowd annotations are skipped, as Ultralytics' own converter does (they mark
    a group of objects, not one), and, like every box left out or derived, counted in `checks` and listed in
    `issues`."""
    from ultralytics.data.utils import IMG_FORMATS

    folders = image_folders(path, split, images)
    entries = image_entries(data, path)
    found: dict[object, Item] = {}
    by_file: dict[Path, Item] = {}  # one file listed under two ids is one image with the boxes of both
    named: dict[Path, tuple] = {}  # what found each file first: its path, whether as written, file_name, id
    ambiguous: set[Path] = set()
    missing = []
    for im in sorted(entries.values(), key=lambda im: str(im["file_name"])):
        rel = Path(str(im["file_name"]).replace("\\", "/"))
        names = dict.fromkeys((rel, Path(rel.name)))  # the relative path first, then the file name alone
        # an absolute path is tried as written, then (another machine's, as annotation tools export) as in VOC by name
        tries = ([rel] if rel.is_absolute() else []) + [d / n for n in names if not n.is_absolute() for d in folders]
        hit = next((p for p in tries if p.is_file()), None)
        if hit is None:
            missing.append(f"{path}: image '{im['file_name']}' (id {im['id']}) is in none of the folders searched")
            continue
        if hit.suffix.lower().lstrip(".") not in IMG_FORMATS:  # copied, it would be counted, and never trained on
            issues.append(f"{path}: image '{im['file_name']}' (id {im['id']}) has no suffix Ultralytics trains on "
                          f"({', '.join(sorted(IMG_FORMATS))}): left out (save it as .jpg or .png to keep it)")
            checks[UNREAD] = checks.get(UNREAD, 0) + 1
            continue
        try:
            declared = (int(im["width"]), int(im["height"])) if im.get("width") and im.get("height") else None
        except (TypeError, ValueError):
            raise UserError(f"'{path}': image {im['id']} has a width or height that is not a number: fix or remove "
                            "them") from None
        key, exact = hit.resolve(), hit == rel if rel.is_absolute() else any(hit == d / rel for d in folders)
        first_rel, first_exact, first_name, first_id = named.setdefault(key, (rel, exact, im["file_name"], im["id"]))
        if key in ambiguous or (first_rel != rel and not (exact and first_exact)):  # cam1/x.jpg, cam2/x.jpg: x.jpg
            missing.append(f"{path}: image '{im['file_name']}' (id {im['id']}) and '{first_name}' (id {first_id}) "
                           f"both find '{hit}' only by its file name: which is which is unknown, both left out")
            found.pop(first_id, None)
            by_file.pop(key, None)
            ambiguous.add(key)
            continue
        found[im["id"]] = by_file.setdefault(key, Item(hit, split=split, declared=declared))
    for k, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict):
            raise UserError(f"'{path}': annotation #{k + 1} is {str(ann)[:40]!r}, not an object: fix the JSON")
        name = f"annotation {ann['id']}" if "id" in ann else f"annotation #{k + 1} (no id)"
        for key in ("image_id", "category_id"):
            if not is_id(ann.get(key)):
                got = f"is {str(ann[key])[:40]}" if key in ann else "is missing"
                raise UserError(f"'{path}': {name}'s '{key}' {got}: give it the id of its {key[:-3]}")
        if ann["image_id"] not in entries:
            raise UserError(f"'{path}': {name} points to image_id {ann['image_id']!r}, which is not in 'images'"
                            f"{typed_apart(ann['image_id'], entries)}: fix the annotation")
        category = category_key(ann["category_id"])
        if category not in index:
            raise UserError(f"'{path}': {name} has category_id {ann['category_id']!r}, which is not in 'categories'"
                            f"{typed_apart(ann['category_id'], index)}: add the category or fix the annotation")
        box, note = (None, CROWD) if ann.get("iscrowd") else ann_box(ann, path, name)
        item = found.get(ann["image_id"])
        if item is None:  # its image is not on disk and is listed in unmatched.txt
            continue
        if box is not None:
            item.boxes.append((index[category], *box))
        if note:
            issues.append(f"{path}: {name} on '{entries[ann['image_id']]['file_name']}' {NOTES[note]}")
            checks[note] = checks.get(note, 0) + 1
    return list(by_file.values()), missing, folders


# What is done with annotations that are not one plain box: counted in the summary, each listed in issues.txt
UNREAD = "images in a format Ultralytics does not train on (left out)"
CROWD, RLE, POLYGON = "crowd boxes (skipped)", "RLE masks without a bbox (skipped)", "boxes from polygons (no bbox)"
NOTES = {CROWD: "is a crowd region (iscrowd 1), not one object: skipped",
         RLE: "has no bbox, only an RLE mask: skipped (add its bbox to keep it)",
         POLYGON: "has no bbox: its box is its polygon's extent"}


def typed_apart(value: object, ids) -> str:
    """Where an id is there, written as a number on one side and a string on the other ("1" and 1), say so."""
    twin = next((i for i in ids if str(i) == str(value)), None)
    return "" if twin is None else f" (it is there as {twin!r}: write the ids alike, as numbers or as strings)"


def category_key(value: object) -> object:
    """A category_id as category_names keys the categories (their "1" and 1.0 read as 1), so that ids written as
    strings on both sides match; an id no number reads stays as written, and is not found."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def is_id(value: object) -> bool:
    """A COCO id: a whole number (exporters built on pandas write 1.0, which matches 1 as a key) or a string."""
    return isinstance(value, (int, str)) or isinstance(value, float) and value.is_integer()


def image_entries(data: dict, path: Path) -> dict[object, dict]:
    """Image id -> its entry. One id given to two files is refused: its boxes could belong to either, and keeping one
    would leave the other as an empty background image, teaching the model that its objects are background."""
    entries: dict[object, dict] = {}
    for k, im in enumerate(data["images"]):
        if not isinstance(im, dict) or not is_id(im.get("id")) or "file_name" not in im:
            raise UserError(f"'{path}': image #{k + 1} in 'images' ({str(im)[:60]}) lacks an 'id' or a "
                            "'file_name': fix the JSON")
        first = entries.setdefault(im["id"], im)
        if str(first["file_name"]) != str(im["file_name"]):
            raise UserError(f"'{path}': image id {im['id']} is given to both '{first['file_name']}' and "
                            f"'{im['file_name']}', so its annotations could be on either: give each image its own id")
    return entries


def ann_box(ann: dict, path: Path, name: str) -> tuple[tuple[float, float, float, float] | None, str | None]:
    """x1, y1, x2, y2 from 'bbox' or, where an export left it out, from the segmentation polygons' extent; none for an
    RLE mask (decoding it needs pycocotools). The note says which of those it was, for the summary."""
    bbox, seg = ann.get("bbox"), ann.get("segmentation")
    if bbox is not None and bbox != []:
        try:
            x, y, w, h = (float(v) for v in bbox)
        except (TypeError, ValueError):
            raise UserError(f"'{path}': {name} has bbox {str(bbox)[:60]}, not [x, y, width, height] numbers: "
                            "fix the annotation") from None
        return (x, y, x + w, y + h), None
    if isinstance(seg, dict):
        return None, RLE
    polygons = [seg] if isinstance(seg, list) and seg and not isinstance(seg[0], list) else seg
    try:
        points = [float(v) for poly in polygons for v in poly]
    except (TypeError, ValueError):
        points = []
    if not points or len(points) % 2:
        raise UserError(f"'{path}': {name} has no 'bbox' and no polygon in 'segmentation' to take it from: add its "
                        "bbox [x, y, width, height]")
    xs, ys = points[0::2], points[1::2]
    return (min(xs), min(ys), max(xs), max(ys)), POLYGON
