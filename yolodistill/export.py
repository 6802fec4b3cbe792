"""Export a student with Ultralytics, then prove the artifact still computes what the PyTorch model computes.

An exporter can fail quietly (a graph simplifier bug, a bad INT8 calibration), so every artifact is checked against
its checkpoint before it lands beside the weights: detection parity for fp32 and fp16, the mAP50-95 drop for INT8.
A failed check raises a UserError and leaves no artifact behind, so nothing downstream ships it by accident.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rich.markup import escape

from .data import has_labels, readable_images, split_images
from .layout import check_channels_key, check_not_pose
from .errors import (UserError, check_batch, check_imgsz, check_input_size, check_number, first_line, python_values,
                     require_file, writable)
from .parity import (  # noqa: F401 (part of export's interface)
    INT8_MARGIN, MAX_DET, NMS_CONF, PARITY_CONF, TOLERANCES, Int8Gate, Parity, Tolerance, check_parity, compare,
    match_pairs, openvino_at_f32, runtime_precision,
)
from .artifacts import (  # noqa: F401 (part of export's interface)
    TempPaths, artifact_name, check_replaceable, describe_export, describes, export_folder, export_metadata,
    graph_kind, InPlace, install,
)
from .runtimes import FORMATS, ONNX_ON_CPU, check_runtime, runtime_device  # noqa: F401 (bench reads check_runtime here)
from .utils import no_blank_lines, remembered_interrupt, stop_if

SAMPLE_IMAGES = 16
MAX_DROP = 0.02  # --max-drop's default: the mAP50-95 an INT8 export may lose against fp32
MIN_GATE_MAP = 0.01  # below it the fp32 model finds next to nothing on --data: an INT8 gate there checks nothing
# Ultralytics export arguments the flags do not cover, taken as key=value: ONNX opset, TensorRT workspace (GB), the
# share of --data's images INT8 calibrates on. Others change what parity compares (conf, iou) or other formats.
EXPORT_WORDS = ("opset", "workspace", "fraction")


@dataclass(frozen=True)
class ExportResult:
    """What was exported and how it compares with the checkpoint."""

    artifact: Path
    format: str
    precision: str
    imgsz: int
    size_mb: float
    parity: Parity
    gate: Int8Gate | None = None
    sample: str = "sample images"  # which images the parity check used
    runtime: str = ""  # the lower precision this CPU's runtime computes the artifact in by default, if any
    replaced: str = ""  # the earlier export this one replaced, described; empty when there was none
    replaced_other: str = ""  # "other": that export was of other weights; "older": made before these were written
    runtime_parity: Parity | None = None  # at `runtime`, reported only: the artifact is judged as computed at f32
    runtime_map: tuple[float, float] | None = None  # mAP50-95 of PyTorch and of the artifact at `runtime` (--data)
    kind: str = ""  # what the graph is beyond precision and size (artifacts.graph_kind): NMS inside, end2end, batch

    def render(self) -> str:
        """Rich markup for the CLI: path and size, parity, and the INT8 gate when there is one."""
        lines = [
            f"[bold green]Exported[/] {self.format} {self.precision} at {self.imgsz} px"
            f"{f' ({escape(self.kind)})' if self.kind else ''}: {escape(str(self.artifact))} "
            f"({self.size_mb:.1f} MB)",
            f"Parity with PyTorch on {escape(self.sample)}: {self.parity.render()}",
        ]
        tol = TOLERANCES.get(self.precision)
        if self.runtime:
            lines[-1] += " (computed in f32)"
        if not self.parity.compared:
            lines[-1] = f"[yellow]{lines[-1]}[/]"
        elif tol:
            lines.append(f"  within {self.precision} tolerance: box {tol.box_limit(self.imgsz):g} px, "
                         f"score {tol.score:g}, matched ≥ {tol.matched:.0%}")
        else:
            lines.append("  reported only: INT8 ships on its mAP drop")
        if self.runtime:
            lines.extend(self.render_runtime())
        if self.gate:
            g = self.gate
            lines.append(f"INT8 mAP50-95 {g.int8_map:.4f} vs fp32 {g.fp32_map:.4f}: drop {g.drop:.4f} "
                         f"≤ --max-drop {g.max_drop:g}")
        if self.replaced:
            lines.append(f"[yellow]Replaced[/] the earlier {escape(str(self.artifact))} ({self.replaced}); "
                         + {"other": "it was an export of other weights, which exporting these cannot rebuild",
                            "older": "it was made before these weights were written (train --exist-ok leaves a run's "
                                     "exports beside its new best.pt), so exporting these may not rebuild it"}.get(
                             self.replaced_other, "export again with its settings to rebuild it"))
        return "\n".join(lines)


    def render_runtime(self) -> list[str]:
        """What the default, lower precision of this CPU's runtime does to the outputs: reported, not judged."""
        runs = (f"[yellow]This CPU runs OpenVINO models in {self.runtime}[/] by default, and so do "
                f"Ultralytics' predict and val and yolodistill bench here")
        if self.runtime_map:
            ref, art = self.runtime_map
            runs += f": mAP50-95 {art:.4f} against PyTorch's {ref:.4f} ({art - ref:+.4f})"
        else:
            runs += " (pass --data for its mAP50-95)"
        lines = [runs]
        if self.runtime_parity is not None:
            lines.append(f"  parity in {self.runtime}: {self.runtime_parity.render()}")
        lines.append("  PyTorch's outputs need f32: core.set_property('CPU', {'INFERENCE_PRECISION_HINT': 'f32'}) "
                     "in OpenVINO, or export to onnx")
        return lines


