"""What this machine can export to and run: each format's runtime, checked before any export or bench work."""

from __future__ import annotations

import importlib.util
import sys

from .errors import UserError, root_cause
from .parity import runtime_precision

FORMATS = ("onnx", "openvino", "engine")


def check_runtime(fmt: str, device: str | None = None, int8: bool = False) -> None:
    """Fail at once, in one line, when this machine lacks what `fmt` needs to build or run."""
    if fmt == "engine":
        check_tensorrt(device)
    elif fmt == "openvino":
        check_openvino(int8)
    elif fmt == "onnx":
        check_onnx()


def runtime_device(fmt: str, device) -> str:
    """The device an artifact runs on here: an ONNX graph on a CUDA device needs ONNX Runtime's CUDA provider
    (onnxruntime-gpu). Without it Ultralytics pip-installs onnxruntime-gpu beside the onnxruntime we depend on,
    mid-command (both own the onnxruntime module), then runs on the CPU all the same: so the CPU, said."""
    if fmt != "onnx" or str(device).lower() in ("cpu", "mps", "none", ""):
        return device
    import onnxruntime

    return device if "CUDAExecutionProvider" in onnxruntime.get_available_providers() else "cpu"


ONNX_ON_CPU = ("ONNX Runtime here has no CUDA provider, so the ONNX graph runs on the CPU (for the GPU: pip install "
               "onnxruntime-gpu in place of onnxruntime)")


def check_onnx() -> None:
    """Dependencies of yolodistill, so missing only from a broken install; Ultralytics would try to pip-install them."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as e:
        raise UserError(f"ONNX needs onnx and onnxruntime, and {e.name or 'one'} does not import: reinstall "
                        "yolodistill (pip install yolodistill)") from None


def check_tensorrt(device: str | None) -> None:
    """TensorRT builds and runs engines only on a CUDA GPU, with the tensorrt package importable."""
    import torch

    missing = []
    if not torch.cuda.is_available():
        missing.append("a CUDA GPU (torch.cuda.is_available() is False)")
    try:
        import tensorrt  # noqa: F401
    except (ImportError, OSError):  # OSError: the package is there but its CUDA libraries are not
        missing.append("TensorRT (pip install tensorrt)")
    if missing:
        raise UserError(f"TensorRT engines need {' and '.join(missing)}: use onnx or openvino on this machine")
    if str(device).lower() == "cpu":
        raise UserError("TensorRT engines build and run on a CUDA device: pass --device 0, not cpu")


NNCF_MISSING = "OpenVINO INT8 calibration needs nncf: pip install nncf"


def installed(name: str) -> bool:
    """Whether a package is there, without importing it (nncf takes seconds and logs at import)."""
    if name in sys.modules:
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def check_openvino(int8: bool) -> None:
    """OpenVINO is an optional extra, and its INT8 calibration needs nncf on top."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        raise UserError("OpenVINO is not installed: pip install 'yolodistill[openvino]'") from None
    except OSError as e:  # there, but a shared library of it does not load: a traceback in `info`
        raise UserError(f"OpenVINO is installed but does not load ({root_cause(e)}): reinstall it (pip install "
                        "--force-reinstall openvino)") from None
    if int8:
        try:
            import nncf  # noqa: F401
        except ImportError:
            raise UserError(NNCF_MISSING) from None


FORMAT_NEEDS = {
    "onnx": "onnx + onnxruntime (installed with yolodistill)",
    "openvino": "openvino (pip install 'yolodistill[openvino]'); INT8 also needs nncf",
    "engine": "a CUDA GPU + tensorrt (JetPack ships it on a Jetson)",
}


def format_support() -> list[dict[str, str | bool]]:
    """What each export format needs and whether this machine has it (the check export itself runs first)."""
    rows = []
    for fmt, needs in FORMAT_NEEDS.items():
        try:
            check_runtime(fmt)
            lower = runtime_precision(fmt, "fp32")
            detail = f"computes fp32 and fp16 models in {lower} on this CPU by default" if lower != "fp32" else "ready"
            rows.append({"format": fmt, "needs": needs, "available": True, "detail": detail})
            if fmt == "openvino" and not installed("nncf"):  # INT8 needs it on top: said here, not mid-export
                rows[-1]["int8"] = NNCF_MISSING
        except UserError as e:
            rows.append({"format": fmt, "needs": needs, "available": False, "detail": str(e)})
    return rows
