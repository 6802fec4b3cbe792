"""The models a user names: a checkpoint found (on disk, by Ultralytics' name, or at a URL they typed) and loaded, or a
student built from its yaml; each misfit is one `UserError` line. checks.py checks how they fit together.
"""

from __future__ import annotations

import hashlib
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch

from .errors import UserError, first_line, is_url, require_file, root_cause


def cache_dir() -> Path:
    # absolute: the folder a relative YOLODISTILL_CACHE names from where the command started (locks.lock_folder
    # does not lock there: each working folder would have its own)
    return Path(os.environ.get("YOLODISTILL_CACHE") or Path.home() / ".cache" / "yolodistill").expanduser().absolute()


def local_checkpoint(path: str | Path, role: str, into: Path | None = None) -> str:
    """The local file behind a checkpoint the user named on the command line.

    A URL they typed is downloaded into the cache; an official Ultralytics name (yolo26x.pt) that is not on disk is
    fetched by Ultralytics, as `yolo train model=yolo26x.pt` would: into the working folder, or `into` where that
    folder is an output that must stay as the command leaves it. URLs from anywhere else are refused
    (`require_file`), so a checkpoint or config can never make us load something the user did not ask for.
    """
    from ultralytics.utils.downloads import GITHUB_ASSETS_NAMES, attempt_download_asset

    text = str(path)
    if is_url(text):
        return str(download(text, role))
    text = u_name(text, role)
    if Path(text).exists() or text not in GITHUB_ASSETS_NAMES:
        return text
    from ultralytics.utils import is_online

    if not is_online():
        raise UserError(f"{role} '{text}' is not on disk and this machine is offline: download Ultralytics' {text} "
                        "and pass its path")
    try:
        got = attempt_download_asset(text if into is None else str(into / text))
    except Exception as e:
        raise UserError(f"{role} '{text}' could not be downloaded ({first_line(e)}): download it and pass its path") \
            from None
    if not Path(got).is_file():
        raise UserError(f"{role} '{text}' could not be downloaded: download it and pass its path")
    return got


def u_name(text: str, role: str, fetched: bool = True) -> str:
    """The file Ultralytics reads for `text`: a YOLOv5 or YOLOv3 .pt name without a 'u' in its path (yolov5s.pt) is
    read as its 'u' name (yolov5su.pt, weights trained with Ultralytics; the YOLOv5 repository's do not load), and
    fetched where that is an official name, whatever the file named holds. Said, and recorded: the file named was
    hashed and recorded while another one trained; where the 'u' file is missing and no official name, Ultralytics
    tried to download it and failed with 'Name or service not known'."""
    from ultralytics.utils import LOGGER
    from ultralytics.utils.checks import check_yolov5u_filename
    from ultralytics.utils.downloads import GITHUB_ASSETS_NAMES

    read = check_yolov5u_filename(text, verbose=False) if text.lower().endswith(".pt") else text
    if read == text:
        return text
    official = fetched and read in GITHUB_ASSETS_NAMES  # what Ultralytics fetches where it is not on disk
    if Path(read).exists() or (official and not Path(text).exists()):  # what Ultralytics loads, or fetches
        LOGGER.warning(f"{role} '{text}' is read as '{read}', as Ultralytics reads a YOLOv5 or YOLOv3 name (its "
                       f"'u' weights, trained with Ultralytics)")
        return read
    if Path(text).exists():  # yours, however its path is spelt (yolov5s.pt, ./yolov5s.pt): never swapped unsaid
        fetch = f", or move it away to have Ultralytics' own {read} fetched" if official else ""
        raise UserError(f"{role} '{text}' is read by Ultralytics as '{read}' (a YOLOv5 or YOLOv3 name is read as "
                        f"its 'u' weights, trained with Ultralytics), which is not there: if '{text}' holds "
                        f"Ultralytics weights, rename it {Path(read).name}{fetch}")
    return text  # neither there: require_file names the file typed


