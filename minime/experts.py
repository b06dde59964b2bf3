"""Mixture-of-experts: softmax gates, the gated sum, one mixture level.

A mixture level turns inputs into one vector per task (MMoE, Ma et al. 2018; CGC/PLE, Tang et
al. 2020; STEM, Su et al. 2024)::

    f_k = Expert_k(x_{s(k)})                       (B, H)   expert k reads input stream s(k)
    g^t = softmax(G_t(x_t))  over the experts t sees (B, E)  weight exactly 0 on the others
    h^t = Σ_k g^t_k · f_k     (sg(f_k) if d_t[k])  (B, H)   sg = stop-gradient (.detach())

* :class:`SoftmaxGate` -- ``G`` softmax gates; a gate has logits only for experts it may see.
* :func:`mix` -- the gated sum with per-gate stop-gradients.
* :class:`MixtureLayer` -- one level: task-specific and shared experts
  (:class:`~minime.blocks.MLPExperts`), ``T`` task gates and an optional shared gate (a
  :class:`LevelConfig` says which gate sees and detaches which expert).

Experts are ordered ``[task 1's specific, ..., task T's specific, shared]`` everywhere.

Example:
    >>> gate = SoftmaxGate(2, 6, 3, visible=[[True, False, True], [True, True, True]])
    >>> gate.num_logits   # 2 + 3 logits: none for the expert gate 1 cannot see
    5
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from minime.blocks import MLPExperts

__all__ = ["GATE_INPUTS", "LevelConfig", "MixtureLayer", "SHARED_GATES", "SoftmaxGate",
           "TASK_VIEWS", "check_choice", "mix"]

#: What a task gate reads: its own stream ``x_t``, ``x_t + x_S`` (STEM) or ``[x_t, x_S]``.
GATE_INPUTS = ("own", "sum", "concat")
#: What the shared gate mixes: only the shared experts (FuxiCTR, STEM repo) or all (PLE paper).
SHARED_GATES = ("shared", "all")
#: What a task gate mixes: its own specific + the shared experts (CGC/PLE) or all (STEM, MMoE).
TASK_VIEWS = ("own", "all")


class SoftmaxGate(nn.Module):
    """``G`` gates, each a softmax over the experts it may see: ``g = softmax(MLP(x) / τ)``.

    Gate ``g`` has one output logit per expert it sees (``visible[g, k]``); the others get
    weight exactly 0 and no parameters at all, so :func:`minime.models.num_parameters` counts
    only weights that train. Every gate returns one weight per expert, so all models' gates share
    one layout. Output weights are drawn like ``nn.Linear``'s for every (gate, expert) and kept
    where visible, so the visible ones start as they would in an unmasked gate.

    Args:
        num_gates: ``G``.
        input_dim: input width.
        num_experts: ``E``.
        hidden_units: hidden ReLU layers before the output layer; ``()`` = one linear layer.
        visible: ``(G, E)`` booleans, True where the gate may weigh the expert; None = all.
        dropout: dropout after every hidden ReLU.
        temperature: τ > 0 dividing the logits (1: the plain softmax).

    Returns:
        ``(B, in)`` (all gates read it) or ``(G, B, in)`` -> ``(B, G, E)``, rows summing to 1.

    Example:
        >>> gate = SoftmaxGate(2, 6, 3, visible=[[True, False, True], [True, True, True]])
        >>> w = gate(torch.randn(4, 6))
        >>> w.shape, bool((w[:, 0, 1] == 0).all()), torch.allclose(w.sum(-1), torch.ones(4, 2))
        (torch.Size([4, 2, 3]), True, True)
        >>> sum(p.numel() for p in gate.parameters())   # (6 weights + 1 bias) × 5 logits
        35
    """

    def __init__(self, num_gates: int, input_dim: int, num_experts: int,
                 hidden_units: Sequence[int] = (), *, visible=None, dropout: float = 0.0,
                 temperature: float = 1.0):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)
        self.num_gates, self.num_experts = num_gates, num_experts
        visible = torch.ones(num_gates, num_experts, dtype=torch.bool) if visible is None \
            else torch.as_tensor(visible, dtype=torch.bool)
        if visible.shape != (num_gates, num_experts) or not visible.any(1).all():
            raise ValueError(f"visible must be ({num_gates}, {num_experts}) booleans and every "
                             f"gate must see at least one expert, got\n{visible}")
        self.register_buffer("visible", visible, persistent=False)
        self.hidden = MLPExperts(num_gates, input_dim, hidden_units, dropout=dropout) \
            if hidden_units else None
        width = hidden_units[-1] if hidden_units else input_dim
        bound = 1.0 / math.sqrt(width)
        weight = torch.empty(num_gates, width, num_experts).uniform_(-bound, bound)
        bias = torch.empty(num_gates, 1, num_experts).uniform_(-bound, bound)
        gate_of, expert_of = visible.nonzero(as_tuple=True)  # (S,), (S,): the visible logits
        self.weight = nn.Parameter(weight[gate_of, :, expert_of].contiguous())  # (S, width)
        self.bias = nn.Parameter(bias[gate_of, 0, expert_of].contiguous())  # (S,)
        self.register_buffer("gate_of", gate_of, persistent=False)
        self.register_buffer("expert_of", expert_of, persistent=False)

    num_logits = property(lambda self: len(self.bias), doc="``S``: the visible (gate, expert) pairs.")

    def forward(self, x: Tensor) -> Tensor:
        """``(B, in)`` or ``(G, B, in)`` -> weights ``(B, G, E)``."""
        logits = self.logits(x)
        if self.temperature != 1.0:
            logits = logits / self.temperature
        return torch.softmax(logits, dim=-1)  # (B, G, E); -inf logits give weight 0

    def logits(self, x: Tensor) -> Tensor:
        """The logits before τ and the softmax: ``(B, G, E)``, ``-inf`` where a gate is blind."""
        h = x if self.hidden is None else self.hidden(x)  # (B, in) / (G, B, in) -> (G, B, w)
        G, E = self.num_gates, self.num_experts
        if not self.visible.all():
            return self._masked_logits(h)
        if h.dim() == 2:  # every gate reads the same input: one product
            return (h @ self.weight.T).view(-1, G, E) + self.bias.view(G, E)  # (B, S) -> (B, G, E)
        weight = self.weight.view(G, E, -1).transpose(1, 2)  # (S, w) -> (G, w, E), a view
        return torch.baddbmm(self.bias.view(G, 1, E), h, weight).transpose(0, 1)  # (B, G, E)

    def logit_index(self, gate: int) -> Tensor:
        """The rows of ``weight`` / ``bias`` that belong to ``gate``: ``(n_g,)`` int64."""
        return (self.gate_of == gate).nonzero().squeeze(1)

    def _masked_logits(self, h: Tensor) -> Tensor:
        """Logits ``(B, G, E)``: computed for the visible (gate, expert) pairs, -inf elsewhere."""
        if h.dim() == 2:
            picked = h @ self.weight.T  # (B, w) @ (w, S) -> (B, S)
        else:  # gate g reads stream g: (G, B, w) @ (w, S) -> (G, B, S), then each logit's gate
            picked = (h @ self.weight.T)[self.gate_of, :, torch.arange(self.num_logits,
                                                                       device=h.device)].T
        logits = picked.new_full((picked.shape[0], self.num_gates, self.num_experts),
                                 float("-inf"))
        logits[:, self.gate_of, self.expert_of] = picked + self.bias  # (B, S) into (B, G, E)
        return logits


def mix(outputs: Tensor, weights: Tensor, detach: Tensor | None = None) -> Tensor:
    """Gated sums ``h_g = Σ_k w_gk · f_k``, with ``sg(f_k)`` where ``detach[g, k]``.

    The forward value is the same with or without ``detach``; the backward differs: gate ``g``'s
    output sends no gradient into a detached expert (its weight ``w_gk`` still gets one).

    Args:
        outputs: expert outputs ``f``, ``(E, B, H)``.
        weights: gate weights ``w``, ``(B, G, E)``.
        detach: ``(G, E)`` booleans, or None (no stop-gradient anywhere).

    Returns:
        ``(G, B, H)``.

    Example:
        >>> f = torch.ones(2, 3, 4, requires_grad=True)
        >>> w = torch.full((3, 1, 2), 0.5)
        >>> h = mix(f, w, detach=torch.tensor([[False, True]]))
        >>> h.sum().backward(); h.shape, f.grad[0, 0, 0].item(), f.grad[1, 0, 0].item()
        (torch.Size([1, 3, 4]), 0.5, 0.0)
    """
    per_row = outputs.transpose(0, 1)  # (E, B, H) -> (B, E, H), a view
    if detach is None:
        return torch.bmm(weights, per_row).transpose(0, 1)  # (B, G, H) -> (G, B, H)
    keep = (~detach).to(weights.dtype)  # (G, E): 1 where the gradient flows
    live = torch.bmm(weights * keep, per_row)  # (B, G, E) @ (B, E, H) -> (B, G, H)
    held = torch.bmm(weights * (1.0 - keep), per_row.detach())
    return (live + held).transpose(0, 1)  # (B, G, H) -> (G, B, H)


@dataclass(frozen=True)
class LevelConfig:
    """Sizes and routing of one :class:`MixtureLayer` (the models build it from their config).

    Example:
        >>> LevelConfig(num_specific=1, num_shared=2, task_view="all", aftb=True).num_experts(2)
        4
    """

    num_specific: int = 1  # experts per task, reading the task's stream x_t
    num_shared: int = 2  # experts reading the shared stream x_S
    expert_units: tuple[int, ...] = (64, 64)  # every expert's ReLU layers; H = last width
    gate_units: tuple[int, ...] = ()  # hidden layers of every gate; () = one Linear
    dropout: float = 0.0  # after every hidden ReLU of experts and gates
    task_view: str = "own"  # task gate sees: "own" specific + shared (CGC/PLE), or "all" (STEM)
    shared_gate: Optional[str] = None  # None: no shared output (last level); "shared" or "all"
    aftb: bool = False  # STEM: other tasks' specific experts detached in each task's mixture
    gate_input: str = "own"  # task gate reads x_t ("own"), x_t + x_S ("sum"), [x_t, x_S] ("concat")

    def __post_init__(self):
        object.__setattr__(self, "expert_units", tuple(int(u) for u in self.expert_units))
        object.__setattr__(self, "gate_units", tuple(int(u) for u in self.gate_units))
        check_choice("gate_input", self.gate_input, GATE_INPUTS)
        check_choice("task_view", self.task_view, TASK_VIEWS)
        if self.shared_gate is not None:
            check_choice("shared_gate", self.shared_gate, SHARED_GATES)
        if self.num_specific < 0 or self.num_shared < 0 or self.num_specific + self.num_shared < 1:
            raise ValueError(f"need num_specific >= 0, num_shared >= 0 and at least one expert "
                             f"per task, got {self.num_specific} and {self.num_shared}")
        if not self.expert_units or min(self.expert_units + self.gate_units) < 1:
            raise ValueError(f"expert_units must be non-empty and all widths positive: {self}")
        if self.shared_gate == "shared" and self.num_shared < 1:
            raise ValueError("shared_gate='shared' needs num_shared >= 1 (it mixes the shared "
                             "experts)")

    def num_experts(self, num_tasks: int) -> int:
        """``E = T · num_specific + num_shared``."""
        return num_tasks * self.num_specific + self.num_shared

    def owners(self, num_tasks: int) -> Tensor:
        """``(E,)`` stream of each expert: ``t`` for task ``t``'s specific ones, ``T`` if shared."""
        specific = torch.arange(num_tasks).repeat_interleave(self.num_specific)
        return torch.cat([specific, torch.full((self.num_shared,), num_tasks)])


