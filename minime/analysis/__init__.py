"""Analysis of trained models: collapse (spectra, IA), diversity, entanglement, gradients, gates.

Submodules: ``spectrum`` (σ, IA, erank of a matrix), ``tables`` (reading a model's embedding
sets and rows), ``collapse`` (per-field spectra, sub-embeddings, IA per epoch), ``diversity``
(principal angles between sets, cross-layer block norms), ``callbacks`` (IA per epoch), ``transfer`` (AUC per bucket of rows,
transfer, oracle AUC), ``entanglement`` (RecScope's user–item distances), ``gradients`` (task
gradient conflict), ``gates`` (gate weights), ``correlation`` (CTC: which behaviours carry signal about the target). This package re-exports their public names, so
chapters write
``from minime import analysis`` and then ``analysis.information_abundance(E)`` or
``analysis.field_spectra(model, data=train)`` or ``analysis.set_similarity(model)`` or
``analysis.user_item_distances(model, pairs, user_field=0, item_field=1)``.
"""

from minime.analysis.callbacks import IACallback
from minime.analysis.correlation import binary_mutual_information, ctc_map
from minime.analysis.collapse import (SpectrumReport, collapse_ratio, field_spectra, set_spectra,
                                      snapshot, sub_embedding_ia)
from minime.analysis.diversity import (block_norms, principal_angles, set_block_norms,
                                      set_similarity, similarity_summary)
from minime.analysis.entanglement import (band_shares, conflict_subset, distance_bands,
                                          distinct_pairs, spearman, user_item_distances)
from minime.analysis.gates import gate_weights, task_gate_mass
from minime.analysis.gradients import TaskGradients, gradient_conflict, row_gradient_cosines
from minime.analysis.tables import embedding_of, field_tables, row_mask
from minime.analysis.transfer import (bucket_auc, bucket_logloss, conflict_buckets,
                                      feedback_buckets, oracle_auc, transfer)
from minime.analysis.spectrum import (effective_rank, erank_from_singular_values,
                                     ia_from_singular_values, information_abundance,
                                     singular_values)

__all__ = ["IACallback", "SpectrumReport", "block_norms", "collapse_ratio", "effective_rank",
           "erank_from_singular_values", "field_spectra", "ia_from_singular_values",
           "embedding_of", "field_tables", "information_abundance", "oracle_auc",
           "principal_angles", "row_mask", "set_block_norms", "set_similarity",
           "set_spectra", "similarity_summary", "singular_values", "snapshot",
           "sub_embedding_ia",
           # entanglement
           "TaskGradients", "band_shares", "bucket_auc", "bucket_logloss", "conflict_buckets", "conflict_subset",
           "distance_bands", "distinct_pairs", "feedback_buckets", "gate_weights",
           "gradient_conflict", "row_gradient_cosines", "spearman", "task_gate_mass", "transfer",
           "user_item_distances",
           # feature correlation
           "binary_mutual_information", "ctc_map"]
