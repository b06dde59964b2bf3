"""Dimensional collapse, field by field: spectrum reports, init comparison, sub-embeddings, callback.

Every measure here is the singular spectrum of one matrix per field, computed by
:mod:`minime.analysis.spectrum` (σ, ``IA = Σσ / max σ``, erank). What the rows are (``mode``):

- ``"table"``: field f's table rows ``E_f (V_f, D)``, every id weighted equally. Given the
  training data, only ids seen ``≥ min_count`` times there: rows never trained stay at their
  isotropic initialisation and inflate IA (impls.md §10.2). This is RecScope's per-field
  spectrum (row-normalised, ``σ / σ_max``, heat-map rows sorted by cardinality; papers.md §2.3).
- ``"batch"``: the looked-up embeddings ``E_f[x_f]`` of every row of some data, an (N, D) matrix
  per field, so frequent ids weigh more (what the interaction layers actually see).

Fields with fewer than 2 usable rows, or whose rows are all zero, get IA and erank ``nan``
(undefined, not an error) and an empty spectrum. :func:`sub_embedding_ia` measures what DCNv2's
cross layer makes of every field in every other field's slot (Guo et al., ICML 2024, Evidence I).

Recipe, "learned IA far below init IA" (Guo et al., Figure 2): snapshot before training, measure
both on the same rows, divide.

Example:
    >>> from minime import analysis, data, models, train
    >>> world = data.make_world("tiny", num_rows=400)
    >>> config = models.CTRConfig(embedding_dim=4, hidden_units=(8,))
    >>> model = models.DCNv2(world.field_dims, config, num_tasks=world.num_tasks)
    >>> init = analysis.snapshot(model)  # before training
    >>> callback = analysis.IACallback(world.data)
    >>> _ = train.fit(model, world.data, world.data, train.TrainConfig(epochs=1, progress=False),
    ...               callbacks=[callback])
    >>> learned = analysis.field_spectra(model, data=world.data)
    >>> ratio = analysis.collapse_ratio(learned, analysis.field_spectra(init, data=world.data))
    >>> ratio.shape, sorted(callback.reports[-1].as_dict()) == sorted(world.field_names)
    ((5,), True)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from minime.analysis.spectrum import (erank_from_singular_values, ia_from_singular_values,
                                     singular_values)
from minime.analysis.tables import check_options, embedding_of, field_tables, kept_rows
from minime.embedding import FusedEmbedding, MultiEmbedding

__all__ = ["SpectrumReport", "collapse_ratio", "field_spectra", "set_spectra", "snapshot",
           "sub_embedding_ia"]



@dataclass(frozen=True, eq=False)
class SpectrumReport:
    """Per-field singular spectra, IA and effective rank of one embedding set, and how measured.

    Built by :func:`field_spectra`; frozen, compared by :func:`collapse_ratio`.

    Args:
        field_names, field_dims: the F fields' names and cardinalities V_f.
        rows: rows of each field's matrix (kept ids in table mode, N in batch mode).
        singular_values: F float64 arrays, descending, length min(rows_f, dim) (empty if nan).
        ia, erank: (F,) float64; nan for fields with < 2 usable rows or all-zero rows.
        dim: the width D of the analysed embeddings.
        mode, row_normalize, center, min_count, embedding_set: the options of :func:`field_spectra`.

    Returns:
        ``.normalized()`` (F, D), ``.by_cardinality()`` (F,), ``.as_dict()`` {field: IA}.

    Example:
        >>> report = field_spectra(FusedEmbedding([50, 3], 4))
        >>> report.rows, report.by_cardinality(), report.normalized().shape
        ((50, 3), array([1, 0]), (2, 4))
    """

    field_names: tuple[str, ...]
    field_dims: tuple[int, ...]
    rows: tuple[int, ...]
    singular_values: tuple[np.ndarray, ...]
    ia: np.ndarray
    erank: np.ndarray
    dim: int
    mode: str
    row_normalize: bool
    center: bool
    min_count: int
    embedding_set: int | None

    @property
    def options(self) -> dict:
        """How the spectra were measured: mode, row_normalize, center, min_count, embedding_set."""
        return {k: getattr(self, k) for k in
                ("mode", "row_normalize", "center", "min_count", "embedding_set")}

    def normalized(self) -> np.ndarray:
        """RecScope's heat-map rows: ``σ / σ_max`` zero-padded to D, (F, D); nan rows if undefined."""
        out = np.zeros((len(self.field_names), self.dim))
        for f, s in enumerate(self.singular_values):
            if len(s):
                out[f, : len(s)] = s / s[0]
            else:
                out[f] = np.nan
        return out

    def by_cardinality(self) -> np.ndarray:
        """Field indices ordered by ascending cardinality (stable), (F,) int, for heat-map rows."""
        return np.argsort(self.field_dims, kind="stable")

    def as_dict(self) -> dict[str, float]:
        """``{field name: IA}``."""
        return {name: float(ia) for name, ia in zip(self.field_names, self.ia)}

    def __repr__(self) -> str:
        ia = ", ".join(f"{name}={ia:.2f}" for name, ia in self.as_dict().items())
        return f"SpectrumReport({self.mode}, D={self.dim}, IA: {ia})"


