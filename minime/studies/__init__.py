"""The book's experiments: cached studies, the scale presets, and the statistics chapters read.

One module per study, each a function that trains models over seeds and returns
:class:`Results` (plain records, cached by :mod:`minime.studies.cache`):

* :mod:`~minime.studies.scaling` -- single- against multi-embedding at equal size (chapter 4);
* :mod:`~minime.studies.entanglement` -- multi-task models against single-task ones, per bucket
  of rows (chapters 5, 6), with :mod:`~minime.studies.geometry` for RecScope's distance readings;
* :mod:`~minime.studies.routing` -- where each task's gate sends its rows (chapter 7);
* :mod:`~minime.studies.encoding` -- each feature with and without its prior (chapter 8);
* :mod:`~minime.studies.tuning` -- one setting (the learning rate) tuned per arm on validation;
* :mod:`~minime.studies.scales` -- every chapter's sizes at ``ci`` / ``book`` / ``full``;
* :mod:`~minime.studies.results` -- :class:`Results`: select, group, mean ± std over seeds,
  paired differences, tables.

Example:
    >>> from minime import studies
    >>> runs = studies.Results([{"label": "A", "seed": 0, "auc": 0.7}, {"label": "B", "seed": 0, "auc": 0.6}])
    >>> str(runs.paired("auc", "A", "B"))
    '+0.1000 ± 0.0000 (ahead in 1 of 1)'
"""

from minime.studies import (cache, encoding, entanglement, geometry, results, routing, scales,
                            scaling, tuning)
from minime.studies.cache import cache_dir, clear_cache
from minime.studies.encoding import encoding_study
from minime.studies.entanglement import (SPECS, as_history, bucket_means, bucket_table,
                                         entanglement_study, set_names, single_label, task_value,
                                         user_gradient_cosines)
from minime.studies.geometry import conflict_pairs, distance_tables, set_geometry
from minime.studies.common import assert_converged
from minime.studies.results import EPOCHS, Paired, Results, Stat, Table
from minime.studies.routing import routing_study
from minime.studies.scales import SCALE, Sizes, sizes
from minime.studies.scaling import scaling_study
from minime.studies.tuning import Tuned, rates_text, tune, valid_auc

__all__ = ["EPOCHS", "Paired", "Results", "SCALE", "SPECS", "Sizes", "Stat", "Table", "as_history", "assert_converged",
           "bucket_means", "bucket_table", "cache", "cache_dir", "clear_cache", "conflict_pairs", "distance_tables",
           "encoding", "encoding_study", "entanglement", "entanglement_study", "geometry", "results", "routing", "routing_study",
           "scales", "scaling", "scaling_study", "set_geometry", "set_names", "single_label",
           "rates_text", "sizes", "task_value", "Tuned", "tune", "tuning", "user_gradient_cosines", "valid_auc"]
