"""Export files beside the weights: Ultralytics' names for them, and its log rewritten from the private export folder
to where the files end up."""

from __future__ import annotations

import logging

from yolodistill import artifacts as art


def test_temp_paths_of_a_tensorrt_export(tmp_path):
    """TensorRT exports through an ONNX file that is deleted with the folder: said so, never named beside the weights.
    The summary waits for the artifact."""
    weights = tmp_path / "w" / "best.pt"
    tmp = weights.parent / ".export-abc"
    paths = art.TempPaths(tmp, weights, "best.engine")

    def log(msg: str) -> tuple[bool, str]:
        record = logging.LogRecord("ultralytics", logging.INFO, __file__, 1, msg, (), None)
        return paths.filter(record), record.getMessage()

    assert log(f"ONNX: export success, saved as '{tmp / 'best.onnx'}' (9.1 MB)") == (
        True, "ONNX: export success, saved as 'best.onnx (temporary)' (9.1 MB)")
    assert log(f"TensorRT: export success, saved as '{tmp / 'best.engine'}' (5.0 MB)") == (  # the parity check may
        False, f"TensorRT: export success, saved as '{weights.parent / 'best.engine'}' (5.0 MB)")  # refuse it: held
    assert log(f"TensorRT: building FP16 engine as {tmp / 'best.engine'}") == (
        True, f"TensorRT: building FP16 engine as {weights.parent / 'best.engine'}")
    assert log(f"PyTorch: starting from '{tmp / 'best.pt'}'") == (True, f"PyTorch: starting from '{weights}'")
    assert log(f"\nExport complete (1s)\nResults saved to {tmp.resolve()}\nPredict: model={tmp / 'best.engine'}") == (
        False, f"\nExport complete (1s)\nResults saved to {weights.parent.resolve()}\nPredict: model="
               f"{weights.parent / 'best.engine'}")
    assert len(paths.held) == 2  # logged by export_folder once the block ends without an error


def test_the_name_checked_before_exporting_is_ultralytics_name(tmp_path):
    """An INT8 ONNX export is best_int8.onnx (Ultralytics' exporter): a user's best.onnx does not stop it, a user's
    best_int8.onnx does, before the export and its calibration run."""
    weights = tmp_path / "best.pt"
    names = {(fmt, p): art.artifact_name(weights, fmt, p) for fmt in ("onnx", "openvino", "engine")
             for p in ("fp32", "fp16", "int8")}
    assert names[("onnx", "int8")] == "best_int8.onnx" and names[("onnx", "fp16")] == "best.onnx"
    assert names[("openvino", "int8")] == "best_int8_openvino_model" and names[("openvino", "fp32")] == "best_openvino_model"
    assert {names[("engine", p)] for p in ("fp32", "fp16", "int8")} == {"best.engine"}

