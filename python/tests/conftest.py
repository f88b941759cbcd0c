"""Shared fixtures: the package from this source tree, a small synthetic
dataset, an ID table and a tiny model trained once per session."""
import os
import sys

import pytest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir)))

import semid  # noqa: E402

semid.set_log_level("error")

TINY = dict(layers=1, dim=16, heads=2, epochs=2, batch=16, valid_sample=10, threads=1)


def small_dataset(seed=7):
    return semid.Dataset.synth(items=60, users=80, mean_history=8, min_history=5, topics=4, queries_per_item=3,
                               queries_train=2, seed=seed)


@pytest.fixture(scope="session")
def dataset():
    return small_dataset()


@pytest.fixture(scope="session")
def content(dataset):
    return semid.embed(dataset, "content")


@pytest.fixture(scope="session")
def ids(dataset, content):
    return semid.build_ids(content, dataset=dataset, strategy="content", codebook=8, disambiguate=True)


@pytest.fixture(scope="session")
def model_dir(dataset, ids, tmp_path_factory):
    d = tmp_path_factory.mktemp("model") / "bundle"
    semid.train(dataset, ids, d, **TINY)
    return d


@pytest.fixture(scope="session")
def bundle(model_dir):
    return semid.Bundle(model_dir)
