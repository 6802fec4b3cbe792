"""YOLO datasets as found: check one (a data.yaml, or a folder of images and label files) and hand a clean copy to
convert. It is where `train`'s preflight sends data that fails its checks.

Found and fixed: images without labels (kept as background), boxes out of range (clipped), class ids beyond the names
and malformed rows (dropped), polygons (taken as their box), repeated rows and images with the same bytes (the first
kept), train images val or test also lists (left out of train), label files without an image (listed), and a missing
split (made). Each is counted and listed in issues.txt. Boxes with no area inside the image go on to convert, which
drops, counts and lists them as it does VOC's and COCO's.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import yaml

from .convert import EPS, SPLITS, Item, Source
from .exif import skipped
from .placement import image_size
from .subsets import folder_splits, unknown_subsets
from .errors import UserError
from .layout import check_unlabeled_key
from .utils import steps

NAME_FILES = ("classes.txt", "obj.names", "names.txt", "_darknet.labels")

BACKGROUND = "images without labels (kept as background)"
OUT_OF_RANGE = "boxes out of range (clipped)"
BEYOND = "boxes with a class id beyond the names (dropped)"
MALFORMED = "malformed label rows (dropped)"
POLYGONS = "polygons (taken as their box)"
REPEATED = "repeated label rows (dropped)"
DUPLICATES = "duplicate images (one kept: val's or test's before train's)"
LEAKED = "train images also in val or test (left out of train)"
UNNAMED = "classes without a name (named by id)"
UNKNOWN = "subset folders not read as a split (seeded split made instead)"


def read(src: Path, names: list[str] | None, images: Path | None) -> Source:
    """Images and boxes of a YOLO dataset; `names` (or data.yaml, or classes.txt) gives the classes."""
    yaml_file = src if src.is_file() else data_yaml_in(src)
    if yaml_file is not None and images is not None:  # which split's images would it be? the yaml says each's
        raise UserError(f"--images is for a YOLO folder without a data.yaml: '{yaml_file}' names the image folder of "
                        "each split; leave out --images, or fix the paths (or 'path:') in the data.yaml")
    source = Source([], [], "", what="label files", clips_listed=True)  # parse_label lists them by label line
    counts = dict.fromkeys([BACKGROUND, OUT_OF_RANGE, BEYOND, MALFORMED, POLYGONS, REPEATED, DUPLICATES, LEAKED,
                            UNNAMED, UNKNOWN], 0)
    if yaml_file is not None:
        splits, yaml_names, raw = from_yaml(yaml_file, source.issues, counts)
        source.searched, source.keys = f"the splits of '{yaml_file}'", kept_keys(yaml_file, raw)
    else:
        splits, yaml_names = from_folder(images or src), None
        source.searched = f"'{images or src}'"
        if None in splits and (subsets := unknown_subsets(splits[None], images or src)):
            source.issues.append(subsets[1])
            counts[UNKNOWN] = len(subsets[0])
    keypoints = pose_values(yaml_file, raw, source.issues) if yaml_file is not None else 0
    claimed, rows_of, found = set(), {}, {}  # found: each image's own issues and counts, forgotten if it is dropped
    for split, files in splits.items():
        for image in files:
            label = label_of(image)
            found[image] = ([], dict.fromkeys(counts, 0))
            rows_of[image] = parse_label(label, *found[image], keypoints=keypoints) if label else []
            claimed.add(label)
            source.items.append(Item(image, split=split))
    source.unmatched = orphan_labels([it.path for it in source.items], claimed)
    if yaml_file is None and not names:
        yaml_names = label_names(src, claimed, source.issues)
    top = max((r[0] for rows in rows_of.values() for r in rows), default=-1)
    # the user's list is short: dropping those boxes would leave their objects in the images as background
    if names and top >= len(names):
        raise UserError(f"the labels use class ids 0 to {top}, but --names gives {len(names)} names: "
                        f"name every class id, {top + 1} names in id order")
    if not names and yaml_file is not None and (empty := [i for i, n in enumerate(yaml_names or []) if not n.strip()]):
        raise UserError(f"'{yaml_file}': class {empty[0]} has an empty name: name it in names, or pass --names")
    names = list(names or yaml_names or [])
    if not names:
        names = [f"class_{i}" for i in range(top + 1)]
        taken = sorted(str(p) for p in claimed if p is not None and p.name in NAME_FILES)  # images/classes.jpg's
        where = ("no 'names:' in its data.yaml" if yaml_file is not None else
                 f"no {', '.join(NAME_FILES)} beside the dataset or its labels")
        source.issues.append(f"{src}: no class names ({where}, no --names): named by id" + "".join(
            f"; '{p}' is the label file of an image, not a names file" for p in taken))
        counts[UNNAMED] = len(names)
    source.names = names
    for item in source.items:
        rows = []
        for c, *box in rows_of[item.path]:
            if c >= len(names):
                found[item.path][0].append(f"{item.path}: class id {c} is beyond the {len(names)} names (0 to "
                                           f"{len(names) - 1}), box dropped")
                found[item.path][1][BEYOND] += 1
            else:
                rows.append((c, *box))
        rows_of[item.path] = rows
    check_normalised(rows_of, source.searched)
    for item in steps(source.items, len(source.items), "Reading images"):
        rows = rows_of[item.path]
        item.size = image_size(item.path)
        if item.size is not None:
            w, h = item.size
            item.boxes = [(c, x1 * w, y1 * h, x2 * w, y2 * h) for c, x1, y1, x2, y2 in rows]
    drop_duplicates(source, counts)
    for item in source.items:  # a duplicate left out has its rows' issues no more: it said 'clipped' beside 0 clipped
        issues, its_counts = found[item.path]
        source.issues += issues
        for key, n in its_counts.items():
            counts[key] += n
    background = [it.path for it in source.items if it.size is not None and not it.boxes]
    source.issues += [f"{p}: no label row, kept as background" for p in background]
    counts[BACKGROUND] = len(background)
    source.checks = counts
    return source


def check_normalised(rows_of: dict[Path, list], searched: str) -> None:
    """Refuse labels whose every box lies beyond 0-1, as pixel coordinates do: convert would drop each one and call
    the dataset boxless."""
    boxes = [box for rows in rows_of.values() for _, *box in rows]
    if boxes and all(not inside(box) and not all(-EPS <= v <= 1 + EPS for v in box) for box in boxes):
        raise UserError(f"all {len(boxes)} boxes in {searched} lie outside the 0-1 range of YOLO coordinates, so each "
                        "would be dropped: are they in pixels? write each row as 'class cx cy w h' divided by the "
                        "image's width and height")


def inside(box) -> bool:
    """Whether a normalised (x1, y1, x2, y2) box keeps some area once clipped to the image."""
    x1, y1, x2, y2 = box
    return min(x2, 1) > max(x1, 0) and min(y2, 1) > max(y1, 0)


def data_yaml_in(folder: Path) -> Path | None:
    """data.yaml (or the one yaml with names) in a dataset folder."""
    if (folder / "data.yaml").is_file():
        return folder / "data.yaml"
    def has_names(p: Path) -> bool:
        try:
            d = yaml.safe_load(p.read_text(encoding="utf-8-sig"))
        except (yaml.YAMLError, UnicodeDecodeError):
            return False
        return isinstance(d, dict) and "names" in d

    found = [p for p in sorted(folder.glob("*.y*ml")) if has_names(p)]
    return found[0] if len(found) == 1 else None


def from_yaml(path: Path, issues: list[str],
              counts: dict[str, int]) -> tuple[dict[str | None, list[Path]], list[str] | None, dict]:
    """The images of each split a data.yaml names, resolved as Ultralytics does, its names, and the mapping read once
    here for the keys its copy keeps (kept_keys, pose_values: each read the file again). A yaml without a val
    split, or whose val is its train, gets one made; train loses the images val or test also lists."""
    from .data import split_images

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as e:
        raise UserError(f"'{path}' is not valid YAML ({str(e).splitlines()[0]}): fix it") from None
    except (UnicodeDecodeError, OSError) as e:
        raise UserError(f"'{path}' cannot be read as text ({type(e).__name__}): pass the dataset's data.yaml") from None
    if not isinstance(raw, dict) or not raw.get("train"):
        raise UserError(f"'{path}' is not a YOLO data.yaml: it needs at least a 'train:' path (classes without "
                        "'names:' are named by id)")
    if not isinstance(raw.get("path") or "", str):
        raise UserError(f"'{path}': 'path:' must be a folder, got {raw['path']!r}: fix it")
    if "validation" in raw and "val" not in raw:  # Ultralytics renames it, with a warning
        raw["val"] = raw.pop("validation")
    root = dataset_root(path, raw)
    splits = {}
    for split in SPLITS:
        where = entry_paths(root, raw.get(split) or [])
        if (missing := [str(p) for p in where if not p.exists()]) and split == "test":  # Roboflow writes 'test:'
            issues.append(f"{path}: test '{missing[0]}' does not exist: left out")  # for exports without one
            where = [p for p in where if p.exists()]
        elif missing:
            raise UserError(f"{split} '{missing[0]}' of '{path}' does not exist: fix the path (or 'path:') in it")
        if where:
            splits[split] = split_images([str(p) for p in where])

    def files(split: str) -> set[Path]:  # one file by two spellings is one
        return {p.resolve() for p in splits[split]}

    if "val" in splits and files("val") == files("train"):
        issues.append(f"{path}: val is the same images as train, so it measured nothing")
        del splits["val"]
    if "val" not in splits and "test" in splits and files("test") != files("train"):  # the one held-out
        # split: validate on it, as COCO and split folders do
        issues.append(f"{path}: no val split of its own: its test split is the val split")
        splits["val"] = splits.pop("test")
    if "val" not in splits:
        splits = {None: sorted(set(splits["train"]))}
    else:
        splits["train"] = train_apart(path, splits, issues, counts)
    names, nc = yaml_names(raw.get("names"), path), yaml_nc(raw.get("nc"), path)
    if names is not None and nc is not None and len(names) != nc:  # Ultralytics refuses it too
        raise UserError(f"'{path}' has {len(names)} names but 'nc: {nc}': make them agree (or remove 'nc:')")
    if names is None and nc is not None and nc > 0:
        issues.append(f"{path}: no class names, nc {nc}: named by id")  # ids unused in the labels count too
        names = [f"class_{i}" for i in range(nc)]
        counts[UNNAMED] = nc
    return splits, names, raw


def yaml_nc(nc, path: Path) -> int | None:
    """`nc:` as Ultralytics reads it: a whole number, also written '4' or 4.0."""
    if nc is None:
        return None
    try:
        if float(nc) == int(float(nc)):
            return int(float(nc))
    except (TypeError, ValueError, OverflowError):
        pass
    raise UserError(f"'{path}': 'nc: {nc}' is not a whole number: write the class count, e.g. nc: 3")


def dataset_root(path: Path, raw: dict) -> Path:
    """The folder a data.yaml's split paths are under: its `path:`, resolved as Ultralytics does (from the working
    folder, else DATASETS_DIR; here also the yaml's folder), or the yaml's folder."""
    from ultralytics.utils import DATASETS_DIR

    root = Path(raw.get("path") or path.parent)
    if root.is_absolute():
        return root
    roots = [Path.cwd() / root, path.parent / root, DATASETS_DIR / root]
    return next((r for r in roots if all(p.exists() for p in entry_paths(r, raw["train"]))), roots[0])


def kept_keys(path: Path, raw: dict) -> dict:
    """What a data.yaml says beyond its splits and names that its cleaned copy must say too: `channels:` (a grey
    dataset read in colour trained another model, and its 1-channel teacher was refused) and `unlabeled:`, made
    absolute (relative to this yaml's root, they named nothing from the copy's)."""
    check_unlabeled_key(raw, path)
    kept = {"channels": raw["channels"]} if "channels" in raw else {}
    if isinstance(listed := raw.get("unlabeled"), (str, list)) and listed:
        root = dataset_root(path, raw)
        kept["unlabeled"] = [str((root / f).resolve()) if isinstance(f, str) else f
                             for f in ([listed] if isinstance(listed, str) else listed)]
    elif listed is not None:  # not a folder or a list: as it was, for train to refuse in its words
        kept["unlabeled"] = listed
    return kept


def yaml_root(path: Path) -> Path | None:
    """`dataset_root` of a data.yaml file, or None where it does not read as one (from_yaml then says why)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
        return dataset_root(path, raw) if isinstance(raw.get("path") or "", str) and raw.get("train") else None
    except (yaml.YAMLError, UnicodeDecodeError, OSError, AttributeError, TypeError):
        return None


