"""minime.encoders and the CTC tool: MNSE's digits and rows, HashID's neighbourhoods, similarity
buckets, CTC against a direct count (and scikit-learn's mutual information), clear errors."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import mutual_info_score

from minime import analysis, encoders


# ---------------------------------------------------------------- MNSE
def test_digits_of_51_in_bases_2_and_3():
    value = torch.tensor([51])
    assert encoders.digits(value, 2, 6).tolist() == [[1, 1, 0, 0, 1, 1]]  # 110011, LSB first
    assert encoders.digits(value, 3, 6).tolist() == [[0, 2, 2, 1, 0, 0]]  # 001220 (P1 slides)
    for base in (2, 3, 7, 10):  # the digits rebuild every value
        values = torch.arange(0, 500)
        k = encoders.num_digits(499, base)
        rebuilt = (encoders.digits(values, base, k) * base ** torch.arange(k)).sum(1)
        assert torch.equal(rebuilt, values)


def test_num_digits_is_exact_at_powers_of_the_base():
    for base in (2, 3, 10):
        for power in range(1, 12):
            assert encoders.num_digits(base ** power - 1, base) == power
            assert encoders.num_digits(base ** power, base) == power + 1


def test_mnse_rows_are_position_aware_and_never_collide():
    enc = encoders.MNSE(max_value=63, embedding_dim=3, bases=(2, 3))
    binary, ternary = enc.indices(torch.tensor([51]))
    assert binary.tolist() == [[0 * 2 + 1, 1 * 2 + 1, 2 * 2 + 0, 3 * 2 + 0, 4 * 2 + 1, 5 * 2 + 1]]
    assert ternary.tolist() == [[0, 3 + 2, 6 + 2, 9 + 1]]  # k·3 + d, 4 ternary digits
    for base, index in zip(enc.bases, enc.indices(torch.arange(64))):
        k = enc.num_digits[enc.bases.index(base)]
        # each (position, digit) has its own row: row r is position r // b, digit r % b
        assert torch.equal(index // base, torch.arange(k).expand_as(index))
        assert index.max() < enc.tables[enc.bases.index(base)].num_embeddings
        # and the rows identify the value: no two values share all their rows
        assert len({tuple(r) for r in index.tolist()}) == 64


def test_mnse_output_is_the_sum_of_its_rows_then_concat_or_sum():
    torch.manual_seed(0)
    for combine in ("concat", "sum"):
        enc = encoders.MNSE(99, 4, bases=(2, 3), combine=combine)
        out = enc(torch.tensor([51, 7]))
        expected = []
        for v in (51, 7):
            pooled = []
            for b, k, table in zip(enc.bases, enc.num_digits, enc.tables):
                rows = [pos * b + (v // b ** pos) % b for pos in range(k)]
                pooled.append(table.weight[rows].sum(0))
            expected.append(torch.cat(pooled) if combine == "concat" else sum(pooled))
        torch.testing.assert_close(out, torch.stack(expected))
        assert out.shape[-1] == enc.output_dim == (8 if combine == "concat" else 4)


def test_mnse_neighbours_share_more_rows():
    enc = encoders.MNSE(99, 2, bases=(2, 3))

    def shared(a, b):  # rows the two values have in common, over both bases
        return sum(int((i[0] == i[1]).sum()) for i in enc.indices(torch.tensor([a, b])))
    assert shared(50, 51) == 6 + 3 and shared(51, 60) == 3 + 3  # of 7 binary + 5 ternary digits


@pytest.mark.parametrize("values, message", [
    (torch.tensor([-1, 3]), r"value: values must lie in \[0, 99\], got \[-1, 3\]"),
    (torch.tensor([100]), r"values must lie in \[0, 99\]"),
    (torch.tensor([1.0]), "MNSE takes int64"),
])
def test_mnse_refuses_bad_values(values, message):
    with pytest.raises(ValueError, match=message):
        encoders.MNSE(99, 2)(values)
    with pytest.raises(ValueError, match="combine must be"):
        encoders.MNSE(99, 2, combine="mean")


def test_bucketize_names_the_field_on_nan():
    assert encoders.bucketize(torch.tensor([-5.0, 0.5, 7.0]), 0, 1, 4).tolist() == [0, 2, 3]
    with pytest.raises(ValueError, match=r"price: 1 NaN value\(s\), first at flat index 1"):
        encoders.bucketize(torch.tensor([0.1, float("nan")]), 0, 1, 4, name="price")
    with pytest.raises(TypeError, match="age: bucketize takes floating-point"):
        encoders.bucketize(torch.tensor([3]), 0, 1, 4, name="age")


# ---------------------------------------------------------------- HashID
def test_hashid_keeps_neighbourhoods():
    torch.manual_seed(0)
    lsh = encoders.HashID(32, num_bits=24, seed=1)
    x = torch.randn(2000, 32)
    near = x + 0.2 * torch.randn_like(x)  # angle about 0.2 rad
    far = torch.randn_like(x)             # independent: about π/2
    d_near = encoders.hamming(lsh(x), lsh(near)).float()
    d_far = encoders.hamming(lsh(x), lsh(far)).float()
    assert float((d_near < d_far).float().mean()) > 0.95
    # SimHash: each bit differs with probability θ/π
    theta = torch.arccos(torch.nn.functional.cosine_similarity(x, far)).mean()
    assert abs(float(d_far.mean()) / 24 - float(theta) / math.pi) < 0.02
    codes = lsh(x)  # the bits read as a binary number
    assert torch.equal(encoders.digits(codes, 2, 24), lsh.bits(x))


def test_hamming_against_python():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 2 ** 40, 200), rng.integers(0, 2 ** 40, 200)
    got = encoders.hamming(torch.from_numpy(a), torch.from_numpy(b)).tolist()
    assert got == [bin(int(p) ^ int(q)).count("1") for p, q in zip(a, b)]


def test_hashid_refuses_bad_vectors():
    lsh = encoders.HashID(4, 8, name="creative")
    with pytest.raises(ValueError, match=r"creative: expected \(N, 4\) vectors, got \(2, 5\)"):
        lsh(torch.zeros(2, 5))
    bad = torch.zeros(3, 4)
    bad[2, 1] = float("nan")
    with pytest.raises(ValueError, match="creative: 1 row.*NaN or inf, first row 2"):
        lsh(bad)


# ---------------------------------------------------------------- similarity encoding
def test_similarity_buckets_match_numpy():
    rng = np.random.default_rng(0)
    u, v = rng.standard_normal((500, 8)), rng.standard_normal((500, 8))
    cos = (u * v).sum(1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
    expected = np.clip(np.floor((cos + 1) / 2 * 10), 0, 9)
    got = encoders.similarity_buckets(torch.from_numpy(u), torch.from_numpy(v), 10)
    assert got.dtype == torch.int64 and got.tolist() == expected.astype(int).tolist()
    enc = encoders.SimilarityEncoding(10, 3)
    torch.testing.assert_close(enc(torch.from_numpy(u), torch.from_numpy(v)), enc.mnse(got))


def test_similarity_refuses_zero_vectors():
    u = torch.ones(3, 4)
    u[1] = 0
    with pytest.raises(ValueError, match="affinity: 1 user vector.*zero or NaN norm, first row 1"):
        encoders.similarity_buckets(u, torch.ones(3, 4), 8, name="affinity")


# ---------------------------------------------------------------- CTC
def test_binary_mutual_information_matches_sklearn():
    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.random(300) < rng.uniform(0.05, 0.6)
        z = (rng.random(300) < 0.3) ^ (y & (rng.random(300) < rng.uniform(0, 1)))
        mi = analysis.binary_mutual_information((z & y).sum(), (z & ~y).sum(), y.sum(),
                                                (~y).sum())
        assert mi == pytest.approx(mutual_info_score(y, z) / np.log(2), abs=1e-12)
    assert float(analysis.binary_mutual_information(0, 0, 5, 5)) == 0.0  # an empty cell


def test_ctc_map_equals_a_direct_count():
    rng = np.random.default_rng(1)
    n, length = 400, 6
    seq = rng.integers(0, 4, (n, length))
    lengths = rng.integers(0, length + 1, n)
    target = rng.integers(0, 2, n)
    y = (rng.random(n) < 0.2 + 0.5 * (seq[:, 0] == target)).astype(int)
    got = analysis.ctc_map(torch.from_numpy(seq), torch.from_numpy(lengths), torch.from_numpy(y),
                           torch.from_numpy(target), target_category=1, categories=[0, 1, 2, 3],
                           max_position=length)
    rows = [r for r in range(n) if target[r] == 1]
    labels = np.array([y[r] for r in rows])
    for i, c in enumerate([0, 1, 2, 3]):
        for p in range(1, length + 1):
            z = np.array([lengths[r] >= p and seq[r, lengths[r] - p] == c for r in rows])
            assert got[i, p - 1] == pytest.approx(mutual_info_score(labels, z) / np.log(2),
                                                  abs=1e-12)


def test_ctc_map_refuses_bad_lengths():
    seq = torch.zeros(2, 3, dtype=torch.int64)
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, 3\]"):
        analysis.ctc_map(seq, torch.tensor([1, 4]), torch.tensor([0, 1]), torch.tensor([0, 0]),
                         target_category=0, categories=[0], max_position=3)


# ---------------------------------------------------------------- encoders as model fields
def test_encode_field_in_a_model_trains_the_encoder():
    from minime import models
    torch.manual_seed(0)
    model = models.build("dcnv2", [5, 100], "small")
    width = sum(model.embedding.dims)
    mnse = encoders.encode_field(model.embedding, 1, encoders.MNSE(99, width, combine="sum"))
    assert any(n.startswith("embedding.field_encoders.1.encoder.tables.") for n in model.state_dict())
    x = torch.tensor([[1, 51], [2, 50], [0, 7]])
    before = [t.weight.detach().clone() for t in mnse.tables]
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), torch.ones(3, 1))
    loss.backward()
    assert all(t.weight.grad is not None and t.weight.grad.abs().sum() > 0 for t in mnse.tables)
    assert float(model.embedding.table.weight.grad[5:].abs().sum()) == 0  # the age rows: unused
    with pytest.raises(ValueError, match="field 0: id 9 in row 0 is out of range"):
        model(torch.tensor([[9, 3]]))  # the id checks still hold
    assert all(torch.equal(b, t.weight) for b, t in zip(before, mnse.tables))


def test_encode_field_in_a_multi_embedding_model():
    from minime import models
    model = models.build("me_dcnv2", [5, 100], "small", me=models.MEConfig(num_embeddings=2))
    width = sum(model.embedding.dims)
    mnse = encoders.encode_field(model.embedding, 1, encoders.MNSE(99, width // 2))
    sets = model.embedding(torch.tensor([[1, 51]]))
    torch.testing.assert_close(torch.cat([s[:, 1] for s in sets], -1), mnse(torch.tensor([51])))


def test_encode_field_refuses_mismatches():
    from minime.embedding import FusedEmbedding
    emb = FusedEmbedding([5, 100], 4, field_names=["gender", "age"])
    with pytest.raises(ValueError, match="output_dim is 8, the table's width is 4"):
        encoders.encode_field(emb, "age", encoders.MNSE(99, 4))  # concat of 2 bases: 8
    with pytest.raises(ValueError, match="cardinality 100 but the encoder takes values 0..49"):
        encoders.encode_field(emb, "age", encoders.MNSE(49, 4, combine="sum"))
    with pytest.raises(ValueError, match="no field named 'income'"):
        encoders.encode_field(emb, "income", encoders.MNSE(99, 4, combine="sum"))
    with pytest.raises(TypeError, match="has no field encoders"):
        encoders.encode_field(torch.nn.Linear(2, 2), 0, encoders.MNSE(99, 4))


# ---------------------------------------------------------------- TIM, DIN, mean pooling
def _history(seed=0, batch=64, length=6, ids=9):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(0, length + 1, (batch,), generator=g)
    seq = torch.randint(0, ids, (batch, length), generator=g)
    seq = torch.where(encoders.relative_positions(lengths, length) >= 1, seq, ids - 1)  # pad
    return torch.randint(0, ids, (batch,), generator=g), seq, lengths


def test_tim_matches_its_formula():
    torch.manual_seed(0)
    tim = encoders.TargetAttention(9, 5, max_len=6)
    target, seq, lengths = _history()
    got = tim(target, seq, lengths)
    E, P = tim.embedding.weight.detach(), tim.position.weight.detach()
    for b in range(len(target)):
        n = int(lengths[b])
        if n == 0:
            assert torch.equal(got[b], torch.zeros(5))
            continue
        e = E[seq[b, :n]] + P[n - torch.arange(n)]  # positions n, n-1, .., 1
        v = E[target[b]] + P[0]
        alpha = torch.softmax(e @ v / 5 ** 0.5, 0)
        torch.testing.assert_close(got[b], (alpha[:, None] * e * v).sum(0))


@pytest.mark.parametrize("kind", encoders.KINDS)
def test_padding_is_ignored(kind):
    torch.manual_seed(0)
    module = encoders.TargetAttention(9, 4, max_len=6, kind=kind)
    target, seq, lengths = _history(seed=1)
    other = torch.where(encoders.relative_positions(lengths, 6) >= 1, seq,
                        torch.randint(0, 9, seq.shape))  # new ids in every padded slot
    torch.testing.assert_close(module(target, other, lengths), module(target, seq, lengths))
    weights = module.attention(target, seq, lengths)
    assert bool((weights[encoders.relative_positions(lengths, 6) < 1] == 0).all())
    if kind == "tim":
        sums = weights.sum(1)
        torch.testing.assert_close(sums[lengths > 0], torch.ones(int((lengths > 0).sum())))


def test_tim_sees_position_and_din_does_not():
    torch.manual_seed(0)
    target, seq, lengths = torch.tensor([1]), torch.tensor([[1, 2, 2]]), torch.tensor([3])
    swapped = torch.tensor([[2, 2, 1]])  # the same behaviours, the match now most recent
    tim = encoders.TargetAttention(4, 8, max_len=3, kind="tim")
    din = encoders.TargetAttention(4, 8, max_len=3, kind="din")
    assert not torch.allclose(tim(target, seq, lengths), tim(target, swapped, lengths))
    torch.testing.assert_close(din(target, seq, lengths), din(target, swapped, lengths))
    cor = tim.correlation_map(1, range(4), range(1, 4))
    assert cor.shape == (4, 3) and bool((cor > 0).all())


def test_sequence_input_errors_name_the_feature():
    tim = encoders.TargetAttention(5, 4, max_len=3, name="clicks")
    target, ok = torch.tensor([1]), torch.tensor([[1, 2, 0]])
    with pytest.raises(ValueError, match="clicks: sequences of length 4 are longer than max_len=3"):
        tim(target, torch.tensor([[1, 2, 0, 0]]), torch.tensor([2]))
    with pytest.raises(ValueError, match=r"clicks: lengths must lie in \[0, 3\] .*got \[-1, -1\]"):
        tim(target, ok, torch.tensor([-1]))
    with pytest.raises(ValueError, match=r"clicks: ids must lie in \[0, 4\]"):
        tim(target, torch.tensor([[1, 7, 0]]), torch.tensor([2]))
    with pytest.raises(ValueError, match="clicks: sequence must be int64"):
        tim(target, ok.int(), torch.tensor([2]))
    with pytest.raises(ValueError, match="kind must be one of"):
        encoders.TargetAttention(5, 4, max_len=3, kind="transformer")


def test_encode_sequence_makes_the_history_one_field():
    from minime import data, models
    torch.manual_seed(0)
    world = data.make_encoding_world(500, seed=0, seq_len=4)
    names = world.data.field_names
    model = models.build("dcnv2", world.data.field_dims, "small")
    width = sum(model.embedding.dims)
    slots = [names.index(f"seq_{j}") for j in range(4)]  # models.build keeps no field names
    tim = encoders.encode_sequence(
        model.embedding, encoders.TargetAttention(world.config.num_categories + 1, width, 4),
        target=names.index("category"), slots=slots, length=names.index("seq_len"))
    x = world.data.x[:50]
    rows = model.embedding(x)
    assert bool((rows[:, slots] == 0).all())
    torch.testing.assert_close(rows[:, names.index("seq_len")],
                               tim(x[:, 2], x[:, slots], x[:, names.index("seq_len")]))
    assert model(x).shape == (50, 1)
    with pytest.raises(ValueError, match="max_len=3"):
        encoders.encode_sequence(model.embedding, encoders.TargetAttention(11, width, 3),
                                 target=2, slots=slots, length=names.index("seq_len"))


def test_recoded_gives_the_item_field_its_visual_hashid():
    from minime import data, models
    torch.manual_seed(0)
    world = data.make_encoding_world(300, seed=0)
    lsh = encoders.HashID(world.config.visual_dim, num_bits=12, seed=0)
    codes = lsh(torch.from_numpy(world.item_visual).float())
    model = models.build("dnn", world.data.field_dims, "small")
    width = sum(model.embedding.dims)
    enc = encoders.encode_field(model.embedding, 1, encoders.Recoded(
        codes, encoders.MNSE(lsh.max_value, width, bases=(2,))))
    x = world.data.x[:20]
    torch.testing.assert_close(model.embedding(x)[:, 1], enc.encoder(codes[x[:, 1]]))
    with pytest.raises(ValueError, match=r"codes must be a \(V,\) int64 tensor"):
        encoders.Recoded(codes.float(), enc.encoder)
