"""The MiniLM sentence encoder in TensorFlow: BERT (post-LayerNorm, erf GELU) over fixed-length
int32 token batches, mean pooling over attention_mask, L2 normalisation (sentence-transformers'
Transformer -> Pooling(mean) -> Normalize). Weights are tf.Variables named as in the package."""

import math

import numpy as np
import tensorflow as tf

from minilm_weights import BertConfig

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "embedding"
MASKED_SCORE = -10000.0  # added to attention scores of padded keys (BERT's convention)


class MiniLMEncoder(tf.Module):
    def __init__(self, cfg: BertConfig, weights: dict[str, np.ndarray], seq_len: int) -> None:
        super().__init__(name="minilm")
        self.cfg = cfg
        self.seq_len = seq_len
        self.w = {name: tf.Variable(value, trainable=False, name=name.replace(".", "/")) for name, value in weights.items()}

    def _layer_norm(self, x: tf.Tensor, name: str) -> tf.Tensor:
        mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
        return (x - mean) * tf.math.rsqrt(var + self.cfg.layer_norm_eps) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def _linear(self, x: tf.Tensor, name: str) -> tf.Tensor:
        return tf.matmul(x, self.w[name + ".weight"], transpose_b=True) + self.w[name + ".bias"]

    def _heads(self, x: tf.Tensor) -> tf.Tensor:
        d = self.cfg.hidden // self.cfg.heads
        return tf.transpose(tf.reshape(x, [-1, self.seq_len, self.cfg.heads, d]), [0, 2, 1, 3])

    def encode(self, input_ids: tf.Tensor, attention_mask: tf.Tensor, token_type_ids: tf.Tensor) -> tf.Tensor:
        cfg = self.cfg
        h = tf.gather(self.w["embeddings.word_embeddings.weight"], input_ids)
        h += self.w["embeddings.position_embeddings.weight"][: self.seq_len]
        h += tf.gather(self.w["embeddings.token_type_embeddings.weight"], token_type_ids)
        h = self._layer_norm(h, "embeddings.LayerNorm")
        mask = tf.cast(attention_mask, tf.float32)
        score_bias = (1.0 - mask)[:, None, None, :] * MASKED_SCORE
        scale = 1.0 / math.sqrt(cfg.hidden // cfg.heads)
        for i in range(cfg.layers):
            p = f"encoder.layer.{i}."
            q, k, v = (self._heads(self._linear(h, p + "attention.self." + t)) for t in ("query", "key", "value"))
            probs = tf.nn.softmax(tf.matmul(q, k, transpose_b=True) * scale + score_bias, axis=-1)
            ctx = tf.reshape(tf.transpose(tf.matmul(probs, v), [0, 2, 1, 3]), [-1, self.seq_len, cfg.hidden])
            h = self._layer_norm(self._linear(ctx, p + "attention.output.dense") + h, p + "attention.output.LayerNorm")
            ff = self._linear(tf.nn.gelu(self._linear(h, p + "intermediate.dense"), approximate=False), p + "output.dense")
            h = self._layer_norm(ff + h, p + "output.LayerNorm")
        summed = tf.reduce_sum(h * mask[:, :, None], axis=1)
        mean = summed / tf.maximum(tf.reduce_sum(mask, axis=1, keepdims=True), 1e-9)
        return tf.math.l2_normalize(mean, axis=1, epsilon=1e-24)

    def signature(self) -> tf.types.experimental.ConcreteFunction:
        spec = {name: tf.TensorSpec([None, self.seq_len], tf.int32, name=name) for name in INPUT_NAMES}

        @tf.function(input_signature=[spec[n] for n in INPUT_NAMES])
        def serve(input_ids: tf.Tensor, attention_mask: tf.Tensor, token_type_ids: tf.Tensor) -> dict[str, tf.Tensor]:
            return {OUTPUT_NAME: self.encode(input_ids, attention_mask, token_type_ids)}

        return serve.get_concrete_function()


CLASSIFIER_OUTPUT_NAME = "logits"


class MiniLMClassifier(tf.Module):
    """The encoder followed by a linear head on the embedding: logits [batch, classes]."""

    def __init__(self, encoder: MiniLMEncoder, weight: np.ndarray, bias: np.ndarray) -> None:
        super().__init__(name="minilm_classifier")
        self.encoder = encoder
        self.head_weight = tf.Variable(weight, trainable=False, name="head/weight")
        self.head_bias = tf.Variable(bias, trainable=False, name="head/bias")

    def signature(self) -> tf.types.experimental.ConcreteFunction:
        seq = self.encoder.seq_len
        spec = [tf.TensorSpec([None, seq], tf.int32, name=name) for name in INPUT_NAMES]

        @tf.function(input_signature=spec)
        def serve(input_ids: tf.Tensor, attention_mask: tf.Tensor, token_type_ids: tf.Tensor) -> dict[str, tf.Tensor]:
            emb = self.encoder.encode(input_ids, attention_mask, token_type_ids)
            return {CLASSIFIER_OUTPUT_NAME: tf.matmul(emb, self.head_weight) + self.head_bias}

        return serve.get_concrete_function()


def save_module(module: MiniLMEncoder | MiniLMClassifier, path: str) -> None:
    tf.saved_model.save(module, path, signatures={"serving_default": module.signature()})