def train_apart(path: Path, splits: dict[str, list[Path]], issues: list[str], counts: dict[str, int]) -> list[Path]:
    """Train without the images val or test also lists (train: [images/train, images/val]): Ultralytics trains on
    them without a word and then measures what it learned by heart. The held-out split is the evaluation set the
    user published, so it stays whole and train gives them up."""
    held = {p.resolve(): s for s in ("test", "val") for p in splits.get(s, [])}  # val named where both list it
    train = [p for p in splits["train"] if p.resolve() not in held]
    if len(train) == len(splits["train"]):
        return train
    if not train:
        lists = {held[p.resolve()] for p in splits["train"]}
        where = "val and test splits" if len(lists) == 2 else f"{lists.pop()} split"
        raise UserError(f"every train image of '{path}' is also in its {where}, so none is left to train on: "
                        "list under 'train:' images that val and test do not list")
    issues += [f"{p}: also in the {held[p.resolve()]} split of '{path}', left out of train"
               for p in splits["train"] if p.resolve() in held]
    counts[LEAKED] = len(splits["train"]) - len(train)
    return train


def entry_paths(root: Path, entries: str | list) -> list[Path]:
    """The paths a split entry of a data.yaml names, relative to `root`; '../train/images' also means
    train/images, Ultralytics' own fallback for Roboflow's yaml files."""
    listed = [entries] if isinstance(entries, str) else entries
    if not isinstance(listed, list) or not all(isinstance(e, str) for e in listed):
        raise UserError(f"a split entry must be a path or a list of paths, got {entries!r}: fix the data.yaml")
    out = []
    for e in listed:
        p = Path(str(e)) if Path(str(e)).is_absolute() else root / str(e)
        out.append(root / str(e)[3:] if not p.exists() and str(e).startswith("../") else p)
    return out


