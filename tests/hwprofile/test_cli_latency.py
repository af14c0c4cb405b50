"""``archbench latency predict``, ``calibrate`` and ``devices``: files in, files out, bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from archbench.cli import main
from archbench.hwprofile import LatencyParams, get_device, load_device, predict_latency
from archbench.models import resolve_config

CONFIGS = (
    "simple_cnn",
    "resnet20_cifar",
    "vgg11_cifar",
    "branchnet_cifar",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|",
)
KNOWN = LatencyParams(
    compute_efficiency=0.5,
    memory_efficiency=0.8,
    launch_us=8.0,
    compute_launch_us=20.0,
    overhead_ms=0.3,
)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def measurements(tmp_path: Path, batch: int = 32) -> Path:
    """What an RTX 3090 with ``KNOWN`` parameters would measure, per the model itself."""
    cfgs = [resolve_config(name) for name in CONFIGS]
    times = predict_latency(cfgs, get_device("rtx3090"), batch_size=batch, params=KNOWN)
    rows = [{"config": name, "latency_ms": t.ms} for name, t in zip(CONFIGS, times)]
    return write_csv(tmp_path / "measured.csv", rows)


def test_calibrate_writes_a_device_yaml_that_predict_reads_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    measured = measurements(tmp_path)
    out = tmp_path / "rtx3090.yaml"
    code, stdout, err = run(
        ["latency", "calibrate", "--device", "rtx3090", "--batch", "32",
         "--measurements", str(measured), "--out", str(out), "--json"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(stdout)
    assert report["median_relative_error"] < 0.02 and report["measurements"] == len(CONFIGS)
    device = load_device(out)
    assert device.calibration is not None and device.calibration.batch_sizes == (32,)
    code, stdout, err = run(
        ["latency", "predict", *CONFIGS[:2], "--device", str(out), "--batch", "32", "--json"],
        capsys,
    )
    assert code == 0, err
    rows = json.loads(stdout)["rows"]
    expected = {row["config"]: float(row["latency_ms"]) for row in csv.DictReader(measured.open())}
    for row in rows:
        assert row["latency_ms"] == pytest.approx(expected[row["config"]], rel=0.03)
        assert row["images_per_second"] == pytest.approx(32e3 / row["latency_ms"], rel=1e-3)


def test_a_batch_size_column_calibrates_at_several_batch_sizes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfgs = [resolve_config(name) for name in CONFIGS]
    rows = []
    for batch in (1, 128):
        times = predict_latency(cfgs, get_device("rtx3090"), batch_size=batch, params=KNOWN)
        rows += [
            {"config": name, "batch_size": batch, "latency_ms": t.ms}
            for name, t in zip(CONFIGS, times)
        ]
    measured, out = write_csv(tmp_path / "both.csv", rows), tmp_path / "rtx3090.yaml"
    code, stdout, err = run(
        ["latency", "calibrate", "--device", "rtx3090", "--measurements", str(measured),
         "--out", str(out), "--json"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    device = load_device(out)
    assert device.calibration is not None and device.calibration.batch_sizes == (1, 128)
    fitted = device.calibration.params
    assert fitted.launch_us == pytest.approx(KNOWN.launch_us, rel=0.1)
    assert fitted.compute_efficiency == pytest.approx(KNOWN.compute_efficiency, rel=0.1)
    rows[3]["batch_size"] = "big"
    code, _, err = run(
        ["latency", "calibrate", "--device", "rtx3090", "--out", str(out),
         "--measurements", str(write_csv(tmp_path / "bad.csv", rows))],
        capsys,
    )  # fmt: skip
    assert code == 2 and "batch_size 'big' of 'branchnet_cifar' is not whole" in err


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_predict_reads_a_configs_file_and_writes_csv_or_json(
    tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configs = write_csv(tmp_path / "configs.csv", [{"config": name} for name in CONFIGS])
    out = tmp_path / f"predicted{suffix}"
    code, stdout, err = run(
        ["latency", "predict", "--configs", str(configs), "--device", "l4", "--batch", "8",
         "--precision", "fp16", "--train", "--out", str(out)],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "Predicted on l4 (zero-shot defaults), batch 8, fp16" in stdout
    rows = list(csv.DictReader(out.open())) if suffix == ".csv" else json.loads(out.read_text())
    assert [row["config"] for row in rows] == list(CONFIGS)
    assert all(row["mode"] == "train" and float(row["latency_ms"]) > 0 for row in rows)


def bad_file(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    return write_csv(tmp_path / "bad.csv", rows)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"config": "simple_cnn", "ms": 1.0}], "no 'latency_ms' column; the file needs"),
        ([{"config": name, "latency_ms": 2.0} for name in CONFIGS[:4]], "at least 5"),
        (
            [{"config": name, "latency_ms": 2.0 - 3 * (i == 2)} for i, name in enumerate(CONFIGS)],
            "positive number, got -1.0",
        ),
        (
            [{"config": name, "latency_ms": "nan" if i else 2.0} for i, name in enumerate(CONFIGS)],
            "positive number, got nan",
        ),
        (
            [{"config": name, "latency_ms": "fast"} for name in CONFIGS],
            "latency_ms 'fast' of 'simple_cnn' is not a number",
        ),
    ],
)
def test_bad_measurement_files_get_one_line_errors(
    tmp_path: Path, rows: list[dict[str, object]], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        ["latency", "calibrate", "--device", "t4", "--measurements", str(bad_file(tmp_path, rows)),
         "--out", str(tmp_path / "t4.yaml")],
        capsys,
    )  # fmt: skip
    assert code == 2
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "t4.yaml").exists()


def test_unknown_devices_and_missing_inputs_get_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["latency", "predict", "simple_cnn", "--device", "gtx480"], capsys)
    assert code == 2 and "'gtx480' is unknown; choose one of cpu, h100-sxm" in err
    assert "rtx4090" in err and err.count("\n") == 1
    code, _, err = run(["latency", "predict", "--device", "l4"], capsys)
    assert code == 2 and "give CONFIG arguments or --configs" in err
    code, _, err = run(
        ["latency", "calibrate", "--device", "l4", "--out", str(tmp_path / "x.yaml")], capsys
    )
    assert code == 2 and "either --measurements FILE.csv or --measure" in err
    code, _, err = run(
        ["latency", "calibrate", "--device", "l4", "--measurements", str(tmp_path / "m.csv"),
         "--batch", "1,32", "--out", str(tmp_path / "x.yaml")],
        capsys,
    )  # fmt: skip
    assert code == 2 and "give one with --measurements" in err
    code, _, err = run(["latency", "predict", "simple_cnn", "--device", "t4", "--precision",
                        "bf16"], capsys)  # fmt: skip
    assert code == 2 and "t4 has no bf16" in err


def test_calibrate_measure_fits_this_cpu(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cpu.yaml"
    code, stdout, err = run(
        ["latency", "calibrate", "--measure", "--device", "cpu", "--count", "5",
         "--max-flops", "20M", "--batch", "1,2", "--out", str(out)],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "median error" in stdout and "pooling window reads" in stdout
    device = load_device(out)
    assert device.name == "cpu" and device.calibration is not None
    assert device.calibration.measurements == 10  # every config at both batch sizes
    assert device.calibration.batch_sizes == (1, 2)
    for batch, message in (("1,x", "'1,x' is not a batch size"), ("0", "must be >= 1, got 0")):
        code, _, err = run(
            ["latency", "calibrate", "--measure", "--device", "cpu", "--batch", batch,
             "--out", str(out)],
            capsys,
        )  # fmt: skip
        assert code == 2 and message in err and err.count("\n") == 1


def test_devices_lists_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = run(["latency", "devices", "--json"], capsys)
    rows = {row["name"]: row for row in json.loads(stdout)}
    assert code == 0 and rows["h100-sxm"]["bandwidth_gb_s"] == 3350
    assert rows["titan-rtx"]["bf16_tflops"] is None and "Turing" in rows["titan-rtx"]["source"]


def test_profile_predict_on_puts_predictions_beside_the_measurements(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, stdout, err = run(
        ["profile", "simple_cnn", "--device", "cpu", "--level", "basic", "--batch-size", "4",
         "--predict-on", "rtx4090", "--json"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    document = json.loads(stdout)
    predicted, measured = document["predicted_on"], document["profile"]
    assert predicted["device"] == "rtx4090" and not predicted["calibrated"]
    assert measured["latency_ms_median"] > 0 and predicted["latency_ms_median"] > 0
    expected = predict_latency([resolve_config("simple_cnn")], get_device("rtx4090"), batch_size=4)
    assert predicted["infer_images_per_second"] == pytest.approx(expected[0].images_per_second)
    code, _, err = run(["profile", "simple_cnn", "--predict-on", "gtx480"], capsys)
    assert code == 2 and "'gtx480' is unknown" in err
