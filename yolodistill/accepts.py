"""What bench accepts: its settings, an artifact's task, the image size it was trained or exported at, a static
export's batch, and the shapes a TensorRT engine was built for."""

from __future__ import annotations

from pathlib import Path

from .artifacts import export_metadata
from .devices import check_device
from .errors import UserError, check_batch, check_imgsz, check_input_size, check_output, check_whole
from .export import train_arg
from .loading import check_task, load_detector


def native_imgsz(backend, fmt: str) -> int | None:
    """The size an artifact was trained (.pt) or exported at: its metadata's, else a static ONNX graph's input size
    (a tool that rewrote the graph may drop the metadata); None where neither says."""
    if fmt == "pt":
        return int(train_arg(backend.model, "imgsz", 640))
    if getattr(backend, "imgsz", None) is not None:
        return int(max(backend.imgsz))
    shape = graph_input_shape(backend)[2:]
    return int(max(shape)) if shape and all(isinstance(d, int) for d in shape) else None


def graph_input_shape(backend) -> list:
    """An ONNX Runtime session's input shape (ints where static, names where dynamic), or a static TensorRT engine's;
    [] for other runtimes and dynamic engines (AutoBackend binds a shape of their profile: `engine_profile`)."""
    session = getattr(backend, "session", None)
    if session is not None:
        return list(session.get_inputs()[0].shape)
    bindings = getattr(backend, "bindings", None)
    if getattr(backend, "dynamic", False) or not isinstance(bindings, dict) or "images" not in bindings:
        return []
    return list(bindings["images"].shape)


def engine_profile(backend) -> tuple[list, list] | None:
    """A dynamic TensorRT engine's smallest and largest input shapes, read from the engine (TensorRT 10's named
    tensors, or the binding API before it); None for a static engine, another runtime, or a profile that won't read."""
    engine = getattr(backend, "model", None)
    if not getattr(backend, "dynamic", False) or engine is None:
        return None
    try:
        if hasattr(engine, "get_tensor_profile_shape"):
            low, _, high = engine.get_tensor_profile_shape("images", 0)
        else:
            low, _, high = engine.get_profile_shape(0, engine.get_binding_index("images"))
        return [int(d) for d in low], [int(d) for d in high]
    except Exception:  # noqa: BLE001 - an engine built by another tool may name its input otherwise
        return None


def bench_imgsz(backend, fmt: str, path: Path, imgsz: int | None) -> int:
    """`imgsz` if the artifact accepts it (static exports take only their own size), else its native size."""
    native = native_imgsz(backend, fmt)
    if native is None:
        if imgsz is None:
            raise UserError(f"'{path}' does not say the image size it was exported at (it has no Ultralytics "
                            "metadata): pass --imgsz")
        return imgsz
    if imgsz is None or imgsz == native:
        return native
    if fmt != "pt" and not backend.dynamic:  # a dynamic engine goes to twice its size alone: exported at this one
        again = f"at --imgsz {imgsz}" if fmt == "engine" else "--dynamic"
        raise UserError(f"'{path}' is a static export at {native} px: bench it at --imgsz {native} or re-export it "
                        f"{again}")
    return imgsz


def check_export_batch(backend, fmt: str, path: Path, batch: int) -> None:
    """A static export computes its own batch whatever it is fed (AutoBackend pads a smaller one with zeros, splits a
    larger one), so its latency at another --batch would be that of its own batch. Goes by the export's metadata, as
    AutoBackend does: without one it pads nothing."""
    meta = backend.metadata
    if fmt == "pt" or meta.get("dynamic"):
        return
    if "batch" not in meta:  # no metadata (a tool rewrote the graph): a static ONNX graph takes its own batch alone
        own = (graph_input_shape(backend) or [None])[0]
        if isinstance(own, int) and own != batch:
            raise UserError(f"'{path}' is a static graph at batch {own} (without Ultralytics' metadata): bench it at "
                            f"--batch {own}")
        return
    if backend.batch == batch:
        return
    again = "" if fmt == "engine" else " or --dynamic"  # a dynamic engine takes batches up to its export batch alone
    raise UserError(f"'{path}' is a static export at batch {backend.batch}: bench it at --batch {backend.batch} or "
                    f"re-export it with --batch {batch}{again}")


def check_engine_profile(backend, fmt: str, path: Path, batch: int, imgsz: int) -> None:
    """A dynamic TensorRT engine runs the shapes of its optimisation profile alone (Ultralytics builds it from batch 1
    and 32 px up to the export batch and twice the export size; not past the batch, as a dynamic ONNX graph goes).
    Outside it the engine raised a ValueError mid-timing, a traceback after the artifacts before it were timed."""
    profile = engine_profile(backend) if fmt == "engine" else None
    if profile is None or len(profile[0]) != 4 or len(profile[1]) != 4:
        return
    (fewest, _, *low), (most, _, *high) = profile
    if not fewest <= batch <= most:
        raise UserError(f"'{path}' is a dynamic TensorRT engine for batches {fewest} to {most}: bench it at a --batch "
                        f"in that range, or re-export it with --batch {batch} --dynamic")
    if not max(low) <= imgsz <= min(high):
        raise UserError(f"'{path}' is a dynamic TensorRT engine for sizes {max(low)} to {min(high)} px: bench it at an "
                        f"--imgsz in that range, or re-export it at --imgsz {imgsz}")


BENCH_TWIN = 14  # NAME_env.json beside NAME.json, written first as .NAME_env.json.XXXXXXXX


def validate(batch: int, warmup: int, runs: int, imgsz: int | None, device: str, json_path: Path | None) -> None:
    """Reject settings that cannot give a measurement, or whose results could not be written, before loading
    anything."""
    check_device(device, several=False)
    if json_path is not None:
        check_output(json_path, "--json", kind="file", longest=BENCH_TWIN)
        if Path(json_path).name.lower() == ".json":  # a hidden name, without suffix: 'pass --json .json.json'
            raise UserError(f"--json {json_path} has no name before .json: pass e.g. --json "
                            f"{Path(json_path).with_name('bench.json')}")
        if Path(json_path).suffix.lower() != ".json":  # .csv/.md/.png beside it take its name less the suffix
            raise UserError(f"--json {json_path} must end in .json (bench writes .csv, .md and .png beside it under "
                            f"the same name): pass --json {Path(json_path).with_suffix('.json')}")
    check_batch(batch)
    check_whole(runs, "--runs")
    check_whole(warmup, "--warmup")
    if runs < 1 or warmup < 0:
        raise UserError(f"need --runs >= 1 and --warmup >= 0, got {runs} and {warmup}")
    check_imgsz(imgsz)
    if imgsz is not None:  # else each artifact's own size, checked as it loads (check_loads); 640 refused 64 px ones
        check_input_size(batch, imgsz)


def check_detector(path: Path, fmt: str) -> None:
    """Refuse a classify, segment or other non-detect artifact before any timing: Ultralytics' detection validator
    fails on it with a traceback."""
    if fmt == "pt":
        load_detector(path, "artifact")
        return
    task = export_metadata(path).get("task")
    if task is not None:  # None: no metadata to go by, AutoBackend decides
        check_task(task, "artifact", path)
