"""The machine record bench writes: a Jetson's board, JetPack, power mode and clocks, and tegrastats power, read
from recorded output of a Jetson Orin NX on JetPack 6.2 (and a real subprocess standing in for tegrastats)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from yolodistill import sysinfo

FIXTURES = Path(__file__).parent / "fixtures" / "jetson"


def recorded(name: str) -> str:
    return (FIXTURES / name).read_text()


class Replay:
    """tegrastats replayed from a recording: every line at once, then end of stream."""

    def __init__(self, lines: list[str]):
        self.stdout = iter(lines)
        self.terminated = False

    def terminate(self) -> None:
        self.terminated = True

    def wait(self, timeout: float | None = None) -> int:
        return 0

    def kill(self) -> None:
        raise AssertionError("terminate was enough")


def jetson(clocks: str | None = "jetson_clocks_show_unlocked.txt", tegrastats: str = "tegrastats_orin_nx.txt"):
    """A System that reads the recorded files and answers each command with its recorded output."""
    answers = {
        "nvpmodel": recorded("nvpmodel_q.txt"),
        "jetson_clocks": recorded(clocks) if clocks else None,
        "dpkg-query": recorded("dpkg_nvidia_jetpack.txt"),
    }
    started = []

    def start(cmd):
        started.append(Replay(recorded(tegrastats).splitlines(keepends=True)))
        return started[-1]

    system = sysinfo.System(
        tegra_release=FIXTURES / "nv_tegra_release", device_tree_model=FIXTURES / "device_tree_model",
        run=lambda cmd: answers.get(cmd[0]), start=start,
    )
    return system, started


def test_jetson_parsers_on_recorded_output():
    assert sysinfo.parse_l4t(recorded("nv_tegra_release")) == "36.4.3"
    assert sysinfo.parse_jetpack(recorded("dpkg_nvidia_jetpack.txt"), "36.4.3") == "6.2"
    assert sysinfo.parse_jetpack(None, "36.4.3") == "6.x"
    assert sysinfo.parse_jetpack(None, None) is None
    assert sysinfo.parse_power_mode("NV Power Mode: MAXN\n0") == "MAXN (0)"
    assert sysinfo.parse_power_mode("nvpmodel: command not found") is None
    assert sysinfo.unlocked_clocks(recorded("jetson_clocks_show_unlocked.txt")) == [
        *(f"cpu{i}" for i in range(8)), "GPU", "EMC"]
    assert sysinfo.unlocked_clocks(recorded("jetson_clocks_show_locked.txt")) == []
    orin = [sysinfo.parse_power_mw(line) for line in recorded("tegrastats_orin_nx.txt").splitlines()]
    assert orin == [5123, 7481, 7712, 7684]  # VDD_IN now, not the running average nor the other rails
    nano = [sysinfo.parse_power_mw(line) for line in recorded("tegrastats_nano.txt").splitlines()]
    assert nano == [2328, 5121]  # POM_5V_IN on older boards
    assert sysinfo.parse_power_mw("RAM 1715/3956MB CPU [3%@1479]") is None


def test_energy_per_image():
    assert sysinfo.energy_per_image([5000, 7000], seconds=2.0, images=100) == pytest.approx(0.12)  # 6 W x 2 s / 100
    assert sysinfo.energy_per_image([], seconds=2.0, images=100) is None


def test_jetson_detection_and_record():
    system, _ = jetson()
    assert system.is_jetson()
    env, warnings = sysinfo.collect(system)
    assert env["jetson"] == {
        "board": "NVIDIA Jetson Orin NX Engineering Reference Developer Kit", "l4t": "36.4.3", "jetpack": "6.2",
        "power_mode": "MAXN (0)", "clocks_locked": False,
    }
    assert len(warnings) == 1 and "not locked" in warnings[0] and "sudo jetson_clocks" in warnings[0]
    locked, _ = jetson(clocks="jetson_clocks_show_locked.txt")
    assert sysinfo.collect(locked) == ({**env, "jetson": {**env["jetson"], "clocks_locked": True}}, [])
    no_root, _ = jetson(clocks=None)
    assert "needs root" in sysinfo.collect(no_root)[1][0]


def test_not_a_jetson(tmp_path):
    system = sysinfo.System(tegra_release=tmp_path / "none", device_tree_model=tmp_path / "none")
    env, warnings = sysinfo.collect(system)
    assert env["jetson"] is None and warnings == [] and env["cpu"]


def test_power_sampler_reads_tegrastats_until_stopped():
    system, started = jetson(tegrastats="tegrastats_nano.txt")
    with sysinfo.PowerSampler(system) as sampler:
        pass
    assert sampler.samples_mw == [2328, 5121] and started[0].terminated


def test_power_sampler_runs_and_stops_a_real_tegrastats(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "tegrastats"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\ncat '{FIXTURES / 'tegrastats_orin_nx.txt'}'\nexec sleep 30\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    with sysinfo.PowerSampler(sysinfo.System()) as sampler:
        deadline = time.monotonic() + 10
        while len(sampler.samples_mw) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert sampler.samples_mw == [5123, 7481, 7712, 7684]
    assert sampler._proc.poll() is not None and sampler._proc.stdout.closed  # stopped, reaped, its pipe closed


def test_a_sampler_without_samples_says_why():
    """An AGX board's tegrastats names no board input rail (a recorded-format AGX Orin line), a timing shorter than
    one interval gets no line, and tegrastats may not start: the J/img cell read '-' with no word in each case."""
    system, _ = jetson(tegrastats="tegrastats_agx_orin.txt")
    with sysinfo.PowerSampler(system) as agx:
        pass
    assert agx.samples_mw == [] and agx.lines == 3
    assert agx.missing() == ("tegrastats names no board input rail here (VDD_IN or POM_5V_IN; an AGX board splits "
                             "its power over several rails)")
    system.start = lambda cmd: Replay([])
    with sysinfo.PowerSampler(system, interval_ms=100) as short:
        pass
    assert short.missing() == "no tegrastats sample came while it was timed (one each 100 ms): more --runs"
    stopped = Replay([])
    stopped.poll = lambda: 1  # ended on its own before it was stopped (no permission, a bad option)
    system.start = lambda cmd: stopped
    with sysinfo.PowerSampler(system) as refused:
        pass
    assert refused.missing() == "tegrastats stopped at once (exit status 1; it may need root)"
    system.start = lambda cmd: None
    with sysinfo.PowerSampler(system) as absent:
        pass
    assert absent.missing() == "tegrastats did not start (is it on PATH?)"
    system, _ = jetson()
    with sysinfo.PowerSampler(system) as nx:
        pass
    assert nx.samples_mw and nx.missing() is None
    assert sysinfo.energy_record([], 1.0, 5, agx.missing())["missing"].startswith("tegrastats names no board")


def test_each_l4t_release_names_its_jetpack():
    """Without nvidia-jetpack installed, the L4T major release is all that tells JetPack 4 from 5 from 6."""
    assert [sysinfo.parse_jetpack(None, l4t) for l4t in ("32.7.4", "35.6.0", "36.4.3", "38.2.0", "30.1")] == [
        "4.x", "5.x", "6.x", "7.x", None]


def test_a_power_mode_without_its_id_is_the_name_alone():
    """Some nvpmodel versions print no id line: 'MAXN', not 'MAXN (None)'."""
    assert sysinfo.parse_power_mode("NV Power Mode: 15W") == "15W"
    assert sysinfo.parse_power_mode("NV Power Mode: 15W\n2\n") == "15W (2)"


def test_run_command_gives_stdout_only_when_the_command_succeeds():
    """A failing command's partial output is no answer (nvpmodel without root prints before it fails)."""
    import sys

    assert sysinfo.run_command([sys.executable, "-c", "print('ok')"]) == "ok\n"
    assert sysinfo.run_command([sys.executable, "-c", "print('half'); raise SystemExit(1)"]) is None
    assert sysinfo.run_command(["no-such-command-yolodistill"]) is None


