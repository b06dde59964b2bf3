"""minime.analysis.collapse: per-field reports, sub-embedding IA and the IA callback, by hand."""

import numpy as np
import pytest
import torch
from torch import nn

from minime import analysis, models, train
from minime.data import TensorData, make_world
from minime.embedding import FusedEmbedding, MultiEmbedding
from test_analysis import _reference  # (σ, IA, erank) by a direct numpy SVD


def _ia_by_hand(X, row_normalize=True, center=False):
    """IA of the rows of X by an independent float64 numpy SVD (test_analysis's reference)."""
    return _reference(X, row_normalize=row_normalize, center=center)[1]


def _field_blocks(embedding):
    """Every field's rows of the whole weight, in numpy: F × (V_f, width)."""
    weight = embedding.table.weight.detach().numpy()
    return np.split(weight, np.cumsum(embedding.field_dims)[:-1])


def _data(field_dims, num_rows=300, seed=0):
    """Random ids, skewed so that some ids are rare or unseen, with one label column."""
    rng = np.random.default_rng(seed)
    x = np.stack([np.minimum(rng.geometric(1.5 / v, num_rows) - 1, v - 1) for v in field_dims], 1)
    return TensorData(x, rng.integers(0, 2, num_rows), field_dims)


# --- sub-embedding IA map -------------------------------------------------------------------------

def _cross_weight_by_hand(model, layer):
    """W_l from the layer's parameters in numpy: W, or U Vᵀ when the cross net is low rank."""
    module = model.cross_net.layers[layer]
    if model.cross_net.low_rank is None:
        return module.weight.detach().numpy().astype(np.float64)
    U, Vt = (module[i].weight.detach().numpy().astype(np.float64) for i in (1, 0))
    return U @ Vt  # (F·D, r) @ (r, F·D)


@pytest.mark.parametrize("layer, low_rank", [(0, None), (1, None), (0, 2), (1, 2)])
@pytest.mark.parametrize("with_data", [False, True])
def test_sub_embedding_ia_equals_numpy_projection(layer, low_rank, with_data):
    field_dims, D = (3, 5, 30, 4), 3
    config = models.CTRConfig(embedding_dim=D, hidden_units=(8,), num_cross_layers=2,
                              low_rank=low_rank)
    model = models.DCNv2(field_dims, config)
    data = _data(field_dims) if with_data else None
    min_count = 2 if with_data else 1
    got = analysis.sub_embedding_ia(model, layer=layer, data=data, min_count=min_count)
    W = _cross_weight_by_hand(model, layer)
    for j, E in enumerate(_field_blocks(model.embedding)):
        if with_data:
            E = E[np.bincount(data.x[:, j].numpy(), minlength=field_dims[j]) >= min_count]
            assert len(E) >= 2
        for i in range(len(field_dims)):
            P = E @ W[i * D:(i + 1) * D, j * D:(j + 1) * D].T  # (V_j', D)
            np.testing.assert_allclose(got[i, j], _ia_by_hand(P), rtol=1e-6)


def test_sub_embedding_ia_without_row_normalize():
    model = models.DCNv2((6, 9), models.CTRConfig(embedding_dim=3, hidden_units=(8,)))
    W = _cross_weight_by_hand(model, 0)
    E = _field_blocks(model.embedding)[1]
    got = analysis.sub_embedding_ia(model, row_normalize=False)
    np.testing.assert_allclose(got[0, 1], _ia_by_hand(E @ W[0:3, 3:6].T, False), rtol=1e-6)


# --- the IA callback during training --------------------------------------------------------------

def test_ia_callback_matches_fresh_reports_of_init_and_final_tables():
    world = make_world("tiny", num_rows=600)
    train_rows, valid_rows, _ = world.split()
    model = models.DCNv2(world.field_dims, "small", num_tasks=world.num_tasks)
    init = analysis.snapshot(model)
    callback = analysis.IACallback(train_rows)
    at_init = callback.at_init(model)
    np.testing.assert_array_equal(at_init.ia, analysis.field_spectra(model, data=train_rows).ia)
    # restore_best=False: the model keeps the LAST epoch's tables, which the last callback saw
    # (with restore_best it would end with the best epoch's, possibly an earlier one)
    history = train.fit(model, train_rows, valid_rows, callbacks=[callback],
                        config=train.TrainConfig(epochs=2, progress=False, restore_best=False))
    final = analysis.field_spectra(model, data=train_rows)
    assert callback.epochs == [0, 1, 2]
    np.testing.assert_array_equal(callback.reports[-1].ia, final.ia)
    assert history.epochs[-1]["ia"] == final.as_dict() == dict(zip(world.field_names, final.ia))
    assert callback.ia().shape == (3, len(world.field_names))
    assert not np.allclose(final.ia, at_init.ia)  # training moved the tables
    init_report = analysis.field_spectra(init, data=train_rows)  # the snapshot did not move
    np.testing.assert_array_equal(init_report.ia, at_init.ia)
    np.testing.assert_array_equal(analysis.collapse_ratio(final, init_report),
                                  final.ia / at_init.ia)


