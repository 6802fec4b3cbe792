"""What bench asks of an artifact, on TensorRT engines this machine cannot load: a stand-in backend gives what
AutoBackend reads of one (the bound input shape; a dynamic engine's profile, from the engine)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from yolodistill.accepts import bench_imgsz, check_engine_profile, check_export_batch
from yolodistill.errors import UserError

ENGINE = Path("best.engine")


def engine(shape: tuple, metadata: dict | None = None, profile: tuple | None = None, trt10: bool = True):
    """AutoBackend of an engine: `bindings['images']`, `dynamic` where a profile is given, batch/imgsz from its
    metadata, and as `model` the engine with TensorRT 10's profile call (or the binding API of TensorRT 7-9)."""
    meta = metadata or {}
    low, high = profile or (shape, shape)
    if trt10:
        model = SimpleNamespace(get_tensor_profile_shape=lambda name, i: (low, shape, high) if name == "images" else 1 / 0)
    else:
        model = SimpleNamespace(get_binding_index=lambda name: 0, get_profile_shape=lambda p, i: (low, shape, high))
    return SimpleNamespace(bindings={"images": SimpleNamespace(shape=shape)}, dynamic=profile is not None,
                           metadata=meta, batch=meta.get("batch", 1), imgsz=meta.get("imgsz"), model=model)


@pytest.mark.parametrize("trt10", [True, False])
def test_a_dynamic_engine_is_benched_inside_its_profile_alone(trt10):
    """Ultralytics builds a dynamic engine's profile up to the export batch and twice the export size: past it the
    engine raised a ValueError mid-timing, a traceback, where the static refusal had advised --dynamic. The profile is
    read from the engine: TensorRT before 10 binds its middle shape, the export's, not its largest."""
    built = engine((2, 3, 128, 128), {"batch": 2, "imgsz": [128, 128], "dynamic": True},
                   ((1, 3, 32, 32), (2, 3, 256, 256)), trt10)
    assert bench_imgsz(built, "engine", ENGINE, 256) == 256  # twice its size: in the profile
    check_export_batch(built, "engine", ENGINE, 4)  # a dynamic export's batch is the profile's to judge
    check_engine_profile(built, "engine", ENGINE, 1, 256)
    with pytest.raises(UserError, match=r"^'best.engine' is a dynamic TensorRT engine for batches 1 to 2: bench it at "
                                        r"a --batch in that range, or re-export it with --batch 4 --dynamic$"):
        check_engine_profile(built, "engine", ENGINE, 4, 128)
    with pytest.raises(UserError, match=r"for sizes 32 to 256 px: bench it at an --imgsz in that range, or "
                                        r"re-export it at --imgsz 320$"):
        check_engine_profile(built, "engine", ENGINE, 1, 320)
    check_engine_profile(engine((1, 3, 64, 64)), "engine", ENGINE, 1, 64)  # static: the checks above judge


def test_an_engine_without_metadata_is_judged_by_its_own_shapes():
    """A trtexec engine (no Ultralytics metadata) at another batch failed AutoBackend's assert mid-timing, where an
    ONNX graph without metadata was refused in one line; a dynamic one is judged by its profile, low end too."""
    static = engine((4, 3, 96, 96))
    assert bench_imgsz(static, "engine", ENGINE, None) == 96
    with pytest.raises(UserError, match=r"is a static graph at batch 4 \(without Ultralytics' metadata\): bench it "
                                        r"at --batch 4$"):
        check_export_batch(static, "engine", ENGINE, 1)
    dynamic = engine((8, 3, 640, 640), profile=((2, 3, 320, 320), (8, 3, 1280, 1280)))  # bound: a profile shape
    with pytest.raises(UserError, match="does not say the image size it was exported at"):
        bench_imgsz(dynamic, "engine", ENGINE, None)
    for batch in (2, 4, 8):  # "a static graph at batch 8" refused the batches it runs
        check_export_batch(dynamic, "engine", ENGINE, batch)
    check_engine_profile(dynamic, "engine", ENGINE, 4, 1280)
    with pytest.raises(UserError, match="for batches 2 to 8"):
        check_engine_profile(dynamic, "engine", ENGINE, 1, 640)
    with pytest.raises(UserError, match="for sizes 320 to 1280 px"):
        check_engine_profile(dynamic, "engine", ENGINE, 2, 256)


def test_a_static_engine_is_told_to_re_export_at_the_size_and_batch_asked():
    """--dynamic alone gives an engine batches up to its export batch, 1: advice that did not work."""
    static = engine((1, 3, 128, 128), {"batch": 1, "imgsz": [128, 128]})
    with pytest.raises(UserError, match=r"static export at batch 1: bench it at --batch 1 or re-export it with "
                                        r"--batch 4$"):
        check_export_batch(static, "engine", ENGINE, 4)
    with pytest.raises(UserError, match=r"static export at 128 px: bench it at --imgsz 128 or re-export it at "
                                        r"--imgsz 320$"):
        bench_imgsz(static, "engine", ENGINE, 320)
