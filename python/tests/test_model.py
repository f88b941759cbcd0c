"""Training, and a model bundle's batched search, recommendation and evaluation."""
import numpy as np
import pytest

import semid
from conftest import TINY


def test_bundle_items(bundle, dataset):
    assert len(bundle) == bundle.n_items == dataset.n_items
    assert bundle.item_ids == dataset.item_ids
    assert bundle.titles == dataset.titles
    assert bundle.item_index(dataset.item_ids[5]) == 5
    assert bundle.item_id(5) == dataset.item_ids[5]
    with pytest.raises(IndexError):
        bundle.item_id(10 ** 6)


def test_search_batches(bundle, dataset):
    queries = [q for q, _, _ in dataset.queries("test")[:5]]
    items, scores = bundle.search(queries, k=7)
    assert items.shape == scores.shape == (5, 7)
    assert items.dtype == np.int32 and scores.dtype == np.float32
    assert ((items >= 0) & (items < 60)).all()
    assert all(len(set(row)) == 7 for row in items)
    assert (np.diff(scores, axis=1) <= 0).all()
    one = np.vstack([bundle.search(q, k=7, threads=2)[0] for q in queries])
    assert (one == items).all()  # one at a time, other threads: the same
    ids = bundle.ids_of(items)
    assert ids[0] == [dataset.item_ids[i] for i in items[0]]
    many, _ = bundle.search("space", k=100, beam=100)
    assert (many[0, :60] >= 0).all() and (many[0, 60:] == -1).all()
    d_items, _ = bundle.search(queries[:2], k=5, diverse=True)
    assert d_items.shape == (2, 5)
    assert bundle.search([], k=3)[0].shape == (0, 3)
    with pytest.raises(semid.SemidError, match="k 0"):
        bundle.search(queries, k=0)


def test_recommend(bundle, dataset):
    hist = [dataset.user_items(u)[:6] for u in range(3)]
    items, scores = bundle.recommend(hist, k=5, exclude_history=True)
    assert items.shape == (3, 5)
    for row, h in zip(items, hist):
        assert not set(row) & set(h)
    by_id, _ = bundle.recommend([[dataset.item_ids[i] for i in h] for h in hist], k=5, exclude_history=True)
    assert (by_id == items).all()
    empty, _ = bundle.recommend([[]], k=5)
    assert (empty >= 0).all()
    with pytest.raises(semid.SemidError, match="100000"):
        bundle.recommend([[100000]], k=5)
    with pytest.raises(semid.SemidError):
        bundle.recommend([["no-such-item"]])


def test_evaluate(bundle, dataset):
    r = bundle.evaluate(dataset, k=10, threads=2)
    assert r["k"] == 10
    assert r["search"]["n"] == len(dataset.queries("test"))
    assert r["rec_head"]["n"] + r["rec_torso"]["n"] == r["rec"]["n"] > 0
    for part in ("search", "rec"):
        assert 0 <= r[part]["ndcg"] <= r[part]["recall"] <= 1
    with pytest.raises(semid.SemidError, match="'test' or 'valid'"):
        bundle.evaluate(dataset, split="train")


def test_trainer_in_two_runs_equals_one(dataset, ids, model_dir, tmp_path):
    t = semid.Trainer(dataset, ids, tmp_path / "m", **TINY)
    assert not t.done
    first = t.run(steps=3)
    assert first["steps"] == 3 and first["total_steps"] > 3 and not t.done
    last = t.run()
    assert t.done and last["steps"] == last["total_steps"] and last["epochs_done"] == 2
    a = semid.Bundle(tmp_path / "m").search(["a crime story"], k=5)
    b = semid.Bundle(model_dir).search(["a crime story"], k=5)
    assert (a[0] == b[0]).all() and np.array_equal(a[1], b[1])


def test_train_errors(dataset, ids, tmp_path):
    other = semid.Dataset.synth(items=30, users=40, mean_history=6, min_history=4, topics=3, queries_per_item=0)
    with pytest.raises(semid.SemidError, match="60 items but the dataset 30"):
        semid.train(other, ids, tmp_path / "x", **TINY)
    with pytest.raises(semid.SemidError):
        semid.train(dataset, ids, tmp_path / "y", **dict(TINY, layers=0))
    with pytest.raises(TypeError):
        semid.train(dataset, ids, tmp_path / "z", layer=1)
    with pytest.raises(semid.SemidError) as e:
        semid.Bundle(tmp_path / "nothing-here")
    assert "nothing-here" in str(e.value)
