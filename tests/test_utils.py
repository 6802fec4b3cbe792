"""Helpers shared by the modules: CPU threads for the demo and the benchmark scripts."""

from __future__ import annotations

import torch
from ultralytics.utils import torch_utils

from yolodistill.utils import cpu_threads


def test_cpu_threads_applies_inside_the_block_and_restores_ultralytics_setting():
    before = torch_utils.NUM_THREADS, torch.get_num_threads()
    wanted = max(before) + 1  # differs from both, so neither the setting nor the restore can pass by accident
    with cpu_threads(wanted) as threads:
        assert threads == torch_utils.NUM_THREADS == wanted
        torch_utils.select_device("cpu", verbose=False)  # what every Ultralytics trainer calls first
        assert torch.get_num_threads() == wanted
    assert (torch_utils.NUM_THREADS, torch.get_num_threads()) == before


def test_cpu_threads_defaults_to_every_core_this_process_may_use():
    import os

    with cpu_threads() as threads:
        assert threads == len(os.sched_getaffinity(0)) >= 1
