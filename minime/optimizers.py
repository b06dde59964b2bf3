"""Optimisers for minime models: dense Adam, or SparseAdam on sparse embedding tables.

:func:`minime.train.fit` builds its optimisers here from a
:class:`~minime.train.TrainConfig` (``optimizer``, ``lr``, ``weight_decay``).

Example:
    >>> from minime.embedding import FusedEmbedding
    >>> sparse, dense = split_sparse_parameters(FusedEmbedding([3], 2, sparse=True))
    >>> len(sparse), len(dense)
    (1, 0)
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["OPTIMIZERS", "adam_optimizer", "make_optimizers", "split_sparse_parameters"]

OPTIMIZERS = ("adam", "sparse_adam")


def split_sparse_parameters(module: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """Split a module's parameters into (sparse-gradient, dense-gradient) lists.

    Sparse ones are the weights of ``nn.Embedding`` layers built with ``sparse=True``; give
    them to ``torch.optim.SparseAdam`` and the rest to ``torch.optim.Adam``.

    Example:
        >>> from minime.embedding import FusedEmbedding
        >>> sparse, dense = split_sparse_parameters(FusedEmbedding([3], 2, sparse=True))
        >>> len(sparse), len(dense)
        (1, 0)
    """
    sparse_ids = {id(m.weight) for m in module.modules()
                  if isinstance(m, nn.Embedding) and m.sparse}
    params = list(module.parameters())
    return ([p for p in params if id(p) in sparse_ids],
            [p for p in params if id(p) not in sparse_ids])


def make_optimizers(model: nn.Module, config) -> tuple[list, str]:
    """The optimisers ``config.optimizer`` asks for, and a one-line description of them.

    Args:
        model: the model to train.
        config: a :class:`minime.train.TrainConfig` (``optimizer``, ``lr``, ``weight_decay``).

    Returns:
        ``(optimisers, description)``; a ValueError says which optimiser fits the tables.

    Example:
        >>> from minime.train import TrainConfig
        >>> make_optimizers(nn.Linear(2, 1), TrainConfig())[1]
        'Adam(lr=0.001, weight_decay=0.0, fused), dense gradients, 2 tensors'
    """
    sparse, dense = split_sparse_parameters(model)
    if config.optimizer == "adam":
        if sparse:
            raise ValueError("the model has sparse embedding tables (sparse_embedding=True), which "
                             "Adam cannot update: use TrainConfig(optimizer='sparse_adam')")
        opt, adam = adam_optimizer(dense, config.lr, config.weight_decay)
        return [opt], f"{adam}, dense gradients, {len(dense)} tensors"
    if not sparse:
        raise ValueError("optimizer='sparse_adam' needs sparse embedding tables: build the model "
                         "with a config whose sparse_embedding=True")
    opts = [torch.optim.SparseAdam(sparse, lr=config.lr)]
    description = f"SparseAdam(lr={config.lr}) on {len(sparse)} sparse table(s)"
    if dense:
        opt, adam = adam_optimizer(dense, config.lr, config.weight_decay)
        opts.append(opt)
        description += f" + {adam} on {len(dense)} tensors"
    return opts, description


def adam_optimizer(params: list[nn.Parameter], lr: float, weight_decay: float):
    """``torch.optim.Adam`` with ``fused=True`` where torch has it for the parameters' device.

    The fused kernel updates a tensor in one pass instead of one pass per Adam operation; on a
    CPU it steps a 1.09M × 10 table about 6× faster (``benchmarks/throughput.py``) and gives
    the same weights up to float32 rounding (``tests/test_optimizers.py``). Where torch has no
    fused Adam for the device (torch < 2.4 on CPU) it is the usual Adam.

    Returns:
        ``(optimiser, description)``, e.g. ``"Adam(lr=0.001, weight_decay=0.0, fused)"``.
    """
    name = f"Adam(lr={lr}, weight_decay={weight_decay}"
    if params:
        try:
            return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True), \
                f"{name}, fused)"
        except RuntimeError:  # no fused kernel for this device in this torch
            pass
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay), f"{name})"