def download(url: str, role: str) -> Path:
    """Fetch a URL into the cache (never over a file of the user's) and print its sha256: a .pt is a pickle."""
    from urllib.parse import unquote, urlparse

    from torch.hub import download_url_to_file

    name = Path(unquote(urlparse(url).path)).name
    if not name.lower().endswith(".pt"):
        raise UserError(f"{role} URL '{url}' does not name a .pt file")
    # the folder's 'url-': Ultralytics reads a path without a 'u' named yolov5s.pt as yolov5su.pt (u_name), and
    # fetched its own yolov5su.pt in place of the URL's file
    dest = cache_dir() / "downloads" / f"url-{hashlib.sha256(url.encode()).hexdigest()[:16]}" / name
    if not dest.is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            download_url_to_file(url, str(dest), progress=sys.stderr.isatty())  # writes a temp file, then renames
        except Exception as e:
            raise UserError(f"{role} URL '{url}' could not be downloaded ({first_line(e)}): check the URL, or "
                            "download the file and pass its path") from None
    digest = hashlib.sha256(dest.read_bytes()).hexdigest()
    print(f"{role}: {url} -> {dest} (sha256 {digest}). A .pt is a pickle that can run code: load only files you "
          "trust.", file=sys.stderr)
    return dest


def load_detector(path: str | Path, role: str) -> torch.nn.Module:
    """Load a detection checkpoint, or say clearly why it is not one."""
    from ultralytics.nn.tasks import load_checkpoint

    p = require_file(path, role, (".pt",))
    with held_warnings(BARE_WARNING):  # Ultralytics' warning of a bare model: ours says it
        try:
            model, ckpt = load_checkpoint(p)
        except Exception as e:
            raise unreadable(role, p, e) from None
        if role.startswith("teacher") and hasattr(model, "student_model"):  # Ultralytics loads it whole, and fails
            raise UserError(f"{role} '{p}' was saved mid-run by a distillation run (it holds the student with its "
                            "teacher): pass that run's best.pt, finishing the run first (yolodistill train --resume) "
                            "if it stopped")
        refuse_bare(model, role, p)
    check_task(model_task(model), role, p)
    head = type(getattr(model, "student_model", model).model[-1]).__name__  # a mid-run checkpoint's student's
    if head in OTHER_DETECTORS:  # read as a detector: 'has 1 detection levels, pick a student with a P3-P5 head'
        raise UserError(f"{role} '{p}' is {OTHER_DETECTORS[head]} model ({head} head), which yolodistill does not "
                        "handle: use a YOLO detection model such as yolo26n.pt")
    model.trained_imgsz = trained_imgsz(ckpt.get("train_args") if isinstance(ckpt, dict) else None)
    return model


BARE_WARNING = "appears to be improperly saved"  # Ultralytics' load_checkpoint, of a torch.save(model) file


def refuse_bare(model: torch.nn.Module, role: str, path: str | Path) -> None:
    """torch.save(model) loads as a Sequential marked detect, with no names and one stride: say what it is."""
    inner = getattr(model, "student_model", model)  # a mid-run checkpoint's student, which bench and export unwrap
    if not isinstance(getattr(inner, "model", None), torch.nn.Sequential):
        raise UserError(f"{role} '{path}' holds a bare model, not an Ultralytics checkpoint (a model saved with "
                        "torch.save): save it with YOLO's model.save('model.pt'), or pass a run's weights/best.pt")


@contextmanager
def held_warnings(text: str) -> Iterator[None]:
    """Ultralytics' log lines holding `text`, held back and logged only if the block ends without an error: a
    refusal that says the same thing is one line, not two."""
    import logging

    from ultralytics.utils import LOGGER

    held: list[logging.LogRecord] = []

    def hold(record: logging.LogRecord) -> bool:
        if text in record.getMessage():
            held.append(record)
            return False
        return True

    LOGGER.addFilter(hold)
    try:
        yield
    finally:
        LOGGER.removeFilter(hold)
    for record in held:
        LOGGER.handle(record)


def model_task(model: torch.nn.Module) -> str | None:
    """The task the model's last layer does. Not `model.task`: `load_checkpoint` fills a checkpoint's missing train
    arguments with Ultralytics' defaults, task=detect included, so a classifier saved without them reads as a
    detector until its head fails on the first image."""
    from ultralytics.nn.modules import head as heads

    last = model.model[-1] if isinstance(getattr(model, "model", None), torch.nn.Sequential) else None
    for name, task in (("Segment", "segment"), ("SemanticSegment", "semantic"), ("Pose", "pose"), ("OBB", "obb"),
                       ("Classify", "classify"), ("Depth", "depth"), ("Detect", "detect")):  # Detect's subclasses first
        kind = getattr(heads, name, None)
        if kind is not None and isinstance(last, kind):
            return task
    return getattr(model, "task", None)