def load_data(data: str | Path, named: str = "") -> dict:
    """Read and resolve a dataset yaml through Ultralytics, insisting on a val split that exists on disk. `named`
    says which yaml it is in messages (by default the --data given)."""
    from ultralytics.data.utils import check_det_dataset

    if not isinstance(data, (str, Path)):  # from Python: a number was a TypeError deep in pathlib
        raise UserError(f"data must be the path of a dataset .yaml, got {data!r}: pass its path")
    bare = Path(data).name == str(data) and Path(data).suffix.lower() in (".yaml", ".yml")
    if not named and bare and not Path(data).exists():  # coco8.yaml: a name train fetches
        raise UserError(f"--data '{data}' is not a file here: export and bench read a dataset yaml on disk (train "
                        "fetches Ultralytics' named ones, e.g. coco8.yaml, into its datasets folder): pass its path")
    path = require_file(data, "--data", (".yaml", ".yml"))
    named = named or f"--data '{path}'"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise UserError(f"{named} is not valid YAML: {first_line(e)}") from None
    if not isinstance(raw, dict):  # a list: 'add a val: entry' to it made it invalid YAML
        kind = "empty" if raw is None else "a list" if isinstance(raw, list) else f"only {str(raw)[:40]!r}"
        raise UserError(f"{named} is not a data yaml ({kind}): a data yaml is a mapping with 'train:' and 'val:' "
                        "image folders and 'names:'")
    if not raw.get("val"):
        raise UserError(f"{named} has no val split: add a 'val:' entry, e.g. 'val: images/val'")
    try:
        with no_blank_lines():
            resolved = check_det_dataset(str(path), autodownload=False)
    except Exception as e:  # Ultralytics reports bad datasets with several exception types
        fix = ("fix its 'path:' and 'val:' so they point at the image folders" if isinstance(e, FileNotFoundError)
               else "pass the data yaml the weights were trained on")
        raise UserError(f"{named} is not a usable dataset: {first_line(e).rstrip('.')}; {fix}") from None
    check_not_pose(named, resolved, path)
    check_channels_key(named, resolved)
    if not val_images(resolved):
        val = resolved["val"]
        where = ", ".join(map(str, val)) if isinstance(val, list) else val
        raise UserError(f"{named}: the val split has no images ({where}): put images there, or point 'val:' at a "
                        "folder of them")
    return resolved


def val_images(data: dict) -> list[Path]:
    """Image files of a resolved dataset's val split, sorted for a stable sample."""
    return split_images(data["val"])


def sample_images(data: dict | None, n: int = SAMPLE_IMAGES) -> list[Path]:
    """Up to `n` readable val images of the dataset, or Ultralytics' bundled sample images without one."""
    from ultralytics.utils import ASSETS

    return readable_val_images(data, n) if data else sorted(ASSETS.glob("*.jpg"))


def readable_val_images(data: dict, n: int) -> list[Path]:
    """The first `n` val images that decode (`readable_images`); a split with none is a UserError."""
    images = readable_images(val_images(data), n)
    if not images:
        raise UserError(f"no image of the val split {data['val']} can be read: fix or replace its image files")
    return images


