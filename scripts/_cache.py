"""The study's caches under --work: its data, converted once into a folder whose made.json says what it was made from
and what it holds (as a trained teacher's folder does), its labelled share split off, the fingerprint of the data a
run trains on, so a cache made from something else, or damaged since, is never taken for the study's; and a run's
folder: whether it can resume, where, and its curve.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _common import REPO
from yolodistill.resume import MAP50, MAP50_95  # noqa: F401 (bench_efficacy takes them from here)

MADE = "made.json"  # in a cache folder (converted data, a trained teacher): what made it


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resumable(last: Path) -> bool:
    """A last.pt of an unfinished run (Ultralytics marks a finished one with epoch -1)."""
    if not last.exists():
        return False
    from yolodistill.resume import finished_checkpoint

    return not finished_checkpoint(last)


def finished(run: Path) -> bool:
    """A run that trained to its end (last.pt marked finished) and kept its best.pt: only its final validation, or the
    marker after it, may be missing (a kill there), and neither needs the run trained again."""
    last = run / "weights" / "last.pt"
    return last.exists() and (run / "weights" / "best.pt").exists() and not resumable(last)


def resume_point(run: Path) -> int:
    """Before a cut-off run resumes: results.csv cut back to the epochs its last.pt holds (a kill after a row was
    written but before last.pt was saved left a row the resumed run writes again: the epoch twice, and a clock that
    went back), and the row where Ultralytics' clock starts again added to restarts.json (read_curve). Returns it."""
    from ultralytics.utils.patches import torch_load

    from yolodistill.utils import atomic_write_text

    done = int(torch_load(run / "weights" / "last.pt", map_location="cpu", weights_only=False)["epoch"]) + 1
    csv, kept = run / "results.csv", 0
    if csv.exists():
        head, *rows = csv.read_text().splitlines(keepends=True)
        by_epoch = {}  # the last row of each epoch the checkpoint holds
        for row in rows:
            try:
                epoch = int(float(row.split(",")[0]))
            except ValueError:
                continue
            if epoch <= done:
                by_epoch[epoch] = row
        kept = len(by_epoch)
        atomic_write_text(csv, head + "".join(by_epoch[e] for e in sorted(by_epoch)))
    restarts = run / "restarts.json"
    restarts.write_text(json.dumps([*(json.loads(restarts.read_text()) if restarts.exists() else []), kept]))
    return kept


def read_curve(results_csv: Path) -> tuple[list[float], list[float]]:
    """Per-epoch val mAP50-95 (of the EMA model) and seconds per epoch, from Ultralytics' results.csv.

    Its `time` is seconds since the process began training, so a resumed run's clock starts again: the row where it
    did (restarts.json, written by resume_point before each resume) holds that epoch's own time, as does a row where
    the clock went back (a run resumed before restarts.json existed), so no epoch time is negative."""
    import csv

    with open(results_csv, newline="") as f:
        rows = list(csv.DictReader(f, skipinitialspace=True))
    cumulative = [float(r["time"]) for r in rows]
    restarts_file = results_csv.with_name("restarts.json")
    restarts = set(json.loads(restarts_file.read_text())) if restarts_file.exists() else set()
    pairs = list(zip([0.0, *cumulative], cumulative))
    times = [b if i in restarts or b < a else b - a for i, (a, b) in enumerate(pairs)]
    return [float(r[MAP50_95]) for r in rows], times


def read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def validate_run(run_dir: Path, args) -> dict[str, float]:
    """best.pt's metrics as the trainer's final validation takes them: on the run's data and settings (args.yaml),
    at twice its batch, as Ultralytics' trainer validates."""
    import yaml
    from ultralytics import YOLO

    saved = yaml.safe_load((run_dir / "args.yaml").read_text())
    metrics = YOLO(str(run_dir / "weights" / "best.pt")).val(
        data=saved["data"], imgsz=saved["imgsz"], batch=2 * saved["batch"], device=args.device, workers=args.workers,
        plots=False, project=str(run_dir), name="val", exist_ok=True)
    return {k: float(v) for k, v in metrics.results_dict.items()}