def unreadable(role: str, path: str | Path, e: BaseException) -> UserError:
    """A file torch or Ultralytics could not load: why, in a sentence, and what to do about it."""
    return UserError(f"{role} '{path}' is not a readable Ultralytics checkpoint ({root_cause(e)}): re-train or "
                     "re-download it, or pass another .pt")


def check_task(task: str | None, role: str, path: str | Path) -> None:
    """A model of another task than detection, in the words every command uses."""
    if task != "detect":
        raise UserError(f"{role} '{path}' is {article(task)} {task} model: yolodistill distills detection models "
                        "(task=detect)")


def article(word: str | None) -> str:
    """'an obb model', 'a segment model'."""
    return "an" if str(word)[:1] in "aeiou" else "a"


# Detection heads whose models need more than images (text prompts) or are no YOLO head (a transformer decoder)
OTHER_DETECTORS = {"RTDETRDecoder": "an RT-DETR", "WorldDetect": "a YOLO-World", "YOLOEDetect": "a YOLOE"}


def build_student(student: str, nc: int, ch: int) -> torch.nn.Module:
    """Build a student from a model yaml (a built-in name such as yolo26n.yaml or a path) to read its head."""
    from ultralytics.nn.tasks import DetectionModel, guess_model_task, yaml_model_load

    suffix = Path(student).suffix.lower()
    if Path(student).is_dir():  # 'e.g. FOLDER.yaml or FOLDER.pt' put a suffix on a folder's name
        require_file(student, "student", (".yaml", ".yml", ".pt"))
    if suffix not in (".yaml", ".yml"):
        example = f"{student}.yaml or {student}.pt" if not suffix else "yolo26n.yaml or best.pt"
        raise UserError(f"student '{student}' should be a model yaml or a .pt checkpoint, e.g. {example}")
    try:
        cfg = yaml_model_load(student)  # resolves scaled names: yolo26n.yaml is yolo26.yaml at scale n
    except Exception as e:
        raise UserError(f"student '{student}' is not a model yaml Ultralytics can find ({first_line(e)})") from None
    if not (isinstance(cfg.get("backbone"), list) and cfg.get("head") and isinstance(cfg["head"][-1], list)):
        hint = ("this looks like a data yaml: pass it as --data" if {"train", "val", "names"} & set(cfg) else
                "it has no backbone and head")
        raise UserError(f"student '{student}' is not a model yaml ({hint}); use a detection yaml such as yolo26n.yaml")
    head = str(cfg["head"][-1][2] if len(cfg["head"][-1]) > 2 else "")
    if head in OTHER_DETECTORS:
        raise UserError(f"student '{student}' is {OTHER_DETECTORS[head]} model ({head} head), which yolodistill "
                        "cannot distill: use a YOLO detection yaml such as yolo26n.yaml")
    task = guess_model_task(cfg)
    if task != "detect":
        raise UserError(f"student '{student}' describes {article(task)} {task} model: use a detection yaml such as "
                        "yolo26n.yaml")
    try:
        scale = cfg.get("scale") or next(iter(cfg.get("scales") or {}), None)  # Ultralytics' guess, which its trainer
        return DetectionModel({**cfg, "nc": nc, "scale": scale}, nc=nc, ch=ch, verbose=False)  # says (twice): not 3x
    except Exception as e:
        raise UserError(f"student '{student}' could not be built ({first_line(e)}): use a detection yaml such as "
                        "yolo26n.yaml") from None


def trained_imgsz(train_args: Any) -> int | None:
    """From the checkpoint's own train_args (the loaded `model.args` fill a missing imgsz with 640); None if unclear."""
    size = train_args.get("imgsz") if isinstance(train_args, dict) else None
    sizes = list(size) if isinstance(size, (list, tuple)) else [size]
    return max(sizes) if sizes and all(type(x) is int and x > 0 for x in sizes) else None
