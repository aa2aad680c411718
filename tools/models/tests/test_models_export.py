"""The ResNet-50 export's SavedModel signature and the training's resume bookkeeping, on a tiny
Keras model (the real ResNet-50 is only built by `make models`)."""

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import export_resnet
import fmnist
import train_resnet


def test_saved_model_has_named_input_and_output(tmp_path: Path) -> None:
    inputs = tf.keras.Input((32, 32, 3))
    pooled = tf.keras.layers.GlobalAveragePooling2D()(tf.keras.layers.Conv2D(4, 3)(inputs))
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(10, activation="softmax")(pooled))
    export_resnet.save_model(model, 32, tmp_path / "sm")
    serve = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    assert list(serve.structured_input_signature[1]) == [export_resnet.INPUT_NAME]
    assert list(serve.structured_outputs) == [export_resnet.OUTPUT_NAME]
    x = np.random.default_rng(1).standard_normal((2, 32, 32, 3)).astype(np.float32)
    got = serve(**{export_resnet.INPUT_NAME: tf.constant(x)})[export_resnet.OUTPUT_NAME].numpy()
    np.testing.assert_allclose(got, model(x, training=False).numpy(), rtol=1e-5, atol=1e-6)


def test_progress_resumes_and_refuses_other_settings(tmp_path: Path) -> None:
    settings = {"size": 32, "chunks": 4}
    p = train_resnet.Progress(tmp_path / "progress.json", settings)
    p.chunks_done, p.train_seconds = 2, 12.5
    p.save()
    again = train_resnet.Progress(tmp_path / "progress.json", settings)
    assert (again.chunks_done, again.train_seconds) == (2, 12.5)
    with pytest.raises(SystemExit, match="other settings"):
        train_resnet.Progress(tmp_path / "progress.json", {"size": 64, "chunks": 4})


def test_final_state_follows_the_phases(tmp_path: Path) -> None:
    train = tmp_path / "train"
    train.mkdir()
    (train / "state.keras").write_text("1")
    assert train_resnet.final_state(train) == (train / "state.keras", False)
    (train / "done").write_text("1 s\n")
    assert train_resnet.final_state(train) == (train / "state.keras", True)
    (train / "phase2").mkdir()
    (train / "phase2" / "state.keras").write_text("2")
    assert train_resnet.final_state(train) == (train / "phase2" / "state.keras", False)
    (train / "phase2" / "done").write_text("1 s\n")
    assert train_resnet.final_state(train) == (train / "phase2" / "state.keras", True)
    (train / "phase3").mkdir()
    assert train_resnet.final_state(train) == (train / "phase2" / "state.keras", True)
    (train / "phase3" / "state.keras").write_text("3")
    assert train_resnet.final_state(train) == (train / "phase3" / "state.keras", False)


def test_phases_parse() -> None:
    assert train_resnet.parse_phases("64000:3e-4, 100:1e-3") == [(64000, 3e-4, False), (100, 1e-3, False)]
    assert train_resnet.parse_phases("") == []
    with pytest.raises(argparse.ArgumentTypeError):
        train_resnet.parse_phases("64000")


def test_export_keeps_the_old_model_unless_the_candidate_beats_min_top1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if not fmnist.DEBIAN_DIR.is_dir():
        pytest.skip(f"{fmnist.DEBIAN_DIR} absent (apt-get install dataset-fashion-mnist, or make models-deps)")
    for setter in ("set_intra_op_parallelism_threads", "set_inter_op_parallelism_threads"):  # fixed once TF runs
        monkeypatch.setattr(tf.config.threading, setter, lambda n: None)
    inputs = tf.keras.Input((32, 32, 3))
    pooled = tf.keras.layers.GlobalAveragePooling2D()(inputs)
    bias = np.zeros(10, np.float32)
    bias[0] = 5.0  # always class 0: test top-1 = 1,000 / 10,000 (fashion-mnist's test split is balanced)
    head = tf.keras.layers.Dense(
        10, activation="softmax", kernel_initializer="zeros", bias_initializer=tf.constant_initializer(bias)
    )
    train = tmp_path / "train"
    train.mkdir()
    tf.keras.Model(inputs, head(pooled)).save(train / "state.keras")
    settings = {"size": 32, "batch": 1, "chunk_steps": 1, "chunks": 1}
    progress = {"settings": settings, "chunks_done": 1, "train_seconds": 1.0, "history": []}
    (train / "progress.json").write_text(json.dumps(progress))
    (train / "done").write_text("1 s\n")
    old = tmp_path / "saved_model"
    old.mkdir()
    (old / "saved_model.pb").write_text("the better model")
    assert export_resnet.main(["--out", str(tmp_path), "--force", "--min-top1", "0.1"]) == 1
    assert "test top-1 0.1000 does not beat --min-top1 0.1" in capsys.readouterr().err
    assert (old / "saved_model.pb").read_text() == "the better model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved_model", "train"]  # no candidate, info.json, eval/
