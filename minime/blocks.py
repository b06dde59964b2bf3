"""Building blocks shared by the interaction, expert and model layers: MLPs, batched MLPs.

* :class:`Dropout` -- ``nn.Dropout`` with a CPU path several times faster than torch's.
* :class:`MLP` -- ``Linear → [BatchNorm1d] → activation → [Dropout]`` blocks, optional output.
* :class:`MLPExperts` -- ``E`` MLPs with stacked weights ``(E, in, out)``: one ``baddbmm`` per
  layer, no Python loop over experts (experts, gates and towers of the multi-task models).
* :class:`LoopMLPExperts` -- the same maths as a loop over :class:`MLP` modules, the reference
  for tests and benchmarks.

Example:
    >>> MLP(8, (16,), output_dim=2)(torch.randn(3, 8)).shape
    torch.Size([3, 2])
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

__all__ = ["Dropout", "LoopMLPExperts", "MLP", "MLPExperts"]

_LEVELS = 1 << 15  # the keep mask compares 15-bit uniform integers with a threshold


class Dropout(nn.Dropout):
    """``nn.Dropout`` whose CPU path draws its mask from random integers, several times faster.

    On a CPU, torch draws one Bernoulli variable per element, which costs as much as a
    ``(2048, 64) × (64, 64)`` matmul. Here a single ``int32`` random draw gives two 15-bit
    uniform integers (its low and high halves), and an element is kept when its integer is at
    least ``round(p · 2¹⁵)``: dropout with ``p`` rounded to a multiple of ``2⁻¹⁵`` (0.2 becomes
    0.199982), kept values scaled by ``1 / (1 − p)`` of that rounded ``p``. The draws come from
    torch's default generator, so :func:`minime.train.set_seed` makes them repeatable. On other
    devices, in eval mode, in place or with ``p`` of 0 or 1, it is ``nn.Dropout``.

    Example:
        >>> _ = torch.manual_seed(0); y = Dropout(0.5)(torch.ones(10_000))
        >>> sorted(set(y.tolist())), round(float((y > 0).float().mean()), 1)
        ([0.0, 2.0], 0.5)
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.inplace or x.device.type != "cpu" or not 0 < self.p < 1:
            return super().forward(x)
        threshold = round(self.p * _LEVELS)
        n = x.numel()
        bits = torch.empty((n + 1) // 2, dtype=torch.int32).random_()  # 31 uniform bits each
        keep = bits.view(torch.int16)[:n].bitwise_and(_LEVELS - 1) >= threshold  # 2 draws each
        mask = keep.view(x.shape).to(x.dtype).mul_(_LEVELS / (_LEVELS - threshold))
        return x * mask



class MLP(nn.Sequential):
    """Blocks ``Linear → [BatchNorm1d] → activation → [Dropout]``, then an optional Linear.

    Args:
        input_dim: input width.
        hidden_units: width of every block, e.g. ``(400, 400)``; may be empty.
        dropout: dropout after every activation (0 for none).
        batch_norm: BatchNorm1d after every hidden Linear.
        activation: module class (factory) for the activation, called once per block.
        output_dim: if given, a final ``Linear(hidden_units[-1], output_dim)`` with no
            activation (e.g. the logits of ``T`` tasks).

    Returns:
        ``(B, input_dim) -> (B, output_dim)``; ``self.output_dim`` is the last width.

    Example:
        >>> mlp = MLP(8, (16, 4), output_dim=3)
        >>> mlp(torch.randn(5, 8)).shape, mlp.output_dim
        (torch.Size([5, 3]), 3)
    """

    def __init__(self, input_dim: int, hidden_units: Sequence[int], *, dropout: float = 0.0,
                 batch_norm: bool = False, activation: Callable[[], nn.Module] = nn.ReLU,
                 output_dim: int | None = None):
        layers: list[nn.Module] = []
        width = input_dim
        for units in hidden_units:
            layers.append(nn.Linear(width, units))
            layers += [nn.BatchNorm1d(units)] if batch_norm else []
            layers.append(activation())
            layers += [Dropout(dropout)] if dropout > 0 else []
            width = units
        if output_dim is not None:
            layers.append(nn.Linear(width, output_dim))
            width = output_dim
        super().__init__(*layers)
        self.input_dim, self.output_dim = input_dim, width


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
        self.dropout = Dropout(dropout) if dropout > 0 else nn.Identity()
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


def _index(index: Sequence[int] | None, num_experts: int) -> Tensor | None:
    """``input_index`` as an int64 tensor, or None when it is the identity (no gather needed)."""
    if index is None:
        return None
    index = torch.as_tensor(index, dtype=torch.int64)
    if index.shape != (num_experts,) or bool((index < 0).any()):
        raise ValueError(f"input_index must hold {num_experts} non-negative stream indices, "
                         f"got {index.tolist()}")
    return None if torch.equal(index, torch.arange(num_experts)) else index
