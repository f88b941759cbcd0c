"""libsemid.so exports the public API and nothing else, and the binding
declares every function of it (so neither can drift from the headers)."""
import glob
import os
import re
import shutil
import subprocess

import pytest

import semid
from semid import _lib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
NOT_BOUND = {"semid_set_log_callback"}  # C callbacks from library threads: not offered to Python


def declared():
    names = set()
    for h in glob.glob(os.path.join(ROOT, "include", "semid", "*.h")):
        text = open(h, encoding="utf-8").read()
        names |= set(re.findall(r"SEMID_API\s+[^;{}()]*?\b(semid_\w+)\s*\(", text))
    return names


def exported():
    nm = shutil.which("nm")
    if not nm:
        pytest.skip("nm (binutils) is not installed")
    out = subprocess.run([nm, "-D", "--defined-only", _lib.lib._name], check=True, capture_output=True,
                         text=True).stdout
    funcs = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TtWi" and not parts[2].startswith(".gomp_critical_user_"):
            funcs.add(parts[2])
        elif len(parts) == 3 and parts[1] in "BDGRS" and not parts[2].startswith(".gomp_critical_user_"):
            funcs.add(parts[2])  # no data is part of the API either
    return funcs


def test_headers_declare_the_api():
    names = declared()
    assert {"semid_last_error", "semid_data_import", "semid_search", "semid_quantizer_fit"} <= names
    assert len(names) > 80


def test_library_exports_exactly_the_public_api():
    assert exported() == declared()


def test_binding_covers_the_api():
    assert declared() - set(_lib._SIGNATURES) == NOT_BOUND
    assert set(_lib._SIGNATURES) <= declared()


def test_option_structs_match_the_c_defaults():
    # Field for field: a layout mismatch would show up as wrong defaults.
    o = _lib.lib.semid_train_opts_default()
    assert (o.layers, o.heads, o.dim, o.history_window, o.epochs, o.patience, o.min_epochs, o.batch, o.seed,
            o.valid_sample, o.valid_k, o.resume, o.verbose, o.threads, o.bf16) == (4, 4, 128, 20, 10, 0, 0, 64, 1, 500, 10, 0, 0, 0, 0)
    assert abs(o.lr - 1e-3) < 1e-9 and abs(o.weight_decay - 0.01) < 1e-9 and o.word_vectors is None
    q = _lib.lib.semid_quantizer_opts_default()
    assert (q.method, q.levels, q.codebook, q.iters, q.beam, q.seed, q.verbose, q.threads) == (
        b"rqkmeans", 2, 256, 0, 1, 1234, 0, 0)
    i = _lib.lib.semid_ids_opts_default()
    assert (i.strategy, i.method, i.levels, i.codebook, i.seed, i.disambiguate, i.threads) == (
        b"search", b"rqkmeans", 2, 256, 1234, 0, 0)
    d = _lib.lib.semid_decode_opts_default()
    assert (d.k, d.beam, d.diverse, d.exclude_history, d.threads, d.expand_prefix) == (10, 30, 0, -1, 0, 0.0)
    s = _lib.lib.semid_synth_opts_default()
    assert (s.n_items, s.n_users, s.mean_history, s.min_history, s.n_topics, s.queries_per_item, s.queries_train,
            s.queries_valid, s.seed) == (1200, 3000, 30.0, 5, 24, 20, 10, 0, 1)
    e = _lib.lib.semid_embed_opts_default()
    assert (e.dim, e.epochs, e.batch, e.lr, e.seed, e.word_vectors, e.threads) == (0, 0, 0, 0.0, 42, None, 0)
    m = _lib.lib.semid_import_opts_default()
    assert m.format == b"auto" and m.min_rating == float("-inf") and m.descriptions_path is None
    qo = _lib.lib.semid_query_opts_default()
    assert (qo.per_item, qo.train, qo.valid, qo.append, qo.seed) == (20, 10, 0, 0, 1)


def test_version_matches_the_header():
    text = open(os.path.join(ROOT, "include", "semid", "semid.h"), encoding="utf-8").read()
    assert '"%s"' % semid.version() in text
