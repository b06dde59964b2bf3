"""Mixture-of-experts building blocks: batched MLP experts, softmax gates, one mixture level.

A mixture level turns inputs into one vector per task (MMoE, Ma et al. 2018; CGC/PLE, Tang et
al. 2020; STEM, Su et al. 2024)::

    f_k = Expert_k(x_{s(k)})                       (B, H)   expert k reads input stream s(k)
    g^t = softmax(G_t(x_t) + m_t)                  (B, E)   m_t[k] = -inf where t cannot see k
    h^t = Σ_k g^t_k · f_k     (sg(f_k) if d_t[k])  (B, H)   sg = stop-gradient (.detach())

* :class:`MLPExperts` -- ``E`` MLPs with stacked weights ``(E, in, out)``: one ``baddbmm`` per
  layer, no Python loop over experts. :class:`LoopMLPExperts` is the same maths as a loop over
  :class:`~minime.interaction.MLP` modules, kept as the reference for tests and benchmarks.
* :class:`SoftmaxGate` -- ``G`` softmax gates over ``E`` experts, with a visibility mask.
* :func:`mix` -- the gated sum with per-gate stop-gradients.
* :class:`MixtureLayer` -- one level: task-specific and shared experts, ``T`` task gates and an
  optional shared gate (a :class:`LevelConfig` says which gate sees and detaches which expert).

Experts are ordered ``[task 1's specific, ..., task T's specific, shared]`` everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from minime.interaction import MLP

__all__ = ["MLPExperts", "LoopMLPExperts", "SoftmaxGate", "mix", "LevelConfig", "MixtureLayer",
           "GATE_INPUTS", "SHARED_GATES", "TASK_VIEWS"]

#: What a task gate reads: its own stream ``x_t``, ``x_t + x_S`` (STEM) or ``[x_t, x_S]``.
GATE_INPUTS = ("own", "sum", "concat")
#: What the shared gate mixes: only the shared experts (FuxiCTR, STEM repo) or all (PLE paper).
SHARED_GATES = ("shared", "all")
#: What a task gate mixes: its own specific + the shared experts (CGC/PLE) or all (STEM, MMoE).
TASK_VIEWS = ("own", "all")


class MLPExperts(nn.Module):
    """``E`` MLPs run together: ``Linear → ReLU → [Dropout]`` blocks, then an optional Linear.

    Layer ``l`` of expert ``k`` is ``z ↦ z W_l[k] + b_l[k]`` with ``W_l`` of shape
    ``(E, in_l, out_l)``; each layer is ONE ``baddbmm`` over all experts, and a first layer on a
    shared ``(B, in)`` input one matmul against the experts' weights side by side.
    Weights and biases are drawn like ``nn.Linear``'s: ``U(-1/√in, 1/√in)``.

    Args:
        num_experts: ``E``.
        input_dim: input width ``in``.
        hidden_units: widths of the ReLU blocks, e.g. ``(64, 64)``; may be empty.
        output_dim: if given, a final Linear without activation (gate logits, tower logits).
        dropout: dropout after every ReLU (0 for none).
        input_index: ``(E,)`` stream read by each expert, for inputs ``(S, B, in)``; None means
            expert ``k`` reads stream ``k`` (then ``S`` must equal ``E``).

    Returns:
        ``(B, in)`` (every expert reads it) or ``(S, B, in)`` -> ``(E, B, H)``, ``H`` the
        last width.

    Example:
        >>> experts = MLPExperts(3, 8, (16, 4))
        >>> experts(torch.randn(5, 8)).shape, experts.output_dim
        (torch.Size([3, 5, 4]), 4)
        >>> MLPExperts(3, 8, (4,), input_index=[0, 1, 1])(torch.randn(2, 5, 8)).shape
        torch.Size([3, 5, 4])
    """

    def __init__(self, num_experts: int, input_dim: int, hidden_units: Sequence[int], *,
                 output_dim: int | None = None, dropout: float = 0.0,
                 input_index: Sequence[int] | None = None):
        super().__init__()
        widths = [input_dim, *hidden_units] + ([] if output_dim is None else [output_dim])
        if num_experts < 1 or min(widths) < 1 or len(widths) < 2:
            raise ValueError(f"need num_experts >= 1 and at least one positive layer width: "
                             f"num_experts={num_experts}, widths={widths}")
        self.num_experts, self.input_dim, self.output_dim = num_experts, input_dim, widths[-1]
        self.num_hidden = len(hidden_units)  # ReLU (+ dropout) after the first num_hidden layers
        self.weights = nn.ParameterList(torch.empty(num_experts, a, b)
                                        for a, b in zip(widths[:-1], widths[1:]))
        self.biases = nn.ParameterList(torch.empty(num_experts, 1, b) for b in widths[1:])
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.register_buffer("input_index", _index(input_index, num_experts), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every weight and bias from ``U(-1/√in, 1/√in)`` (``nn.Linear``'s default)."""
        for weight, bias in zip(self.weights, self.biases):
            bound = 1.0 / math.sqrt(weight.shape[1])
            nn.init.uniform_(weight, -bound, bound)
            nn.init.uniform_(bias, -bound, bound)

    def route(self, x: Tensor) -> Tensor:
        """Each expert's input stream: ``(S, B, in)`` -> ``(E, B, in)``."""
        if self.input_index is not None:
            return x.index_select(0, self.input_index)  # (S, B, in) -> (E, B, in)
        if x.shape[0] != self.num_experts:
            raise ValueError(f"{x.shape[0]} input streams for {self.num_experts} experts and "
                             "no input_index")
        return x

    def forward(self, x: Tensor) -> Tensor:
        """``(B, in)`` or ``(S, B, in)`` -> ``(E, B, H)``."""
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            if layer == 0 and x.dim() == 2:  # a shared input: ONE matmul for all experts
                num, width, out = weight.shape
                flat = weight.transpose(0, 1).reshape(width, num * out)  # (E, in, out) -> (in, E*out)
                x = (x @ flat).view(-1, num, out).transpose(0, 1) + bias  # -> (E, B, out)
            else:
                x = torch.baddbmm(bias, self.route(x) if layer == 0 else x, weight)  # (E, B, out)
            if layer < self.num_hidden:
                x = self.dropout(x.relu_())  # in place: neither op's backward needs its output
        return x

    def extra_repr(self) -> str:
        widths = [self.input_dim] + [w.shape[2] for w in self.weights]
        return f"num_experts={self.num_experts}, widths={widths}, num_hidden={self.num_hidden}"