# --- table and batch modes ------------------------------------------------------------------------

@pytest.mark.parametrize("min_count", [0, 1, 2, 5])
def test_table_mode_keeps_ids_seen_at_least_min_count_times(min_count):
    field_dims = (6, 40, 25)
    emb, data = FusedEmbedding(field_dims, 4), _data(field_dims)
    report = analysis.field_spectra(emb, data=data, min_count=min_count)
    for f, E in enumerate(_field_blocks(emb)):
        keep = (torch.bincount(data.x[:, f], minlength=field_dims[f]) >= min_count).numpy()
        assert report.rows[f] == keep.sum()
        np.testing.assert_allclose(report.ia[f], _ia_by_hand(E[keep]), rtol=1e-9)
    assert report.min_count == min_count and report.mode == "table"


def test_table_mode_without_data_uses_every_row():
    emb = FusedEmbedding((7, 30), 5)
    report = analysis.field_spectra(emb)
    assert report.rows == (7, 30) and report.field_names == ("f0", "f1")
    for f, E in enumerate(_field_blocks(emb)):
        np.testing.assert_allclose(report.singular_values[f],
                                   np.linalg.svd(E / np.linalg.norm(E, axis=1, keepdims=True),
                                                 compute_uv=False), rtol=1e-6)


def test_batch_mode_uses_every_occurrence():
    field_dims = (6, 40)
    emb, data = FusedEmbedding(field_dims, 8), _data(field_dims, num_rows=150)
    report = analysis.field_spectra(emb, mode="batch", data=data)
    assert report.rows == (150, 150)
    for f, E in enumerate(_field_blocks(emb)):
        gathered = E[data.x[:, f].numpy()]  # (N, D), frequent ids repeated
        np.testing.assert_allclose(report.ia[f], _ia_by_hand(gathered), rtol=1e-9)


@pytest.mark.parametrize("mode", ["table", "batch"])
def test_multi_embedding_sets_and_concatenation_are_column_blocks(mode):
    field_dims, dims = (9, 30), (3, 2, 4)
    emb, data = MultiEmbedding(field_dims, dims), _data(field_dims, num_rows=100)
    options = {"mode": mode, "data": data}
    starts = np.cumsum((0,) + dims)
    per_set = analysis.set_spectra(emb, **options)
    whole = analysis.field_spectra(emb, **options)
    assert [r.dim for r in per_set] == list(dims) and whole.dim == sum(dims)
    assert [r.embedding_set for r in per_set] == [0, 1, 2] and whole.embedding_set is None
    for f, E in enumerate(_field_blocks(emb)):
        X = E[data.x[:, f].numpy()] if mode == "batch" else E[np.bincount(data.x[:, f], minlength=E.shape[0]) >= 1]
        np.testing.assert_allclose(whole.ia[f], _ia_by_hand(X), rtol=1e-9)
        for k, report in enumerate(per_set):
            np.testing.assert_allclose(report.ia[f], _ia_by_hand(X[:, starts[k]:starts[k + 1]]),
                                       rtol=1e-9)
    assert len(analysis.set_spectra(FusedEmbedding(field_dims, 3))) == 1


@pytest.mark.parametrize("row_normalize, center", [(True, False), (False, False), (False, True),
                                                   (True, True)])
def test_options_are_passed_through(row_normalize, center):
    model = models.DNN((5, 50), "small")
    report = analysis.field_spectra(model, row_normalize=row_normalize, center=center)
    assert (report.row_normalize, report.center) == (row_normalize, center)
    for f, E in enumerate(_field_blocks(model.embedding)):
        _, ia, erank = _reference(E, row_normalize=row_normalize, center=center)
        np.testing.assert_allclose([report.ia[f], report.erank[f]], [ia, erank], rtol=1e-9)