def test_energy_record_in_watts_and_no_figure_without_images_or_samples():
    """bench_env.json keeps watts and the samples behind the figure; no images processed is no figure, not a crash."""
    assert sysinfo.energy_record([5000, 7000], seconds=2.0, images=100) == {
        "power_w_mean": 6.0, "samples": 2, "timed_s": 2.0, "images": 100,
        "energy_j_per_image": pytest.approx(6.0 * 2.0 / 100)}
    assert sysinfo.energy_per_image([5000], seconds=2.0, images=0) is None
    assert sysinfo.energy_record([], seconds=2.0, images=100)["power_w_mean"] is None


def test_an_unreadable_power_mode_is_warned_about():
    """Timings at an unknown power mode cannot be compared: say so rather than record None silently."""
    system, _ = jetson(clocks="jetson_clocks_show_locked.txt")
    answers = system.run
    system.run = lambda cmd: None if cmd[0] == "nvpmodel" else answers(cmd)
    record, warnings = sysinfo.jetson_record(system)
    assert record["power_mode"] is None and warnings == ["could not read the power mode (nvpmodel -q)"]


def test_power_sampler_asks_tegrastats_for_its_interval():
    """The interval decides how many samples a short timed run gets."""
    system, _ = jetson()
    asked = []
    start = system.start
    system.start = lambda cmd: asked.append(cmd) or start(cmd)
    with sysinfo.PowerSampler(system, interval_ms=50):
        pass
    assert asked == [["tegrastats", "--interval", "50"]]


