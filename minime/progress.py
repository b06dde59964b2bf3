"""Text progress bars for long loops (training steps, a study's runs), one helper for all.

The bars are tqdm's text bars on stderr: one updating line in Jupyter, Colab and terminals, and
the book drops stderr, so built pages carry no stale bars.

Example:
    >>> [x for x in bar(range(3), enabled=False)]
    [0, 1, 2]
"""

from __future__ import annotations

from typing import Iterable

__all__ = ["bar"]


def bar(items: Iterable | None = None, *, total: int | None = None, desc: str = "",
        unit: str = "it", enabled: bool = True):
    """A text bar over ``items`` (or a manual one of ``total`` steps); ``items`` itself if off.

    Args:
        items: what to iterate over; None for a bar updated by hand (``bar.update(1)``).
        total: the number of steps of a manual bar.
        desc, unit: the bar's label and unit.
        enabled: False returns ``items`` unchanged (None for a manual bar).

    Returns:
        A ``tqdm`` bar (closed when done, ``leave=False``), ``items``, or None.
    """
    if not enabled:
        return items
    from tqdm.std import tqdm  # the text bar, never the notebook widget

    return tqdm(items, total=total, desc=desc, unit=unit, leave=False)