def best_epoch(curve: list[float]) -> int:
    """The epoch best.pt holds: Ultralytics saves it again on a tie, so the last epoch at the highest value."""
    return len(curve) - curve[::-1].index(max(curve))


def tree_stamp(path: Path) -> str:
    """A source dataset (folder or file) by its files' names, sizes and modification times: edited in place, it
    differs. Cheap (no file is read); a copy with new times differs too, and is then converted again to no harm."""
    h = hashlib.sha256()
    for p in [path] if path.is_file() else walk(path):
        st = p.stat()
        h.update(f"{p.relative_to(path).as_posix() if p != path else p.name}\t{st.st_size}\t{st.st_mtime_ns}\n"
                 .encode())
    return h.hexdigest()


def walk(root: Path, tops: tuple[str, ...] = ()) -> list[Path]:
    """The files under root (linked folders followed), in a fixed order; with `tops`, only under those subfolders."""
    files = []
    for folder, dirs, names in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not tops or Path(folder) != root or d in tops)
        files += [Path(folder) / n for n in sorted(names)]
    return files


def dataset_fingerprint(data_yaml: Path) -> str:
    """The data a run trains on, by content: its class names, every image (path in the dataset, size) and every
    label file (its text) under images/, labels/ and unlabeled/ beside data.yaml. Neither where the dataset lies nor
    when it was written: the same data converted again, or in another --work, gives the same fingerprint."""
    import yaml
    from ultralytics.data.utils import IMG_FORMATS

    root = data_yaml.parent
    h = hashlib.sha256(json.dumps(yaml.safe_load(data_yaml.read_text()).get("names"), sort_keys=True).encode())
    for p in walk(root, ("images", "labels", "unlabeled")):
        kind = p.relative_to(root).parts[0]
        if (p.suffix == ".txt") if kind == "labels" else (p.suffix[1:].lower() in IMG_FORMATS):  # not labels/*.cache
            there = p.exists()  # a link into a folder whose file is gone: counted as gone
            h.update(f"{p.relative_to(root).as_posix()}\t{p.stat().st_size if there else -1}\n".encode())
            if kind == "labels" and there:
                h.update(p.read_bytes())
    return h.hexdigest()[:16]


def cache_folder(base: Path, made: dict[str, Any], fits, added: tuple[str, ...] = (), same=None) -> tuple[Path, bool]:
    """Where the cache that `made` describes lives, and whether it is there: `base`, or base-KEY (KEY a hash of
    `made`) when base was made from something else. A folder's made.json says what made it; one from before made.json
    existed is asked `fits(folder)`: True (it fits: its made.json is written now), None (half-made by this script:
    to be built again) or False (it holds something else). `added`: keys of `made` newer than some made.json (a model
    yaml's content), which `same(folder)` checks against what the folder holds (made_from: True, False, or None where
    it cannot tell). A made.json whose other keys agree but that lacks them, or holds them otherwise (another
    Ultralytics reads the yaml otherwise), stands where `same` says True (and is stamped with them now, its -KEY taken
    without them), and where None if it lacked them (left unstamped: nothing unchecked is written); False, or a stamp
    `same` contradicts (an unchecked one of 6cd2405), is something else."""
    def key(of: dict[str, Any]) -> str:
        return hashlib.sha256(json.dumps(of, sort_keys=True).encode()).hexdigest()[:8]

    older = {k: v for k, v in made.items() if k not in added}
    legacy = base.with_name(f"{base.name}-{key(older)}") if added else None
    for folder in (base, legacy, base.with_name(f"{base.name}-{key(made)}")):
        if folder is None or folder == legacy and not folder.exists():
            continue
        if not folder.exists():
            return folder, False
        if (folder / MADE).exists():
            stamp = json.loads((folder / MADE).read_text())
            if {k: stamp.get(k) for k in older} != older:
                continue
            verdict = same(folder) if added and same is not None else None
            if {k: stamp.get(k) for k in made} == made and verdict is not False:
                return folder, True
            if added and verdict is not False and (verdict or not set(added) & set(stamp)):
                if verdict:
                    (folder / MADE).write_text(json.dumps({**stamp, **made}, indent=1))
                return folder, True
        elif folder != legacy and (state := fits(folder)) is not False:
            verdict = same(folder) if state and added and same is not None else None
            if verdict is False:
                continue
            if state:  # what made it, less what could not be checked
                (folder / MADE).write_text(json.dumps(made if verdict else older, indent=1))
            return folder, bool(state)
    return folder, False  # base-KEY holds something else: built again


