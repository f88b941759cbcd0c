"""Datasets: synthesise, import, queries, save/load, accessors, errors."""
import numpy as np
import pytest

import semid
from conftest import small_dataset


def test_version():
    assert semid.version() == semid.__version__
    assert semid.version().count(".") == 2


def test_threads_are_per_thread_settings():
    semid.set_threads(3)
    assert semid.get_threads() == 3
    semid.set_threads(0)
    assert semid.get_threads() >= 1


def test_synth_and_accessors(dataset):
    assert len(dataset) == dataset.n_items == 60
    assert 0 < dataset.n_users <= 80
    assert dataset.name == "synthetic"
    ids = dataset.item_ids
    assert len(set(ids)) == 60
    assert all(dataset.item_index(i) == k for k, i in enumerate(ids))
    assert dataset.item_index("no such id") == -1
    item = dataset.item(0)
    assert set(item) == {"id", "title", "year", "genres", "description"}
    assert item["title"] == dataset.titles[0]
    total = 0
    for u in range(dataset.n_users):
        h = dataset.user_items(u)
        assert h.dtype == np.int32 and len(h) >= 1
        assert ((h >= 0) & (h < 60)).all()
        total += len(h)
    assert total == dataset.n_interactions
    assert len(dataset.user_ids) == dataset.n_users
    qs = dataset.queries()
    assert len(qs) == dataset.n_queries == 180
    assert len(dataset.queries("train")) == 120 and len(dataset.queries("test")) == 60
    text, item, split = qs[0]
    assert isinstance(text, str) and 0 <= item < 60 and split in ("train", "test")
    with pytest.raises(IndexError):
        dataset.item(60)
    with pytest.raises(IndexError):
        dataset.user_items(-1)
    assert "60 items" in repr(dataset)


def test_synth_is_deterministic():
    a, b = small_dataset(3), small_dataset(3)
    assert a.titles == b.titles and a.n_interactions == b.n_interactions


def test_save_load(dataset, tmp_path):
    p = tmp_path / "ds.sdd"
    dataset.save(p)
    with semid.Dataset.load(str(p)) as d:
        assert d.item_ids == dataset.item_ids
        assert d.n_interactions == dataset.n_interactions
        assert d.queries() == dataset.queries()
    with pytest.raises(ValueError, match="closed"):
        d.n_items


def test_import_generic_and_queries(tmp_path):
    (tmp_path / "items.tsv").write_text(
        "item_id\ttitle\tyear\tgenres\tdescription\n"
        "a\tSpace Saga\t1999\tSci-Fi\tAliens invade a distant planet.\n"
        "b\tHeist Night\t2004\tCrime\tA crew plans one last robbery.\n"
        "c\tLove in Paris\t2010\tRomance\tTwo strangers meet in Paris.\n")
    (tmp_path / "interactions.tsv").write_text(
        "user_id\titem_id\ttimestamp\trating\nu1\ta\t1\t5\nu1\tb\t2\t2\nu2\tb\t1\t5\nu2\tc\t2\t4\n")
    d = semid.Dataset.import_(tmp_path)
    assert (d.n_items, d.n_users, d.n_interactions) == (3, 2, 4)
    assert d.item(d.item_index("a"))["year"] == 1999
    assert d.n_queries == 0
    d.make_queries(per_item=4, train=3)
    assert d.n_queries == 12
    assert len(d.queries("test")) == 3
    d.make_queries(per_item=2, train=1, append=True)
    assert d.n_queries == 18
    d2 = semid.Dataset.import_(str(tmp_path), format="generic", min_rating=3)
    assert d2.n_interactions == 3


def test_errors_carry_semid_messages(tmp_path):
    with pytest.raises(semid.SemidError) as e:
        semid.Dataset.load(tmp_path / "missing.sdd")
    assert "missing.sdd" in str(e.value)
    assert e.value.status == "ENOTFOUND"
    (tmp_path / "items.tsv").write_text("item_id\ttitle\na\tA\n")
    (tmp_path / "interactions.tsv").write_text("user_id\titem_id\ttimestamp\nu1\ta\tsoon\n")
    with pytest.raises(semid.SemidError) as e:
        semid.Dataset.import_(tmp_path)
    assert e.value.status == "EPARSE" and "interactions.tsv:2" in e.value.message
    with pytest.raises(semid.SemidError, match="n_items|items"):
        semid.Dataset.synth(items=0)
    with pytest.raises(semid.SemidError, match="per_item"):
        small_dataset().make_queries(per_item=2, train=5)
