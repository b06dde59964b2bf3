"""The planted ground truth of the synthetic world and the oracle logits it defines.

:func:`plant_truth` draws every parameter of a :class:`~minime.data.world_config.WorldConfig`
(id popularity, first-order weights, low-rank pair interactions, per-task user/item factors,
conflict users, scenario rotations); :meth:`Truth.logits` maps ids to the clean logits
``z (N, T)``. Chapters assert learned tables against these arrays (planted rank, principal
angles, conflict users).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from minime.data.world_config import FieldSpec, WorldConfig

__all__ = ["Truth", "plant_pairs", "plant_tasks", "plant_truth", "rotation", "zipf_by_rank",
           "zipf_probs"]


@dataclass(frozen=True)
class Truth:
    """Every planted parameter of a world; all scales are folded into the arrays.

    ``z_t = task_bias[t] + Σ_f first_order[f][x_f]
    + Σ_{(i,j)} field_factors[i][x_i] @ pair_matrices[i, j] @ field_factors[j][x_j]
    + task_weight · user_factors[t, x_u] · (item_factors[t, x_i] @ scenario_rotations[x_s])``

    Attributes:
        field_names: the F field names (scenario field included).
        id_probs: per field, (V_f,) probability of each id (Zipf over a random permutation).
        first_order: per field, (V_f,) weights w_f.
        field_factors: per field, (V_f, d_f) factors T_f (d_f = 0 for a field in no pair).
        pair_matrices: (i, j) -> (d_i, d_j) matrix A_ij of rank ``planted_rank[i, j]``.
        planted_rank: (i, j) -> r_ij, with field indices i < j.
        user_field, item_field, scenario_field: field indices of those roles, or None.
        user_factors: (T, V_u, r) task user factors U_t, conflict users already negated on t ≥ 1.
        item_factors: (T, V_i, r) task item factors V_t before the scenario rotation.
        task_weight: c = task_scale / √r in front of the user–item term.
        conflict_users: (V_u,) bool, the users whose tasks ≥ 2 see the negated term.
        scenario_rotations: (S, r, r) orthogonal R_s; item factors enter as V_t[i] @ R_s.
        task_bias: (T,) biases β_t, found by bisection for the base rates.
    """

    field_names: tuple[str, ...]
    id_probs: tuple[np.ndarray, ...]
    first_order: tuple[np.ndarray, ...]
    field_factors: tuple[np.ndarray, ...]
    pair_matrices: dict[tuple[int, int], np.ndarray]
    planted_rank: dict[tuple[int, int], int]
    user_field: int | None = None
    item_field: int | None = None
    scenario_field: int | None = None
    user_factors: np.ndarray | None = None
    item_factors: np.ndarray | None = None
    task_weight: float = 0.0
    conflict_users: np.ndarray | None = None
    scenario_rotations: np.ndarray | None = None
    task_bias: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(1))

    @property
    def num_tasks(self) -> int:
        """T, the number of tasks."""
        return len(self.task_bias)

    def field_rank(self, field: int) -> int:
        """The rank of what field ``field``'s ids must encode for the pair terms (numpy's rank).

        The matrix ``[T_f A_fj for every partner j]`` (``A_jfᵀ`` where ``f`` is second): every
        direction an embedding of the field needs to reproduce its planted interactions.
        """
        blocks = [self.field_factors[field] @ (a if i == field else a.T)
                  for (i, j), a in self.pair_matrices.items() if field in (i, j)]
        return int(np.linalg.matrix_rank(np.hstack(blocks))) if blocks else 0

    def shared_logit(self, x: np.ndarray) -> np.ndarray:
        """First-order plus pair terms, the part shared by all tasks: (N, F) ids -> (N,) float64."""
        ids = [np.ascontiguousarray(col) for col in np.asarray(x).T]  # F × (N,)
        z = np.zeros(len(ids[0]))
        for f, w in enumerate(self.first_order):
            z += np.take(w, ids[f])
        for (i, j), a in self.pair_matrices.items():
            rows, cols = np.flatnonzero(a.any(axis=1)), np.flatnonzero(a.any(axis=0))  # skip zero blocks
            left = self.field_factors[i][:, rows] @ a[np.ix_(rows, cols)]  # (V_i, c): T_i A_ij
            right = np.ascontiguousarray(self.field_factors[j][:, cols])  # (V_j, c)
            z += np.einsum("nk,nk->n", np.take(left, ids[i], axis=0), np.take(right, ids[j], axis=0))
        return z

    def user_item_term(self, x: np.ndarray) -> np.ndarray:
        """The per-task user–item term ``c·⟨U_t[u], V_t[i] R_s⟩``: (N, F) ids -> (N, T) float64."""
        term = np.zeros((len(x), self.num_tasks))
        if self.user_factors is None:
            return term
        users, items = x[:, self.user_field], x[:, self.item_field]
        for t in range(self.num_tasks):
            item_t = self.item_factors[t]  # (V_i, r)
            if self.scenario_rotations is None:
                v = np.take(item_t, items, axis=0)  # (N, r)
            else:
                rotated = np.einsum("vk,skl->svl", item_t, self.scenario_rotations)  # (S, V_i, r)
                v = rotated[x[:, self.scenario_field], items]  # (N, r)
            u = np.take(self.user_factors[t], users, axis=0)  # (N, r)
            term[:, t] = self.task_weight * np.einsum("nk,nk->n", u, v)
        return term

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The oracle logits of rows of ids.

        Args:
            x: (N, F) int ids, fields in the world's order.

        Returns:
            (N, T) float64 clean logits z (labels are Bernoulli(σ(z))).

        Example:
            >>> from minime.data import synthetic
            >>> world = synthetic.make_world("tiny", num_rows=100)
            >>> world.truth.logits(world.data.x.numpy()).shape
            (100, 2)
        """
        x = np.asarray(x)
        return self.shared_logit(x)[:, None] + self.user_item_term(x) + self.task_bias[None, :]


