"""Where an export's files go: a private folder to export into, Ultralytics' name beside the weights, and what an
earlier export of that name was before it is replaced (read from the metadata Ultralytics writes into it)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import UserError
from .parity import NMS_CONF
from .utils import held_signals


def export_metadata(path: Path) -> dict:
    """What Ultralytics recorded in an export (task, imgsz, args, date), read without loading it; {} if none."""
    import ast

    from ultralytics.nn.backends.base import BaseBackend

    meta = dict(BaseBackend.read_metadata(path))
    for k in ("imgsz", "args", "batch", "end2end"):  # written as text into an ONNX file's metadata
        if isinstance(meta.get(k), str):
            try:
                meta[k] = ast.literal_eval(meta[k])
            except (ValueError, SyntaxError):
                meta.pop(k)
    return meta


def is_export(meta: dict) -> bool:
    """Whether metadata is Ultralytics' (exporter.py writes author into every format; YOLOv5's exports hold names and
    stride): an ONNX file another tool wrote carries metadata of its own (author: me), and was replaced as an export."""
    return meta.get("author") == "Ultralytics" or {"names", "stride"} <= meta.keys()


def export_args(meta: dict) -> dict:
    """The export arguments in an export's metadata ({} where it records none readable)."""
    return meta["args"] if isinstance(meta.get("args"), dict) else {}


def graph_head(meta: dict) -> str:
    """How an export's graph ends: 'nms' (NMS inside it), 'end2end' (YOLO26's NMS-free head) or 'raw' (outputs that
    NMS follows, Ultralytics' default and how a checkpoint predicts)."""
    return "nms" if export_args(meta).get("nms") else "end2end" if meta.get("end2end") is True else "raw"


def graph_kind(meta: dict) -> str:
    """What an export's graph is beyond its precision and size, in words: NMS inside it (which keeps only scores above
    the threshold it bakes in), YOLO26's NMS-free head, a batch of several or dynamic shapes; '' for Ultralytics'
    default (one image, raw outputs that NMS follows)."""
    words = [{"nms": f"NMS inside (scores above {NMS_CONF:g})", "end2end": "NMS-free end2end head"}.get(
        graph_head(meta), "")]
    if export_args(meta).get("dynamic"):
        words.append("dynamic")
    elif isinstance(meta.get("batch"), int) and meta["batch"] > 1:
        words.append(f"batch {meta['batch']}")
    return ", ".join(w for w in words if w)


def describe_export(path: Path) -> str:
    """An existing export in a few words (precision, size, date), for the line that says it is being replaced."""
    import datetime

    from .utils import megabytes

    meta = export_metadata(path)
    words = [{8: "int8", 16: "fp16"}.get(export_args(meta).get("quantize"), "fp32")] if meta else []
    if isinstance(meta.get("imgsz"), (list, tuple)) and meta["imgsz"]:
        words.append(f"{max(meta['imgsz'])} px")
    if kind := graph_kind(meta):
        words.append(kind)
    words.append(f"{megabytes(path):.1f} MB")
    when = datetime.datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    return ", ".join(words) + f", written {when}"


def artifact_name(weights: Path, fmt: str, precision: str) -> str:
    """The name Ultralytics gives the export of `weights` (exporter.py), which `install` puts beside them."""
    return {"onnx": f"{weights.stem}{'_int8' if precision == 'int8' else ''}.onnx", "engine": f"{weights.stem}.engine",
            "openvino": f"{weights.stem}_{'int8_' if precision == 'int8' else ''}openvino_model"}[fmt]


def check_replaceable(path: Path, stem: str) -> None:
    """An export of that name may be replaced (it is rebuilt by exporting again); a file of the user's may not, nor
    one the user put inside an OpenVINO export's folder, which is replaced whole. `stem`: the weights' own, which
    names the model files inside."""
    if path.exists() and not is_export(export_metadata(path)):
        raise UserError(f"'{path}' exists and is not an Ultralytics export, and the export takes that name beside the "
                        "weights: move the file, or export a copy of the weights from another folder")
    if path.is_dir():
        theirs = {"metadata.yaml", f"{stem}.xml", f"{stem}.bin"}  # what Ultralytics' OpenVINO export writes
        mine = sorted(p.name for p in path.iterdir() if p.name not in theirs)
        if mine:
            raise UserError(f"'{path}' holds {', '.join(mine[:3])}{' ...' if len(mine) > 3 else ''}, not written by "
                            "the export, and exporting again replaces the folder whole: move them out first")


