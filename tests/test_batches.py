"""Tests for minime.data.batches: validation messages, batching, subsets, devices and splits."""

import numpy as np
import pytest
import torch

from minime.data.batches import Batch, Split, TensorData, split_sizes

DIMS = (2, 5, 300)
NAMES = ("gender", "age", "city")


def make_data(num_rows=10, **kwargs):
    """Valid data with a per-row meta column ``row`` = 0 .. N-1, so tests can track rows."""
    rng = np.random.default_rng(0)
    x = np.stack([rng.integers(0, d, num_rows) for d in DIMS], axis=1)
    y = rng.integers(0, 2, (num_rows, 2))
    meta = {"row": torch.arange(num_rows), "score": torch.randn(num_rows, 3)}
    return TensorData(x, y, DIMS, field_names=NAMES, task_names=("click", "like"), meta=meta, **kwargs)


def test_construction_converts_and_names():
    data = TensorData(np.array([[0, 1], [1, 4]], dtype=np.int32), np.array([1, 0], dtype=bool), (2, 5))
    assert data.x.dtype == torch.int64 and data.y.dtype == torch.float32
    assert tuple(data.y.shape) == (2, 1)
    assert data.field_names == ("f0", "f1") and data.task_names == ("task0",)
    assert (data.num_rows, data.num_fields, data.num_tasks, len(data)) == (2, 2, 1, 2)
    assert data.device == torch.device("cpu")
    assert data.y[:, 0].tolist() == [1.0, 0.0]


@pytest.mark.parametrize("x, match", [
    (np.zeros((0, 3), dtype=np.int64), "empty"),
    (np.zeros(3, dtype=np.int64), "2-D"),
    (np.zeros((2, 3), dtype=np.float32), "ids must be integers.*2\\*\\*24"),
    (np.zeros((2, 3), dtype=bool), "ids must be integers"),
    (np.zeros((2, 2), dtype=np.int64), "2 columns but field_dims has 3 fields \\(gender, age, city\\)"),
])
def test_bad_ids_raise(x, match):
    with pytest.raises(ValueError, match=match):
        TensorData(x, np.zeros(len(x)), DIMS, field_names=NAMES)


@pytest.mark.parametrize("value, match", [
    (-1, "field 'city' has id -1 at row 1, outside \\[0, 300\\) \\(its cardinality is 300\\)"),
    (300, "field 'city' has id 300 at row 1"),
])
def test_out_of_range_id_names_field_row_and_cardinality(value, match):
    x = np.zeros((3, 3), dtype=np.int64)
    x[1, 2] = value
    x[2, 2] = value  # only the first offender is reported
    with pytest.raises(ValueError, match=match):
        TensorData(x, np.zeros(3), DIMS, field_names=NAMES)


@pytest.mark.parametrize("y, match", [
    (np.array([[0, 1], [0, np.nan], [1, 1]]), "task 'like' is NaN at row 1"),
    (np.array([[0, 1], [0, 1], [0.5, 1]]), "0 or 1: task 'click' has 0.5 at row 2"),
    (np.array([2, 0, 1]), "0 or 1: task 'task0' has 2.0 at row 0"),
    (np.zeros(4), "x has 3 rows but y has 4"),
])
def test_bad_labels_raise(y, match):
    names = ("click", "like") if y.ndim == 2 else None
    with pytest.raises(ValueError, match=match):
        TensorData(np.zeros((3, 3), dtype=np.int64), y, DIMS, task_names=names)


def test_bad_names_and_meta_raise():
    x, y = np.zeros((3, 3), dtype=np.int64), np.zeros(3)
    with pytest.raises(ValueError, match="field_names has 2 names \\['a', 'b'\\] but the data has 3 fields"):
        TensorData(x, y, DIMS, field_names=("a", "b"))
    with pytest.raises(ValueError, match="task_names has 2 names .* but the data has 1 tasks"):
        TensorData(x, y, DIMS, task_names=("a", "b"))
    with pytest.raises(ValueError, match="meta\\['score'\\] has shape \\(2,\\) but the data has 3 rows"):
        TensorData(x, y, DIMS, meta={"score": np.zeros(2)})


def test_shuffled_batches_cover_every_row_once_and_repeat_per_seed():
    data = make_data(103)
    orders = []
    for seed in (0, 0, 1):
        batches = list(data.batches(10, shuffle=True, generator=torch.Generator().manual_seed(seed)))
        assert [len(b.x) for b in batches] == [10] * 10 + [3]
        index = torch.cat([b.index for b in batches])
        assert sorted(index.tolist()) == list(range(103))
        for b in batches:  # each batch's rows are the rows its index names
            assert torch.equal(b.x, data.x[b.index]) and torch.equal(b.y, data.y[b.index])
        orders.append(index)
    assert torch.equal(orders[0], orders[1]) and not torch.equal(orders[0], orders[2])