class MixtureLayer(nn.Module):
    """One level of experts and softmax gates: an MMoE layer, a CGC/PLE level or a STEM level.

    Inputs are ``T + 1`` streams ``(x_1, ..., x_T, x_S)`` -- or one ``(B, in)`` tensor that
    every stream equals. With ``f_k = Expert_k(x_{s(k)})`` (:meth:`LevelConfig.owners`)::

        h^t = Σ_k g^t_k · [sg](f_k),  g^t = softmax(G_t(gate_input_t))      t = 1..T
        h^S = Σ_k g^S_k · f_k,        g^S = softmax(G_S(x_S))               if shared_gate

    ``gate_input_t`` is ``x_t``, ``x_t + x_S`` or ``[x_t, x_S]``. ``task_view="own"`` hides
    other tasks' specific experts from ``g^t`` (weight exactly 0), ``"all"`` shows every expert.
    ``aftb`` puts ``sg`` (stop-gradient) on other tasks' specific experts in ``h^t``.
    ``shared_gate="shared"`` hides the specific experts from ``g^S``, ``"all"`` shows them.

    Args:
        input_dim: width of every stream.
        num_tasks: ``T``.
        level: a :class:`LevelConfig`.

    Returns:
        ``(h, g)``: ``h`` is ``(T, B, H)``, or ``(T+1, B, H)`` with ``h^S`` last when the level
        has a shared gate; ``g`` is the task gates' weights ``(B, T, E)``.

    Example:
        >>> layer = MixtureLayer(6, 2, LevelConfig(expert_units=(8,), shared_gate="shared"))
        >>> h, g = layer(torch.randn(5, 6))
        >>> h.shape, g.shape, g[0, 0].tolist()[1]   # task 1 cannot see task 2's expert
        (torch.Size([3, 5, 8]), torch.Size([5, 2, 4]), 0.0)
    """

    def __init__(self, input_dim: int, num_tasks: int, level: LevelConfig):
        super().__init__()
        if num_tasks < 1:
            raise ValueError(f"num_tasks must be at least 1, got {num_tasks}")
        self.num_tasks, self.level = num_tasks, level
        owners = level.owners(num_tasks)  # (E,)
        self.num_experts = len(owners)
        self.experts = MLPExperts(self.num_experts, input_dim, level.expert_units,
                                  dropout=level.dropout, input_index=owners)
        tasks = torch.arange(num_tasks).unsqueeze(1)  # (T, 1)
        others = (owners < num_tasks) & (owners != tasks)  # (T, E): other tasks' specific experts
        gate_dim = input_dim * (2 if level.gate_input == "concat" else 1)
        self.task_gates = SoftmaxGate(num_tasks, gate_dim, self.num_experts, level.gate_units,
                                      visible=~others if level.task_view == "own" else None,
                                      dropout=level.dropout)
        detach = torch.cat([others, torch.zeros(1, self.num_experts, dtype=torch.bool)])
        detach = detach if level.shared_gate else detach[:num_tasks]  # (T+1, E) or (T, E)
        self.register_buffer("detach", detach if level.aftb and others.any() else None,
                             persistent=False)  # None: no stop-gradient to apply
        self.shared_gate = None if level.shared_gate is None else SoftmaxGate(
            1, input_dim, self.num_experts, level.gate_units, dropout=level.dropout,
            visible=(owners == num_tasks).unsqueeze(0) if level.shared_gate == "shared" else None)

    @property
    def output_dim(self) -> int:
        """Width ``H`` of every output (the experts' last width)."""
        return self.experts.output_dim

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(B, in)`` or ``(T+1, B, in)`` -> ``h`` ``(T[+1], B, H)``, gates ``(B, T, E)``."""
        outputs = self.experts(x)  # (E, B, H)
        task_weights = self.task_gates(self._gate_input(x))  # (B, T, E)
        weights = task_weights
        if self.shared_gate is not None:
            shared = self.shared_gate(x if x.dim() == 2 else x[-1])  # (B, in) -> (B, 1, E)
            weights = torch.cat([task_weights, shared], dim=1)  # -> (B, T+1, E)
        return mix(outputs, weights, self.detach), task_weights

    def _gate_input(self, x: Tensor) -> Tensor:
        """Task gates' input: ``(B, in)`` shared by all, or ``(T, B, in)`` / ``(T, B, 2·in)``."""
        mode, tasks = self.level.gate_input, self.num_tasks
        if x.dim() == 2:
            if mode == "own":
                return x  # every gate reads the same (B, in)
            x = x.expand(tasks + 1, *x.shape)  # (B, in) -> (T+1, B, in), a view
        own, shared = x[:tasks], x[tasks:]  # (T, B, in), (1, B, in)
        if mode == "own":
            return own
        if mode == "sum":
            return own + shared  # (T, B, in)
        return torch.cat([own, shared.expand_as(own)], dim=-1)  # (T, B, 2·in)


def check_choice(name: str, value, choices: tuple) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(map(repr, choices))}")