def trained_data(model) -> str | None:
    """The data yaml a loaded checkpoint was trained on, as its train args name it."""
    return model.ckpt.get("train_args", {}).get("data") if isinstance(model.ckpt, dict) else None


def parity_data(model, data: str | Path | None) -> tuple[dict | None, str, str | Path | None]:
    """The dataset the export is checked on, its description and its yaml: --data, else the one the checkpoint was
    trained on when it is still there (a detector trained on other things finds nothing in Ultralytics' bundled
    photos, and a check with nothing to compare proves nothing), else none: parity on the bundled photos."""
    if data:
        return load_data(data), f"val images of {data}", data
    trained_on = trained_data(model)
    if trained_on and Path(trained_on).is_file():
        try:
            return load_data(trained_on), f"val images of {trained_on} (the checkpoint's training data)", trained_on
        except UserError:
            pass
    return None, "Ultralytics' bundled images (pass --data for your own)", None


def val_map(model: str | Path, data: str | Path, imgsz: int, batch: int, device: str,
            val: dict | None = None) -> tuple[float, float]:
    """mAP50 and mAP50-95 of any artifact on the val split, square letterbox so every format sees the same pixels;
    `val`: Ultralytics val settings that make both sides alike: conf= where an --nms graph has a threshold baked in,
    nms=False for YOLO26's NMS-free head."""
    from ultralytics import YOLO

    with tempfile.TemporaryDirectory(prefix="yolodistill-val-") as tmp:
        metrics = YOLO(str(model), task="detect").val(
            data=str(data), imgsz=imgsz, batch=batch, device=device, rect=False, plots=False, save_json=False,
            project=tmp, name="val", verbose=False, **(val or {}),
        )
    return float(metrics.box.map50), float(metrics.box.map)


def load_model(weights: Path):
    """The checkpoint as an Ultralytics YOLO model, or a UserError when it is not one."""
    from ultralytics import YOLO

    from .loading import BARE_WARNING, held_warnings, refuse_bare, unreadable

    with held_warnings(BARE_WARNING):  # a bare model: refused below, in one line
        try:
            model = YOLO(str(weights), task="detect")
        except Exception as e:  # torch/pickle raise many types for a truncated or foreign file
            raise unreadable("--weights", weights, e) from None
        refuse_bare(model.model, "--weights", weights)  # an AttributeError traceback from the exporter
    return model


def train_arg(model, key: str, default=None):
    """One train argument of a loaded model. Ultralytics attaches them as a dict when it loads a checkpoint, but the
    student it unwraps from a mid-training checkpoint (AutoBackend) keeps the trainer's namespace."""
    args = getattr(model, "args", None) or {}
    return args.get(key, default) if isinstance(args, dict) else getattr(args, key, default)


def checkpoint_imgsz(model, imgsz: int | None) -> int:
    """The export size: `imgsz`, or the checkpoint's train size; a multiple of the model's stride either way."""
    size = imgsz if imgsz is not None else int(train_arg(model.model, "imgsz", 640))
    check_imgsz(size, int(max(model.model.stride)))
    return size


def check_export_words(words: dict, fmt: str | None = None) -> None:
    """key=value words: only EXPORT_WORDS, with the types and ranges Ultralytics' own argument check wants."""
    from ultralytics.cfg import get_cfg

    unknown = sorted(k for k in words if k not in EXPORT_WORDS)
    if unknown == ["end2end"]:  # the flag's second name; from Python it is nms=False
        raise UserError("end2end= is no setting: --end2end is nms=False (the NMS-free head), --nms nms=True")
    if unknown == ["quantize"]:  # Ultralytics 8.4's own spelling of the precision
        raise UserError(f"quantize={words['quantize']} is Ultralytics' spelling: here --int8 exports INT8 (checked "
                        "against --data), --half FP16")
    if unknown:
        raise UserError(f"export has no setting {', '.join(f'{k}=' for k in unknown)}: it takes its options (imgsz=320 "
                        f"or --imgsz 320) and Ultralytics' {', '.join(f'{k}=' for k in EXPORT_WORDS)} (see yolodistill "
                        "export --help)")
    try:
        get_cfg(overrides=words)
    except (SyntaxError, TypeError, ValueError) as e:
        raise UserError(first_line(e)) from None
    opset, highest = words.get("opset"), highest_onnx_opset()
    onnx_made = fmt in ("onnx", "engine")  # TensorRT builds from an ONNX export; OpenVINO converts from PyTorch
    if onnx_made and isinstance(opset, int) and highest and opset > highest:  # else a traceback deep in PyTorch
        raise UserError(f"opset={opset} is above {highest}, the highest this PyTorch exports: pass a lower opset=, or "
                        "leave it out for Ultralytics' choice")


