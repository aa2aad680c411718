"""Multinomial logistic regression (softmax + L2) fitted by full-batch gradient descent in numpy:
the classifier head trained on sentence embeddings."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Head:
    weight: np.ndarray  # [features, classes] float32
    bias: np.ndarray  # [classes] float32

    def logits(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weight + self.bias

    def accuracy(self, x: np.ndarray, labels: np.ndarray) -> float:
        return float(np.mean(np.argmax(self.logits(x), axis=1) == labels))


def fit(x: np.ndarray, labels: np.ndarray, classes: int, l2: float = 1e-3, lr: float = 2.0, steps: int = 2000) -> Head:
    n, f = x.shape
    onehot = np.eye(classes)[labels]
    w = np.zeros((f, classes))
    b = np.zeros(classes)
    for _ in range(steps):
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) / n
        w -= lr * (x.T @ g + l2 * w)
        b -= lr * g.sum(axis=0)
    return Head(weight=w.astype(np.float32), bias=b.astype(np.float32))