def test_either_the_release_file_or_the_board_model_makes_a_jetson(tmp_path):
    """A container sees the device tree's 'NVIDIA Jetson ...' without /etc/nv_tegra_release, and a trimmed image may
    lack the device tree: either alone is a Jetson."""
    model_only = sysinfo.System(tegra_release=tmp_path / "none", device_tree_model=FIXTURES / "device_tree_model")
    release_only = sysinfo.System(tegra_release=FIXTURES / "nv_tegra_release", device_tree_model=tmp_path / "none")
    assert model_only.is_jetson() and release_only.is_jetson()


def test_unreadable_clocks_are_recorded_as_unknown_not_locked():
    """Without root jetson_clocks --show says nothing: bench_env.json must not claim the clocks were locked."""
    no_root, _ = jetson(clocks=None)
    assert sysinfo.jetson_record(no_root)[0]["clocks_locked"] is None


def test_busy_elsewhere_counts_another_process_not_this_one(monkeypatch):
    """A latency timed beside a training reads slower; the table said nothing of it. This process's own CPU time
    (its threads', its children's) is the bench's, not the others'; a guest's time is already in user."""
    import subprocess
    import sys
    from collections import namedtuple

    import psutil

    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # another process, not yet waited for
    try:
        time.sleep(0.3)
        with sysinfo.BusyElsewhere() as busy:
            time.sleep(1.0)
    finally:
        spinner.kill()
        spinner.wait()
    assert busy.cpus is not None and busy.cpus >= 0.3  # about one CPU, less where the machine is loaded

    Machine = namedtuple("Machine", "user nice system idle iowait irq softirq steal guest guest_nice")
    Own = namedtuple("Own", "user system children_user children_system")
    idle_cpu = Machine(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)  # CPU 1, outside this process's set (taskset): not counted
    readings = iter([(0.0, [Machine(10, 0, 5, 100, 2, 0, 0, 0, 4, 0), idle_cpu], Own(1, 1, 0, 0)),
                     (2.0, [Machine(14, 0, 7, 101, 2, 0, 0, 0, 5, 0), idle_cpu._replace(user=9)], Own(2, 1.5, 0.5, 0))])
    now = {}
    monkeypatch.setattr(time, "perf_counter", lambda: now["t"])
    monkeypatch.setattr(psutil, "cpu_times", lambda percpu: now["m"])
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {2}, raising=False)
    monkeypatch.setattr(sysinfo, "cpu_ids", lambda count: [2, 5])  # CPUs 0, 1, 3 and 4 offline: ids, not positions
    monkeypatch.setattr(psutil, "Process", lambda: type("P", (), {"cpu_times": lambda self: now["o"]})())

    def step():
        now["t"], now["m"], now["o"] = next(readings)

    step()
    with sysinfo.BusyElsewhere() as busy:
        step()
    assert busy.cpus == 2.0  # busy 6 s (user 4, system 2: the guest's 1 s is in user), less its own 2, over 2 s
    monkeypatch.setattr(psutil, "cpu_times", lambda percpu: (_ for _ in ()).throw(PermissionError("/proc/stat")))
    with sysinfo.BusyElsewhere() as busy:
        pass
    assert busy.cpus is None


def test_busy_notes_name_only_the_artifacts_timed_beside_busy_processes():
    names = {"a/best.pt": "best", "a/best.onnx": "best", "b/x.onnx": "x"}
    assert sysinfo.busy_notes({"a/best.pt": 0.1, "b/x.onnx": None}, names, 4) == []
    (note,) = sysinfo.busy_notes({"a/best.pt": 0.1, "a/best.onnx": 1.26, "b/x.onnx": 0.5}, names, 4)
    assert note.startswith("Other processes kept CPUs busy while bench timed best (1.3), x (0.5) (average CPUs, of 4)")