def highest_onnx_opset() -> int | None:
    """The highest ONNX opset this PyTorch exports (None where it does not say)."""
    try:
        from torch.onnx._constants import ONNX_MAX_OPSET
    except ImportError:
        return None
    return int(ONNX_MAX_OPSET)


def validate_options(fmt: str, half: bool, int8: bool, batch: int, max_drop: float) -> None:
    """Reject option combinations that cannot work, before any export work."""
    if fmt not in FORMATS:
        raise UserError(f"unknown --format {fmt!r}: choose {', '.join(FORMATS)}")
    if half and int8:
        raise UserError("--half and --int8 exclude each other: pick one precision")
    check_batch(batch)
    check_number(max_drop, "--max-drop")
    if max_drop != MAX_DROP and not int8:
        raise UserError(f"--max-drop gates INT8 exports only: add --int8, or leave --max-drop {max_drop} out")
    if not 0 <= max_drop <= 1:
        raise UserError(f"--max-drop is an mAP50-95 difference between 0 and 1, got {max_drop}")


def map_pair(source: Path, artifact: Path, data: str | Path, imgsz: int, batch: int, device: str,
             val: dict | None = None) -> tuple[float, float]:
    """mAP50-95 of the checkpoint and of its artifact on the same val split, at the same score threshold (an --nms
    graph's, which costs mAP of its own): the INT8 gate, and bf16's cost."""
    return (val_map(source, data, imgsz, batch, device, val)[1],
            val_map(artifact, data, imgsz, batch, device, val)[1])


def int8_gate(source: Path, artifact: Path, data: str | Path, imgsz: int, batch: int, device: str,
              max_drop: float, val: dict | None = None) -> Int8Gate:
    """mAP50-95 of the INT8 artifact against its fp32 checkpoint, on the val split it was calibrated on."""
    return Int8Gate(*map_pair(source, artifact, data, imgsz, batch, device, val), max_drop=max_drop)


def refuse_if_broken(fmt: str, precision: str, parity: Parity, gate: Int8Gate | None) -> None:
    """Raise the one-line UserError that stops a diverging or too lossy artifact from being saved."""
    if gate is not None and gate.fp32_map < MIN_GATE_MAP:  # nothing to lose: any INT8 file would pass
        raise UserError(f"the fp32 model scores mAP50-95 {gate.fp32_map:.4f} on the val split it was gated on, so "
                        "the INT8 gate checks nothing; not saved. Pass --data with images this model finds objects in")
    if gate is not None and not gate.passed:
        raise UserError(
            f"INT8 {fmt} loses {gate.drop:.4f} mAP50-95 against fp32 ({gate.fp32_map:.4f} -> {gate.int8_map:.4f}), "
            f"more than --max-drop {gate.max_drop:g}; not saved. Calibrate on more images (--data), export --half "
            f"instead, or raise --max-drop"
        )
    if gate is None and not parity.compared:  # INT8 is judged on its mAP; anything else would ship unchecked
        nms = f" (an --nms graph keeps only scores above {NMS_CONF})" if parity.conf == NMS_CONF else ""
        raise UserError(f"parity found {parity.render()}, so the {fmt} export is unchecked; not saved. Pass --data "
                        f"with images this model finds objects in{nms}")
    failures = parity.failures(TOLERANCES[precision]) if precision in TOLERANCES else []
    if failures:
        raise UserError(f"the {fmt} {precision} export diverges from the PyTorch model ({'; '.join(failures)}); not "
                        f"saved. Try {'--no-simplify, ' if fmt == 'onnx' else ''}another format, or report it to "
                        f"Ultralytics")


def export_origin(export: Path, weights: Path) -> str:
    """'other' where an export's metadata does not describe `weights`, 'older' where it was made before they were
    written (the same model and data, trained again), else ''."""
    import datetime

    meta = export_metadata(export)
    if not describes(meta, weights):
        return "other"
    try:
        made = datetime.datetime.fromisoformat(str(meta.get("date")))
    except ValueError:
        return ""
    written = datetime.datetime.fromtimestamp(weights.stat().st_mtime, made.tzinfo)
    return "older" if made.replace(tzinfo=None) < written.replace(tzinfo=None) - datetime.timedelta(seconds=1) else ""


