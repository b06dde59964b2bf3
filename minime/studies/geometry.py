"""RecScope's readings of an entanglement study's distances: agreement with single-task geometry.

:func:`distance_tables` reads one seed's user–item distances back (one array per embedding set
of every model), :func:`conflict_pairs` finds the mode-0 conflict pairs (near for task a's
single-task model, far for task b's), and :func:`set_geometry` gives RecScope's two readings of every
set: Spearman ρ of its distances against each single-task model's, and the shares of the mode-0
pairs in its own near / middle / far band (Pan et al., KDD 2024, §7).

Example:
    >>> from minime.studies.results import Results
    >>> runs = Results([{"label": "single task 1", "seed": 0, "distances": {"one set": [1., 2., 3., 4.]}},
    ...                 {"label": "single task 2", "seed": 0, "distances": {"one set": [4., 3., 2., 1.]}},
    ...                 {"label": "M", "seed": 0, "distances": {"one set": [1., 2., 3., 4.]}}])
    >>> conflict_pairs(runs).tolist(), round(set_geometry(runs)["M"]["rho_b"], 6)
    ([True, True, False, False], -1.0)
"""

from __future__ import annotations

import numpy as np

from minime import analysis
from minime.studies.entanglement import single_label
from minime.studies.results import Results

__all__ = ["conflict_pairs", "distance_tables", "set_geometry"]


def distance_tables(results: Results, seed: int = 0) -> dict[str, np.ndarray]:
    """Every embedding set's distances of one seed: ``{"<label>" or "<label>, <set>": (P,)}``.

    Models with one set are named by their label, STEM's sets ``"STEM, task 2"`` etc.
    """
    return {r["label"] if table == "one set" else f"{r['label']}, {table}": np.asarray(d)
            for r in results.select(seed=seed) for table, d in r["distances"].items()}


def conflict_pairs(results: Results, seed: int = 0, *, reference_tasks: tuple[int, int] = (0, 1),
                   low: float = 40, high: float = 60) -> np.ndarray:
    """RecScope's mode-0 conflict pairs: near in task a's single-task model, far in task b's.

    Returns:
        ``(P,)`` bool over the study's pairs (:func:`minime.analysis.conflict_subset`).
    """
    tables = distance_tables(results, seed)
    refs = [tables.get(single_label(t)) for t in reference_tasks]
    if any(r is None for r in refs):
        raise ValueError(f"seed {seed} lacks the single-task models of tasks {reference_tasks}")
    return analysis.conflict_subset(*refs, low=low, high=high)


def set_geometry(results: Results, seed: int = 0, *, reference_tasks: tuple[int, int] = (0, 1),
             low: float = 40, high: float = 60) -> dict[str, dict[str, float]]:
    """RecScope's readings of every table of one seed's models.

    Args:
        results: an :func:`entanglement_study`'s records (with both reference single-task models).
        seed: which seed's records.
        reference_tasks: (a, b): mode-0 conflict pairs are near in task a's single-task model and
            far in task b's (:func:`conflict_pairs`).
        low, high: the bands' percentiles.

    Returns:
        ``{name: {"rho_a", "rho_b", "near", "middle", "far"}}`` for every table of
        :func:`distance_tables`: Spearman ρ against task a's and task b's single-task distances,
        and the shares of the mode-0 pairs in the table's own bands.
    """
    mode0 = conflict_pairs(results, seed, reference_tasks=reference_tasks, low=low, high=high)
    tables = distance_tables(results, seed)
    ref_a, ref_b = (tables[single_label(t)] for t in reference_tasks)
    return {name: {"rho_a": analysis.spearman(d, ref_a), "rho_b": analysis.spearman(d, ref_b),
                   **analysis.band_shares(d, mode0, low=low, high=high)}
            for name, d in tables.items()}
