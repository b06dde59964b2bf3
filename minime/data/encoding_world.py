"""A world whose features carry priors: ordinal ages, ad creatives, pre-trained vectors, histories.

Chapter 8's ground truth. Every row is an impression of an ad ``item`` (of a category) to a
``user`` with an ``age``, a behaviour history of categories, and a click label drawn from

``z = β + w_u[u] + a·⟨g, visual_i⟩ + f(age) + c·cos(P_u, Q_i) + s·Σ_j [c_j = c_t]·γ^(p_j − 1)``

* ``f(age)``: a smooth curve of the age, two bumps (``age_shape="wave"``) or a rise
  (``"rise"``); ages are bell-distributed, so the oldest and youngest are rare or unseen in
  training: the order prior MNSE keeps;
* ``a·⟨g, visual_i⟩``: the ad's appeal is a smooth function of its creative's vector
  ``visual_i`` (``(num_items, visual_dim)`` in :attr:`EncodingWorld.item_visual`); item
  popularity is Zipf, so most ads are rare: the visual HashID lets them share what similar ads
  learned;
* ``c·cos(P_u, Q_i)``: the cosine of pre-trained user and item vectors (given, with the noise of
  a pre-training, in ``user_pretrained`` / ``item_pretrained``): what Similarity Encoding feeds;
* the history term: behaviour ``j`` of category ``c_j`` at target-relative position ``p_j``
  (1 = most recent) adds ``s·γ^(p_j − 1)`` when its category is the target ad's ``c_t``: the
  semantic × temporal pattern of TIM and of the CTC map.

Fields of :attr:`EncodingWorld.data` (all int64): ``user``, ``item``, ``category`` (the ad's),
``age`` (0..``max_age``), ``seq_0 .. seq_{L−1}`` (the history, chronological, padded at the end
with the id ``num_categories``) and ``seq_len`` (0..L).

Example:
    >>> world = make_encoding_world(num_rows=2000, seed=0)
    >>> world.data.field_names[:5], world.sequences.shape, world.data.x.dtype
    (('user', 'item', 'category', 'age', 'seq_0'), torch.Size([2000, 10]), torch.int64)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from minime.data.batches import Split, TensorData
from minime.data.synthetic import bias_for_rate, sample_ids, sigmoid
from minime.data.truth import zipf_by_rank

__all__ = ["EncodingWorld", "EncodingWorldConfig", "make_encoding_world"]


@dataclass(frozen=True)
class EncodingWorldConfig:
    """The sizes and effect strengths of :func:`make_encoding_world` (defaults: chapter 8's)."""

    num_users: int = 2000
    num_items: int = 1000
    num_categories: int = 10
    max_age: int = 99
    seq_len: int = 10
    visual_dim: int = 32
    pretrained_dim: int = 16
    item_zipf: float = 1.1  # popularity exponent of the ads: a long tail of rare ads
    age_mean: float = 38.0
    age_std: float = 11.0
    age_sampling: str = "bell"  # "uniform": every age equally likely (rare and unseen values)
    age_shape: str = "rise"  # f(age): "rise" (a smooth sigmoid in age) or "wave" (two bumps)
    user_scale: float = 0.3  # std of the per-user weight w_u
    visual_scale: float = 0.8  # a: std of the creative's effect
    age_scale: float = 0.8  # amplitude of f(age)
    similarity_scale: float = 1.5  # c
    pretrain_noise: float = 0.5  # std of the noise on the pre-trained vectors (per entry, rel.)
    history_scale: float = 1.5  # s
    decay: float = 0.7  # γ
    base_rate: float = 0.15


@dataclass
class EncodingWorld:
    """The rows and their truth. ``data`` is a :class:`TensorData`; arrays are numpy float64."""

    data: TensorData
    config: EncodingWorldConfig
    item_category: np.ndarray  # (num_items,) int64
    item_visual: np.ndarray  # (num_items, visual_dim)
    user_pretrained: np.ndarray  # (num_users, pretrained_dim)
    item_pretrained: np.ndarray  # (num_items, pretrained_dim)
    age_effect: np.ndarray  # (max_age + 1,) f(age)
    logits: np.ndarray  # (N,) oracle logits z
    bias: float  # β
    parts: dict = field(default_factory=dict)  # (N,) each term of z, by name

    @property
    def sequences(self) -> torch.Tensor:
        """``(N, L)`` int64 behaviour categories (padded with ``num_categories``)."""
        return self.data.x[:, 4:4 + self.config.seq_len]

    @property
    def lengths(self) -> torch.Tensor:
        """``(N,)`` int64 history lengths."""
        return self.data.x[:, 4 + self.config.seq_len]

    def split(self, fractions=(0.8, 0.1, 0.1), *, seed: int = 0) -> Split:
        """``(train, valid, test)`` of the rows, as :meth:`TensorData.split`."""
        return self.data.split(fractions, seed=seed)


def make_encoding_world(num_rows: int = 200_000, seed: int = 0,
                        config: EncodingWorldConfig | None = None, *, rows_seed: int | None = None,
                        bias: float | None = None, **overrides) -> EncodingWorld:
    """Draw ``num_rows`` impressions of the encoding world (see the module docstring).

    Args:
        num_rows: impressions to draw.
        seed: seed of the world's parameters (ads, creatives, vectors, tastes, effects).
        config: an :class:`EncodingWorldConfig`; ``overrides`` replace its fields.
        rows_seed: seed of the rows (default: ``seed``); another value draws new impressions of
            the same world, e.g. a test set with ``age_sampling="uniform"``.
        bias: the logit's bias β; default: bisected so that the mean click rate is
            ``base_rate``. Pass ``world.bias`` to keep a world's β on rows drawn differently.
    """
    c = config or EncodingWorldConfig()
    if overrides:
        c = EncodingWorldConfig(**{**c.__dict__, **overrides})
    if num_rows < 1 or c.seq_len < 1 or c.num_categories < 2:
        raise ValueError(f"need num_rows >= 1, seq_len >= 1 and num_categories >= 2, got "
                         f"{num_rows}, {c.seq_len}, {c.num_categories}")
    if c.age_shape not in ("wave", "rise"):
        raise ValueError(f"age_shape must be 'wave' or 'rise', got {c.age_shape!r}")
    if c.age_sampling not in ("bell", "uniform"):
        raise ValueError(f"age_sampling must be 'bell' or 'uniform', got {c.age_sampling!r}")
    truth = np.random.default_rng([seed, 0])
    rng = np.random.default_rng([seed if rows_seed is None else rows_seed, 1])
    n, L, C = num_rows, c.seq_len, c.num_categories
    # the world: ads (a category, a creative, a pre-trained vector, a Zipf popularity in random
    # order), users (a weight, a pre-trained vector, a taste over categories), the effects
    item_category = truth.integers(0, C, c.num_items)
    item_visual = truth.standard_normal((c.num_items, c.visual_dim))
    users_true = truth.standard_normal((c.num_users, c.pretrained_dim))
    items_true = truth.standard_normal((c.num_items, c.pretrained_dim))
    noisy = lambda t: t + c.pretrain_noise * truth.standard_normal(t.shape)  # noqa: E731
    user_pretrained, item_pretrained = noisy(users_true), noisy(items_true)
    item_probs = zipf_by_rank(c.num_items, c.item_zipf)[truth.permutation(c.num_items)]
    user_weight = c.user_scale * truth.standard_normal(c.num_users)
    taste = truth.dirichlet(np.full(C, 0.3), c.num_users)
    gaze = truth.standard_normal(c.visual_dim) / np.sqrt(c.visual_dim)
    ages = np.arange(c.max_age + 1)
    age_effect = c.age_scale * (np.sin(2 * np.pi * (ages - 20) / 50) if c.age_shape == "wave"
                                else np.tanh((ages - c.age_mean) / (2 * c.age_std)))
    # the rows
    user = rng.integers(0, c.num_users, n)
    item = sample_ids(item_probs, n, rng)
    category = item_category[item]
    age = (rng.integers(0, c.max_age + 1, n) if c.age_sampling == "uniform" else
           np.clip(np.rint(rng.normal(c.age_mean, c.age_std, n)), 0, c.max_age).astype(np.int64))
    cdf = taste.cumsum(1)[user]  # (n, C): histories follow the user's taste; lengths 1..L
    seq = (rng.random((n, L, 1)) * cdf[:, None, -1:] > cdf[:, None, :]).sum(2)
    lengths = rng.integers(1, L + 1, n)
    position = lengths[:, None] - np.arange(L)[None, :]  # p_j = len − j (1 = most recent)
    real = position >= 1
    seq = np.where(real, np.minimum(seq, C - 1), C)
    # the logit, term by term
    cosine = (users_true[user] * items_true[item]).sum(1) / (
        np.linalg.norm(users_true[user], axis=1) * np.linalg.norm(items_true[item], axis=1))
    parts = {
        "user": user_weight[user],
        "visual": c.visual_scale * item_visual[item] @ gaze,
        "age": age_effect[age],
        "similarity": c.similarity_scale * cosine,
        "history": c.history_scale * (((seq == category[:, None]) & real)
                                      * c.decay ** np.clip(position - 1, 0, None)).sum(1),
    }
    z = sum(parts.values())
    bias = bias_for_rate(z, c.base_rate) if bias is None else float(bias)
    z = z + bias
    y = (rng.random(n) < sigmoid(z)).astype(np.float32)
    x = np.column_stack([user, item, category, age, seq, lengths]).astype(np.int64)
    names = ("user", "item", "category", "age", *(f"seq_{j}" for j in range(L)), "seq_len")
    dims = (c.num_users, c.num_items, C, c.max_age + 1, *([C + 1] * L), L + 1)
    data = TensorData(torch.from_numpy(x), torch.from_numpy(y), dims, field_names=names,
                      task_names=("click",), meta={"oracle_logit": torch.from_numpy(z)},
                      name="encoding world")
    return EncodingWorld(data, c, item_category, item_visual, user_pretrained, item_pretrained,
                         age_effect, z, bias, parts)
