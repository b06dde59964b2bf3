"""The *collapsed and entangled world*: a seeded generator of ads logs with a known ground truth.

Rows are drawn field by field from Zipf id frequencies (a random permutation, so popularity is
not id order); labels are Bernoulli(σ(z_t)) with the oracle logit

``z_t = β_t + Σ_f w_f[x_f] + Σ_{(i,j)∈P} T_i[x_i]ᵀ A_ij T_j[x_j] + c·⟨U_t[u], V_t[i] R_s⟩``

where each A_ij has a planted rank (the collapse / multi-embedding chapters), the task factors
``U_t = cosθ·U_s + sinθ·U_t'`` are entangled by θ and negated for conflict users on tasks ≥ 2
(the STEM chapters), R_s rotates item factors per scenario, and β_t is bisected to the base
rates. :func:`make_world` returns the rows as a :class:`~minime.data.batches.TensorData` and the
planted parameters as a :class:`~minime.data.truth.Truth`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from minime.data.batches import Split, TensorData
from minime.data.truth import Truth, plant_truth, zipf_by_rank
from minime.data.world_config import PRESETS, FieldSpec, WorldConfig, resolve_config

__all__ = ["World", "make_world", "sample_ids", "bias_for_rate", "sigmoid", "zipf_by_rank",
           "PRESETS", "FieldSpec", "WorldConfig", "Truth"]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^-z) in z's dtype (e^-z overflowing to inf gives the right 0)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def sample_ids(probs: np.ndarray, num_rows: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``num_rows`` ids with probabilities ``probs`` (V,): inverse CDF by ``searchsorted``.

    Example:
        >>> ids = sample_ids(np.array([0.0, 1.0, 0.0]), 5, np.random.default_rng(0))
        >>> ids.tolist()
        [1, 1, 1, 1, 1]
    """
    cdf = np.cumsum(probs)
    ids = np.searchsorted(cdf, rng.random(num_rows) * cdf[-1], side="right")
    return np.minimum(ids, len(probs) - 1)


def bias_for_rate(logits: np.ndarray, rate: float, iterations: int = 40) -> float:
    """The bias β with ``mean σ(logits + β) = rate``, by bisection (in float32, for speed).

    Args:
        logits: (N,) logits without the bias.
        rate: the target base rate in (0, 1).
        iterations: halvings of the bracket ``[-max z - 20, -min z + 20]``.

    Returns:
        β as a float.

    Example:
        >>> abs(bias_for_rate(np.zeros(10), 0.5)) < 1e-6
        True
    """
    low, high = -float(logits.max()) - 20.0, -float(logits.min()) + 20.0
    logits = logits.astype(np.float32)
    for _ in range(iterations):
        mid = 0.5 * (low + high)
        if sigmoid(logits + np.float32(mid)).mean() < rate:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


@dataclass(frozen=True)
class World:
    """A generated world: the rows, the planted truth and the config that made them.

    Attributes:
        data: all rows; ``meta`` holds ``oracle_logit`` (N, T) float32, plus ``conflict`` (N,) bool
            when there is a user–item term, ``scenario`` (N,) int64 when there are scenarios,
            and ``task`` (N,) int64 with ``label_mask`` (N, T) bool when rows belong to one task
            each (``task_shares``).
        truth: the planted parameters (:class:`~minime.data.truth.Truth`).
        config: the resolved :class:`~minime.data.world_config.WorldConfig`.
    """

    data: TensorData
    truth: Truth
    config: WorldConfig

    @property
    def fields(self) -> tuple[FieldSpec, ...]:
        """The F field specs, scenario field included."""
        return self.config.all_fields()

    @property
    def field_dims(self) -> tuple[int, ...]:
        """The F cardinalities."""
        return self.data.field_dims

    @property
    def field_names(self) -> tuple[str, ...]:
        """The F field names."""
        return self.data.field_names

    @property
    def task_names(self) -> tuple[str, ...]:
        """The T task names."""
        return self.data.task_names

    @property
    def num_tasks(self) -> int:
        """T, the number of tasks."""
        return self.data.num_tasks

    def split(self, fractions=(0.8, 0.1, 0.1), *, seed: int = 0) -> Split:
        """Random ``(train, valid, test)`` split of :attr:`data`; meta columns follow the rows."""
        return self.data.split(fractions, seed=seed)

    def __repr__(self) -> str:
        return f"World({self.data!r})"