def yaml_names(names, path: Path) -> list[str] | None:
    """Names as a list by class id, from a list or an {id: name} mapping; a null name is '' (it was 'None'), which
    `read` refuses where --names does not replace them, as --names and COCO's categories refuse an empty one."""
    if names is None:
        return None
    if isinstance(names, list):
        by_id = dict(enumerate(names))
    else:
        try:
            by_id = {int(k): v for k, v in dict(names).items()}
        except (TypeError, ValueError):
            raise UserError(f"'{path}': names must be a list or a mapping of class id to name") from None
    if sorted(by_id) != list(range(len(by_id))):
        raise UserError(f"'{path}': the class ids of names must run 0, 1, 2, ... without gaps, got {sorted(by_id)}")
    return ["" if by_id[i] is None else str(by_id[i]) for i in range(len(by_id))]


def names_path(folder: Path, labels: set[Path | None] = frozenset()) -> Path | None:
    """The classes.txt (or Darknet's obj.names, ...) in a folder; a file that is some image's label
    (images/classes.jpg's labels/classes.txt) names no classes."""
    return next((folder / n for n in NAME_FILES if (folder / n).is_file() and folder / n not in labels), None)


def names_file(folder: Path, labels: set[Path | None] = frozenset()) -> list[str] | None:
    """Class names from the names file in a folder (see names_path), one per line."""
    f = names_path(folder, labels)
    return [line.strip() for line in f.read_text(encoding="utf-8-sig").splitlines() if line.strip()] if f else None


