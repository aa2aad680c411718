"""The MiniLM encoder's TensorFlow graph against the numpy oracle, with random weights of a tiny
BERT (the real weights are only read by `make models`); the text and the classifier head."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import fortune_text
import logreg
import minilm_oracle
import minilm_tf
from minilm_weights import BertConfig, random_weights

TINY = BertConfig(
    vocab_size=50, hidden=16, layers=2, heads=4, intermediate=32, max_positions=16, type_vocab=2, layer_norm_eps=1e-12
)
SEQ = 8


def _batch() -> dict[str, np.ndarray]:
    ids = np.array([[2, 7, 9, 3, 0, 0, 0, 0], [2, 11, 12, 13, 14, 15, 16, 3], [2, 3, 0, 0, 0, 0, 0, 0]], dtype=np.int32)
    mask = (ids != 0).astype(np.int32)
    types = np.zeros_like(ids)
    types[1, 4:] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def test_tf_encoder_matches_numpy_oracle() -> None:
    weights = random_weights(TINY, seed=3)
    batch = _batch()
    got = minilm_tf.MiniLMEncoder(TINY, weights, SEQ).encode(**{k: tf.constant(v) for k, v in batch.items()}).numpy()
    want = minilm_oracle.embed(TINY, weights, batch)
    assert got.shape == (3, TINY.hidden)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(got, want, atol=2e-5)


def test_padding_does_not_change_the_embedding() -> None:
    weights = random_weights(TINY, seed=4)
    batch = _batch()
    short = minilm_tf.MiniLMEncoder(TINY, weights, 4).encode(**{k: tf.constant(v[:1, :4]) for k, v in batch.items()})
    padded = minilm_tf.MiniLMEncoder(TINY, weights, SEQ).encode(**{k: tf.constant(v[:1]) for k, v in batch.items()})
    np.testing.assert_allclose(short.numpy(), padded.numpy(), atol=1e-5)


def test_saved_models_have_int32_named_inputs(tmp_path: Path) -> None:
    weights = random_weights(TINY, seed=5)
    encoder = minilm_tf.MiniLMEncoder(TINY, weights, SEQ)
    head_w = np.random.default_rng(0).standard_normal((TINY.hidden, 3)).astype(np.float32)
    head_b = np.array([0.1, -0.2, 0.3], dtype=np.float32)
    minilm_tf.save_module(encoder, str(tmp_path / "enc"))
    minilm_tf.save_module(minilm_tf.MiniLMClassifier(encoder, head_w, head_b), str(tmp_path / "cls"))
    batch = {k: tf.constant(v) for k, v in _batch().items()}
    enc = tf.saved_model.load(str(tmp_path / "enc")).signatures["serving_default"]
    cls = tf.saved_model.load(str(tmp_path / "cls")).signatures["serving_default"]
    for sig in (enc, cls):
        specs = sig.structured_input_signature[1]
        assert sorted(specs) == sorted(minilm_tf.INPUT_NAMES)
        assert all(s.dtype == tf.int32 and s.shape.as_list() == [None, SEQ] for s in specs.values())
    emb = enc(**batch)[minilm_tf.OUTPUT_NAME].numpy()
    logits = cls(**batch)[minilm_tf.CLASSIFIER_OUTPUT_NAME].numpy()
    np.testing.assert_allclose(logits, emb @ head_w + head_b, atol=1e-5)


def test_logistic_regression_separates_blobs() -> None:
    rng = np.random.default_rng(2)
    centers = np.eye(3, 8) * 4
    labels = rng.integers(0, 3, 300)
    x = centers[labels] + rng.standard_normal((300, 8)) * 0.3
    head = logreg.fit(x, labels, 3, steps=300, lr=0.5)
    assert head.accuracy(x, labels) == 1.0


def test_read_category(tmp_path: Path) -> None:
    (tmp_path / "cat").write_text("first\n  line\n%\nsecond\n%\n%\nfirst line\n%\nthird\n")
    assert fortune_text.read_category(tmp_path / "cat") == ["first line", "second", "third"]


def test_debian_fortune_splits() -> None:
    if not (fortune_text.DEBIAN_DIR / fortune_text.CATEGORIES[0]).exists():
        pytest.skip(f"{fortune_text.DEBIAN_DIR} absent (apt-get install fortunes, or make models-deps)")
    train, test = fortune_text.load_splits()
    k = len(fortune_text.CATEGORIES)
    assert np.bincount(test.labels).tolist() == [fortune_text.TEST_PER_CATEGORY] * k
    assert len(train.texts) == k * (fortune_text.PER_CATEGORY - fortune_text.TEST_PER_CATEGORY)
    assert not set(train.texts) & set(test.texts)
