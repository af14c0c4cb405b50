"""Which GPU each worker and Ray trial trains on: the pure rules on the CPU, the rest on a GPU."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest
import torch

from archbench.gpus import (
    WorkerDevice,
    actor_device,
    assign_devices,
    environment,
    local_gpus_needed,
    ray_trial_device,
    reuse_actors,
    shares_ray_gpu,
    visible_gpus,
    worker_devices,
)
from archbench.hwprofile import parse_device
from archbench.search._context import TrialContext
from tests.conftest import invoke
from tests.search.conftest import tiny_search_args, tiny_settings


@pytest.mark.parametrize("workers", [1, 2, 4])
@pytest.mark.parametrize("count", [0, 1, 2, 4])
def test_each_worker_gets_a_card_of_its_own_while_there_are_enough(
    workers: int, count: int
) -> None:
    gpus = [f"GPU-{index}" for index in range(count)]
    assigned = assign_devices(workers, gpus)
    assert len(assigned) == workers
    if count == 0:
        assert assigned == [WorkerDevice()] * workers  # a CPU search keeps its environment
        return
    cards = [device.visible_devices for device in assigned]
    assert cards == [gpus[index % count] for index in range(workers)]  # every card in use
    for device in assigned:
        assert device.shared == (cards.count(device.visible_devices) > 1)
    assert any(device.shared for device in assigned) == (workers > count)


def test_three_workers_on_two_cards_share_only_the_first() -> None:
    assert [d.shared for d in assign_devices(3, ["0", "1"])] == [True, False, True]


def test_a_worker_sees_its_card_as_cuda_0_and_a_cpu_worker_resolves_its_device(
    tiny_space: Path, tmp_path: Path
) -> None:
    assert WorkerDevice("GPU-abc", shared=True).device == "cuda:0"
    assert WorkerDevice().device is None  # a CPU worker keeps the search's device
    settings = tiny_settings(tiny_space, f"sqlite:///{tmp_path}/s.db", 1, device="auto")
    on_cpu = TrialContext.of(settings).proxy_training()  # it resolves auto where it trains
    assert (on_cpu.device, on_cpu.shared_device) == ("cpu", False)  # this machine has no GPU


@pytest.mark.parametrize(
    ("env", "count", "expected"),
    [
        (None, 2, ["0", "1"]),
        ("3,1", 2, ["3", "1"]),
        ("GPU-a, GPU-b", 2, ["GPU-a", "GPU-b"]),
        ("1,7", 1, ["1"]),  # CUDA stops at the first id that does not exist
        ("", 0, []),
    ],
)
def test_visible_gpus_follow_cuda_visible_devices(
    env: str | None, count: int, expected: list[str]
) -> None:
    assert visible_gpus(env, count) == expected


def test_workers_of_a_cpu_search_keep_their_environment(tiny_space: Path, tmp_path: Path) -> None:
    settings = tiny_settings(tiny_space, f"sqlite:///{tmp_path}/s.db", 1, workers=2, device="cpu")
    assert worker_devices(settings.device, settings.workers) == [WorkerDevice(), WorkerDevice()]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error of a CPU-only machine")
def test_workers_on_a_missing_cuda_device_are_refused_before_any_start(
    tiny_space: Path, tmp_path: Path
) -> None:
    settings = tiny_settings(tiny_space, f"sqlite:///{tmp_path}/s.db", 1, workers=2, device="cuda")
    with pytest.raises(ValueError, match="^device: 'cuda:0' needs CUDA"):
        worker_devices(settings.device, settings.workers)


def test_environment_sets_and_restores_and_leaves_none_alone() -> None:
    os.environ.pop("ARCHBENCH_TEST_VAR", None)
    with environment(ARCHBENCH_TEST_VAR="1", ARCHBENCH_OTHER_VAR=None):
        assert os.environ["ARCHBENCH_TEST_VAR"] == "1"
        assert "ARCHBENCH_OTHER_VAR" not in os.environ
    assert "ARCHBENCH_TEST_VAR" not in os.environ


@pytest.mark.parametrize(
    ("device", "gpus", "expected"),
    [
        ("auto", 0.0, "cpu"),  # a trial that reserved no GPU trains on the CPU, on any machine
        ("auto", 0.5, "cuda"),
        ("auto", 1.0, "cuda"),
        ("cpu", 1.0, "cpu"),
        ("cuda", 1.0, "cuda"),
        ("cuda:1", 1.0, "cuda"),  # Ray picks the card
    ],
)
def test_the_ray_driver_resolves_the_device_from_the_reservation(
    device: str, gpus: float, expected: str
) -> None:
    assert ray_trial_device(device, gpus) == expected


@pytest.mark.parametrize("device", ["cuda", "cuda:1", "CUDA:0"])
def test_cuda_on_ray_without_gpus_per_trial_is_refused(device: str) -> None:
    with pytest.raises(ValueError, match="^device: .* needs --gpus-per-trial above 0"):
        ray_trial_device(device, 0.0)


def test_only_fractional_gpus_are_shared_and_only_cpu_actors_are_reused() -> None:
    assert shares_ray_gpu("cuda", 0.25) and not shares_ray_gpu("cuda", 1.0)
    assert not shares_ray_gpu("cpu", 0.0)
    assert reuse_actors(0.0) and not reuse_actors(0.5) and not reuse_actors(1.0)


def test_a_local_runtime_must_have_the_gpus_a_trial_reserves() -> None:
    local_gpus_needed(0.5, 1)
    local_gpus_needed(2.0, 2)
    with pytest.raises(ValueError, match="^gpus_per_trial: each trial reserves 0.5 GPU"):
        local_gpus_needed(0.5, 0)


@pytest.mark.parametrize(
    ("assigned", "visible", "expected"),
    [
        (["1"], "1", "cuda:0"),  # Ray set CUDA_VISIBLE_DEVICES to the assigned card
        (["2", "3"], "2,3", "cuda:0"),
        (["3"], "0,1,2,3", "cuda:3"),  # RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES
        (["GPU-b"], "GPU-a,GPU-b", "cuda:1"),
        (["2"], None, "cuda:2"),
    ],
)
def test_the_actor_trains_on_the_gpu_ray_assigned_it(
    assigned: list[str], visible: str | None, expected: str
) -> None:
    assert actor_device("cuda", assigned, visible) == expected


def test_an_actor_without_its_gpu_is_refused_and_a_cpu_trial_needs_none() -> None:
    assert actor_device("cpu", [], None) == "cpu"
    with pytest.raises(ValueError, match="assigned this CUDA trial no GPU"):
        actor_device("cuda", [], "0")
    with pytest.raises(ValueError, match="hides"):
        actor_device("cuda", ["5"], "0,1")


@pytest.mark.parametrize("spec", ["cpu:0", "gpu", "cuda:x", ""])
def test_parse_device_refuses_what_is_no_device(spec: str) -> None:
    with pytest.raises(ValueError, match="^device: .* is not a device"):
        parse_device(spec)


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        (("--device", "cuda"), "error: device: --device cuda on Ray needs --gpus-per-trial"),
        pytest.param(
            ("--gpus-per-trial", "1"),
            "error: gpus_per_trial: each trial reserves 1 GPU(s), but this machine has 0",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a CPU-only machine"),
        ),
    ],
)
def test_ray_trials_without_a_gpu_to_train_on_exit_2_in_one_line(
    extra: tuple[str, ...],
    line: str,
    tiny_space: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("ray")
    storage = f"sqlite:///{tmp_path}/s.db"
    code, _, err = invoke(
        capsys, *tiny_search_args(tiny_space, storage, 1, "--backend", "ray", *extra)
    )
    assert code == 2
    assert err.count("\n") == 1 and line in err, err
    assert not (tmp_path / "s.db").exists(), "a refused search stores nothing"


def _visible_env(queue: multiprocessing.Queue) -> None:
    queue.put(os.environ.get("CUDA_VISIBLE_DEVICES"))


def test_a_spawned_worker_starts_with_the_card_it_was_given_and_the_parent_keeps_its_own() -> None:
    """How ``run_search`` hands out cards: the child's environment is fixed at ``start()``."""
    before = os.environ.get("CUDA_VISIBLE_DEVICES")
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_visible_env, args=(queue,))
    with environment(CUDA_VISIBLE_DEVICES="GPU-test"):
        child.start()
    assert queue.get(timeout=120) == "GPU-test"
    child.join()
    assert os.environ.get("CUDA_VISIBLE_DEVICES") == before