def label_names(src: Path, labels: set[Path | None], issues: list[str]) -> list[str] | None:
    """Class names from a names file in SRC, else beside the label files (LabelImg writes classes.txt into the
    folder it saves labels to, labels/ when that is apart from the images). LabelImg adds a class to the end of its
    list as it meets it, so a list that begins another is that list when it was shorter: the longest is taken."""
    if (found := names_file(src, labels)) is not None:
        return found
    files = {f: tuple(names_file(folder, labels)) for folder in sorted({p.parent for p in labels if p is not None})
             if (f := names_path(folder, labels)) is not None}
    if not files:
        return None
    longest = max(files, key=lambda f: len(files[f]))
    for f, names in files.items():
        if names != files[longest][:len(names)]:
            raise UserError(f"the label folders '{f.parent}' and '{longest.parent}' name their classes differently: "
                            "keep one names file (classes.txt), or pass --names")
        if len(names) < len(files[longest]):
            issues.append(f"{f}: names the first {len(names)} of the {len(files[longest])} classes of "
                          f"'{longest}' (LabelImg adds classes as it meets them): named by the longer list")
    return list(files[longest])


def from_folder(folder: Path) -> dict[str | None, list[Path]]:
    """The images under a dataset folder, split by the train/val(id)/test folder each lies in when every image lies
    in one and there is a train and a held-out split (images/train, train/images, ...); otherwise none."""
    from .data import split_images

    paths = split_images(str(folder))
    split_of = folder_splits(paths, folder)
    if split_of is None:
        return {None: sorted(paths)}
    return {s: sorted(p for p, t in split_of.items() if t == s) for s in SPLITS if s in split_of.values()}