@python_values
def export_model(
    weights: str | Path,
    format: str = "onnx",
    imgsz: int | None = None,
    half: bool = False,
    int8: bool = False,
    data: str | Path | None = None,
    dynamic: bool = False,
    batch: int = 1,
    simplify: bool = True,
    nms: bool | None = None,
    device: str | None = None,
    max_drop: float = MAX_DROP,
    **words: Any,
) -> ExportResult:
    """Export `weights` to `format` beside it, after it passes parity (fp32, fp16) or the mAP gate (INT8). `nms` as
    Ultralytics takes it: None raw outputs (NMS after), True NMS inside the graph, False YOLO26's NMS-free head.
    `words`: Ultralytics export arguments no flag covers (EXPORT_WORDS), e.g. opset=12."""
    from .checks import check_channels, check_names, split_refusals
    from .utils import megabytes
    from .devices import check_device
    from .loading import check_task, local_checkpoint, model_task

    fmt = format.lower() if isinstance(format, str) else format  # None from Python: refused as an unknown format
    for flag, value in (("half", half), ("int8", int8), ("dynamic", dynamic), ("simplify", simplify), ("nms", nms)):
        if isinstance(value, str):  # 'no' from Python was read as true
            raise UserError(f"{flag} must be True or False{' (or None)' if flag == 'nms' else ''}, got {value!r}")
    validate_options(fmt, half, int8, batch, max_drop)
    check_export_words(words, fmt)
    if "fraction" in words and not int8:  # as --max-drop: taken, and it changed nothing
        raise UserError(f"fraction={words['fraction']} is the share of --data's images INT8 calibrates on: add --int8, "
                        "or leave it out")
    if fmt == "engine":  # without a GPU that, not --device 0's "use --device cpu", which an engine cannot take
        check_runtime(fmt, None, int8)
    device = check_device(device, several=False)
    if isinstance(weights, (str, Path)):  # an official name (yolo26n.pt) is fetched, as yolo export fetches it
        weights = local_checkpoint(weights, "--weights")
    weights = require_file(weights, "--weights", (".pt",))
    if fmt == "openvino" and ".pt" in os.path.abspath(weights)[:-3].lower():  # the path as the export is given it
        raise UserError(f"Ultralytics names an OpenVINO export's folder by replacing each '.pt' in the weights' path, "
                        f"and '{weights}' has one before its end: it would write elsewhere. Rename the folder or "
                        "file so that only the file name ends in .pt")
    if not writable(weights.parent):
        raise UserError(f"the export goes beside '{weights}', but '{weights.parent}' is not writable: copy the "
                        "weights to a folder you can write to")
    device = device or ("0" if fmt == "engine" else "cpu")  # Ultralytics exports on CPU unless told otherwise
    check_runtime(fmt, device, int8)
    if (checked_on := runtime_device(fmt, device)) != device:  # the checks compare both models there
        from ultralytics.utils import LOGGER

        LOGGER.warning(f"{ONNX_ON_CPU}: the parity check and mAP run there, the PyTorch model's too")
    model = load_model(weights)
    check_task(model_task(model.model), "--weights", weights)  # its head's: YOLO(task="detect") says detect of any
    if nms is False and getattr(model.model.model[-1], "one2one_cv2", None) is None:  # Ultralytics exports raw then
        raise UserError(f"--end2end (nms=False) exports YOLO26's NMS-free head, and '{weights}' has none (a "
                        f"{model.model.yaml.get('yaml_file', 'model')} head): leave it out for outputs that NMS follows")
    given = data
    dataset, sample, data = parity_data(model, data)  # without --data, the checkpoint's training data where it is
    if given:  # parity and the INT8 gate score the model on this data's labels
        check_names(model.names, dataset["names"], f"--weights '{weights}'", "pass the --data it was trained on")
    if data is not None:  # the mAP steps read its val images as the data says (parity's predictor adapts)
        check_channels(model.model.yaml.get("channels", 3), dataset, f"--weights '{weights}'",
                       "pass the --data it was trained on")
    labelled = data is not None and has_labels(val_images(dataset))  # mAP on a val split without labels reads 0
    if int8 and data is not None and not labelled:  # the gate refused after all the work, blaming the model
        raise UserError(f"--data '{data}': no image of its val split has labels, and --int8 is judged by the mAP it "
                        "loses on them: pass a labelled --data")
    if int8 and data is None:
        trained_on = trained_data(model)
        where = f" ('{trained_on}' is not a usable dataset here)" if trained_on else " (the checkpoint names none)"
        raise UserError(f"--int8 calibrates and measures mAP on a dataset, and the checkpoint's training data is not "
                        f"here{where}: pass --data D.yaml")
    size = checkpoint_imgsz(model, imgsz)
    check_input_size(batch, size)
    precision = "int8" if int8 else "fp16" if half else "fp32"
    runtime = runtime_precision(fmt, precision)  # lower than the file's on a bf16 CPU's OpenVINO: judged at f32
    name = artifact_name(weights, fmt, precision)
    if len(os.fsencode(f"old-{name}")) > 255:  # an earlier export is moved aside as old-NAME: refused after the work
        raise UserError(f"--weights '{weights}' names its export {name} ({len(os.fsencode(name))} bytes), and an "
                        f"earlier one is moved aside under a name 4 bytes longer, past the 255 a name may hold: rename "
                        f"the weights shorter")
    check_replaceable(weights.parent / name, weights.stem)
    earlier = weights.parent / name  # an export of other weights: best.pt replaced by train --exist-ok
    other = export_origin(earlier, weights) if earlier.exists() else ""
    margin = TOLERANCES[precision].margin if precision in TOLERANCES else INT8_MARGIN

    images = sample_images(dataset)  # before the export: a val split without a readable image is refused at once
    # Export into a private folder: a failed check leaves nothing beside the weights, and Ultralytics' INT8 ONNX
    # export cannot delete an fp32 best.onnx that is already there.
    final = None
    try:
        with remembered_interrupt() as pressed, export_folder(weights, name) as tmp:
            source = Path(shutil.copy2(weights, tmp / weights.name))  # Ultralytics names the artifact after its source
            try:
                with split_refusals(data):  # INT8 calibrates on --data's images: a split only Ultralytics refuses
                    artifact = Path(load_model(source).export(
                        format=fmt, imgsz=size, quantize={"int8": 8, "fp16": 16}.get(precision),
                        data=str(data) if data else None, dynamic=dynamic, batch=batch, simplify=simplify,
                        nms=nms, device=device, **words,
                    ))
            except (ValueError, AssertionError) as e:  # Ultralytics' channel for unsupported option combinations
                raise UserError(f"Ultralytics cannot export this to {fmt}: {first_line(e)}") from None
            conf = NMS_CONF if nms else PARITY_CONF
            head = {"nms": False} if nms is False else {}  # PyTorch's side through the NMS-free head too
            with openvino_at_f32() if runtime != precision else nullcontext():
                parity = check_parity(source, artifact, images, size, conf, margin, checked_on, batch=batch, **head)
            val = {"conf": conf, **head} if nms else head  # mAP at the threshold an --nms graph bakes in, both sides
            gate = int8_gate(source, artifact, data, size, batch, checked_on, max_drop, val) if int8 else None
            refuse_if_broken(fmt, precision, parity, gate)
            lower = {}
            if runtime != precision:  # what this CPU's default does to a correct file: reported, the file is kept
                lower["runtime_parity"] = check_parity(source, artifact, images, size, conf, TOLERANCES[runtime].margin,
                                                       checked_on, batch=batch, **head)
                if labelled:  # without labels both read 0.0000: as if the runtime's precision cost nothing
                    lower["runtime_map"] = map_pair(source, artifact, data, size, batch, checked_on, val)
            kind = graph_kind(export_metadata(artifact))
            stop_if(pressed)  # swallowed in the parity check (Ultralytics' check_requirements): the earlier one stays
            final, replaced = install(artifact, weights.parent, weights.stem)
    except KeyboardInterrupt as e:  # in install(), or as the temp folder went: say what is beside the weights now
        if said := InPlace.among(e):
            raise said from None
        if final is None:
            raise
        raise InPlace(final, replaced) from None
    return ExportResult(final, fmt, precision, size, megabytes(final), parity, gate, sample,
                        runtime if runtime != precision else "", replaced, other if replaced else "", kind=kind, **lower)
