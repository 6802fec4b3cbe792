"""--device, checked before any work: a device this machine does not have is one line that offers those it has, as
every command that takes --device says it."""

from __future__ import annotations

from typing import Any

import torch

from .errors import UserError, first_line


def device_hint(several: bool = True) -> str:
    """The devices to offer in a refusal: those this machine has (a GPU index offered on a CPU-only machine was
    refused in turn)."""
    count = torch.cuda.device_count()
    if count:
        return f"use --device cpu, or a GPU index such as 0{' (0,1 for several)' if several and count > 1 else ''}"
    return "use --device cpu" + (" or --device mps" if torch.backends.mps.is_available() else "")


def device_words(device: Any) -> str:
    """A --device as Ultralytics reads it: lower case, without 'cuda:', brackets, quotes and spaces ('[0, 1]' is
    '0,1'); '' for None."""
    raw = ",".join(map(str, device)) if isinstance(device, (list, tuple)) else "" if device is None else str(device)
    text = raw.strip().lower()
    for junk in ("cuda:", "(", ")", "[", "]", "'", '"', " "):
        text = text.replace(junk, "")
    return text


def gpu_count(device: Any) -> int:
    """How many GPUs a --device names (0 for cpu, mps or auto): several train with DDP."""
    items = [d for d in device_words(device).split(",") if d]
    return 0 if not items or items[0] in ("cpu", "mps", "none", "auto") else len(items)


def check_device(device: Any, flag: str = "--device", several: bool = True) -> Any:
    """Refuse a device this machine does not have, before any work: a GPU index on a CPU-only machine, an index past
    the last GPU, MPS off a Mac, or a malformed list. Accepts what Ultralytics accepts: '' or None (auto), cpu, mps,
    0, 0,1, cuda, cuda:0, [0, 1], and -1 for an idle GPU; npu and xpu are left to Ultralytics' own check.
    `several`: whether the command trains on several GPUs (DDP); export, bench and pseudo-label run on one.

    Returns the device to hand to Ultralytics: None for auto, which our help calls the default and Ultralytics
    refuses by that name ('auto', 'none', ''), else the device as given."""
    if device is None or isinstance(device, torch.device):
        return device
    hint = device_hint(several)
    raw = ",".join(map(str, device)) if isinstance(device, (list, tuple)) else str(device)
    text = device_words(device)
    if text in ("", "none", "auto"):
        return None
    if text == "cpu":
        return device
    if text.startswith(("npu", "xpu")):
        from ultralytics.utils.torch_utils import select_device

        try:
            select_device(text, verbose=False)
        except ValueError as e:
            raise UserError(f"{flag} {raw}: {first_line(e)}: {hint}") from None
        return device
    if text in ("mps", "mps:0"):
        if not torch.backends.mps.is_available():
            raise UserError(f"{flag} {raw}: Apple's MPS is not available on this machine: {hint}")
        return device
    ids = ["0"] if text == "cuda" else text.split(",")
    if not all(i.lstrip("-").isdigit() and int(i) >= -1 for i in ids):
        raise UserError(f"{flag} '{raw}' is not a device: {hint}")
    numbers = [int(i) for i in ids]
    count = torch.cuda.device_count()
    if count == 0:  # first: "pass one index, e.g. 0" was then refused for having no GPU
        raise UserError(f"{flag} {raw} asks for a CUDA GPU, but PyTorch sees none on this machine: use --device cpu")
    if not several and len(numbers) > 1:
        raise UserError(f"{flag} {raw} names several GPUs, and this command runs on one: pass one index, e.g. 0")
    if len({n for n in numbers if n >= 0}) < sum(n >= 0 for n in numbers):
        raise UserError(f"{flag} {raw} names a GPU twice: list each index once, e.g. 0,1")
    # the torch indices Ultralytics makes of the ids (physical ones under CUDA_VISIBLE_DEVICES where every id is one):
    # the ids as given where it leaves them; -1 (an idle GPU) is its pick, left out
    from ultralytics.utils.torch_utils import parse_device

    indices = parse_device(",".join(str(n) for n in numbers if n >= 0))
    beyond = [n for n in map(int, filter(None, indices.split(","))) if n >= count]
    if beyond:
        raise UserError(f"{flag} {raw}: this machine has {count} GPU{'s' * (count > 1)} (index 0"
                        f"{f' to {count - 1}' if count > 1 else ''}), so there is no GPU {beyond[0]}: {hint}")
    return device


def bf16_ready(device: Any) -> bool:
    """Whether Ultralytics' amp=bf16 autocast runs on `device` (auto: GPU 0 where there is one): CUDA GPUs with
    native bfloat16 (compute capability 8, Ampere, or newer), each one named; else its first training step raises a
    RuntimeError."""
    words = ["0" if w == "cuda" else w for w in device_words(device).split(",") if w] or ["0"]
    if not torch.cuda.is_available() or not all(w.lstrip("-").isdigit() for w in words):
        return False  # cpu, mps, npu: Ultralytics' bf16 autocast is CUDA's alone
    from ultralytics.utils.torch_utils import parse_device

    count = torch.cuda.device_count()  # -1 is an idle GPU Ultralytics picks: any of them; the others as it maps them
    # (a physical id under CUDA_VISIBLE_DEVICES is a torch index): --device cuda, -1 and 3 were refused on H100s
    named = parse_device(",".join(w for w in words if w != "-1")).split(",") if any(w != "-1" for w in words) else []
    gpus = [int(i) for i in named if i] + (list(range(count)) if "-1" in words else [])
    return bool(gpus) and all(i < count and torch.cuda.get_device_capability(i)[0] >= 8 for i in gpus)


def concrete_device(device: Any, flag: str = "--device") -> Any:
    """`check_device` of one device, with auto made the device Ultralytics would pick, for commands that name it in
    their output."""
    return check_device(device, flag, several=False) or ("0" if torch.cuda.is_available() else "cpu")
