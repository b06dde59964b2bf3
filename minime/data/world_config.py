"""Configuration of the synthetic world: fields, planted interactions, tasks, scenarios, presets.

A :class:`WorldConfig` is a frozen dataclass; :data:`PRESETS` holds the named worlds the book
uses, and :func:`resolve_config` turns a preset name plus overrides into a checked config.
The generator itself is :func:`minime.data.synthetic.make_world`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from itertools import combinations

__all__ = ["FieldSpec", "PRESETS", "ROLES", "WorldConfig", "check_config", "resolve_config"]

ROLES = ("plain", "user", "item", "scenario")


@dataclass(frozen=True)
class FieldSpec:
    """One categorical field of the world.

    Args:
        name: the field's name, e.g. ``"city"``.
        cardinality: the number of ids V; ids are ``0 .. V-1``.
        zipf: exponent s of the Zipf id frequencies ``p(rank k) ∝ (k+1)^-s`` (0 = uniform).
        role: ``"user"`` and ``"item"`` carry the per-task user–item term, ``"scenario"`` the
            scenario index (added by the generator from ``num_scenarios``), ``"plain"`` the rest.

    Example:
        >>> FieldSpec("city", 300, 1.0).role
        'plain'
    """

    name: str
    cardinality: int
    zipf: float = 1.0
    role: str = "plain"


@dataclass(frozen=True)
class WorldConfig:
    """Everything that defines a synthetic world; see :func:`minime.data.synthetic.make_world`.

    The logit of task t on a row is
    ``z_t = β_t + Σ_f w_f[x_f] + Σ_{(i,j)∈P} T_i[x_i]ᵀ A_ij T_j[x_j] + c·⟨U_t[u], V_t[i] R_s⟩``
    with rank(A_ij) = r_ij planted, ``U_t = cosθ·U_s + sinθ·U_t'`` (same for V), U_t negated for
    conflict users on tasks ≥ 2, R_s the rotation of scenario s, and β_t found by bisection.

    Example:
        >>> cfg = WorldConfig(fields=(FieldSpec("a", 5, 0.0), FieldSpec("b", 7)), rank=2)
        >>> cfg.pair_list()
        [(0, 1, 2)]
    """

    fields: tuple[FieldSpec, ...]  # the declared fields (a scenario field is appended by the generator)
    num_rows: int = 200_000  # rows generated unless make_world(num_rows=...) says otherwise
    # -- first-order and pairwise terms (shared by all tasks) --
    first_order_scale: float = 0.5  # std of each field's per-id weight w_f
    pairs: tuple[tuple[str, str, int], ...] | None = None  # (field, field, rank); None: every pair
    rank: int = 4  # rank r_ij of each pair when pairs is None
    pair_specific: bool = False  # a field uses a different factor for each partner (needs Σ r_ij dims)
    pair_scale: float = 1.5  # std of the summed pair terms (each pair normalised to variance 1/|P|)
    # -- tasks: the user–item term --
    num_tasks: int = 1
    task_names: tuple[str, ...] = ("click",)
    base_rates: tuple[float, ...] = (0.10,)  # mean P(y_t = 1), matched by bisection on β_t
    task_rank: int = 0  # rank of the user–item term; 0 = no term (needs a user and an item field)
    task_scale: float = 2.0  # c = task_scale / √task_rank, so the term has std ≈ task_scale
    theta_deg: float = 60.0  # angle between tasks: U_t = cosθ·U_s + sinθ·U_t'
    conflict_fraction: float = 0.0  # share of user ids whose tasks ≥ 2 see the negated term
    task_ranks: tuple[int, ...] | None = None  # per task, the first r_t ≤ task_rank factor columns
    #                                            it uses (a simpler pattern); None: all of them
    # -- which labels a row has --
    task_shares: tuple[float, ...] | None = None  # each row belongs to ONE task drawn with these
    #                     relative weights (e.g. conversion types): its other labels are missing
    #                     (meta "label_mask"); None: every row has every label
    # -- scenarios: rotate the item factors --
    num_scenarios: int = 0  # > 0 appends a field "scenario" with this many values
    scenario_angle_deg: float = 30.0  # every scenario's rotation turns item factors by this angle
    scenario_zipf: float = 0.5  # Zipf exponent of scenario frequencies

    def all_fields(self) -> tuple[FieldSpec, ...]:
        """The fields of the generated data: the declared ones plus the scenario field, if any."""
        if self.num_scenarios <= 0:
            return self.fields
        return self.fields + (FieldSpec("scenario", self.num_scenarios, self.scenario_zipf, "scenario"),)

    def role_index(self, role: str) -> int | None:
        """Index (in :meth:`all_fields`) of the field with ``role``, or None."""
        found = [k for k, f in enumerate(self.all_fields()) if f.role == role]
        return found[0] if found else None

    def field_ranks(self) -> tuple[int, ...]:
        """Directions each field's planted pair terms need, before its cardinality caps them.

        Shared factors: ``max_j r_ij`` (one factor serves every partner); ``pair_specific``: the
        sum ``Σ_j r_ij`` (a block per partner), the setting whose truth outgrows a narrow table.

        Example:
            >>> cfg = WorldConfig(fields=(FieldSpec("a", 50), FieldSpec("b", 50), FieldSpec("c", 50)),
            ...                   rank=2, pair_specific=True)
            >>> cfg.field_ranks(), dataclasses.replace(cfg, pair_specific=False).field_ranks()
            ((4, 4, 4), (2, 2, 2))
        """
        ranks = [[] for _ in self.all_fields()]
        for i, j, r in self.pair_list():
            ranks[i].append(r)
            ranks[j].append(r)
        combine = sum if self.pair_specific else (lambda rs: max(rs, default=0))
        return tuple(int(combine(rs)) for rs in ranks)

    def pair_list(self) -> list[tuple[int, int, int]]:
        """The planted pairs as ``(i, j, r_ij)`` with field indices ``i < j``, sorted."""
        names = [f.name for f in self.all_fields()]
        if self.pairs is None:
            plain = [k for k, f in enumerate(self.all_fields()) if f.role != "scenario"]
            return [(i, j, self.rank) for i, j in combinations(plain, 2)]
        out = []
        for a, b, r in self.pairs:
            for n in (a, b):
                if n not in names:
                    raise ValueError(f"pair ({a!r}, {b!r}) names an unknown field {n!r}; fields are {names}")
            i, j = sorted((names.index(a), names.index(b)))
            if i == j or r < 1:
                raise ValueError(f"pair ({a!r}, {b!r}, {r}) needs two different fields and rank >= 1")
            out.append((i, j, int(r)))
        if len({(i, j) for i, j, _ in out}) != len(out):
            raise ValueError(f"a field pair is listed twice in pairs={self.pairs}")
        return sorted(out)


def check_config(cfg: WorldConfig) -> WorldConfig:
    """Raise a ValueError that says what is inconsistent in ``cfg``; return it unchanged if fine."""
    fields = cfg.all_fields()
    names = [f.name for f in fields]
    problems = []
    if len(set(names)) != len(names):
        problems.append(f"field names must be unique, got {names}")
    for f in fields:
        if f.role not in ROLES or f.cardinality < 1 or f.zipf < 0:
            problems.append(f"field {f.name!r}: role must be one of {ROLES}, cardinality >= 1, zipf >= 0")
    if sum(f.role == "scenario" for f in cfg.fields):
        problems.append("declare scenarios with num_scenarios, not with a field of role 'scenario'")
    for role in ("user", "item"):
        if sum(f.role == role for f in fields) > 1:
            problems.append(f"at most one field may have role {role!r}")
    if len(cfg.base_rates) != cfg.num_tasks or len(cfg.task_names) != cfg.num_tasks:
        problems.append(f"num_tasks={cfg.num_tasks} needs that many base_rates (got {cfg.base_rates}) "
                        f"and task_names (got {cfg.task_names})")
    if not all(0 < p < 1 for p in cfg.base_rates):
        problems.append(f"base rates must lie strictly between 0 and 1, got {cfg.base_rates}")
    needs_term = cfg.num_scenarios > 0 or cfg.conflict_fraction > 0
    if needs_term and cfg.task_rank < 1:
        problems.append("scenarios and conflict users act on the user–item term: set task_rank >= 1")
    if cfg.task_rank > 0 and (cfg.role_index("user") is None or cfg.role_index("item") is None):
        problems.append("task_rank > 0 needs one field with role 'user' and one with role 'item'")
    if cfg.task_ranks is not None and (len(cfg.task_ranks) != cfg.num_tasks or
                                       not all(1 <= r <= cfg.task_rank for r in cfg.task_ranks)):
        problems.append(f"task_ranks needs one rank in [1, task_rank={cfg.task_rank}] per task, "
                        f"got {cfg.task_ranks}")
    if cfg.task_shares is not None and (len(cfg.task_shares) != cfg.num_tasks or
                                        not all(w > 0 for w in cfg.task_shares)):
        problems.append(f"task_shares needs one positive weight per task, got {cfg.task_shares}")
    if not 0 <= cfg.conflict_fraction <= 1 or cfg.num_rows < 1 or cfg.num_tasks < 1:
        problems.append("conflict_fraction must lie in [0, 1]; num_rows and num_tasks must be >= 1")
    if problems:
        raise ValueError("invalid WorldConfig: " + "; ".join(problems))
    cfg.pair_list()  # raises on bad pairs
    return cfg


def resolve_config(preset: str | WorldConfig, **overrides) -> WorldConfig:
    """A checked config: a preset (by name or as a config) with some fields replaced.

    Args:
        preset: a key of :data:`PRESETS` or a :class:`WorldConfig`.
        **overrides: WorldConfig fields to replace, e.g. ``theta_deg=0.0``.

    Returns:
        The resulting :class:`WorldConfig`, validated.

    Example:
        >>> resolve_config("multitask", theta_deg=0.0).theta_deg
        0.0
    """
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ValueError(f"no world preset {preset!r}; presets are {', '.join(PRESETS)}")
        preset = PRESETS[preset]
    valid = [f.name for f in dataclasses.fields(WorldConfig)]
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise ValueError(f"unknown WorldConfig field(s) {unknown}; valid ones are {', '.join(valid)}")
    return check_config(dataclasses.replace(preset, **overrides))


def _ctr_fields(users=(1_000, 1.1), items=(3_000, 1.1)) -> tuple[FieldSpec, ...]:
    """The collapse world's fields: 2 … V ids, Zipf 0 for demographics, ≈ 1 for ids ((V, s) pairs)."""
    return (FieldSpec("gender", 2, 0.0), FieldSpec("age", 10, 0.3), FieldSpec("category", 50, 0.8),
            FieldSpec("city", 300, 1.0), FieldSpec("user_id", *users, "user"),
            FieldSpec("item_id", *items, "item"))


