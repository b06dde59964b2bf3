"""The records of a study and the statistics chapters read off them.

A study returns :class:`Results`: a list of plain dicts, one per trained model (label, seed,
metrics ...). Chapters never loop over records by hand; they ask:

* :meth:`Results.select` -- the records matching some keys (``runs.select(label="STEM")``);
* :meth:`Results.values` -- one value per record, read by a *key*: a name (``"test_auc"``), a
  path into nested records (``("auc", "conflict", 1)``) or a function of the record;
* :meth:`Results.group` / :meth:`Results.summary` / :meth:`Results.stat` -- mean ± std over
  seeds (:class:`Stat`);
* :meth:`Results.paired` -- the difference between two labels on the same seeds, with its spread
  and a "wins k of n" count (:class:`Paired`);
* :meth:`Results.table` -- a Markdown / HTML table of mean ± std (:class:`Table`).

Example:
    >>> runs = Results([{"label": "A", "seed": s, "auc": 0.70 + 0.01 * s} for s in range(3)] +
    ...                [{"label": "B", "seed": s, "auc": 0.69 + 0.02 * s} for s in range(3)])
    >>> str(runs.stat("auc", label="A"))
    '0.7100 ± 0.0100'
    >>> d = runs.paired("auc", "A", "B")
    >>> d.diffs.round(4).tolist(), d.wins, d.n, str(d)
    ([0.01, 0.0, -0.01], 1, 3, '+0.0000 ± 0.0100 (ahead in 1 of 3)')
"""

from __future__ import annotations

import html
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Sequence, Union

import numpy as np

__all__ = ["EPOCHS", "Key", "Paired", "Results", "Stat", "Table", "read"]

#: How a value is read from a record: a name, a path into nested dicts / lists, or a function.
Key = Union[str, Sequence[Any], Callable[[dict], Any]]


def read(record: Mapping, key: Key):
    """The value of ``key`` in ``record``: ``record[key]``, a path, or ``key(record)``.

    Example:
        >>> read({"auc": {"all": [0.5, 0.75]}}, ("auc", "all", 1))
        0.75
    """
    if callable(key):
        return key(record)
    if isinstance(key, str):
        return record[key]
    value = record
    for part in key:
        value = value[part]
    return value


