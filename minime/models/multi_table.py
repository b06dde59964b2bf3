"""Multi-task models with several embedding tables per feature, beyond STEM (Pan et al., KDD 2024).

* :class:`AMENet` -- Asymmetric Multi-Embedding: a few tables of *different* widths (e.g. 16,
  32, 64), one expert per table, every task's softmax gate choosing among them.
* :class:`STEMALNet` -- STEM for auxiliary learning: main and auxiliary tasks each own a table
  and experts; a main task's gate also mixes the auxiliary experts, behind a stop-gradient.
* :class:`MultiScenarioNet` -- the shared-plus-specific idea across scenarios: each row reads
  its scenario's table next to a shared one.

None of them has official code; the paper's text on STEM-AL, AME and scenarios was not
retrieved. These are OUR readings of the secondary descriptions (``reference/papers.md`` §2.5),
documented where they choose. All follow :class:`~minime.models.multi_task.MultiTaskModel`:
logits ``(B, T)``, ``return_gates=True`` adds the task gates ``(B, T, E)``.

Example:
    >>> model = AMENet([10, 5], "small", num_tasks=3, dims=(2, 4, 8))
    >>> logits, gates = model(torch.tensor([[1, 2], [9, 4]]), return_gates=True)
    >>> logits.shape, gates.shape, model.embedding.dims
    (torch.Size([2, 3]), torch.Size([2, 3, 3]), (2, 4, 8))
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from ..embedding import MultiEmbedding
from ..experts import SoftmaxGate, mix
from ..blocks import MLP, MLPExperts
from .mtl_config import MTLConfig
from .multi_task import MultiTaskModel

__all__ = ["AMENet", "STEMALNet", "MultiScenarioNet", "AME_GATE_INPUTS", "SCENARIO_COMBINES"]

#: What AME's task gates read (besides a table index): every table, the median-width table, or
#: nothing (a learned per-task constant).
AME_GATE_INPUTS = ("all", "median", "const")
#: How :class:`MultiScenarioNet` combines the scenario's table with the shared one.
SCENARIO_COMBINES = ("concat", "sum", "specific")


class AMENet(MultiTaskModel):
    """AME: ``K`` tables of widths ``d_1..d_K`` in ONE :class:`MultiEmbedding`, one expert each.

    With ``x_k = flat(e^(k))`` (width ``F·d_k``) and experts ``f_k = MLP_k(x_k)`` whose last
    width ``H = expert_units[-1]`` is the same for all (the MLP equalises the widths)::

        g^t = softmax(G_t(gate input) / τ)    (B, K)  one gate per task
        h^t = Σ_k g^t_k · [sg] f_k            (B, H)  sg on experts other tasks own, if aftb

    Gate input (``gate_input``; the paper's choice was not retrieved): ``"all"`` the tables
    concatenated ``[x_1, ..., x_K]`` (default), ``"median"`` the median-width table (as the one
    third-party implementation), an int ``k`` table ``k``, or ``"const"`` no input: a learned
    per-task logit vector, so the routing is a property of the task, not of the row.

    ``owners`` gives each table (and its expert) to a task or leaves it shared (None, the
    default for all). With ``aftb=True`` task ``t``'s mixture stop-gradients the experts, and
    its gate input the tables, that other tasks own -- STEM's All Forward, Task-specific
    Backward; with every table shared it changes nothing.

    With equal widths, ``gate_input="all"`` and no stop-gradient this is exactly
    :class:`~minime.models.mixtures.MEMMoE` with ``K`` experts and ``K`` sets, expert ``k`` on set ``k``.

    Args:
        field_dims, config, num_tasks: as :class:`MultiTaskModel` (``config.embedding_dim`` is
            not used: ``dims`` sets the widths).
        dims: table widths, e.g. ``(16, 32, 64)``.
        gate_input: ``"all"``, ``"median"``, ``"const"`` or a table index.
        owners: per table a task index or None (shared); default all shared.
        aftb: stop-gradients on other tasks' tables and experts.
        gate_temperature: τ in ``softmax(logits / τ)``; > 1 flattens the gates, < 1 sharpens
            them (an exploration knob: the logits are learned, so τ acts on how fast they move).

    Example:
        >>> model = AMENet([10, 5], "small", num_tasks=2, dims=(2, 4), owners=(0, None), aftb=True)
        >>> model.expert_owners(), model.gate_table
        ([0, 2], None)
    """

    def __init__(self, field_dims: Sequence[int], config: MTLConfig | str | None = None, *,
                 num_tasks: int = 1, dims: Sequence[int] = (16, 32, 64),
                 gate_input: str | int = "all", owners: Sequence[int | None] | None = None,
                 aftb: bool = False, gate_temperature: float = 1.0):
        super().__init__(field_dims, config, num_tasks)
        c = self.config
        self.dims = tuple(int(d) for d in dims)
        if not self.dims or min(self.dims) < 1:
            raise ValueError(f"dims must be one or more positive widths, got {tuple(dims)}")
        num_embeddings = len(self.dims)
        owners = [None] * num_embeddings if owners is None else list(owners)
        if len(owners) != num_embeddings or any(o is not None and not 0 <= o < num_tasks
                                            for o in owners):
            raise ValueError(f"owners needs one entry per set ({num_embeddings}), each a task index "
                             f"in [0, {num_tasks}) or None, got {owners}")
        if not gate_temperature > 0:
            raise ValueError(f"gate_temperature must be positive, got {gate_temperature}")
        self.owners, self.aftb, self.gate_input = owners, bool(aftb), gate_input
        self.gate_temperature = float(gate_temperature)
        self.embedding = MultiEmbedding(field_dims, self.dims, init=c.embedding_init,
                                        sparse=c.sparse_embedding)
        self.experts = nn.ModuleList(MLP(self.num_fields * d, c.expert_units, dropout=c.dropout)
                                     for d in self.dims)
        self.gate_table = self._gate_table(gate_input)  # None: all tables (or no input)
        if gate_input == "const":
            self.gate_logits = nn.Parameter(torch.zeros(num_tasks, num_embeddings))  # uniform start
        else:
            width = self.num_fields * (sum(self.dims) if self.gate_table is None
                                       else self.dims[self.gate_table])
            self.gates = SoftmaxGate(num_tasks, width, num_embeddings, c.gate_units, dropout=c.dropout,
                                     temperature=self.gate_temperature)
        owned = torch.tensor([[o is not None and o != t for o in owners] for t in range(num_tasks)])
        self.register_buffer("detach", owned if self.aftb and owned.any() else None,
                             persistent=False)  # (T, K): None when nothing is detached
        self.towers = self._towers(c.expert_units[-1])

    def _gate_table(self, gate_input) -> int | None:
        if isinstance(gate_input, bool) or not isinstance(gate_input, (int, str)) or (
                isinstance(gate_input, str) and gate_input not in AME_GATE_INPUTS):
            raise ValueError(f"gate_input must be one of {AME_GATE_INPUTS} or a table index, "
                             f"got {gate_input!r}")
        if gate_input == "median":
            return sorted(range(len(self.dims)), key=self.dims.__getitem__)[(len(self.dims) - 1) // 2]
        if isinstance(gate_input, int):
            if not 0 <= gate_input < len(self.dims):
                raise ValueError(f"gate_input table {gate_input} is out of range for "
                                 f"{len(self.dims)} tables")
            return gate_input
        return None

    def expert_owners(self) -> list[int]:
        """Each table's expert: its owner task, or ``T`` if shared."""
        return [self.num_tasks if o is None else o for o in self.owners]

    def mixture(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        """Ids -> task vectors ``(T, B, H)``, gates ``(B, T, K)``."""
        tables = [e.flatten(1) for e in self.embedding(ids)]  # K × (B, F*d_k)
        outputs = torch.stack([expert(x) for expert, x in zip(self.experts, tables)])  # (K, B, H)
        if self.gate_input == "const":
            weights = torch.softmax(self.gate_logits / self.gate_temperature, -1)  # (T, K)
            weights = weights.expand(len(ids), -1, -1)  # (B, T, K)
        else:
            weights = self.gates(self._gate_inputs(tables))  # (B, T, K)
        return mix(outputs, weights, self.detach), weights

    def _gate_inputs(self, tables: list[Tensor]) -> Tensor:
        """``(B, in)`` read by every gate, or ``(T, B, in)`` with other tasks' tables detached."""
        picked = range(len(tables)) if self.gate_table is None else [self.gate_table]
        if self.detach is None:
            return torch.cat([tables[k] for k in picked], dim=1)  # (B, in)
        return torch.stack([torch.cat([tables[k].detach() if self.detach[t, k] else tables[k]
                                       for k in picked], dim=1)
                            for t in range(self.num_tasks)])  # (T, B, in)


class STEMALNet(MultiTaskModel):
    """STEM for auxiliary learning (STEM-AL), OUR reading: no shared table, one table per task.

    Every task ``t`` owns a table ``e^(t)`` (one :class:`MultiEmbedding` of ``T`` sets of width
    ``D``) and ``n = config.num_specific_experts`` experts on it. A main task's gate reads its
    own table and mixes every expert, other tasks' behind a stop-gradient; an auxiliary task's
    gate mixes only its own experts::

        main t:  h^t = Σ_{k ∈ t} g^t_k f_k + Σ_{k ∉ t} g^t_k sg(f_k),   g^t = softmax(G_t(x_t))
        aux  a:  h^a = Σ_{k ∈ a} g^a_k f_k

    So auxiliary signals reach the main task in the forward pass, and no loss reaches another
    task's table or experts: in particular an auxiliary loss never moves a main task's table.

    Args:
        field_dims, config, num_tasks: as :class:`MultiTaskModel` (``T ≥ 2``).
        main_tasks: indices of the main tasks; the others are auxiliary.

    Example:
        >>> model = STEMALNet([10, 5], "small", num_tasks=3, main_tasks=(0,))
        >>> gates = model(torch.tensor([[1, 2]]), return_gates=True)[1]
        >>> gates[0, 0].gt(0).tolist(), gates[0, 1].gt(0).tolist()  # main sees all; aux its own
        ([True, True, True], [False, True, False])
    """

    def __init__(self, field_dims: Sequence[int], config: MTLConfig | str | None = None, *,
                 num_tasks: int = 2, main_tasks: Sequence[int] = (0,)):
        super().__init__(field_dims, config, num_tasks)
        c, t = self.config, self.num_tasks
        self.main_tasks = sorted({int(m) for m in main_tasks})
        if t < 2 or not self.main_tasks or not set(self.main_tasks) <= set(range(t)) or \
                len(self.main_tasks) == t:
            raise ValueError(f"STEM-AL needs T >= 2 tasks, at least one main and one auxiliary; "
                             f"got num_tasks={t}, main_tasks={tuple(main_tasks)}")
        self.embedding = self._embedding(field_dims, num_embeddings=t)
        owners = torch.arange(t).repeat_interleave(c.num_specific_experts)  # (E,)
        self.register_buffer("owner", owners, persistent=False)
        width = self.num_fields * c.embedding_dim
        self.experts = MLPExperts(len(owners), width, c.expert_units, dropout=c.dropout,
                                  input_index=owners)
        own = owners.unsqueeze(0) == torch.arange(t).unsqueeze(1)  # (T, E)
        main = torch.zeros(t, 1, dtype=torch.bool)
        main[self.main_tasks] = True
        self.gates = SoftmaxGate(t, width, len(owners), c.gate_units, visible=own | main,
                                 dropout=c.dropout)
        self.register_buffer("detach", ~own, persistent=False)
        self.towers = self._towers(self.experts.output_dim)

    def expert_owners(self) -> list[int]:
        """``[0]*n + [1]*n + ...``: every expert belongs to a task."""
        return self.owner.tolist()

    def mixture(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        """Ids -> ``(T, B, H)``, gates ``(B, T, E)``."""
        streams = torch.stack(self.embedding(ids)).flatten(2)  # T × (B, F, D) -> (T, B, F*D)
        weights = self.gates(streams)  # gate t reads stream t: (B, T, E)
        return mix(self.experts(streams), weights, self.detach), weights


class MultiScenarioNet(MultiTaskModel):
    """Shared plus scenario-specific embeddings (OUR reading of P1's multi-scenario idea).

    ONE :class:`MultiEmbedding` with sets ``[scenario 1, ..., scenario S, shared]`` of width
    ``D``. A row of scenario ``s`` reads set ``s`` and the shared set; a bottom MLP (as
    :class:`~minime.models.SharedBottom`) and per-task towers follow::

        x = [flat(e^(s)), flat(e^(S))]  ("concat")  |  flat(e^(s)) + flat(e^(S))  ("sum")
          |  flat(e^(s))  ("specific": no shared table, an ablation)
        ŷ_t = Tower_t(MLP(x))

    A row's loss reaches only its own scenario's set and the shared one, so scenario ``s``'s
    table is trained by scenario ``s``'s rows alone.

    Args:
        field_dims, config, num_tasks: as :class:`MultiTaskModel`.
        scenario_field: the column of ``ids`` that holds the scenario (``S = field_dims[it]``).
        combine: ``"concat"``, ``"sum"`` or ``"specific"``.

    Example:
        >>> model = MultiScenarioNet([10, 5, 3], "small", num_tasks=2, scenario_field=2)
        >>> model.embedding.dims, model(torch.tensor([[1, 2, 0], [3, 4, 2]])).shape
        ((4, 4, 4, 4), torch.Size([2, 2]))
    """

    def __init__(self, field_dims: Sequence[int], config: MTLConfig | str | None = None, *,
                 num_tasks: int = 1, scenario_field: int = -1, combine: str = "concat"):
        super().__init__(field_dims, config, num_tasks)
        if combine not in SCENARIO_COMBINES:
            raise ValueError(f"combine must be one of {SCENARIO_COMBINES}, got {combine!r}")
        if not -self.num_fields <= scenario_field < self.num_fields:
            raise ValueError(f"scenario_field {scenario_field} is out of range for "
                             f"{self.num_fields} fields")
        c = self.config
        self.scenario_field, self.combine = scenario_field % self.num_fields, combine
        self.num_scenarios = int(field_dims[self.scenario_field])
        self.embedding = self._embedding(field_dims, num_embeddings=self.num_scenarios + 1)
        width = self.num_fields * c.embedding_dim * (2 if combine == "concat" else 1)
        self.bottom = MLP(width, c.expert_units, dropout=c.dropout)
        self.towers = self._towers(self.bottom.output_dim)

    def expert_owners(self) -> list[int]:
        """One expert, the bottom, shared by all tasks."""
        return [self.num_tasks]

    def mixture(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        """Ids -> the bottom's ``(B, H)``, gates ones ``(B, T, 1)``."""
        sets = torch.stack(self.embedding(ids)).flatten(2)  # (S+1) × (B, F, D) -> (S+1, B, F*D)
        rows = torch.arange(ids.shape[0], device=ids.device)
        own = sets[ids[:, self.scenario_field], rows]  # each row's scenario set: (B, F*D)
        if self.combine == "concat":
            x = torch.cat([own, sets[-1]], dim=1)  # (B, 2*F*D)
        else:
            x = own + sets[-1] if self.combine == "sum" else own  # (B, F*D)
        h = self.bottom(x)
        return h, h.new_ones(h.shape[0], self.num_tasks, 1)