def _meta(truth: Truth, x: np.ndarray, z: np.ndarray) -> dict[str, torch.Tensor]:
    """Per-row ground truth: oracle logits, and the conflict flag and scenario where defined."""
    meta = {"oracle_logit": torch.from_numpy(z.astype(np.float32))}
    if truth.conflict_users is not None:
        meta["conflict"] = torch.from_numpy(truth.conflict_users[x[:, truth.user_field]])
    if truth.scenario_field is not None:
        meta["scenario"] = torch.from_numpy(x[:, truth.scenario_field].copy())
    return meta


def make_world(preset: str | WorldConfig = "ctr", *, num_rows: int | None = None, seed: int = 0,
               **overrides) -> World:
    """Generate a synthetic world with labels and its ground truth, deterministically per seed.

    Args:
        preset: a key of :data:`PRESETS` (``ctr``, ``ctr_pair_specific``, ``multitask``,
            ``scenarios``, ``tiny``) or a :class:`WorldConfig`.
        num_rows: rows N to draw (default: the config's ``num_rows``).
        seed: seeds everything; the planted truth (all but ``task_bias``) does not depend on N.
        **overrides: WorldConfig fields to replace, e.g. ``theta_deg=0.0, conflict_fraction=0.5``.

    Returns:
        A :class:`World`: ``data`` (x (N, F) int64, y (N, T) float32, meta), ``truth``, ``config``.

    Example:
        >>> world = make_world("tiny", num_rows=500, seed=1)
        >>> world.data.num_rows, world.field_names, world.task_names
        (500, ('user_id', 'item_id', 'age', 'category', 'scenario'), ('click', 'convert'))
        >>> tuple(world.data.meta["oracle_logit"].shape)
        (500, 2)
    """
    if num_rows is not None:
        overrides["num_rows"] = num_rows
    cfg = resolve_config(preset, **overrides)
    rng = np.random.default_rng(seed)
    truth = plant_truth(cfg, rng)
    n = cfg.num_rows
    x = np.stack([sample_ids(p, n, rng) for p in truth.id_probs], axis=1)  # (N, F)
    z = truth.logits(x)  # (N, T), task_bias still 0
    observed = None  # (N, T) bool when each row belongs to one task
    if cfg.task_shares is not None:
        shares = np.asarray(cfg.task_shares, dtype=float)
        task = rng.choice(cfg.num_tasks, size=n, p=shares / shares.sum())  # (N,)
        observed = task[:, None] == np.arange(cfg.num_tasks)[None, :]
    bias = np.array([bias_for_rate(z[:, t] if observed is None else z[observed[:, t], t], rate)
                     for t, rate in enumerate(cfg.base_rates)])  # the rate on the task's rows
    truth = dataclasses.replace(truth, task_bias=bias)
    z += bias
    y = (rng.random(z.shape) < sigmoid(z)).astype(np.float32)  # (N, T)
    meta = _meta(truth, x, z)
    if observed is not None:
        y[~observed] = 0.0  # missing labels are 0 and masked out
        meta.update(task=torch.from_numpy(task), label_mask=torch.from_numpy(observed))
    fields = cfg.all_fields()
    data = TensorData(torch.from_numpy(x), torch.from_numpy(y), tuple(f.cardinality for f in fields),
                      field_names=tuple(f.name for f in fields), task_names=cfg.task_names,
                      meta=meta, name=preset if isinstance(preset, str) else "world")
    return World(data=data, truth=truth, config=cfg)
