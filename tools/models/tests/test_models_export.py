"""The ResNet-50 export's SavedModel signature and the training's resume bookkeeping, on a tiny
Keras model (the real ResNet-50 is only built by `make models`)."""

import argparse
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import export_resnet
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