def made_from(weights: list[Path], model: str) -> bool | None:
    """Whether a trained model (the first of `weights` there) was built from the yaml `model` as it reads now: the
    model.yaml every Ultralytics checkpoint keeps against yaml_model_load's, less what a build or the data sets
    (_study.model_config: nc, channels, yaml_file). None where it cannot tell: no weights, a file torch cannot read, a
    .pt model (its sha256 is compared), or a yaml Ultralytics cannot read."""
    from ultralytics.nn.tasks import yaml_model_load

    from _common import checkpoint_model
    from _study import model_config

    there = next((w for w in weights if w.is_file()), None)
    if Path(model).suffix.lower() not in (".yaml", ".yml") or there is None:
        return None
    held = getattr(checkpoint_model(there), "yaml", None)
    try:
        return model_config(held) == model_config(yaml_model_load(model)) if isinstance(held, dict) else None
    except Exception:  # noqa: BLE001 - the yaml is gone or broken: check_model says so where it matters
        return None


@contextmanager
def work_lock(work: Path):
    """The caches of `work` (converted data, a teacher and its validation) to this process alone: study processes
    started together on one --work (one per arm or seed) would otherwise build the same hidden folder at once, and
    the second fails on the first's files; and a study's record, settled and written by one at a time. The lock goes
    with the process, so a kill never leaves it held."""
    import fcntl

    work.mkdir(parents=True, exist_ok=True)
    with open(work / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # waits for the process that holds it
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def data_base(study: dict[str, Any], work: Path) -> Path:
    """The study's data cache folder under --work (before any -KEY of cache_folder): synth-IMGSZ, or the source
    folder's name in lower case."""
    if study["data"] == "synth":
        return work / f"synth-{study['imgsz']}"
    return work / (REPO / study["data"]).resolve().name.lower()


def check_study_folder(study: dict[str, Any], work: Path) -> None:
    """A study's runs live in --work/NAME, beside its data caches: a name that is (or may become) one of its data's
    folders (BASE, BASE-KEY, their -lSHARE-sSEED splits) or teachers/, or a folder that holds a cache (made.json),
    would put the runs inside a cache, which a change to the data replaces whole, runs and all."""
    from yolodistill.errors import UserError

    name, base = study["name"], data_base(study, work).name
    pattern = re.escape(base) + r"(-[0-9a-f]{8})?(-l[0-9.e+-]+-s[0-9]+)?"
    if name.lower() == "teachers" or re.fullmatch(pattern, name.lower()) or (work / name / MADE).exists():
        raise UserError(f"study name '{name}' would put its runs in '{work / name}', among --work's caches (data or "
                        f"teachers), which are made again whole when what made them changes, runs and all: name the "
                        f"study otherwise, e.g. {name}-study")


def check_teacher_classes(teacher: Path, data_yaml: Path, what: str) -> None:
    """A teacher checkpoint of other classes than the data's, before anything trains or its teacher.json is written:
    it validated to mAP 0, became the study's teacher, and was refused only by the first arm that distils."""
    import yaml

    from yolodistill.checks import check_names
    from yolodistill.loading import load_detector

    check_names(load_detector(teacher, "teacher").names, yaml.safe_load(data_yaml.read_text()).get("names"),
                f"{what} {teacher}", "train or fine-tune the teacher on this dataset first, or pass another")


def distilled_from(root: Path, teacher_sha256: str) -> list[str]:
    """The runs of a study's folder that distilled from that teacher: finished with it, or started (a run cut off
    resumes with the teacher it began with). Plain runs use none; a run that does not say counts as one."""
    runs = []
    for run in sorted(root.glob("*/seed*")):
        done = read(run / "run.json")
        spec = done.get("spec") or read(run / "spec.json")
        started = (run / "run.json").exists() or any((run / "weights" / w).exists() for w in ("last.pt", "best.pt"))
        if started and spec.get("method") != "plain" and done.get("teacher_sha256", teacher_sha256) == teacher_sha256:
            runs.append(f"{run.parent.name} seed {run.name.removeprefix('seed')}")
    return runs


def prepare_data(study: dict[str, Any], work: Path) -> dict[str, Path]:
    """The YOLO-format dataset under --work, converted (or drawn) once; the source is never written to. With the
    study's `labelled: SHARE`, also its split: `labelled` (that share of the train images with their labels, the
    same val split) and `unlabeled` (a folder of the other train images, labels withheld); `full` is every train
    image labelled, the upper bound. The folder is named after the source and says in made.json what it was made
    from: another source of the same name gets a folder of its own, a source edited since is converted again."""
    from yolodistill.convert import OUTPUT_FILES
    from yolodistill.data import convert, make_synthetic

    src, files, base = study["data"], None, data_base(study, work)
    if src == "synth":
        size = max(study["imgsz"], 32)
        made = {"source": "synth", "images": 32, "classes": 3, "imgsz": size, "seed": 0}

        def make(out: Path) -> Path:
            return make_synthetic(out, images=32, classes=3, imgsz=size, seed=0)
    else:
        source, fmt = (REPO / src).resolve(), study["format"]
        made, files = {"source": str(source), "format": fmt}, tree_stamp(source)

        def make(out: Path) -> Path:
            return convert(source, fmt, out).data_yaml

    def fits(folder: Path) -> bool | None:  # a folder converted before made.json: its dataset.json names the source
        if not (folder / "data.yaml").exists():  # half-made by a kill, or something else
            return None if {p.name for p in folder.iterdir()} <= {"images", "labels", *OUTPUT_FILES} else False
        record = json.loads((folder / "dataset.json").read_text()) if (folder / "dataset.json").exists() else {}
        return src == "synth" or (record.get("source") == [made["source"]] and record.get("format") == made["format"])

    out, ready = cache_folder(base, made, fits)
    if ready and damaged(out):
        print(f"'{out}' no longer holds the data it was made with (files deleted or edited there): made again",
              flush=True)
        ready = False
    if not ready:
        place(build(out, make, {**made, "files": files}), out)
    elif files is not None and (stamp := json.loads((out / MADE).read_text())).get("files") != files:
        tmp = build(out, make, {**made, "files": files})
        if dataset_fingerprint(tmp / "data.yaml") == dataset_fingerprint(out / "data.yaml"):
            shutil.rmtree(tmp)  # the same data (copied, touched): kept, with the source's new stamp
            (out / MADE).write_text(json.dumps({**stamp, "files": files}, indent=1))
        else:
            print(f"'{made['source']}' changed since it was converted into '{out}': converted again", flush=True)
            place(tmp, out)
    full = out / "data.yaml"
    if "labelled" not in study:
        return {"labelled": full, "full": full}
    return {"full": full, **split_labelled(full, study["labelled"], study["split_seed"])}


def damaged(out: Path) -> bool:
    """A cached dataset whose files no longer give the fingerprint its made.json took when it was built (`content`):
    images deleted or labels edited there, which the source's stamp never shows. A cache from before `content` was
    kept is taken as it is, and its fingerprint kept now."""
    stamp = json.loads((out / MADE).read_text())
    if not (out / "data.yaml").exists():
        return True
    content = dataset_fingerprint(out / "data.yaml")
    if "content" not in stamp:
        (out / MADE).write_text(json.dumps({**stamp, "content": content}, indent=1))
        return False
    return stamp["content"] != content


def build(out: Path, make, stamp: dict[str, Any]) -> Path:
    """make(folder) writes a dataset into a hidden folder beside `out`, whose data.yaml path (and dataset.json) name
    `out`, where place() puts it once whole: a kill leaves only the hidden folder, cleared the next time. Its
    made.json holds `stamp` and the dataset's fingerprint (`content`, see damaged)."""
    import yaml

    tmp = out.with_name(f".{out.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    make(tmp)
    d = yaml.safe_load((tmp / "data.yaml").read_text())
    (tmp / "data.yaml").write_text(yaml.safe_dump({**d, "path": str(out)}, sort_keys=False))
    if (tmp / "dataset.json").exists():
        d = json.loads((tmp / "dataset.json").read_text())
        (tmp / "dataset.json").write_text(json.dumps({**d, "data_yaml": str(out / "data.yaml")}, indent=2))
    (tmp / MADE).write_text(json.dumps({**stamp, "content": dataset_fingerprint(tmp / "data.yaml")}, indent=1))
    return tmp


def place(tmp: Path, out: Path) -> None:
    """`tmp` renamed into `out`, whose old folder (made from the source before it was edited) is first renamed aside
    and removed after: a kill leaves the whole old folder, or the whole new one, or none, never part of one."""
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def split_labelled(full: Path, share: float, seed: int) -> dict[str, Path]:
    """FULL-l{share}-s{seed}/: images/train and labels/train of a seeded `share` of the train images (links to the
    images, copies of their labels), the val split linked whole, and unlabeled/ with the rest of the train images
    (links, no labels). Built once, in a hidden folder renamed into place."""
    import random

    import yaml

    from yolodistill.data import split_images

    root = full.parent.parent / f"{full.parent.name}-l{share * 100:g}-s{seed}"  # 0.25: l25; 0.255: l25.5
    made = {"full": dataset_fingerprint(full), "share": share, "seed": seed}
    if (root / "data.yaml").exists() and not (root / MADE).exists():
        (root / MADE).write_text(json.dumps(made))  # split before made.json existed: taken as made from this
    saved = json.loads((root / MADE).read_text()) if (root / "data.yaml").exists() else None
    same = saved is not None and {k: v for k, v in saved.items() if k != "content"} == made
    if same and damaged(root):
        print(f"'{root}' no longer holds the split it was made with (files deleted or edited there): made again",
              flush=True)
        same = False
    if not same:
        d = yaml.safe_load(full.read_text())
        base = Path(d["path"])
        images = split_images(base / d["train"])
        order = list(range(len(images)))
        random.Random(seed).shuffle(order)
        keep = set(order[:round(len(images) * share)])
        tmp = root.with_name(f".{root.name}.partial")
        shutil.rmtree(tmp, ignore_errors=True)
        for sub in ("images/train", "labels/train", "unlabeled"):
            (tmp / sub).mkdir(parents=True)
        for i, img in enumerate(images):
            if i in keep:
                (tmp / "images/train" / img.name).symlink_to(img)
                label = img.parents[2] / "labels" / img.parent.name / f"{img.stem}.txt"
                if label.exists():
                    shutil.copy(label, tmp / "labels/train" / label.name)
            else:
                (tmp / "unlabeled" / img.name).symlink_to(img)
        for kind in ("images", "labels"):
            (tmp / kind / "val").symlink_to(base / kind / Path(d["val"]).name)
        (tmp / "data.yaml").write_text(yaml.safe_dump({**d, "path": str(root), "train": "images/train",
                                                       "val": "images/val"}, sort_keys=False))
        (tmp / MADE).write_text(json.dumps({**made, "content": dataset_fingerprint(tmp / "data.yaml")}))
        place(tmp, root)
    return {"labelled": root / "data.yaml", "unlabeled": root / "unlabeled"}