def label_of(image: Path) -> Path | None:
    """The label file Ultralytics reads for an image (the last /images/ swapped for /labels/), else a .txt beside
    the image; None when there is neither."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    text = str(image)
    ultralytics = Path(sb.join(text.rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt") if sa in text else None
    return next((p for p in (ultralytics, image.with_suffix(".txt")) if p is not None and p.is_file()), None)


def pose_values(path: Path, raw: dict, issues: list[str]) -> int:
    """Values after each box of a pose dataset's label rows (kpt_shape: [K, D] gives K x D), else 0. Read as a
    polygon, as Ultralytics' detection loader reads them, a row's keypoints (their visibility flags as coordinates)
    made its box, silently, and two objects' alike boxes were dropped as repeats."""
    shape = raw.get("kpt_shape")
    if shape is None:
        return 0
    if not (isinstance(shape, list) and len(shape) == 2 and all(isinstance(v, int) and v > 0 for v in shape)):
        raise UserError(f"'{path}': kpt_shape {shape!r} should be [keypoints, values each] (e.g. [17, 3]): fix it")
    issues.append(f"{path}: a pose dataset (kpt_shape {shape}): each row's box kept, its keypoints left out")
    return shape[0] * shape[1]


def parse_label(label: Path, issues: list[str], counts: dict[str, int],
                keypoints: int = 0) -> list[tuple[int, float, ...]]:
    """(class, x1, y1, x2, y2) rows of one label file, normalized; bad rows are dropped and listed. A pose dataset's
    rows hold `keypoints` values after the box: the box is kept."""
    rows, seen = [], set()
    for n, line in enumerate(label.read_text(encoding="utf-8-sig", errors="replace").splitlines(), 1):  # BOM: as Ultralytics
        if not line.strip():
            continue
        where = f"{label} line {n}"
        try:
            values = [float(v) for v in line.split()]
        except ValueError:
            values = []
        c, coords = (values[0], values[1:]) if values else (-1, [])
        if keypoints and len(coords) == 4 + keypoints:
            coords = coords[:4]
        if not all(map(math.isfinite, values)) or c < 0 or c != int(c) or not (
                len(coords) == 4 or (not keypoints and len(coords) >= 6 and len(coords) % 2 == 0)):
            shape = f"'class cx cy w h' and {keypoints} keypoint values" if keypoints else \
                "'class cx cy w h' (or a polygon)"
            issues.append(f"{where}: '{line.strip()[:60]}' is not {shape}, dropped")
            counts[MALFORMED] += 1
            continue
        if len(coords) == 4:
            cx, cy, w, h = coords
            box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        else:
            xs, ys = coords[0::2], coords[1::2]
            box = (min(xs), min(ys), max(xs), max(ys))
        key = (int(c), *(round(v, 6) for v in box))
        if key in seen:  # before the range check: a dropped row is not also counted as clipped
            issues.append(f"{where}: repeats an earlier row of the file, dropped")
            counts[REPEATED] += 1
            continue
        seen.add(key)
        if not inside(box):  # no width or height, or off the image: convert drops, counts and lists it, once
            rows.append((int(c), *box))
            continue
        if not all(-EPS <= v <= 1 + EPS for v in (*coords, *box)):
            issues.append(f"{where}: box {' '.join(f'{v:g}' for v in coords[:4])} is out of the 0-1 range, clipped")
            counts[OUT_OF_RANGE] += 1
        if len(coords) > 4:
            issues.append(f"{where}: a polygon of {len(coords) // 2} points, taken as its box")
            counts[POLYGONS] += 1
        rows.append((int(c), *box))
    return rows