def test_ordered_batches_and_drop_last():
    data = make_data(25)
    batches = list(data.batches(10))
    assert isinstance(batches[0], Batch)
    assert torch.equal(torch.cat([b.x for b in batches]), data.x)
    assert torch.cat([b.index for b in batches]).tolist() == list(range(25))
    assert [len(b.y) for b in data.batches(10, drop_last=True)] == [10, 10]
    with pytest.raises(ValueError, match="batch_size"):
        next(data.batches(0))


@pytest.mark.parametrize("index", [
    slice(2, 5), np.array([4, 2, 3]), torch.tensor([4, 2, 3]), [4, 2, 3],
    torch.tensor([False, False, True, True, True, False, False, False, False, False])])
def test_subset_carries_meta(index):
    data = make_data(10)
    sub = data.subset(index)
    rows = sub.meta["row"]
    assert sorted(rows.tolist()) == [2, 3, 4]
    assert torch.equal(sub.x, data.x[rows]) and torch.equal(sub.y, data.y[rows])
    assert torch.equal(sub.meta["score"], data.meta["score"][rows])
    assert sub.field_names == NAMES and sub.task_names == ("click", "like")


def test_subset_rejects_a_mask_of_the_wrong_length():
    with pytest.raises(ValueError, match="bool mask must have shape \\(10,\\)"):
        make_data(10).subset(torch.ones(4, dtype=torch.bool))


def test_to_moves_everything():
    data = make_data(10, name="toy").to("cpu")
    assert data.device == torch.device("cpu") and data.meta["row"].device == torch.device("cpu")
    assert data.name == "toy" and "toy" in repr(data) and "row" in repr(data)


def test_column_by_name_or_index():
    data = make_data(10)
    assert torch.equal(data.column("age"), data.x[:, 1])
    assert torch.equal(data.column(2), data.x[:, 2])
    assert torch.equal(data.column(-1), data.x[:, 2])
    with pytest.raises(ValueError, match="no field named 'zip'; fields are gender, age, city"):
        data.column("zip")
    with pytest.raises(ValueError, match="out of range"):
        data.column(3)


def test_split_sizes_disjoint_sorted_and_seeded():
    data = make_data(1000)
    split = data.split((0.7, 0.2, 0.1), seed=3)
    assert isinstance(split, Split)
    rows = [part.meta["row"] for part in split]
    assert [len(r) for r in rows] == [700, 200, 100]
    assert sorted(torch.cat(rows).tolist()) == list(range(1000))  # disjoint and complete
    assert all(torch.equal(r, r.sort().values) for r in rows)  # original order kept
    assert torch.equal(data.split((0.7, 0.2, 0.1), seed=3).test.meta["row"], rows[2])
    assert not torch.equal(data.split((0.7, 0.2, 0.1), seed=4).test.meta["row"], rows[2])


def test_split_sizes_rounding_and_errors():
    assert split_sizes(10, (0.8, 0.1, 0.1)) == [8, 1, 1]
    assert split_sizes(7, (0.5, 0.5, 0.0)) == [4, 3, 0]
    with pytest.raises(ValueError, match="summing to 1"):
        split_sizes(10, (0.8, 0.1))
    with pytest.raises(ValueError, match="summing to 1"):
        split_sizes(10, (0.8, 0.3, -0.1))


def test_with_tasks_keeps_rows_and_meta_and_picks_label_columns():
    data = make_data(10)
    like = data.with_tasks(["like"])
    assert like.task_names == ("like",) and torch.equal(like.y, data.y[:, [1]])
    assert like.x is data.x and torch.equal(like.meta["row"], data.meta["row"])
    assert like.field_names == NAMES and like.num_tasks == 1
    swapped = data.with_tasks(["like", 0])
    assert swapped.task_names == ("like", "click") and torch.equal(swapped.y, data.y[:, [1, 0]])
    assert data.with_tasks("click").task_names == ("click",)
    assert data.with_tasks(-1).task_names == ("like",)
    assert data.task_names == ("click", "like") and data.num_tasks == 2  # the original is untouched
    assert data.with_tasks("like").subset([0, 1]).y.shape == (2, 1)


@pytest.mark.parametrize("tasks, match", [
    (["buy"], "no task named 'buy'; tasks are click, like"),
    ([2], "task index 2 is out of range for 2 tasks"),
    ([True], "out of range"),
    ([], "one or more distinct tasks"),
    (["click", 0], "one or more distinct tasks"),
])
def test_with_tasks_rejects_unknown_or_repeated_tasks(tasks, match):
    with pytest.raises(ValueError, match=match):
        make_data(10).with_tasks(tasks)
