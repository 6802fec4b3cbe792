"""--device: what this machine has passes as given, what it lacks is one line offering what it has."""

from __future__ import annotations

import pytest
import torch

from yolodistill.devices import check_device, concrete_device
from yolodistill.errors import UserError


@pytest.mark.parametrize("device", [None, "cpu", "CPU", "0", "1", "0,1", "cuda", "cuda:1", "[0, 1]", "(0,1)", 1,
                                    [0, 1], "-1", "-1,-1"])
def test_devices_this_machine_has_pass(device, monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)  # the check reads only the count
    assert check_device(device) is device  # handed to Ultralytics as given


@pytest.mark.parametrize("device", ["auto", "AUTO", " auto ", "none", ""])
def test_auto_is_ultralytics_choice(device, monkeypatch):
    """--help calls auto the default, and Ultralytics refuses 'auto' by name (a ValueError traceback): it is None,
    Ultralytics' own auto, for the commands that pass the device on, and the device Ultralytics picks for those that
    name it."""
    assert check_device(device) is None
    for gpus, picked in ((0, "cpu"), (1, "0")):
        monkeypatch.setattr(torch.cuda, "is_available", lambda n=gpus: n > 0)
        assert concrete_device(device) == picked
    assert concrete_device("cpu") == "cpu"


def test_commands_on_one_device_refuse_several_and_offer_none(monkeypatch):
    """export, bench, pseudo-label and demo run on one device: '0,1' was handed on, and their refusals offered '0,1
    for several', which train alone can use."""
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert check_device("0,1") == "0,1" and check_device("1", several=False) == "1"
    for device in ("0,1", "-1,-1", [0, 1]):
        with pytest.raises(UserError, match="names several GPUs, and this command runs on one: pass one index"):
            check_device(device, several=False)
    with pytest.raises(UserError, match="several GPUs"):
        concrete_device("0,1")
    with pytest.raises(UserError) as one:
        check_device("gpu", several=False)
    with pytest.raises(UserError) as train_s:
        check_device("gpu")
    assert str(one.value).endswith("a GPU index such as 0") and str(train_s.value).endswith("(0,1 for several)")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)  # "pass one index, e.g. 0" was then refused too
    with pytest.raises(UserError, match=r"^--device 0,1 asks for a CUDA GPU, but PyTorch sees none on this machine"):
        check_device("0,1", several=False)


@pytest.mark.parametrize("device, gpus, needle", [
    ("0", 0, "asks for a CUDA GPU, but PyTorch sees none on this machine: use --device cpu"),
    ("cuda:0", 0, "sees none"),
    ("-1", 0, "sees none"),
    ("2", 2, "this machine has 2 GPUs (index 0 to 1), so there is no GPU 2"),
    ("0,1", 1, "this machine has 1 GPU (index 0), so there is no GPU 1"),
    ("0,0", 2, "names a GPU twice"),
    ("gpu", 2, "'gpu' is not a device"),
    ("0,,1", 2, "is not a device"),
    ("1.5", 2, "is not a device"),
    ("-2", 2, "is not a device"),
    ("xpu", 0, "use --device cpu"),  # Ultralytics' own XPU check names the problem, not the fix
])
def test_devices_this_machine_lacks_are_refused(device, gpus, needle, monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    with pytest.raises(UserError) as e:
        check_device(device)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_mps_only_where_it_exists(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(UserError, match="MPS is not available"):
        check_device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    check_device("mps")


def test_a_gpu_ultralytics_made_the_only_visible_one_still_passes(monkeypatch):
    """Under CUDA_VISIBLE_DEVICES=3 PyTorch counts one GPU, and Ultralytics' parse_device takes '3' as the physical
    id it names (torch index 0): it trains, so it must pass; an id outside the restriction is still refused."""
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert check_device("3") == "3"
    with pytest.raises(UserError, match="there is no GPU 2"):
        check_device("2")


def test_a_list_mixing_torch_and_physical_gpu_ids_is_refused(monkeypatch):
    """Ultralytics reads ids as physical ones only when every id is a visible one: '0,3' under
    CUDA_VISIBLE_DEVICES=2,3 stays torch indices, and select_device then fails on 3 with a multi-line ValueError.
    '2,3' is both physical GPUs; a listed id past the GPUs PyTorch counts is no GPU either."""
    from ultralytics.utils.torch_utils import parse_device

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert parse_device("0,3") == "0,3"  # untranslated: select_device refuses 3 >= device_count()
    with pytest.raises(UserError, match="there is no GPU 3"):
        check_device("0,3")
    assert parse_device("2,3") == "0,1" and check_device("2,3") == "2,3"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3,5")  # 5 is past the two GPUs PyTorch sees: parse_device drops it
    assert parse_device("5") == "5"
    with pytest.raises(UserError, match="there is no GPU 5"):
        check_device("5")


@pytest.mark.parametrize("gpus, several, hint", [
    (0, True, "use --device cpu"),  # offered 'a GPU index such as 0', which was then refused: no GPU
    (1, True, "use --device cpu, or a GPU index such as 0"),  # '0,1 for several' on a machine with one
    (2, True, "use --device cpu, or a GPU index such as 0 (0,1 for several)"),
    (2, False, "use --device cpu, or a GPU index such as 0"),
])
def test_a_refusal_offers_the_devices_this_machine_has(gpus, several, hint, monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(UserError) as e:
        check_device("mps", several=several)
    assert str(e.value).endswith(f"not available on this machine: {hint}")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    with pytest.raises(UserError) as e:
        check_device("gpu", several=several)
    assert str(e.value).endswith(hint if gpus else "use --device cpu or --device mps")
