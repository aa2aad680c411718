"""Export the trained ResNet-50 of train_resnet.py: SavedModel, labelled eval PNGs, calibration PNGs,
info.json (the cache layout of the project's contract). The test top-1 is measured by TensorFlow on
the saved SavedModel over the whole 10,000-image test split. The SavedModel is written beside the
old one first (saved_model.candidate/) and replaces it only after that measurement; with
--min-top1 X a candidate that does not beat X is discarded and nothing of DIR changes (exit 1)."""

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

import cache
import fmnist
import images_out
import resnet_data
import train_resnet

INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"
CALIB_COUNT = 64
EVAL_BATCH = 200


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", type=Path, default=cache.models_root() / cache.RESNET_DIR_NAME)
    p.add_argument("--partial", action="store_true", help="export the last checkpoint although training is not done")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--force", action="store_true", help="export although info.json is newer than the training state")
    p.add_argument("--min-top1", type=float, default=None, help="keep the export only if its test top-1 beats this")
    return p.parse_args(argv)


def save_model(model: tf.keras.Model, size: int, path: Path) -> None:
    """serving_default: image float32 [batch, size, size, 3] -> probabilities [batch, 10]."""
    archive = tf.keras.export.ExportArchive()
    archive.track(model)

    def serve(image: tf.Tensor) -> dict[str, tf.Tensor]:
        return {OUTPUT_NAME: model(image, training=False)}

    archive.add_endpoint(
        name="serving_default",
        fn=serve,
        input_signature=[tf.TensorSpec(shape=(None, size, size, 3), dtype=tf.float32, name=INPUT_NAME)],
    )
    archive.write_out(str(path), verbose=False)


def saved_model_top1(path: Path, pixels: np.ndarray, labels: np.ndarray) -> float:
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    correct = 0
    for start in range(0, pixels.shape[0], EVAL_BATCH):
        x = resnet_data.normalize(pixels[start : start + EVAL_BATCH])
        probs = serve(**{INPUT_NAME: x})[OUTPUT_NAME].numpy()
        correct += int(np.sum(np.argmax(probs, axis=1) == labels[start : start + EVAL_BATCH]))
    return correct / pixels.shape[0]


def augmentation_summary(phases: list[dict[str, dict[str, object]]]) -> str:
    """Which phases trained on augmented batches, as info.json says it."""
    augmented = [f"phase {k}: {p['settings']['augment']}" for k, p in enumerate(phases, start=1) if "augment" in p["settings"]]
    return "; ".join(augmented) if augmented else "none"


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    train_dir = args.out / "train"
    phases = [
        json.loads((d / "progress.json").read_text())
        for d in train_resnet.phase_dirs(train_dir, train_resnet.MAX_PHASES)
        if (d / "progress.json").exists()
    ]
    state_path, done = train_resnet.final_state(train_dir)
    if not done and not args.partial:
        print(f"{train_dir}: training not done (rerun train_resnet.py, or pass --partial)", file=sys.stderr)
        return 2
    info_path = args.out / "info.json"
    if not args.force and info_path.exists() and info_path.stat().st_mtime > state_path.stat().st_mtime:
        print(f"{args.out}: up to date (--force exports again)")
        return 0
    model = tf.keras.models.load_model(state_path)
    size = int(phases[0]["settings"]["size"])

    saved = args.out / "saved_model"
    candidate = args.out / "saved_model.candidate"
    shutil.rmtree(candidate, ignore_errors=True)
    save_model(model, size, candidate)

    test = fmnist.load_split("t10k")
    test_pixels = resnet_data.upsample(test.images, size)
    started = time.monotonic()
    top1 = saved_model_top1(candidate, test_pixels, test.labels)
    eval_seconds = time.monotonic() - started
    source = state_path.relative_to(args.out)
    print(f"fp32 test top-1 (SavedModel of {source}, {test.labels.size} images): {top1:.4f}", flush=True)
    if args.min_top1 is not None and not top1 > args.min_top1:
        shutil.rmtree(candidate)
        print(f"{args.out}: not exported, test top-1 {top1:.4f} does not beat --min-top1 {args.min_top1}", file=sys.stderr)
        return 1
    shutil.rmtree(saved, ignore_errors=True)
    candidate.replace(saved)

    images_out.write_labelled_pngs(args.out / "eval", test_pixels, test.labels)
    train = fmnist.load_split("train")
    pick = np.sort(np.random.default_rng(args.seed).permutation(train.labels.size)[:CALIB_COUNT])
    images_out.write_labelled_pngs(args.out / "calib", resnet_data.upsample(train.images[pick], size), train.labels[pick])

    images_seen = sum(p["chunks_done"] * p["settings"]["chunk_steps"] * p["settings"]["batch"] for p in phases)
    info = {
        "model": "tf.keras.applications.ResNet50(weights=None, classes=10), trained from scratch",
        "dataset": "fashion-mnist (Debian package dataset-fashion-mnist)",
        "saved_model": "saved_model",
        "signature": "serving_default",
        "input": {"name": INPUT_NAME, "shape": [-1, size, size, 3], "dtype": "float32"},
        "output": {"name": OUTPUT_NAME, "shape": [-1, 10], "dtype": "float32", "meaning": "softmax over classes"},
        "classes": list(fmnist.CLASS_NAMES),
        "preprocessing": resnet_data.preprocessing_info(size),
        "eval": {"images": "eval/images", "labels": "eval/labels.txt", "count": int(test.labels.size), "split": "test (t10k)"},
        "calib": {"images": "calib/images", "labels": "calib/labels.txt", "count": CALIB_COUNT, "split": "train"},
        "fp32_test_top1": top1,
        "fp32_test_top1_images": int(test.labels.size),
        "fp32_test_top1_measured_by": "TensorFlow, tf.saved_model.load(saved_model).signatures['serving_default']",
        "fp32_eval_seconds": eval_seconds,
        "training": {
            "complete": done,
            "train_images_seen": images_seen,
            "wall_seconds": sum(p["train_seconds"] for p in phases),
            "phases": [
                {"settings": p["settings"], "chunks_done": p["chunks_done"], "train_seconds": p["train_seconds"]} for p in phases
            ],
            "optimizer": "Adam, linear warm-up then cosine decay to 0, per phase (every later phase starts a fresh Adam)",
            "augmentation": augmentation_summary(phases),
            "final_chunk_train_accuracy": phases[-1]["history"][-1]["accuracy"] if phases[-1]["history"] else None,
        },
        "tensorflow_version": tf.__version__,
    }
    info_path.write_text(json.dumps(info, indent=1) + "\n")
    print(f"wrote {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