def drop_duplicates(source: Source, counts: dict[str, int]) -> None:
    """Keep one of images with the same bytes, so no image is in two splits or trains twice: the held-out split's
    (val, then test) over train's, as `train_apart` keeps the evaluation set the user published whole."""
    order = {s: i for i, s in enumerate(["val", "test", "train", None])}
    first: dict[str, Item] = {}
    kept = []
    ordered = sorted(source.items, key=lambda it: (order[it.split], str(it.path)))
    for item in steps(ordered, len(ordered), "Comparing images"):
        if item.size is None:  # unreadable (or gone): listed as such when labels are written
            kept.append(item)
            continue
        digest = hashlib.blake2b(item.path.read_bytes(), digest_size=16).hexdigest()
        if digest in first:
            other = first[digest]
            where = f" ({item.split} and {other.split} splits)" if item.split != other.split else ""
            source.issues.append(f"{item.path}: the same bytes as '{other.path}'{where}, left out")
            counts[DUPLICATES] += 1
            continue
        first[digest] = item
        kept.append(item)
    readable = lambda items: [it for it in items if it.split == "train" and it.size is not None]  # noqa: E731
    # an unreadable one left, or one Ultralytics drops (8 px, a GIF as .jpg), was blamed for the empty split
    if readable(source.items) and not any(skipped(it.path) is None for it in readable(kept)):
        unread = (" (the others are unreadable, or of a kind Ultralytics does not train on)"
                  if any(it.split == "train" for it in kept) else "")
        raise UserError(f"every readable train image in {source.searched} has the same bytes as a val or test "
                        f"image{unread}, so none is left to train on: give the train split images of its own")
    source.items[:] = kept


def orphan_labels(images: list[Path], claimed: set[Path | None]) -> list[str]:
    """Label files that no image claims, in the folders where the images' labels belong (labels/... or beside)."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    folders = {p.parent for p in claimed if p is not None} | {p.parent for p in images}
    folders |= {Path(sb.join(str(p).rsplit(sa, 1))).parent for p in images if sa in str(p)}
    orphans = sorted(p for f in folders for p in f.glob("*.txt") if p not in claimed and p.name not in NAME_FILES)
    return [f"{p}: no image of this name" for p in orphans]