def zipf_by_rank(cardinality: int, exponent: float) -> np.ndarray:
    """Zipf probabilities in popularity order: ``p_k = k^-s / Σ_{j=1..V} j^-s``, k = 1..V: (V,).

    Example:
        >>> zipf_by_rank(3, 0.0).tolist()
        [0.3333333333333333, 0.3333333333333333, 0.3333333333333333]
    """
    by_rank = np.arange(1, cardinality + 1, dtype=float) ** -float(exponent)
    return by_rank / by_rank.sum()


def zipf_probs(cardinality: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Zipf probabilities (:func:`zipf_by_rank`) given to the ids in a random order: (V,).

    Example:
        >>> p = zipf_probs(4, 1.0, np.random.default_rng(0))
        >>> round(float(p.sum()), 6), round(float(p.max() / p.min()), 6)
        (1.0, 4.0)
    """
    probs = np.empty(cardinality)
    probs[rng.permutation(cardinality)] = zipf_by_rank(cardinality, exponent)
    return probs


def rotation(dim: int, angle_deg: float, rng: np.random.Generator) -> np.ndarray:
    """A random rotation that turns every vector by ``angle_deg`` (all of them for even dim): (dim, dim).

    It is ``Q B Qᵀ`` with Q a random orthogonal basis and B block-diagonal 2×2 rotations by the
    angle (and a 1 for odd dim), so its eigenvalues are ``e^{±iα}`` (and 1).

    Example:
        >>> r = rotation(4, 30.0, np.random.default_rng(0))
        >>> bool(np.allclose(r.T @ r, np.eye(4))), bool(np.isclose(np.trace(r), 4 * np.cos(np.pi / 6)))
        (True, True)
    """
    q, upper = np.linalg.qr(rng.standard_normal((dim, dim)))
    q = q * np.sign(np.diag(upper))  # a uniformly random orthogonal basis
    a = np.deg2rad(angle_deg)
    block = np.eye(dim)
    for k in range(0, dim - 1, 2):
        block[k:k + 2, k:k + 2] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
    return q @ block @ q.T


def plant_pairs(fields: tuple[FieldSpec, ...], pairs: list[tuple[int, int, int]], pair_specific: bool,
                scale: float, rng: np.random.Generator):
    """Field factors T_f and pair matrices A_ij of exact rank r_ij, each pair of variance scale²/|P|.

    Shared factors: d_f = max r_ij over f's pairs and ``A_ij = B Cᵀ`` (B: d_i×r, C: d_j×r).
    Pair-specific: f gets a separate block of r_ij columns per partner (d_f = Σ r_ij) and A_ij is
    a random r×r block linking the two blocks, zero elsewhere.

    Returns:
        ``(factors, matrices)``: a tuple of (V_f, d_f) arrays and a dict (i, j) -> (d_i, d_j).
    """
    dims, offsets = [0] * len(fields), {}
    for i, j, r in pairs:
        for f in (i, j):
            offsets[(i, j, f)] = dims[f] if pair_specific else 0
            dims[f] = dims[f] + r if pair_specific else max(dims[f], r)
    factors = tuple(rng.standard_normal((f.cardinality, d)) for f, d in zip(fields, dims))
    matrices = {}
    for i, j, r in pairs:
        a = np.zeros((dims[i], dims[j]))
        if pair_specific:
            oi, oj = offsets[(i, j, i)], offsets[(i, j, j)]
            a[oi:oi + r, oj:oj + r] = rng.standard_normal((r, r))
        else:
            a = rng.standard_normal((dims[i], r)) @ rng.standard_normal((dims[j], r)).T
        # E[(aᵀ A b)²] = ||A||_F² for a, b ~ N(0, I): normalise each pair to variance scale²/|P|
        matrices[(i, j)] = a * scale / (np.linalg.norm(a) * np.sqrt(len(pairs)))
    return factors, matrices


def plant_tasks(cfg: WorldConfig, rng: np.random.Generator) -> dict:
    """Task user/item factors mixed by θ, conflict users, scenario rotations (Truth keyword args)."""
    user, item = cfg.role_index("user"), cfg.role_index("item")
    fields, r, t = cfg.all_fields(), cfg.task_rank, cfg.num_tasks
    theta = np.deg2rad(cfg.theta_deg)

    def mixed(cardinality):  # U_t = cosθ·U_s + sinθ·U_t', all N(0, I_r): (T, V, r)
        shared = rng.standard_normal((cardinality, r))
        return np.cos(theta) * shared + np.sin(theta) * rng.standard_normal((t, cardinality, r))

    users, items = mixed(fields[user].cardinality), mixed(fields[item].cardinality)
    for task, rank in enumerate(cfg.task_ranks or ()):  # a simpler pattern, the same std
        users[task, :, rank:] = 0.0
        users[task] *= np.sqrt(r / rank)
    num_users = fields[user].cardinality
    conflict = np.zeros(num_users, dtype=bool)
    conflict[rng.choice(num_users, round(cfg.conflict_fraction * num_users), replace=False)] = True
    users[1:, conflict] *= -1.0
    rotations = None
    if cfg.num_scenarios > 0:
        rotations = np.stack([rotation(r, cfg.scenario_angle_deg, rng) for _ in range(cfg.num_scenarios)])
    return dict(user_field=user, item_field=item, scenario_field=cfg.role_index("scenario"),
                user_factors=users, item_factors=items, task_weight=cfg.task_scale / np.sqrt(r),
                conflict_users=conflict, scenario_rotations=rotations)


def plant_truth(cfg: WorldConfig, rng: np.random.Generator) -> Truth:
    """Draw every planted parameter of ``cfg`` (task biases left at 0 for the caller to fit).

    Example:
        >>> from minime.data.world_config import PRESETS
        >>> truth = plant_truth(PRESETS["ctr"], np.random.default_rng(0))
        >>> truth.planted_rank[(0, 1)], truth.field_factors[5].shape
        (4, (3000, 4))
    """
    fields, pairs = cfg.all_fields(), cfg.pair_list()
    probs = tuple(zipf_probs(f.cardinality, f.zipf, rng) for f in fields)
    first = tuple(cfg.first_order_scale * rng.standard_normal(f.cardinality) for f in fields)
    factors, matrices = plant_pairs(fields, pairs, cfg.pair_specific, cfg.pair_scale, rng)
    tasks = plant_tasks(cfg, rng) if cfg.task_rank > 0 else {}
    return Truth(field_names=tuple(f.name for f in fields), id_probs=probs, first_order=first,
                 field_factors=factors, pair_matrices=matrices,
                 planted_rank={(i, j): r for i, j, r in pairs}, task_bias=np.zeros(cfg.num_tasks), **tasks)