def field_spectra(model, *, mode: str = "table", data=None, min_count: int = 1,
                  row_normalize: bool = True, center: bool = False,
                  embedding_set: int | None = None) -> SpectrumReport:
    """Singular spectrum, IA and effective rank of every field's embeddings.

    Args:
        model: a model with ``.embedding`` (:class:`FusedEmbedding` or :class:`MultiEmbedding`),
            such a module itself, or a :func:`snapshot`.
        mode: ``"table"``, the (kept) rows of ``E_f (V_f, D)``; or ``"batch"``, ``E_f[x_f]`` for
            every row of ``data``, (N, D) per field (frequency-weighted).
        data: a TensorData with the model's ``field_dims``. Table mode: the TRAINING data, keeping
            the ids seen ``≥ min_count`` times (None keeps all rows). Batch mode: required.
        min_count: table mode's count threshold (0 keeps every row); must be 1 in batch mode.
        row_normalize, center: passed to :func:`~minime.analysis.spectrum.singular_values`.
        embedding_set: for a MultiEmbedding, analyse set k only; None analyses the concatenation
            of all sets (D = sum(dims)). For a FusedEmbedding, None or 0.

    Returns:
        A :class:`SpectrumReport`; ``IA_f = Σ_k σ_k / σ_1`` of field f's matrix.

    Example:
        >>> emb = FusedEmbedding([2, 6], 3)
        >>> with torch.no_grad():
        ...     _ = emb.table.weight.copy_(torch.eye(3).repeat(3, 1)[:8])  # rows cycle e1, e2, e3
        >>> report = field_spectra(emb)
        >>> report.rows, report.ia, report.normalized()[1]
        ((2, 6), array([2., 3.]), array([1., 1., 1.]))
    """
    embedding = embedding_of(model)
    check_options(embedding, mode, data, min_count)
    tables = field_tables(embedding, embedding_set)
    matrices = [kept_rows(E, f, mode, data, min_count) for f, E in enumerate(tables)]
    spectra = [_spectrum(X, row_normalize, center) for X in matrices]
    return SpectrumReport(
        field_names=_field_names(embedding, data), field_dims=embedding.field_dims,
        rows=tuple(X.shape[0] for X in matrices), singular_values=tuple(s for s, _, _ in spectra),
        ia=np.array([ia for _, ia, _ in spectra]), erank=np.array([er for _, _, er in spectra]),
        dim=tables[0].shape[1], mode=mode, row_normalize=row_normalize, center=center,
        min_count=min_count, embedding_set=embedding_set)


def set_spectra(model, **options) -> list[SpectrumReport]:
    """One :func:`field_spectra` report per embedding set: M reports (1 for a FusedEmbedding).

    Args:
        model: as for :func:`field_spectra`.
        **options: any keyword of :func:`field_spectra` but ``embedding_set``.

    Returns:
        A list of M :class:`SpectrumReport`, report k of set k (width d_k).

    Example:
        >>> [r.dim for r in set_spectra(MultiEmbedding([4, 9], [3, 2]))]
        [3, 2]
    """
    embedding = embedding_of(model)
    sets = embedding.num_embeddings
    return [field_spectra(embedding, embedding_set=k, **options) for k in range(sets)]


def snapshot(model) -> nn.Module:
    """A frozen copy of the model's embedding module, to measure the same rows at init later.

    Args:
        model: a model with ``.embedding`` or an embedding module; take it before training.

    Returns:
        A deep copy of ``model.embedding`` (or of ``model`` if it is one), ``requires_grad=False``;
        pass it to :func:`field_spectra` like the model.

    Example:
        >>> snapshot(FusedEmbedding([5, 40], 4)).table.weight.requires_grad
        False
    """
    return copy.deepcopy(embedding_of(model)).requires_grad_(False)


