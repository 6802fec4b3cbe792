"""What bench asks of an artifact, on TensorRT engines this machine cannot load: a stand-in backend gives the shapes
AutoBackend binds (an engine's own where static, its profile's largest where dynamic)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from yolodistill.accepts import bench_imgsz, check_engine_profile, check_export_batch
from yolodistill.errors import UserError

ENGINE = Path("best.engine")


def engine(shape: tuple, dynamic: bool, metadata: dict | None = None) -> SimpleNamespace:
    """AutoBackend of an engine as Ultralytics loads it: `bindings['images']` and, from its metadata, batch/imgsz."""
    meta = metadata or {}
    return SimpleNamespace(bindings={"images": SimpleNamespace(shape=shape)}, dynamic=dynamic, metadata=meta,
                           batch=meta.get("batch", 1), imgsz=meta.get("imgsz"))


def test_a_dynamic_engine_is_benched_inside_its_profile_alone():
    """Ultralytics builds a dynamic engine's profile up to the export batch and twice the export size: past it the
    engine raised a ValueError mid-timing, a traceback, where the static refusal had advised --dynamic."""
    built = engine((2, 3, 256, 256), True, {"batch": 2, "imgsz": [128, 128], "dynamic": True})
    assert bench_imgsz(built, "engine", ENGINE, 256) == 256  # twice its size: in the profile
    check_export_batch(built, "engine", ENGINE, 4)  # a dynamic export's batch is the profile's to judge
    check_engine_profile(built, "engine", ENGINE, 2, 256)
    with pytest.raises(UserError, match=r"^'best.engine' is a dynamic TensorRT engine for batches up to 2: bench it "
                                        r"at --batch 2 or less, or re-export it with --batch 4 --dynamic$"):
        check_engine_profile(built, "engine", ENGINE, 4, 128)
    with pytest.raises(UserError, match=r"for sizes 32 to 256 px: bench it at an --imgsz in that range, or "
                                        r"re-export it at --imgsz 320$"):
        check_engine_profile(built, "engine", ENGINE, 1, 320)
    check_engine_profile(engine((1, 3, 64, 64), False), "engine", ENGINE, 1, 64)  # static: the checks above judge


def test_an_engine_without_metadata_is_judged_by_its_bound_shape():
    """A trtexec engine (no Ultralytics metadata) at another batch failed AutoBackend's assert mid-timing, where an
    ONNX graph without metadata was refused in one line."""
    static = engine((4, 3, 96, 96), False)
    assert bench_imgsz(static, "engine", ENGINE, None) == 96
    with pytest.raises(UserError, match=r"is a static graph at batch 4 \(without Ultralytics' metadata\): bench it "
                                        r"at --batch 4$"):
        check_export_batch(static, "engine", ENGINE, 1)
    dynamic = engine((8, 3, 1280, 1280), True)  # its bound shape is its profile's largest, not a size it was made at
    with pytest.raises(UserError, match="does not say the image size it was exported at"):
        bench_imgsz(dynamic, "engine", ENGINE, None)


def test_a_static_engine_is_told_to_re_export_at_the_size_and_batch_asked():
    """--dynamic alone gives an engine batches up to its export batch, 1: advice that did not work."""
    static = engine((1, 3, 128, 128), False, {"batch": 1, "imgsz": [128, 128]})
    with pytest.raises(UserError, match=r"static export at batch 1: bench it at --batch 1 or re-export it with "
                                        r"--batch 4$"):
        check_export_batch(static, "engine", ENGINE, 4)
    with pytest.raises(UserError, match=r"static export at 128 px: bench it at --imgsz 128 or re-export it at "
                                        r"--imgsz 320$"):
        bench_imgsz(static, "engine", ENGINE, 320)
