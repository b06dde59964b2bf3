"""minime.embedding: fused tables equal separate tables (outputs and gradients), id checks."""

import pytest
import torch
from torch import nn

from minime.embedding import FusedEmbedding, MultiEmbedding
from minime.optimizers import split_sparse_parameters

FIELD_DIMS = (3, 7, 20, 50)


def random_ids(batch=64, field_dims=FIELD_DIMS):
    """Ids (B, F) with repeats, so gradient accumulation over equal rows is exercised."""
    return torch.stack([torch.randint(0, v, (batch,)) for v in field_dims], dim=1)


def per_field_tables(matrices):
    """Separate ``nn.Embedding`` per field, weights copied from a list of (V_f, d) matrices."""
    return [nn.Embedding.from_pretrained(w.detach().clone(), freeze=False) for w in matrices]


def lookup_separately(tables, ids):
    return torch.stack([table(ids[:, f]) for f, table in enumerate(tables)], dim=1)


def test_fused_equals_per_field_tables_outputs_and_grads():
    emb, ids = FusedEmbedding(FIELD_DIMS, 5), random_ids()
    tables = per_field_tables(emb.field_tables())
    out, ref = emb(ids), lookup_separately(tables, ids)
    assert torch.equal(out, ref)
    target = torch.randn_like(out)
    (out * target).sum().backward()
    (ref * target).sum().backward()
    grads = emb.table.weight.grad.split(FIELD_DIMS, dim=0)
    for grad, table in zip(grads, tables):
        assert torch.allclose(grad, table.weight.grad)


def test_multi_equals_separate_tables_per_set_outputs_and_grads():
    dims = (3, 5, 2)
    emb, ids = MultiEmbedding(FIELD_DIMS, dims), random_ids()
    sets = [per_field_tables(fields) for fields in emb.tables()]  # [set][field]
    outs = emb(ids)
    refs = [lookup_separately(tables, ids) for tables in sets]
    targets = [torch.randn_like(o) for o in outs]
    sum((o * t).sum() for o, t in zip(outs, targets)).backward()
    sum((r * t).sum() for r, t in zip(refs, targets)).backward()
    starts = (0, 3, 8)
    for k, (out, ref, tables) in enumerate(zip(outs, refs, sets)):
        assert torch.equal(out, ref)
        block = emb.table.weight.grad[:, starts[k]:starts[k] + dims[k]]
        for grad, table in zip(block.split(FIELD_DIMS, dim=0), tables):
            assert torch.allclose(grad, table.weight.grad)


def test_multi_with_one_set_equals_fused():
    multi, fused = MultiEmbedding(FIELD_DIMS, [6]), FusedEmbedding(FIELD_DIMS, 6)
    with torch.no_grad():
        fused.table.weight.copy_(multi.table.weight)
    ids = random_ids()
    (out,) = multi(ids)
    assert torch.equal(out, fused(ids))


def test_sets_are_initialised_independently_each_with_xavier_scale():
    emb = MultiEmbedding([1000], [4, 4])
    first, second = emb.tables()[0][0], emb.tables()[1][0]
    assert not torch.equal(first, second)
    bound = (6 / (1000 + 4)) ** 0.5  # xavier_uniform_ on each (V, d_k) block
    assert first.abs().max() <= bound and second.abs().max() > 0.9 * bound


def test_custom_init_is_applied_per_block():
    emb = MultiEmbedding([5, 6], [2, 3], init=lambda w: w.fill_(float(w.shape[1])))
    assert emb.tables()[0][1].eq(2).all() and emb.tables()[1][0].eq(3).all()


@pytest.mark.parametrize("make", [lambda: FusedEmbedding(FIELD_DIMS, 4),
                                  lambda: MultiEmbedding(FIELD_DIMS, [2, 2, 4])])
def test_exactly_one_gather_per_forward(make, monkeypatch):
    import minime.embedding as module
    emb, calls, selects = make(), [], []
    original, select = module.gather, torch.Tensor.index_select
    monkeypatch.setattr(module, "gather", lambda *a, **k: calls.append(1) or original(*a, **k))
    monkeypatch.setattr(torch.Tensor, "index_select",
                        lambda *a, **k: selects.append(1) or select(*a, **k))
    emb(random_ids())
    assert len(calls) == 1 and len(selects) == 1


def test_tables_are_views_with_metadata():
    emb = MultiEmbedding(FIELD_DIMS, [2, 3])
    assert (emb.num_fields, emb.num_embeddings, emb.dims) == (4, 2, (2, 3))
    matrices = emb.tables()
    assert [tuple(m.shape) for m in matrices[1]] == [(v, 3) for v in FIELD_DIMS]
    matrices[1][2].data[0, 0] = 42.0  # views: write through to the table
    assert emb.table.weight[3 + 7, 2] == 42.0
    fused = FusedEmbedding(FIELD_DIMS, 4)
    assert fused.embedding_dim == 4 and fused.field_dims == FIELD_DIMS
    assert "offsets" not in fused.state_dict() and "table.weight" in fused.state_dict()


@pytest.mark.parametrize("bad_value, field", [(-1, 2), (20, 2), (3, 0), (10**9, 3)])
def test_out_of_range_id_names_field_row_value_and_cardinality(bad_value, field):
    emb, ids = FusedEmbedding(FIELD_DIMS, 4, field_names=["a", "b", "c", "d"]), random_ids(8)
    ids[5, field] = bad_value
    with pytest.raises(ValueError) as info:
        emb(ids)
    message = str(info.value)
    for part in (f"field {field}", repr("abcd"[field]), f"id {bad_value}", "row 5",
                 f"cardinality {FIELD_DIMS[field]}"):
        assert part in message