def test_field_with_one_usable_row_or_zero_rows_is_nan():
    emb = FusedEmbedding((1, 10, 4), 3)
    with torch.no_grad():
        emb.field_tables()[2].zero_()
    report = analysis.field_spectra(emb)
    assert np.isnan(report.ia[[0, 2]]).all() and np.isnan(report.erank[[0, 2]]).all()
    assert np.isfinite(report.ia[1]) and len(report.singular_values[0]) == 0
    assert np.isnan(report.normalized()[0]).all()
    data = TensorData([[0, 3, 1]] * 4 + [[0, 4, 2]], [0] * 5, (1, 10, 4))  # id 3 seen 4 times
    assert np.isnan(analysis.field_spectra(emb, data=data, min_count=2).ia[1])


def test_normalized_rows_and_cardinality_order():
    field_dims = (30, 2, 9, 2)
    emb = FusedEmbedding(field_dims, 5)
    rows = analysis.field_spectra(emb).normalized()
    assert rows.shape == (4, 5)
    np.testing.assert_allclose(rows.max(axis=1), 1.0)
    assert (np.diff(rows, axis=1) <= 0).all()  # descending, zero-padded past min(V_f, D)
    assert (rows[1, 2:] == 0).all()
    report = analysis.field_spectra(emb)
    np.testing.assert_array_equal(report.by_cardinality(), [1, 3, 2, 0])
    assert list(report.as_dict()) == ["f0", "f1", "f2", "f3"]
    assert "SpectrumReport(table, D=5" in repr(report)


def test_field_names_come_from_the_data_when_the_embedding_has_none():
    data = TensorData([[0, 1], [1, 0], [1, 1]], [0, 1, 0], (2, 3), field_names=("age", "city"))
    report = analysis.field_spectra(models.DNN((2, 3), "small"), data=data)
    assert report.field_names == ("age", "city")


# --- bad inputs -----------------------------------------------------------------------------------

def test_bad_inputs_raise_clear_errors():
    model = models.DNN((4, 6), "small")
    with pytest.raises(ValueError, match="mode=batch needs data"):
        analysis.field_spectra(model, mode="batch")
    with pytest.raises(ValueError, match=r"min_count=3 needs data"):
        analysis.field_spectra(model, min_count=3)
    with pytest.raises(ValueError, match=r"data has field_dims \(4, 7\), but the embedding"):
        analysis.field_spectra(model, data=_data((4, 7)))
    with pytest.raises(ValueError, match="mode must be one of"):
        analysis.field_spectra(model, mode="rows")
    with pytest.raises(ValueError, match="1 in batch mode"):
        analysis.field_spectra(model, mode="batch", data=_data((4, 6)), min_count=2)
    with pytest.raises(TypeError, match="Linear is not an embedding and has no .embedding"):
        analysis.field_spectra(nn.Linear(3, 3))
    with pytest.raises(ValueError, match="embedding_set must be in 0..1"):
        analysis.field_spectra(MultiEmbedding((4, 6), (2, 2)), embedding_set=2)
    with pytest.raises(ValueError, match=r"embedding_set must be in 0..0"):
        analysis.field_spectra(model, embedding_set=1)
    with pytest.raises(TypeError, match="DNN has no cross network"):
        analysis.sub_embedding_ia(model)


def test_collapse_ratio_refuses_incomparable_reports():
    emb, data = FusedEmbedding((4, 60), 3), _data((4, 60))
    learned = analysis.field_spectra(emb, data=data, min_count=2)
    with pytest.raises(ValueError, match=r"not comparable: rows \(4, \d+\) \(learned\) != \(4, 60\)"):
        analysis.collapse_ratio(learned, analysis.field_spectra(emb, data=data, min_count=0))
    with pytest.raises(ValueError, match="not comparable: options"):
        analysis.collapse_ratio(learned, analysis.field_spectra(emb, data=data, min_count=2,
                                                                 row_normalize=False))


def test_ia_callback_passes_its_options_and_key():
    field_dims = (6, 40)
    valid = _data(field_dims, num_rows=120)
    callback, record = analysis.IACallback(valid, mode="batch", key="ia_batch"), {"epoch": 3}
    callback(models.DNN(field_dims, "small"), record)
    report = callback.reports[0]
    assert report.mode == "batch" and report.rows == (120, 120) and callback.epochs == [3]
    assert record["ia_batch"] == report.as_dict()
