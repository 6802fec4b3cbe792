"""What a benched artifact accepts: the image size it was trained or exported at, and a static export's batch."""

from __future__ import annotations

from pathlib import Path

from .errors import UserError
from .export import train_arg


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
    """An ONNX Runtime session's input shape (ints where static, names where dynamic); [] for other runtimes."""
    session = getattr(backend, "session", None)
    return list(session.get_inputs()[0].shape) if session is not None else []


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
    if fmt != "pt" and not backend.dynamic:
        raise UserError(
            f"'{path}' is a static export at {native} px: bench it at --imgsz {native} or re-export it --dynamic"
        )
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
    raise UserError(f"'{path}' is a static export at batch {backend.batch}: bench it at --batch {backend.batch} or "
                    f"re-export it with --batch {batch} or --dynamic")
