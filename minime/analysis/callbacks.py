"""Information abundance during training: a :func:`minime.train.fit` callback.

Example:
    >>> from minime.models import DNN
    >>> callback = IACallback()
    >>> callback.at_init(DNN([3, 50], "small")).dim, callback.epochs
    (4, [0])
"""

from __future__ import annotations

import numpy as np

from minime.analysis.collapse import SpectrumReport, field_spectra

__all__ = ["IACallback"]


class IACallback:
    """A :func:`minime.train.fit` callback: IA per field after every epoch.

    Each call measures :func:`field_spectra` with the options given here, appends the report
    to ``self.reports`` (and its epoch to ``self.epochs``) and sets ``record[key] = {field: ia}``.
    :meth:`at_init` records epoch 0 before training. Costs one spectrum per field (O(V·D²)).

    Args:
        data: the training TensorData (table mode) or the rows to look up (batch mode).
        key: the record entry to write; use one callback per set to follow every set.
        **options: ``mode``, ``min_count``, ``row_normalize``, ``center``, ``embedding_set``.

    Returns:
        A callable ``(model, record) -> None``; ``.reports``, ``.epochs`` and ``.ia()``
        ((epochs, F)) hold what it measured.

    Example:
        >>> from minime.models import DNN
        >>> callback, record = IACallback(), {"epoch": 1}
        >>> callback(DNN([3, 50], "small"), record)
        >>> sorted(record["ia"]), callback.epochs
        (['f0', 'f1'], [1])
    """

    def __init__(self, data=None, *, key: str = "ia", **options):
        self.data, self.key, self.options = data, key, options
        self.reports: list[SpectrumReport] = []
        self.epochs: list[int] = []

    def measure(self, model) -> SpectrumReport:
        """The report of ``model`` now, with this callback's data and options (not recorded)."""
        return field_spectra(model, data=self.data, **self.options)

    def at_init(self, model) -> SpectrumReport:
        """Record epoch 0 (call before training) and return its report."""
        return self._record(model, 0)

    def __call__(self, model, record: dict) -> None:
        record[self.key] = self._record(model, record.get("epoch", len(self.epochs))).as_dict()

    def _record(self, model, epoch: int) -> SpectrumReport:
        report = self.measure(model)
        self.reports.append(report)
        self.epochs.append(epoch)
        return report

    def ia(self) -> np.ndarray:
        """IA of every recorded epoch, (len(epochs), F); rows follow ``self.epochs``."""
        return np.stack([r.ia for r in self.reports])
