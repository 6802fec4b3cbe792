"""What `info` reports of each export format: a runtime is called ready only once it imports."""

from __future__ import annotations

import sys
import types

import pytest

from yolodistill import runtimes
from yolodistill.errors import UserError


def test_info_checks_that_onnxruntime_imports(monkeypatch):
    """onnx was reported available without looking, so a broken install read as ready."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what a missing package gives: ImportError on import
    rows = {r["format"]: r for r in runtimes.format_support()}
    assert rows["onnx"]["available"] is False and "onnxruntime does not import" in rows["onnx"]["detail"]


def test_tensorrt_names_everything_this_machine_lacks(monkeypatch, tmp_path):
    """Both a CUDA GPU and TensorRT, in one line; a TensorRT whose CUDA libraries fail to load (OSError) is missing
    too, not a traceback."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(UserError, match=r"need a CUDA GPU \(torch.cuda.is_available\(\) is False\) and TensorRT \(pip"):
        runtimes.check_tensorrt("0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.delitem(sys.modules, "tensorrt")
    (tmp_path / "tensorrt.py").write_text("raise OSError('libnvinfer.so.10: cannot open shared object file')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UserError, match=r"engines need TensorRT \(pip install tensorrt\): use onnx"):
        runtimes.check_tensorrt("0")


def test_tensorrt_on_a_cuda_machine_refuses_the_cpu_device_in_any_case(monkeypatch):
    """Ready with a GPU and TensorRT, but engines cannot run on --device cpu, however it is spelt."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setitem(sys.modules, "tensorrt", types.ModuleType("tensorrt"))
    runtimes.check_tensorrt("0")
    runtimes.check_tensorrt(None)
    for device in ("cpu", "CPU"):
        with pytest.raises(UserError, match="pass --device 0, not cpu"):
            runtimes.check_tensorrt(device)


def test_installed_reads_a_blocked_module_as_missing(monkeypatch):
    """A module set to None in sys.modules (how a package is blocked) raises ImportError on import: not installed."""
    monkeypatch.setitem(sys.modules, "nncf", None)
    assert runtimes.installed("nncf") is False
    assert runtimes.installed("onnx") is True and runtimes.installed("no_such_package_here") is False


def test_openvino_without_nncf_is_ready_for_fp32_and_fp16_and_says_int8_needs_it(monkeypatch):
    """nncf is needed by INT8 calibration alone: its absence must not mark OpenVINO unavailable."""
    import openvino as ov

    monkeypatch.setattr(ov.Core, "get_property", lambda self, device, key: ov.Type.f32)
    monkeypatch.setitem(sys.modules, "nncf", None)
    runtimes.check_openvino(int8=False)
    with pytest.raises(UserError, match=runtimes.NNCF_MISSING):
        runtimes.check_openvino(int8=True)
    row = {r["format"]: r for r in runtimes.format_support()}["openvino"]
    assert (row["available"], row["detail"], row["int8"]) == (True, "ready", runtimes.NNCF_MISSING)
    monkeypatch.setitem(sys.modules, "nncf", types.ModuleType("nncf"))
    row = {r["format"]: r for r in runtimes.format_support()}["openvino"]
    assert row["available"] is True and "int8" not in row


def test_info_says_which_precision_openvino_computes_in(monkeypatch):
    """A CPU with bf16 units runs fp32 models in bf16 by default: said beside OpenVINO, never beside ONNX."""
    import openvino as ov

    monkeypatch.setattr(ov.Core, "get_property", lambda self, device, key: ov.Type.bf16)
    rows = {r["format"]: r for r in runtimes.format_support()}
    assert rows["openvino"]["detail"] == "computes fp32 and fp16 models in bf16 on this CPU by default"
    assert rows["onnx"]["detail"] == "ready"


def test_an_openvino_that_does_not_load_is_said_in_info_and_export(monkeypatch):
    """A package there whose shared library fails raises OSError on import (TensorRT's check took it already):
    `info` printed a traceback, and `export --format openvino` would say 'not installed'."""
    import builtins

    from typer.testing import CliRunner

    from yolodistill.cli import app

    real_import = builtins.__import__

    def broken(name, *args, **kwargs):
        if name == "openvino":
            raise OSError("libopenvino.so.2541: cannot open shared object file")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "openvino", raising=False)
    monkeypatch.setattr(builtins, "__import__", broken)
    with pytest.raises(UserError, match=r"OpenVINO is installed but does not load \(libopenvino.so.2541: cannot open"):
        runtimes.check_runtime("openvino", "cpu")
    result = CliRunner().invoke(app, ["info"])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    row = next(r for r in runtimes.format_support() if r["format"] == "openvino")
    assert not row["available"] and row["detail"].startswith("OpenVINO is installed but does not load"), row


def test_an_onnx_graph_runs_on_the_cpu_where_onnx_runtime_has_no_cuda_provider(monkeypatch):
    """On a GPU with the onnxruntime we depend on, Ultralytics pip-installed onnxruntime-gpu beside it mid-bench, then
    ran the graph on the CPU all the same, under the GPU's name."""
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert [runtimes.runtime_device(fmt, "0") for fmt in ("onnx", "pt", "openvino", "engine")] == ["cpu", "0", "0", "0"]
    assert runtimes.runtime_device("onnx", "cpu") == "cpu"
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert runtimes.runtime_device("onnx", "0") == "0"
