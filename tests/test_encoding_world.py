"""minime.data.make_encoding_world: seeded, int64 columns, padded histories, the planted terms,
and a CTC map that finds the planted semantic × temporal pattern."""

import numpy as np
import pytest
import torch

from minime import analysis, data


@pytest.fixture(scope="module")
def world():
    return data.make_encoding_world(100_000, seed=0)


def test_columns_are_int64_padded_and_seeded(world):
    c, x = world.config, world.data.x
    assert x.dtype == torch.int64 and world.data.field_names[-1] == "seq_len"
    lengths, seq = world.lengths, world.sequences
    assert int(lengths.min()) >= 1 and int(lengths.max()) == c.seq_len
    slots = torch.arange(c.seq_len)
    assert bool(((seq == c.num_categories) == (slots >= lengths[:, None])).all())  # pad = C
    assert torch.equal(x[:, 2], torch.from_numpy(world.item_category)[x[:, 1]])
    again = data.make_encoding_world(100_000, seed=0)
    assert torch.equal(again.data.x, x) and torch.equal(again.data.y, world.data.y)
    assert not torch.equal(data.make_encoding_world(100_000, seed=1).data.x, x)


def test_logit_is_the_sum_of_its_terms_at_the_base_rate(world):
    z = world.logits
    parts = sum(world.parts.values())
    assert np.allclose(z - parts, (z - parts)[0])  # one bias
    assert abs(float(world.data.y.mean()) - world.config.base_rate) < 0.01
    y = world.data.y[:, 0].numpy()
    assert y[z > np.quantile(z, 0.9)].mean() > 2 * y[z < np.quantile(z, 0.1)].mean()
    ages = world.data.x[:, 3].numpy()
    assert (ages > 80).mean() < 1e-3  # the old are rare: the tail MNSE must reach


def test_ctc_finds_the_planted_history_pattern(world):
    ctc = analysis.ctc_map(world.sequences, world.lengths, world.data.y[:, 0], world.data.x[:, 2],
                           target_category=3, categories=range(world.config.num_categories),
                           max_position=world.config.seq_len)
    same, others = ctc[3], np.delete(ctc, 3, axis=0)
    assert (same[:3] > others[:, :3].max(axis=0)).all()  # the target's category, recent: highest
    assert same[:3].mean() > 1.5 * same[-3:].mean()  # and it decays with position


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="num_categories >= 2"):
        data.make_encoding_world(10, num_categories=1)


def test_new_rows_of_the_same_world():
    world = data.make_encoding_world(2000, seed=3)
    test = data.make_encoding_world(2000, seed=3, rows_seed=99, bias=world.bias,
                                    age_sampling="uniform")
    assert test.bias == world.bias and np.array_equal(test.item_visual, world.item_visual)
    assert np.array_equal(test.age_effect, world.age_effect)
    assert not torch.equal(test.data.x, world.data.x)
    ages = test.data.x[:, 3].numpy()
    assert ages.min() <= 5 and ages.max() >= 94  # uniform: the tails are there
    with pytest.raises(ValueError, match="age_sampling must be"):
        data.make_encoding_world(10, age_sampling="zipf")


def test_age_shapes():
    rise = data.make_encoding_world(100, seed=0)  # the default
    assert (np.diff(rise.age_effect) > 0).all()  # a rise: older, likelier
    wave = data.make_encoding_world(100, seed=0, age_shape="wave")
    assert (np.diff(wave.age_effect) > 0).any() and (np.diff(wave.age_effect) < 0).any()
    with pytest.raises(ValueError, match="age_shape must be"):
        data.make_encoding_world(10, age_shape="zigzag")
