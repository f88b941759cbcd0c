"""Embeddings, quantizers and ID tables: numpy in, numpy out."""
import numpy as np
import pytest

import semid


def clusters(n=128, d=8, k=8, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * 4
    return (centres[np.arange(n) % k] + 0.05 * rng.normal(size=(n, d))).astype(np.float32)


def test_rq_kmeans_codes():
    x = clusters()
    codes = semid.rq_kmeans(x, levels=2, codebook=8)
    assert codes.shape == (128, 2) and codes.dtype == np.int32
    assert ((codes >= 0) & (codes < 8)).all()
    # the 8 clusters get 8 first codes, and each cluster one of them
    assert len(set(codes[:, 0])) == 8
    for c in range(8):
        assert len(set(codes[c::8, 0])) == 1
    # deterministic under the seed; float64 input is converted
    assert (semid.rq_kmeans(x.astype(np.float64), levels=2, codebook=8) == codes).all()


def test_quantizer_fit_encode_reconstruct_save_load(tmp_path):
    x = clusters(seed=1)
    q = semid.Quantizer.fit(x, levels=3, codebook=8, threads=2)
    assert (q.method, q.levels, q.dim, q.level_sizes) == ("rqkmeans", 3, 8, [8, 8, 8])
    codes = q.encode(x)
    errs = [float(((q.reconstruct(codes, levels=l) - x) ** 2).sum(1).mean()) for l in (1, 2, 3)]
    assert errs[0] >= errs[1] >= errs[2]
    assert q.encode(x[0]).shape == (1, 3)  # one vector is one row
    q.save(tmp_path / "q.tok")
    assert (semid.Quantizer.load(tmp_path / "q.tok").encode(x) == codes).all()
    with pytest.raises(semid.SemidError):
        q.encode(x[:, :4])
    with pytest.raises(ValueError):
        q.reconstruct(codes[:, :2])
    with pytest.raises(semid.SemidError, match="no-such"):
        semid.Quantizer.fit(x, method="no-such")
    bad = x.copy()
    bad[3, 2] = np.nan
    with pytest.raises(semid.SemidError):
        semid.Quantizer.fit(bad, codebook=8)
    with pytest.raises(ValueError, match="2-D"):
        semid.Quantizer.fit(x[0])


def test_embeddings_roundtrip_topk_fuse(tmp_path):
    x = clusters(n=32, d=6)
    ids = ["i%d" % i for i in range(32)]
    e = semid.Embeddings(x, ids)
    assert e.shape == (32, 6) and len(e) == 32
    assert (e.array == x).all() and (np.asarray(e) == x).all()
    assert e.ids == ids
    assert semid.Embeddings(x).ids is None
    e.save(tmp_path / "e.npy", tmp_path / "e.txt")
    assert np.load(tmp_path / "e.npy").shape == (32, 6)  # numpy reads what semid writes
    back = semid.Embeddings.load(tmp_path / "e.npy", tmp_path / "e.txt")
    assert (back.array == x).all() and back.ids == ids
    np.save(tmp_path / "mine.npy", x.astype(np.float64))  # and semid reads what numpy writes
    assert np.allclose(semid.Embeddings.load(tmp_path / "mine.npy").array, x)
    items, scores = e.topk(x[:4], k=3)
    assert items.shape == (4, 3) and (np.diff(scores, axis=1) <= 0).all()
    exact = np.argsort(-(x[:4] @ x.T), axis=1, kind="stable")[:, :3]
    assert (np.sort(items, 1) == np.sort(exact, 1)).all() or np.allclose(
        np.take_along_axis(x[:4] @ x.T, items, 1), np.take_along_axis(x[:4] @ x.T, exact, 1), atol=1e-4)
    assert semid.fuse(e, e, "concat").shape == (32, 12)
    with pytest.raises(semid.SemidError, match="concat"):
        semid.fuse(e, e, "mean")
    with pytest.raises(semid.SemidError, match="'i1'"):
        semid.Embeddings(x, ["i1"] * 32)
    with pytest.raises(ValueError):
        semid.Embeddings(x, ids[:3])


def test_embed_methods(dataset):
    c = semid.embed(dataset, "content")
    assert c.shape[0] == dataset.n_items and c.ids == dataset.item_ids
    assert np.allclose(np.linalg.norm(c.array, axis=1), 1, atol=1e-4)
    r = semid.embed(dataset, "rec", dim=8, epochs=2, threads=1)
    assert r.shape == (dataset.n_items, 8)
    s = semid.embed(dataset, "search", dim=16, epochs=1)
    assert s.shape == (dataset.n_items, 16)
    with pytest.raises(semid.SemidError, match="unknown method 'bert'"):
        semid.embed(dataset, "bert")


def test_align(dataset, content):
    order = np.arange(dataset.n_items)[::-1]
    shuffled = semid.Embeddings(content.array[order], [dataset.item_ids[i] for i in order])
    aligned = shuffled.align(dataset)
    assert (aligned.array == content.array).all() and aligned.ids == dataset.item_ids
    with pytest.raises(semid.SemidError, match="no row"):
        semid.Embeddings(content.array[:5], dataset.item_ids[:5]).align(dataset)


def test_id_table(dataset, ids, content, tmp_path):
    assert (ids.strategy, ids.method, ids.n_items, ids.n_tasks, ids.n_levels) == ("content", "rqkmeans", 60, 1, 3)
    assert ids.item_ids == dataset.item_ids
    codes, tokens = ids.codes(), ids.tokens("rec")
    assert codes.shape == tokens.shape == (60, 3)
    assert (tokens == ids.tokens("search")).all()  # one task: shared IDs
    assert ids.collisions() == {"distinct_ids": 60, "colliding_items": 0, "max_items_per_id": 1, "rate": 0.0}
    assert ids.level_sizes()[:2] == [8, 8]
    q = ids.quantizer()
    assert q.levels == 2 and (q.encode(content.array) == codes[:, :2]).all()
    new = ids.encode_new(content.array[:3])
    assert (new[:, :2] == tokens[:3, :2]).all()
    ids.save(tmp_path / "ids.json")
    ids.export_tsv(tmp_path / "ids.tsv")
    assert (tmp_path / "ids.tsv").read_text().startswith("item_id\ttask\ttokens\n")
    loaded = semid.IDTable.load(tmp_path / "ids.json")
    assert loaded.fingerprint == ids.fingerprint and (loaded.codes() == codes).all()
    assert loaded.quantizer() is None
    with pytest.raises(semid.SemidError, match="pass the one that built it"):
        loaded.encode_new(content.array[:1])
    assert (loaded.encode_new(content.array[:3], quantizer=q) == new).all()
    with pytest.raises(ValueError):
        ids.codes("both")


def test_separate_ids_from_arrays():
    s, r = clusters(n=64, d=8, seed=2), clusters(n=64, d=4, seed=3)
    t = semid.build_ids(s, r, codebook=4)
    assert (t.strategy, t.n_tasks) == ("separate", 2)
    assert not set(t.tokens("search").ravel()) & set(t.tokens("rec").ravel())
    assert t.quantizer("rec").dim == 4
    with pytest.raises(semid.SemidError, match="unknown strategy"):
        semid.build_ids(s, strategy="best")