class LoopMLPExperts(nn.Module):
    """Reference for :class:`MLPExperts`: ``E`` separate :class:`MLP` modules in a Python loop.

    This is how the reference implementations (FuxiCTR, the STEM repo, MTReclib) run experts.

    Args:
        batched: the :class:`MLPExperts` whose weights (copied) and routing to reproduce.

    Returns:
        the same ``(E, B, H)`` as ``batched`` (to float rounding).

    Example:
        >>> batched = MLPExperts(3, 8, (4,), output_dim=2)
        >>> x = torch.randn(5, 8)
        >>> torch.allclose(LoopMLPExperts(batched)(x), batched(x), atol=1e-6)
        True
    """

    def __init__(self, batched: MLPExperts):
        super().__init__()
        self.num_hidden = batched.num_hidden
        hidden = [w.shape[2] for w in batched.weights][:self.num_hidden]
        output_dim = batched.output_dim if len(batched.weights) > self.num_hidden else None
        dropout = getattr(batched.dropout, "p", 0.0)
        self.experts = nn.ModuleList(MLP(batched.input_dim, hidden, dropout=dropout,
                                         output_dim=output_dim)
                                     for _ in range(batched.num_experts))
        self.input_index = batched.input_index
        with torch.no_grad():
            for k, mlp in enumerate(self.experts):
                linears = [m for m in mlp if isinstance(m, nn.Linear)]
                for linear, weight, bias in zip(linears, batched.weights, batched.biases):
                    linear.weight.copy_(weight[k].T)  # (in, out) -> nn.Linear's (out, in)
                    linear.bias.copy_(bias[k, 0])

    def forward(self, x: Tensor) -> Tensor:
        """``(B, in)`` or ``(S, B, in)`` -> ``(E, B, H)``, one expert at a time."""
        outputs = []
        for k, expert in enumerate(self.experts):
            if x.dim() == 2:
                stream = x
            else:
                stream = x[k if self.input_index is None else int(self.input_index[k])]
            outputs.append(expert(stream))  # (B, in) -> (B, H)
        return torch.stack(outputs)  # E × (B, H) -> (E, B, H)


class SoftmaxGate(nn.Module):
    """``G`` gates, each a softmax over ``E`` experts: ``g = softmax(MLP(x) / τ + m)``.

    ``m[g, k] = -inf`` where gate ``g`` cannot see expert ``k``, so its weight there is exactly
    0 (and so is the gradient of that logit); every gate keeps one logit per expert, so all
    models' gates share one layout.

    Args:
        num_gates: ``G``.
        input_dim: input width.
        num_experts: ``E``.
        hidden_units: hidden ReLU layers before the output Linear; ``()`` = one Linear.
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
    """

    def __init__(self, num_gates: int, input_dim: int, num_experts: int,
                 hidden_units: Sequence[int] = (), *, visible=None, dropout: float = 0.0,
                 temperature: float = 1.0):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)
        self.net = MLPExperts(num_gates, input_dim, hidden_units, output_dim=num_experts,
                              dropout=dropout)
        visible = torch.ones(num_gates, num_experts, dtype=torch.bool) if visible is None \
            else torch.as_tensor(visible, dtype=torch.bool)
        if visible.shape != (num_gates, num_experts) or not visible.any(1).all():
            raise ValueError(f"visible must be ({num_gates}, {num_experts}) booleans and every "
                             f"gate must see at least one expert, got\n{visible}")
        mask = torch.zeros(visible.shape).masked_fill(~visible, float("-inf")).unsqueeze(1)
        self.register_buffer("visible", visible, persistent=False)
        self.register_buffer("logit_mask", None if visible.all() else mask, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, in)`` or ``(G, B, in)`` -> weights ``(B, G, E)``."""
        logits = self.net(x)  # (G, B, E)
        if self.temperature != 1.0:
            logits = logits / self.temperature
        if self.logit_mask is not None:
            logits = logits + self.logit_mask  # + (G, 1, E): -inf where hidden
        return torch.softmax(logits, dim=-1).transpose(0, 1)  # (G, B, E) -> (B, G, E)


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
        _check_choice("gate_input", self.gate_input, GATE_INPUTS)
        _check_choice("task_view", self.task_view, TASK_VIEWS)
        if self.shared_gate is not None:
            _check_choice("shared_gate", self.shared_gate, SHARED_GATES)
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


def _index(index: Sequence[int] | None, num_experts: int) -> Tensor | None:
    """``input_index`` as an int64 tensor, or None when it is the identity (no gather needed)."""
    if index is None:
        return None
    index = torch.as_tensor(index, dtype=torch.int64)
    if index.shape != (num_experts,) or bool((index < 0).any()):
        raise ValueError(f"input_index must hold {num_experts} non-negative stream indices, "
                         f"got {index.tolist()}")
    return None if torch.equal(index, torch.arange(num_experts)) else index


def _check_choice(name: str, value, choices: tuple) -> None:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(map(repr, choices))}")