def test_first_offender_is_reported_and_multi_checks_too():
    emb, ids = MultiEmbedding(FIELD_DIMS, [2, 2]), random_ids(8)
    ids[6, 1], ids[3, 3] = 7, -5
    with pytest.raises(ValueError, match=r"field 3: id -5 in row 3"):
        emb(ids)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bool])
def test_non_integer_ids_are_rejected(dtype):
    with pytest.raises(ValueError, match="ids must be integers"):
        FusedEmbedding(FIELD_DIMS, 4)(random_ids(4).to(dtype))


def test_wrong_number_of_columns_or_dims():
    emb = FusedEmbedding(FIELD_DIMS, 4)
    with pytest.raises(ValueError, match="3 columns but there are 4 fields"):
        emb(random_ids(4)[:, :3])
    with pytest.raises(ValueError, match="2-D"):
        emb(torch.zeros(4, dtype=torch.long))


def test_check_ids_can_be_disabled():
    emb = FusedEmbedding(FIELD_DIMS, 4)
    emb.check_ids = False
    ids = torch.zeros(2, 4, dtype=torch.long)
    ids[0, 0] = 3  # out of field 0, silently reads field 1's row 0
    assert torch.equal(emb(ids)[0, 0], emb.table.weight[3])


@pytest.mark.parametrize("dtype", [torch.int32, torch.int16, torch.uint8])
def test_small_int_ids_equal_int64(dtype):
    emb, ids = MultiEmbedding(FIELD_DIMS, [3, 3]), random_ids()
    for out, ref in zip(emb(ids.to(dtype)), emb(ids)):
        assert torch.equal(out, ref)


def test_empty_batch():
    assert FusedEmbedding(FIELD_DIMS, 4)(torch.zeros(0, 4, dtype=torch.long)).shape == (0, 4, 4)


def test_id_above_float32_precision_round_trips():
    big = 2**24 + 10  # float32 cannot tell 2**24 from 2**24 + 1
    emb = FusedEmbedding([3, big], 1, init=nn.init.zeros_)  # 67 MB table
    with torch.no_grad():
        emb.table.weight[3 + 2**24] = -3.0
        emb.table.weight[3 + 2**24 + 1] = 7.0
    ids = torch.tensor([[1, 2**24 + 1], [0, 2**24]], dtype=torch.int64)
    assert emb(ids)[:, 1, 0].tolist() == [7.0, -3.0]
    assert emb(ids.int())[:, 1, 0].tolist() == [7.0, -3.0]


def test_sparse_gradients_and_split():
    emb = MultiEmbedding(FIELD_DIMS, [2, 2], sparse=True)
    sum(e.sum() for e in emb(random_ids())).backward()
    assert emb.table.weight.grad.is_sparse
    sparse, dense = split_sparse_parameters(nn.Sequential(emb, nn.Linear(2, 1)))
    assert sparse == [emb.table.weight] and len(dense) == 2


def test_same_seed_same_weights():
    torch.manual_seed(3)
    first = MultiEmbedding(FIELD_DIMS, [4, 4]).table.weight.detach().clone()
    torch.manual_seed(3)
    assert torch.equal(first, MultiEmbedding(FIELD_DIMS, [4, 4]).table.weight)


@pytest.mark.parametrize("kwargs", [dict(field_dims=[], embedding_dim=2),
                                    dict(field_dims=[3, 0], embedding_dim=2),
                                    dict(field_dims=[3], embedding_dim=0),
                                    dict(field_dims=[3], embedding_dim=2, field_names=["a", "b"])])
def test_bad_construction(kwargs):
    with pytest.raises(ValueError):
        FusedEmbedding(**kwargs)


@pytest.mark.parametrize("sparse", [False, True])
def test_freeze_fields_zeroes_their_rows_gradients(sparse):
    emb = FusedEmbedding([3, 4, 5], 2, sparse=sparse, field_names=["a", "b", "c"])
    emb.freeze_fields(["b"])
    assert emb.frozen_fields == (1,)
    ids = torch.tensor([[0, 1, 2], [2, 3, 4]])
    (emb(ids) ** 2).sum().backward()
    grad = emb.table.weight.grad.to_dense()
    assert grad[3:7].abs().sum() == 0 and grad[:3].abs().sum() > 0 and grad[7:].abs().sum() > 0
    emb.freeze_fields([])  # replaces the hook: nothing frozen
    emb.table.weight.grad = None
    (emb(ids) ** 2).sum().backward()
    assert emb.table.weight.grad.to_dense()[3:7].abs().sum() > 0
    with pytest.raises(ValueError, match="no field named 'z'"):
        emb.freeze_fields(["z"])


def test_gather_matches_nn_embedding_in_rows_and_gradients():
    from minime.embedding import gather
    torch.manual_seed(0)
    ids = torch.randint(0, 7, (64, 5))
    grad = torch.randn(64, 5, 3)
    for options in ({}, {"padding_idx": 0}, {"max_norm": 1.0}, {"sparse": True}):
        table = nn.Embedding(7, 3, **options)
        ref = nn.Embedding(7, 3, **options)
        ref.weight.data.copy_(table.weight.data)
        out, expected = gather(table, ids), ref(ids)
        torch.testing.assert_close(out, expected)
        out.backward(grad)
        expected.backward(grad)
        torch.testing.assert_close(table.weight.grad.to_dense(), ref.weight.grad.to_dense())
    table = nn.Embedding(7, 3)
    assert gather(table, ids).grad_fn.name().startswith("View")  # the fast path on the CPU
    seen = []
    table.register_forward_pre_hook(lambda *args: seen.append(1))
    gather(table, ids)
    assert seen == [1]  # a hooked table is called as a module, so its hooks run