def _std(values: np.ndarray) -> float:
    """Sample standard deviation (ddof = 1); 0 for a single value."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


class Stat(NamedTuple):
    """Mean, sample standard deviation (ddof = 1, 0 for one value) and count of some values."""

    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> "Stat":
        """The statistics of ``values`` (NaN for none)."""
        values = np.asarray(list(values), dtype=np.float64)
        mean = float(values.mean()) if len(values) else float("nan")
        return cls(mean, _std(values), len(values))

    def __str__(self) -> str:
        return f"{self.mean:.4f} ± {self.std:.4f}"


class Paired(NamedTuple):
    """``a − b`` on the seeds (or other pairing key) both labels ran: the paired difference.

    ``diffs`` per pair in ``pairs`` order, their mean and sample std, and ``wins``: how many
    pairs had ``a`` ahead (``diff > 0``) of the ``n``.
    """

    diffs: np.ndarray
    pairs: tuple
    mean: float
    std: float
    wins: int
    n: int

    @property
    def sign(self) -> str:
        """``"ahead"`` if ``a`` led in every pair, ``"behind"`` if it trailed in every one, else
        ``"mixed"``: a verdict that does not read more into the mean than the pairs allow."""
        if self.wins == self.n:
            return "ahead"
        return "behind" if bool((self.diffs < 0).all()) else "mixed"

    def phrase(self, ahead: str, behind: str, mixed: str) -> str:
        """The words for :attr:`sign`: a verdict in prose no stronger than the pairs allow.

        Example:
            >>> Results([{"label": "a", "seed": 0, "v": 1.0}, {"label": "b", "seed": 0, "v": 0.5}]
            ...         ).paired("v", "a", "b").phrase("ahead of", "behind", "level with")
            'ahead of'
        """
        return {"ahead": ahead, "behind": behind, "mixed": mixed}[self.sign]

    def __str__(self) -> str:
        return f"{self.mean:+.4f} ± {self.std:.4f} (ahead in {self.wins} of {self.n})"


class Table(str):
    """A Markdown table (the string itself) that notebooks show as HTML."""

    def __new__(cls, header: Sequence[str], rows: Sequence[Sequence[str]]):
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        table = super().__new__(cls, "\n".join(lines))
        table.header, table.rows = list(header), [list(r) for r in rows]
        return table

    def _repr_markdown_(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                       for row in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Results(list):
    """The records of a study: plain dicts, one per trained model, and statistics over them.

    ``cached`` counts the records loaded from the cache instead of trained.

    Example:
        >>> runs = Results([{"kind": "SE", "scale": 1, "auc": 0.5},
        ...                 {"kind": "SE", "scale": 1, "auc": 1.0}])
        >>> len(runs.select(kind="SE", scale=1)), runs.summary("auc", by=("kind", "scale"))
        (2, {('SE', 1): Stat(mean=0.75, std=0.3535533905932738, n=2)})
    """

    cached: int = 0

    def select(self, **criteria) -> "Results":
        """The records whose ``record[name]`` matches every criterion, in order.

        A criterion is a value (equality), a list / tuple / set / range (any of them) or a
        function of the value returning a bool.

        Example:
            >>> Results([{"seed": 0}, {"seed": 1}, {"seed": 2}]).select(seed=(0, 2))
            [{'seed': 0}, {'seed': 2}]
        """
        def match(value, wanted) -> bool:
            if callable(wanted):
                return bool(wanted(value))
            if isinstance(wanted, (list, tuple, set, frozenset, range)):
                return value in wanted
            return value == wanted

        for name in criteria:
            if self and not any(name in r for r in self):
                raise KeyError(f"no record has {name!r}; records have {sorted(self[0])}")
        return Results(r for r in self
                       if all(name in r and match(r[name], w) for name, w in criteria.items()))

    def values(self, key: Key, **criteria) -> np.ndarray:
        """``key`` of every (selected) record, in order: an array (of objects if not numeric)."""
        rows = self.select(**criteria) if criteria else self
        values = [read(r, key) for r in rows]
        try:
            return np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            return np.asarray(values, dtype=object)

    def unique(self, name: str) -> list:
        """The distinct values of ``record[name]``, in order of first appearance."""
        return list(dict.fromkeys(r[name] for r in self))

    def group(self, by: str | Sequence[str] = "label") -> dict[Any, "Results"]:
        """Records grouped by one key (``{value: Results}``) or several (``{tuple: Results}``)."""
        names = (by,) if isinstance(by, str) else tuple(by)
        groups: dict[Any, Results] = {}
        for r in self:
            value = r[names[0]] if len(names) == 1 else tuple(r[n] for n in names)
            groups.setdefault(value, Results()).append(r)
        return groups

    def stat(self, key: Key, **criteria) -> Stat:
        """Mean ± std of ``key`` over the (selected) records, e.g. over the seeds of one label."""
        rows = self.select(**criteria) if criteria else self
        if not rows:
            raise ValueError(f"no record matches {criteria}")
        return Stat.of(rows.values(key))

    def summary(self, key: Key, by: str | Sequence[str] = "label") -> dict[Any, Stat]:
        """``{group: Stat}`` of ``key`` for every group of :meth:`group`."""
        return {g: Stat.of(rows.values(key)) for g, rows in self.group(by).items()}

    def paired(self, key: Key, a, b, *, by: str = "label", on: str = "seed") -> Paired:
        """``key`` of ``a`` minus ``key`` of ``b`` over the values of ``on`` both have.

        Args:
            key: what to compare (see :func:`read`).
            a, b: two values of ``record[by]``, e.g. ``"STEM"`` and ``"MMoE"``.
            by: the record field naming the arms.
            on: the pairing field: the two arms' records with the same ``on`` are compared.

        Returns:
            :class:`Paired`; raises ValueError when the arms share no ``on`` value or one arm
            has two records for the same one.
        """
        sides = []
        for arm in (a, b):
            rows = self.select(**{by: arm})
            pairs = {}
            for r in rows:
                if r[on] in pairs:
                    raise ValueError(f"{by}={arm!r} has two records with {on}={r[on]!r}; select "
                                     "the ones to compare first")
                pairs[r[on]] = read(r, key)
            sides.append(pairs)
        common = [p for p in sides[0] if p in sides[1]]
        if not common:
            raise ValueError(f"{a!r} ({sorted(sides[0])}) and {b!r} ({sorted(sides[1])}) share no "
                             f"{on}")
        diffs = np.array([float(sides[0][p]) - float(sides[1][p]) for p in common])
        return Paired(diffs, tuple(common), float(diffs.mean()), _std(diffs),
                      int((diffs > 0).sum()), len(diffs))

    def table(self, columns: Mapping[str, Key] | Sequence[str], *,
              by: str | Sequence[str] = "label", digits: int | Mapping[str, int] = 4) -> Table:
        """One row per group, one ``mean ± std`` cell per column (blank where a record lacks it).

        Args:
            columns: ``{header: key}``, or names used as both.
            by: the grouping (:meth:`group`); its values head the rows.
            digits: decimals of the cells, or ``{header: decimals}`` (4 for the others).

        Example:
            >>> runs = Results([{"label": "A", "auc": 0.5, "epochs": 3},
            ...                 {"label": "A", "auc": 0.7, "epochs": 4}])
            >>> print(runs.table({"auc": "auc", **EPOCHS}, digits={"epochs trained": 1}))
            | label | auc | best epoch | epochs trained |
            |---|---|---|---|
            | A | 0.6000 ± 0.1414 |  | 3.5 ± 0.7 |
        """
        columns = dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
        places = {c: digits.get(c, 4) if isinstance(digits, Mapping) else digits for c in columns}
        names = (by,) if isinstance(by, str) else tuple(by)
        rows = []
        for group, records in self.group(by).items():
            cells = [str(v) for v in (group if len(names) > 1 else (group,))]
            for header, key in columns.items():
                values = [v for v in (_maybe(r, key) for r in records) if v is not None]
                stat, d = Stat.of(values), places[header]
                cells.append(f"{stat.mean:.{d}f} ± {stat.std:.{d}f}" if values else "")
            rows.append(cells)
        return Table([*names, *columns], rows)


#: The columns that say how long each model trained: a study record's best epoch and epochs run.
EPOCHS = {"best epoch": "best_epoch", "epochs trained": "epochs"}


def _maybe(record: Mapping, key: Key):
    """``read(record, key)``, or None where the record lacks it (e.g. a single-task model)."""
    try:
        return read(record, key)
    except (KeyError, IndexError, TypeError, ValueError):
        return None