def install(artifact: Path, dest: Path, stem: str) -> tuple[Path, str]:
    """Move a checked artifact beside the weights under Ultralytics' name, as `yolo export` does; an older export of
    that name is replaced, and described in the second value (empty when there was none) so the user is told."""
    final = dest / artifact.name
    check_replaceable(final, stem)  # checked before exporting too; a file may have appeared since
    existed, old = final.exists(), artifact.with_name(f"old-{artifact.name}")
    replaced, done = describe_export(final) if existed else "", False
    try:
        with held_signals():  # a Ctrl-C waits until the new export is in place, so what the CLI says of it is true
            if existed:  # an OpenVINO folder cannot be renamed over a folder: the old one moves out first
                os.replace(final, old)  # into the temp folder, which deletes it
            try:
                os.replace(artifact, final)
            except BaseException:
                if old.exists() and not final.exists():
                    os.replace(old, final)
                raise
            done = True
    except KeyboardInterrupt:
        if not done:  # a failed move, put back, that a held Ctrl-C replaced: nothing beside the weights changed
            raise
        raise InPlace(final, replaced) from None
    return final, replaced


class InPlace(KeyboardInterrupt):
    """A Ctrl-C that came once the export was installed, which it says (the CLI otherwise says nothing was exported);
    its own class, so a second Ctrl-C raised while this one unwinds does not hide it."""

    def __init__(self, final: Path, replaced: str):
        super().__init__(f"{final} was exported and in place before the stop"
                         + (f"; it replaced the earlier one ({replaced})" if replaced else ""))

    @staticmethod
    def among(e: BaseException) -> InPlace | None:
        """This interrupt or one it was raised while handling."""
        while e is not None and not isinstance(e, InPlace):
            e = e.__context__
        return e


class TempPaths(logging.Filter):
    """Ultralytics logs the paths of the private export folder, which is gone once the export is checked: a user who
    copies its Predict/Validate commands gets a missing file. Rewrite them to where the files end up, and hold the
    lines that say the artifact is saved there ('export success ... saved as', 'Results saved to', Predict,
    Validate) until it is: the parity check may still refuse it."""

    def __init__(self, tmp: Path, weights: Path, artifact: str):
        super().__init__()
        forms = dict.fromkeys((str(tmp.resolve()), str(tmp)))  # 'Results saved to' resolves; the rest do not
        name = r"[^\s'\"\\/\x1b,;:()]"  # a file name ends at a space, a quote, ...; one of the weights' stem may hold
        self.pattern = re.compile(f"({'|'.join(map(re.escape, forms))})"  # them ('best (1).pt'): it is read first
                                  + rf"(?:[\\/]({re.escape(weights.stem)}{name}*|{name}+))?")
        self.tmp, self.dest, self.kept, self.artifact = str(tmp), weights.parent, {weights.name, artifact}, artifact
        self.held: list[logging.LogRecord] = []

    def rewrite(self, m: re.Match) -> str:
        dest = self.dest if m[1] == self.tmp else self.dest.resolve()
        if m[2] and m[2] not in self.kept:  # an intermediate file (TensorRT's ONNX), deleted with the folder
            return f"{m[2]} (temporary)"
        return str(dest / m[2]) if m[2] else str(dest)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.pattern.sub(self.rewrite, record.getMessage()), ()
        saved = "export success" in record.msg and self.artifact in record.msg  # not TensorRT's ONNX
        if saved or "Export complete" in record.msg or "Results saved to" in record.msg:
            self.held.append(record)
            return False
        return True


@contextmanager
def export_folder(weights: Path, artifact: str):
    """A private folder beside the weights to export into, deleted when the block ends. Meanwhile Ultralytics' log
    names the final paths (TempPaths); its 'export success ... saved as' line and closing summary come at the end,
    with the artifact in place, or never when the block raises: a refused artifact is not saved."""
    from ultralytics.utils import LOGGER

    drop_killed_stages(weights.parent)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=weights.parent))
    owner = hold(tmp / OWNER)  # held while the export runs: the next export tells a killed one's folder by it
    paths = TempPaths(tmp, weights, artifact)
    LOGGER.addFilter(paths)
    try:
        yield tmp
    finally:
        LOGGER.removeFilter(paths)
        with held_signals():  # a Ctrl-C waits, so no half-deleted folder stays beside the weights
            shutil.rmtree(tmp, ignore_errors=True)
            if owner is not None:
                owner.close()
    for record in paths.held:
        LOGGER.handle(record)