def collapse_ratio(learned: SpectrumReport, init: SpectrumReport) -> np.ndarray:
    """Per-field ``IA_learned / IA_init``, (F,): < 1 means the field lost dimensions in training.

    Args:
        learned: the report of the trained model.
        init: the report of its :func:`snapshot`, measured on the same data with the same options.

    Returns:
        (F,) float64 ``learned.ia / init.ia`` (nan where either is nan).

    Raises:
        ValueError: if the reports differ in fields, cardinalities, rows used or options.

    Example:
        >>> emb = FusedEmbedding([5, 40], 4)
        >>> collapse_ratio(field_spectra(emb), field_spectra(emb))
        array([1., 1.])
    """
    for what in ("field_names", "field_dims", "rows", "dim", "options"):
        a, b = getattr(learned, what), getattr(init, what)
        if a != b:
            raise ValueError(f"reports are not comparable: {what} {a} (learned) != {b} (init); "
                             "measure both with the same data and options")
    return learned.ia / init.ia


def sub_embedding_ia(model, *, layer: int = 0, row_normalize: bool = True, data=None,
                     min_count: int = 1) -> np.ndarray:
    """IA of every field's table projected into every slot by a DCNv2 cross layer, (F, F).

    In ``x_{l+1} = x_0 ⊙ (W x_l + b) + x_l`` slot i of ``W x_0`` is ``Σ_j W^(i,j) e_j``, with
    blocks ``W^(i,j) = W[iD:(i+1)D, jD:(j+1)D]``: what slot i sees of field j is
    ``P_{j→i} = E_j W^(i,j)ᵀ`` (V_j, D), multiplied element-wise by e_i. Entry [i, j] is
    ``IA(P_{j→i})`` (Guo et al., ICML 2024, Evidence I; RecScope). Rows of E_j are filtered by
    ``data`` / ``min_count`` as in :func:`field_spectra`; computed in float64.

    Args:
        model: a DCNv2-like model: ``.cross_net.layer_weight(layer)`` (F·D, F·D) and an
            ``.embedding`` of width D.
        layer: which cross layer.
        row_normalize: normalise the rows of each P_{j→i} before the spectrum.
        data, min_count: the training data and count threshold for the kept ids.

    Returns:
        (F, F) float64, [i, j] = IA of field j in slot i; nan where undefined.

    Example:
        >>> from minime.models import DCNv2
        >>> sub_embedding_ia(DCNv2([4, 9, 20], "small")).shape
        (3, 3)
    """
    cross = getattr(model, "cross_net", None)
    if cross is None or not hasattr(cross, "layer_weight"):
        raise TypeError(f"{type(model).__name__} has no cross network (.cross_net); "
                        "sub_embedding_ia needs a DCNv2-like model")
    embedding = embedding_of(model)
    check_options(embedding, "table", data, min_count)
    tables = field_tables(embedding, None)
    F, D = len(tables), tables[0].shape[1]
    with torch.no_grad():
        W = cross.layer_weight(layer).detach().cpu().double()  # (F·D, F·D)
    if W.shape != (F * D, F * D):
        raise ValueError(f"cross layer weight is {tuple(W.shape)}, expected ({F * D}, {F * D})")
    out = np.full((F, F), np.nan)
    for j, E in enumerate(tables):
        E = kept_rows(E, j, "table", data, min_count).cpu().double()  # (V_j', D)
        P = (E @ W[:, j * D:(j + 1) * D].T).view(-1, F, D)  # (V_j', F·D) -> (V_j', F, D)
        out[:, j] = [_spectrum(P[:, i], row_normalize, False)[1] for i in range(F)]
    return out


def _spectrum(X: Tensor, row_normalize: bool, center: bool) -> tuple[np.ndarray, float, float]:
    """(σ, IA, erank) of X by :mod:`minime.analysis.spectrum`; (empty, nan, nan) if undefined."""
    if X.shape[0] < 2:
        return np.zeros(0), np.nan, np.nan
    s = singular_values(X, row_normalize=row_normalize, center=center)
    if s[0] == 0:
        return np.zeros(0), np.nan, np.nan
    return s, ia_from_singular_values(s), erank_from_singular_values(s)  # σ computed once


def _field_names(embedding, data) -> tuple[str, ...]:
    """The embedding's field names, else the data's, else ``f0, f1, ...`` (as TensorData)."""
    if embedding.field_names is not None:
        return tuple(embedding.field_names)
    if data is not None:
        return tuple(data.field_names)
    return tuple(f"f{i}" for i in range(embedding.num_fields))
