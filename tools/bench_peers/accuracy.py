"""Accuracy of an engine's outputs on the evaluation samples: top-1 against labels when the
model's eval set is labelled, else fidelity to TensorFlow fp32's outputs on the same inputs
(mean per-sample cosine similarity, top-1 agreement)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def top1(outputs: np.ndarray, labels: Sequence[int]) -> float:
    n = min(len(outputs), len(labels))
    return float(np.mean(outputs[:n].argmax(axis=1) == np.asarray(labels[:n])))


def cosine(outputs: np.ndarray, reference: np.ndarray) -> float:
    a = outputs.reshape(len(outputs), -1).astype(np.float64)
    b = reference.reshape(len(reference), -1).astype(np.float64)
    num = (a * b).sum(axis=1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    cos = np.where(den > 0, num / np.where(den > 0, den, 1.0), (np.abs(a - b).max(axis=1) == 0).astype(np.float64))
    return float(cos.mean())


def top1_agreement(outputs: np.ndarray, reference: np.ndarray) -> float:
    return float(
        np.mean(outputs.reshape(len(outputs), -1).argmax(axis=1) == reference.reshape(len(reference), -1).argmax(axis=1))
    )
