"""The MiniLM sentence embedding computed with numpy alone, written from the BERT definition and
sentence-transformers' Pooling/Normalize modules (independent of minilm_tf.py): the oracle the
TensorFlow rebuild is checked against. Padded keys are excluded from attention exactly (weight 0)."""

import math

import numpy as np

from minilm_weights import BertConfig


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * gamma + beta


def _linear(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    return x @ w[name + ".weight"].T + w[name + ".bias"]


def _gelu(x: np.ndarray) -> np.ndarray:
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _sentence(cfg: BertConfig, w: dict[str, np.ndarray], ids: np.ndarray, types: np.ndarray) -> np.ndarray:
    """Token states of one sentence holding only its real tokens (no padding at all)."""
    n = ids.size
    h = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
    h = h + w["embeddings.token_type_embeddings.weight"][types]
    h = _layer_norm(h.astype(np.float64), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], cfg.layer_norm_eps)
    d = cfg.hidden // cfg.heads
    for i in range(cfg.layers):
        p = f"encoder.layer.{i}."
        q, k, v = (_linear(h, w, p + "attention.self." + t).reshape(n, cfg.heads, d) for t in ("query", "key", "value"))
        ctx = np.empty_like(q)
        for head in range(cfg.heads):
            scores = q[:, head] @ k[:, head].T / math.sqrt(d)
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            ctx[:, head] = (scores / scores.sum(axis=1, keepdims=True)) @ v[:, head]
        attn = _linear(ctx.reshape(n, cfg.hidden), w, p + "attention.output.dense")
        h = _layer_norm(
            attn + h, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], cfg.layer_norm_eps
        )
        ff = _linear(_gelu(_linear(h, w, p + "intermediate.dense")), w, p + "output.dense")
        h = _layer_norm(ff + h, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], cfg.layer_norm_eps)
    return h


def embed(cfg: BertConfig, w: dict[str, np.ndarray], batch: dict[str, np.ndarray]) -> np.ndarray:
    """Mean of the real tokens' states, L2-normalised: float64 [n, hidden]."""
    out = np.empty((batch["input_ids"].shape[0], cfg.hidden))
    for row in range(out.shape[0]):
        real = batch["attention_mask"][row].astype(bool)
        states = _sentence(cfg, w, batch["input_ids"][row][real], batch["token_type_ids"][row][real])
        mean = states.mean(axis=0)
        out[row] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return out