def _mtl_fields() -> tuple[FieldSpec, ...]:
    """The entanglement world's fields: 1,000 users × 500 items, small enough to learn the term."""
    return (FieldSpec("user_id", 1_000, 0.5, "user"), FieldSpec("item_id", 500, 0.8, "item"),
            FieldSpec("user_age", 10, 0.3), FieldSpec("item_cat", 50, 0.8))


# 1,000 users × 3,000 items (Zipf 1.1): a well-specified model gets within ~0.04 of the oracle
# from 300k rows in 4 epochs; with 5,000 × 20,000 ids (ctr_large) it needs ~1M rows for that.
_CTR = WorldConfig(fields=_ctr_fields(), num_rows=300_000, rank=4, pair_scale=1.5)
_MTL = WorldConfig(
    fields=_mtl_fields(), num_rows=300_000, pairs=(), num_tasks=2, task_names=("click", "convert"),
    base_rates=(0.10, 0.02), task_rank=4, task_scale=2.0, theta_deg=60.0, conflict_fraction=0.3)

#: Named worlds. ``ctr``: 6 fields (2 … 3,000 ids), rank-4 interactions on all 15 pairs, one task
#: (collapse / multi-embedding), learnable from 300k rows. ``ctr_pair_specific``: the same, each
#: field a different factor per partner (a field needs 5 × 4 = 20 dims). ``ctr_large``: ids of
#: 5,000 and 20,000 values (Zipf 1.0 / 1.05), 1M rows, for book scale. ``multitask``: 1,000 users
#: × 500 items, rank-4 user–item term, 2 tasks at θ = 60°, 30% conflict users, base rates
#: 10% / 2% (STEM). ``scenarios``: ``multitask`` plus 3 scenarios rotating item factors by 45°.
#: ``multicvr`` (AME): the same fields, 5 conversion-like tasks, each row belonging to one of them
#: in the ratio 100 : 10 : 10 : 1 : 1 (head, two mid, two tail tasks), base rates 10 / 5 / 5 / 3 /
#: 3 %, the head on a rank-4 user–item term and the others on rank 2 (simpler patterns), all
#: sharing part of their factors (θ = 45°).
#: ``interaction_toy``: a high-cardinality field H (2,000 ids) that meets a field G of 500 ids and
#: two low-cardinality fields L1 (2) and L2 (3), for the interaction-collapse experiment.
#: ``tiny``: 2k rows, 4 small fields, 2 tasks, 2 scenarios, every mechanism on, for unit tests.
PRESETS: dict[str, WorldConfig] = {
    "ctr": _CTR,
    "ctr_pair_specific": dataclasses.replace(_CTR, pair_specific=True),
    "ctr_large": dataclasses.replace(
        _CTR, fields=_ctr_fields(users=(5_000, 1.0), items=(20_000, 1.05)), num_rows=1_000_000),
    "multitask": _MTL,
    "scenarios": dataclasses.replace(_MTL, num_scenarios=3, scenario_angle_deg=45.0),
    "multicvr": WorldConfig(
        fields=_mtl_fields(), num_rows=400_000, pairs=(), num_tasks=5,
        task_names=("head", "mid 1", "mid 2", "tail 1", "tail 2"),
        base_rates=(0.10, 0.05, 0.05, 0.03, 0.03), task_rank=4, task_ranks=(4, 2, 2, 2, 2),
        task_scale=2.0, theta_deg=45.0, task_shares=(100.0, 10.0, 10.0, 1.0, 1.0)),
    "interaction_toy": WorldConfig(
        fields=(FieldSpec("H", 2_000, 0.8), FieldSpec("G", 500, 0.8), FieldSpec("L1", 2, 0.0),
                FieldSpec("L2", 3, 0.0)),
        num_rows=200_000, pairs=(("H", "G", 4), ("H", "L1", 1), ("H", "L2", 2)), pair_scale=2.0),
    "tiny": WorldConfig(
        fields=(FieldSpec("user_id", 40, 0.5, "user"), FieldSpec("item_id", 30, 0.8, "item"),
                FieldSpec("age", 5, 0.0), FieldSpec("category", 8, 0.5)),
        num_rows=2_000, pairs=(("age", "category", 2), ("user_id", "category", 2)), num_tasks=2,
        task_names=("click", "convert"), base_rates=(0.3, 0.1), task_rank=2, conflict_fraction=0.3,
        num_scenarios=2),
}