def _visible_uuid(queue: multiprocessing.Queue) -> None:
    queue.put([str(torch.cuda.get_device_properties(0).uuid), torch.cuda.device_count()])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_worker_process_sees_only_the_card_it_was_given() -> None:
    """The second of two workers: card 1 where there are two, else card 0, shared."""
    gpus = visible_gpus(os.environ.get("CUDA_VISIBLE_DEVICES"), torch.cuda.device_count())
    second = assign_devices(2, gpus)[1]
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_visible_uuid, args=(queue,))
    with environment(CUDA_VISIBLE_DEVICES=second.visible_devices):
        child.start()
    uuid, count = queue.get(timeout=120)
    child.join()
    assert count == 1
    assert uuid == str(torch.cuda.get_device_properties(1 % len(gpus)).uuid)
    assert second.shared == (len(gpus) == 1)


def test_a_cpu_ray_trial_hides_the_gpus_ray_left_visible(tiny_space: Path, tmp_path: Path) -> None:
    ray_search = pytest.importorskip("archbench.search._ray_backend")
    settings = tiny_settings(tiny_space, f"sqlite:///{tmp_path}/s.db", 1, device="cpu")
    with environment(CUDA_VISIBLE_DEVICES="0,1"):  # what a zero-GPU Ray 2.60 actor inherits
        context = ray_search._on_this_actor(TrialContext.of(settings))
        assert (context.settings, context.device) == (settings, "cpu")
        assert os.environ["CUDA_VISIBLE_DEVICES"] == ""