OWNER = ".owner.lock"  # in each export's private folder, flock-held by the export while it runs


def hold(path: Path):
    """`path` opened and flock-held (released when the process ends, a kill too); None where there is no flock."""
    try:
        import fcntl

        from .locks import open_lock

        handle = open_lock(path)  # never through a link planted in the weights' folder
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise
        return handle
    except (ImportError, OSError):
        return None


def drop_killed_stages(folder: Path) -> None:
    """The private folders of exports killed earlier (kill -9, the OOM killer): each kill left one, a copy of the
    weights and a half-written artifact, for good. A folder whose owner lock can be taken has no export left (a
    process id could not tell: another container's export shares the folder, not the ids); one made in the last
    minute may not hold its lock yet, and one without a lock is an older version's, both left alone."""
    import time

    for stage in folder.glob(".export-*"):
        try:
            if time.time() - stage.stat().st_mtime < 60 or not (stage / OWNER).is_file():
                continue
        except OSError:
            continue
        if (handle := hold(stage / OWNER)) is not None:
            with handle:
                shutil.rmtree(stage, ignore_errors=True)


EXPORT_NAME = re.compile(r"^(?P<stem>.+?)(?:_int8)?(?:\.onnx|\.engine|_openvino_model)$", re.IGNORECASE)


def source_checkpoint(path: Path) -> Path | None:
    """The .pt an artifact was exported from, if it is still beside it: the .pt of its name, where it is the model the
    export's metadata describes (a teacher copied beside a student's export gave the teacher's parameters)."""
    if path.suffix.lower() == ".pt":
        return path
    pt = named_checkpoint(path)
    return pt if pt is not None and describes(export_metadata(path), pt) else None


def named_checkpoint(path: Path) -> Path | None:
    """The .pt beside an export that has its name (best.pt for best.onnx or best_int8_openvino_model/)."""
    m = EXPORT_NAME.match(path.name)
    return next((p for p in sorted(path.parent.glob(f"{glob_escape(m['stem'])}.[pP][tT]")) if p.is_file()), None) \
        if m else None


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def describes(meta: dict, pt: Path) -> bool:
    """Whether an export's metadata fits checkpoint `pt`: Ultralytics' description of it ('Ultralytics YOLO26n model
    trained on data.yaml'), its classes and stride. Metadata without them says nothing against it; each format
    writes them its own way (ONNX as text, an engine's JSON with text keys)."""
    import ast

    from .checks import class_ids

    if not {"description", "names", "stride"} & meta.keys():
        return True
    key = (str(pt.resolve()), pt.stat().st_mtime_ns)
    if key not in _described:
        from .export import load_model  # export imports this module

        # a mid-run checkpoint's student is what is exported, and its args are the trainer's namespace, so Ultralytics
        # names no data in the description: read as the wrapper, its own export was "of other weights"
        model = load_model(pt).model
        model = getattr(model, "student_model", model)
        yaml_file = model.yaml.get("yaml_file", pt) if isinstance(getattr(model, "yaml", None), dict) else pt
        data = model.args.get("data") if isinstance(getattr(model, "args", None), dict) else ""
        _described[key] = {"description": f"Ultralytics {Path(yaml_file).stem.replace('yolo', 'YOLO')} model "
                                          f"{f'trained on {data}' if data else ''}".strip(),
                           "names": class_ids(model.names), "stride": int(max(model.stride))}
    given = dict(meta)
    try:
        if isinstance(given.get("names"), str):
            given["names"] = ast.literal_eval(given["names"])
        given.update({k: f(given[k]) for k, f in (("names", class_ids), ("stride", int),
                                                  ("description", lambda d: str(d).strip())) if k in given})
    except (ValueError, SyntaxError, TypeError, AttributeError):
        return True  # unreadable: nothing to go by
    return all(given[k] == v for k, v in _described[key].items() if k in given)


_described: dict[tuple[str, int], dict] = {}  # a checkpoint's own, read once a bench
