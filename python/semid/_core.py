"""The binding's classes and functions (re-exported by semid/__init__.py)."""
import ctypes
import os
from ctypes import POINTER, byref, c_char_p, c_float, c_int32, c_int64, c_void_p

import numpy as np

from . import _lib
from ._lib import lib

SEARCH = 0
RECOMMEND = 1

_LOG_LEVELS = {"debug": 0, "info": 1, "warn": 2, "warning": 2, "error": 3, "quiet": 4}


class SemidError(Exception):
    """A semid call failed. `status` is the short status name ("EPARSE", "ENOTFOUND", ...),
    `code` its number and the message is semid's own (semid_last_error())."""

    def __init__(self, code, message):
        self.code = int(code)
        self.status = _lib.STATUS_NAMES[code] if 0 <= code < len(_lib.STATUS_NAMES) else "UNKNOWN"
        self.message = message
        super().__init__("%s (%s)" % (message, self.status) if message else self.status)


def _check(st):
    if st != 0:
        raise SemidError(st, _str(lib.semid_last_error()))


def _bytes(s):
    if s is None:
        return None
    if isinstance(s, bytes):
        return s
    if isinstance(s, os.PathLike):
        return os.fsencode(s)
    return str(s).encode("utf-8")


def _str(b):
    return None if b is None else b.decode("utf-8", errors="replace")


def _task(task):
    if task in (SEARCH, "search"):
        return SEARCH
    if task in (RECOMMEND, "rec", "recommend", "recommendation"):
        return RECOMMEND
    raise ValueError("task must be 'search' or 'rec', not %r" % (task,))


def _matrix(x, name, allow_1d=False):
    """x as a C-contiguous float32 2-D array (a 1-D one as one row when allowed)."""
    a = np.ascontiguousarray(x, dtype=np.float32)
    if a.ndim == 1 and allow_1d:
        a = a.reshape(1, -1)
    if a.ndim != 2:
        raise ValueError("%s must be a 2-D array (rows x dims), not %d-D" % (name, a.ndim))
    return a


def _fptr(a):
    return a.ctypes.data_as(POINTER(c_float))


def _iptr(a):
    return a.ctypes.data_as(POINTER(c_int32))


def version():
    """The version of the libsemid.so loaded ("0.3.0")."""
    return _str(lib.semid_version())


def set_threads(n):
    """Threads for semid calls made from this Python thread (0 = all cores / OMP_NUM_THREADS).
    Calls that take threads= use that for the call only."""
    lib.semid_set_threads(int(n))


def get_threads():
    return lib.semid_get_threads()


def set_log_level(level):
    """'debug', 'info' (the default), 'warn', 'error' or 'quiet': what semid writes to stderr."""
    lib.semid_set_log_level(_LOG_LEVELS[level] if isinstance(level, str) else int(level))


class _Handle:
    """Owns one C handle; freed by close(), `with`, or garbage collection."""
    _free = None

    def __init__(self, ptr, owner=None):
        self._ptr = ptr
        self._owner = owner  # a handle this one borrows from (kept alive), or None when owned

    @property
    def _h(self):
        if not self._ptr:
            raise ValueError("%s is closed" % type(self).__name__)
        return self._ptr

    def close(self):
        if self._ptr and self._owner is None and self._free is not None:
            type(self)._free(self._ptr)
        self._ptr = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _new(create, *args):
    p = c_void_p()
    _check(create(*args, byref(p)))
    return p


def _opts(default, **fields):
    o = default()
    for k, v in fields.items():
        if v is None:
            continue
        setattr(o, k, _bytes(v) if isinstance(v, (str, os.PathLike)) else v)
    return o


# ---------------------------------------------------------------- datasets


class Dataset(_Handle):
    """Items with text, users' chronological histories and search queries.

    Make one with Dataset.import_(path), Dataset.synth(...) or Dataset.load(file.sdd)."""
    _free = staticmethod(lib.semid_data_free)

    @classmethod
    def import_(cls, path, format="auto", min_rating=None, user_core=0, item_core=0, keep_uninteracted=False,
                lenient=False, descriptions=None, queries=None):
        """Imports MovieLens (1M, 100K, CSV), RecBole or the generic TSV layout (docs/formats.md)."""
        o = _opts(lib.semid_import_opts_default, format=format, min_rating=min_rating, user_core=user_core,
                  item_core=item_core, keep_uninteracted=int(bool(keep_uninteracted)), lenient=int(bool(lenient)),
                  descriptions_path=descriptions, queries_path=queries)
        return cls(_new(lib.semid_data_import, _bytes(path), byref(o)))

    @classmethod
    def synth(cls, items=1200, users=3000, mean_history=30.0, min_history=5, topics=24, queries_per_item=20,
              queries_train=10, queries_valid=0, seed=1):
        """The built-in synthetic catalog (movie-like items, users, queries); no download."""
        o = _opts(lib.semid_synth_opts_default, n_items=items, n_users=users, mean_history=float(mean_history),
                  min_history=min_history, n_topics=topics, queries_per_item=queries_per_item,
                  queries_train=queries_train, queries_valid=queries_valid, seed=seed)
        return cls(_new(lib.semid_data_synth, byref(o)))

    @classmethod
    def load(cls, path):
        return cls(_new(lib.semid_data_load, _bytes(path)))

    def save(self, path):
        _check(lib.semid_data_save(self._h, _bytes(path)))

    def make_queries(self, per_item=20, train=10, valid=0, append=False, seed=1):
        """Generates search queries for every item from its metadata (replacing the present ones
        unless append)."""
        o = _opts(lib.semid_query_opts_default, per_item=per_item, train=train, valid=valid,
                  append=int(bool(append)), seed=seed)
        _check(lib.semid_data_make_queries(self._h, byref(o)))

    @property
    def name(self):
        return _str(lib.semid_data_name(self._h))

    @property
    def n_items(self):
        return lib.semid_data_n_items(self._h)

    @property
    def n_users(self):
        return lib.semid_data_n_users(self._h)

    @property
    def n_interactions(self):
        return lib.semid_data_n_interactions(self._h)

    @property
    def n_queries(self):
        return lib.semid_data_n_queries(self._h)

    def __len__(self):
        return self.n_items

    @property
    def item_ids(self):
        return [_str(lib.semid_data_item_id(self._h, i)) for i in range(self.n_items)]

    @property
    def titles(self):
        return [_str(lib.semid_data_item_title(self._h, i)) for i in range(self.n_items)]

    def item(self, i):
        """Item i's metadata as a dict (id, title, year, genres, description)."""
        h = self._h
        if not 0 <= i < self.n_items:
            raise IndexError("item %d outside 0..%d" % (i, self.n_items - 1))
        return {"id": _str(lib.semid_data_item_id(h, i)), "title": _str(lib.semid_data_item_title(h, i)),
                "year": lib.semid_data_item_year(h, i), "genres": _str(lib.semid_data_item_genres(h, i)),
                "description": _str(lib.semid_data_item_description(h, i))}

    def item_index(self, item_id):
        """Index of an item by its original id, or -1."""
        return lib.semid_data_item_index(self._h, _bytes(item_id))

    @property
    def user_ids(self):
        return [_str(lib.semid_data_user_id(self._h, u)) for u in range(self.n_users)]

    def user_items(self, user):
        """User's items (indices), oldest first, as an int32 array."""
        if not 0 <= user < self.n_users:
            raise IndexError("user %d outside 0..%d" % (user, self.n_users - 1))
        n = c_int64()
        p = lib.semid_data_user_items(self._h, user, byref(n))
        return np.ctypeslib.as_array(p, shape=(n.value,)).copy() if n.value else np.zeros(0, np.int32)

    def queries(self, split=None):
        """[(text, item index, split)] with split 'train', 'valid' or 'test' (all, or only `split`)."""
        names = ("train", "valid", "test")
        item, sp = c_int32(), c_int32()
        result = []
        for q in range(self.n_queries):
            text = _str(lib.semid_data_query(self._h, q, byref(item), byref(sp)))
            s = names[sp.value] if 0 <= sp.value < 3 else str(sp.value)
            if split is None or s == split:
                result.append((text, item.value, s))
        return result

    def __repr__(self):
        return "<semid.Dataset %r: %d items, %d users, %d interactions, %d queries>" % (
            self.name, self.n_items, self.n_users, self.n_interactions, self.n_queries)


# ---------------------------------------------------------------- embeddings


class Embeddings(_Handle):
    """Item vectors (float32, rows x dims), optionally named by item ids.

    Embeddings(array, ids=None) copies a numpy array; embed(dataset, method) computes them."""
    _free = staticmethod(lib.semid_embeddings_free)

    def __init__(self, array=None, ids=None, _ptr=None):
        if _ptr is not None:
            super().__init__(_ptr)
            return
        a = _matrix(array, "array")
        c_ids = None
        if ids is not None:
            ids = [_bytes(i) for i in ids]
            if len(ids) != a.shape[0]:
                raise ValueError("%d ids for %d rows" % (len(ids), a.shape[0]))
            c_ids = (c_char_p * len(ids))(*ids)
        super().__init__(_new(lib.semid_embeddings_create, _fptr(a), a.shape[0], a.shape[1], c_ids))

    @classmethod
    def _wrap(cls, ptr):
        return cls(_ptr=ptr)

    @classmethod
    def load(cls, npy_path, ids_path=None):
        """A .npy file (float32 or float64) and optionally its id list (one id a line)."""
        return cls._wrap(_new(lib.semid_embeddings_load, _bytes(npy_path), _bytes(ids_path)))

    def save(self, npy_path, ids_path=None):
        _check(lib.semid_embeddings_save(self._h, _bytes(npy_path), _bytes(ids_path)))

    @property
    def shape(self):
        return (lib.semid_embeddings_rows(self._h), lib.semid_embeddings_cols(self._h))

    def __len__(self):
        return self.shape[0]

    @property
    def array(self):
        """A copy of the vectors as a float32 numpy array."""
        rows, cols = self.shape
        return np.ctypeslib.as_array(lib.semid_embeddings_data(self._h), shape=(rows, cols)).copy()

    def __array__(self, dtype=None):
        a = self.array
        return a if dtype is None else a.astype(dtype)

    @property
    def ids(self):
        """The item id of each row, or None."""
        h = self._h
        if lib.semid_embeddings_item_id(h, 0) is None:
            return None
        return [_str(lib.semid_embeddings_item_id(h, r)) for r in range(self.shape[0])]

    def align(self, dataset):
        """The rows reordered into the dataset's item order, by their ids."""
        return Embeddings._wrap(_new(lib.semid_embeddings_align, self._h, dataset._h))

    def topk(self, queries, k=10, threads=0):
        """Exact top-k rows by dot product for each query: (items int32 (n, k), scores float32 (n, k))."""
        q = _matrix(queries, "queries", allow_1d=True)
        items = np.empty((q.shape[0], k), np.int32)
        scores = np.empty((q.shape[0], k), np.float32)
        if q.shape[1] != self.shape[1]:
            raise ValueError("queries have %d dims, the embeddings %d" % (q.shape[1], self.shape[1]))
        _check(lib.semid_embeddings_topk(self._h, _fptr(q), q.shape[0], k, threads, _iptr(items), _fptr(scores)))
        return items, scores

    def __repr__(self):
        return "<semid.Embeddings %d x %d>" % self.shape


def embed(dataset, method="content", dim=0, epochs=0, batch=0, lr=0.0, seed=42, word_vectors=None, threads=0):
    """Item embeddings of a dataset: 'content', 'search', 'rec', 'multi', 'fused_concat' or 'fused_svd'
    (0 = the method's default for dim, epochs, batch, lr)."""
    o = _opts(lib.semid_embed_opts_default, dim=dim, epochs=epochs, batch=batch, lr=float(lr), seed=seed,
              word_vectors=word_vectors, threads=threads)
    return Embeddings._wrap(_new(lib.semid_embed, dataset._h, _bytes(method), byref(o)))


def fuse(search, rec, how="concat"):
    """Fuses search and rec embeddings of the same items: how = 'concat' or 'svd'."""
    return Embeddings._wrap(_new(lib.semid_embeddings_fuse, search._h, rec._h, _bytes(how)))


def _as_embeddings(x):
    return x if isinstance(x, Embeddings) else Embeddings(x)


# ---------------------------------------------------------------- quantizers


class Quantizer(_Handle):
    """A fitted Semantic-ID tokenizer: vectors -> `levels` codes each (Quantizer.fit(x, ...))."""
    _free = staticmethod(lib.semid_quantizer_free)

    @classmethod
    def fit(cls, x, method="rqkmeans", levels=2, codebook=256, iters=0, beam=1, seed=1234, threads=0, verbose=False):
        a = _matrix(x, "x")
        o = _opts(lib.semid_quantizer_opts_default, method=method, levels=levels, codebook=codebook, iters=iters,
                  beam=beam, seed=seed, threads=threads, verbose=int(bool(verbose)))
        return cls(_new(lib.semid_quantizer_fit, _fptr(a), a.shape[0], a.shape[1], byref(o)))

    @classmethod
    def load(cls, path):
        return cls(_new(lib.semid_quantizer_load, _bytes(path)))

    def save(self, path):
        _check(lib.semid_quantizer_save(self._h, _bytes(path)))

    @property
    def method(self):
        return _str(lib.semid_quantizer_method(self._h))

    @property
    def levels(self):
        return lib.semid_quantizer_levels(self._h)

    @property
    def dim(self):
        return lib.semid_quantizer_dim(self._h)

    @property
    def level_sizes(self):
        return [lib.semid_quantizer_level_size(self._h, l) for l in range(self.levels)]

    def encode(self, x):
        """Codes (rows x levels, int32) of the vectors x (rows x dim)."""
        a = _matrix(x, "x", allow_1d=True)
        codes = np.empty((a.shape[0], self.levels), np.int32)
        _check(lib.semid_quantizer_encode(self._h, _fptr(a), a.shape[0], a.shape[1], _iptr(codes)))
        return codes

    def reconstruct(self, codes, levels=0):
        """Approximate vectors (rows x dim) from codes, using the first `levels` levels (0 = all)."""
        c = np.ascontiguousarray(codes, dtype=np.int32)
        if c.ndim != 2 or c.shape[1] != self.levels:
            raise ValueError("codes must be (rows, %d), not %s" % (self.levels, c.shape))
        out = np.empty((c.shape[0], self.dim), np.float32)
        _check(lib.semid_quantizer_reconstruct(self._h, _iptr(c), c.shape[0], levels, _fptr(out)))
        return out

    def __repr__(self):
        return "<semid.Quantizer %s: %d levels %s, dim %d>" % (self.method, self.levels, self.level_sizes, self.dim)


def rq_kmeans(x, levels=2, codebook=256, iters=0, seed=1234, beam=1, threads=0):
    """Residual k-means codes of x (rows x dims): an int32 array (rows x levels)."""
    with Quantizer.fit(x, method="rqkmeans", levels=levels, codebook=codebook, iters=iters, beam=beam, seed=seed,
                       threads=threads) as q:
        return q.encode(x)


# ---------------------------------------------------------------- ID tables


class IDTable(_Handle):
    """Semantic IDs of every item, per task (IDTable.build / build_ids, or IDTable.load)."""
    _free = staticmethod(lib.semid_ids_free)

    @classmethod
    def build(cls, first, second=None, dataset=None, strategy=None, method="rqkmeans", levels=2, codebook=256,
              iters=0, beam=1, seed=1234, disambiguate=False, threads=0, verbose=False):
        """From one embedding (strategies search, rec, content, fused_concat, fused_svd, multi) or,
        with `second`, from search (first) and rec (second) embeddings (separate, prefix_share).
        Arrays are accepted too. With a dataset, rows are matched to its items."""
        if strategy is None:
            strategy = "separate" if second is not None else "search"
        a = _as_embeddings(first)
        b = _as_embeddings(second) if second is not None else None
        o = _opts(lib.semid_ids_opts_default, strategy=strategy, method=method, levels=levels, codebook=codebook,
                  iters=iters, beam=beam, seed=seed, disambiguate=int(bool(disambiguate)), threads=threads,
                  verbose=int(bool(verbose)))
        return cls(_new(lib.semid_ids_build, a._h, b._h if b else None, dataset._h if dataset else None, byref(o)))

    @classmethod
    def load(cls, path):
        return cls(_new(lib.semid_ids_load, _bytes(path)))

    def save(self, path):
        _check(lib.semid_ids_save(self._h, _bytes(path)))

    def export_tsv(self, path):
        _check(lib.semid_ids_export_tsv(self._h, _bytes(path)))

    strategy = property(lambda self: _str(lib.semid_ids_strategy(self._h)))
    method = property(lambda self: _str(lib.semid_ids_method(self._h)))
    n_items = property(lambda self: lib.semid_ids_n_items(self._h))
    n_tasks = property(lambda self: lib.semid_ids_n_tasks(self._h))
    n_levels = property(lambda self: lib.semid_ids_n_levels(self._h))
    n_tokens = property(lambda self: lib.semid_ids_n_tokens(self._h))
    fingerprint = property(lambda self: lib.semid_ids_fingerprint(self._h))

    def __len__(self):
        return self.n_items

    @property
    def item_ids(self):
        if lib.semid_ids_item_id(self._h, 0) is None:
            return None
        return [_str(lib.semid_ids_item_id(self._h, i)) for i in range(self.n_items)]

    def level_sizes(self, task="search"):
        t = _task(task)
        return [lib.semid_ids_level_size(self._h, t, l) for l in range(self.n_levels)]

    def codes(self, task="search"):
        """Each item's codes, level by level: int32 (n_items, n_levels)."""
        out = np.empty((self.n_items, self.n_levels), np.int32)
        _check(lib.semid_ids_codes(self._h, _task(task), _iptr(out)))
        return out

    def tokens(self, task="search"):
        """Each item's ID as tokens numbered across levels and tasks: int32 (n_items, n_levels)."""
        out = np.empty((self.n_items, self.n_levels), np.int32)
        _check(lib.semid_ids_tokens(self._h, _task(task), _iptr(out)))
        return out

    def collisions(self, task="search"):
        c = _lib.Collisions()
        _check(lib.semid_ids_collisions(self._h, _task(task), byref(c)))
        return {"distinct_ids": c.distinct_ids, "colliding_items": c.colliding_items,
                "max_items_per_id": c.max_items_per_id, "rate": c.rate}

    def quantizer(self, task="search"):
        """The quantizer that made a task's codes (None for loaded tables and prefix_share); it lives
        as long as this table."""
        p = lib.semid_ids_quantizer(self._h, _task(task))
        return Quantizer(c_void_p(p), owner=self) if p else None

    def encode_new(self, x, task="search", quantizer=None):
        """Cold start: the tokens (rows x n_levels) new items' vectors get in this table."""
        a = _matrix(x, "x", allow_1d=True)
        out = np.empty((a.shape[0], self.n_levels), np.int32)
        _check(lib.semid_ids_encode_new(self._h, quantizer._h if quantizer else None, _task(task), _fptr(a),
                                        a.shape[0], a.shape[1], _iptr(out)))
        return out

    def __repr__(self):
        return "<semid.IDTable %s/%s: %d items, %d task(s), %d levels, %d tokens>" % (
            self.strategy, self.method, self.n_items, self.n_tasks, self.n_levels, self.n_tokens)


build_ids = IDTable.build


# ---------------------------------------------------------------- training


def _train_opts(layers=4, heads=4, dim=128, context=0, history_window=20, epochs=10, patience=0, min_epochs=0,
                max_steps=0, batch=64, lr=1e-3,
                weight_decay=0.01, seed=1, valid_sample=500, valid_k=10, word_vectors=None, resume=False, verbose=0,
                threads=0, bf16=False):
    return _opts(lib.semid_train_opts_default, bf16=int(bool(bf16)), layers=layers, heads=heads, dim=dim, context=context,
                 history_window=history_window, epochs=epochs, patience=patience, min_epochs=min_epochs, max_steps=max_steps, batch=batch, lr=float(lr),
                 weight_decay=float(weight_decay), seed=seed, valid_sample=valid_sample, valid_k=valid_k,
                 word_vectors=word_vectors, resume=int(bool(resume)), verbose=int(verbose), threads=threads)


def _report(r):
    return {name: getattr(r, name) for name, _ in _lib.TrainReport._fields_}


class Trainer(_Handle):
    """Trains the generative model of (dataset, ids) into out_dir, in one run or several
    (run(steps) stops after that many steps; the next run resumes). Options as train()."""
    _free = staticmethod(lib.semid_trainer_free)

    def __init__(self, dataset, ids, out_dir, **options):
        o = _train_opts(**options)
        super().__init__(_new(lib.semid_trainer_create, dataset._h, ids._h, _bytes(out_dir), byref(o)))
        self._keep = (dataset, ids)  # the trainer borrows them
        self.out_dir = os.fspath(out_dir)

    def run(self, steps=0):
        """At most `steps` more steps (0 = to the end); returns the report as a dict."""
        r = _lib.TrainReport()
        _check(lib.semid_trainer_run(self._h, steps, byref(r)))
        return _report(r)

    @property
    def done(self):
        return bool(lib.semid_trainer_done(self._h))


def train(dataset, ids, out_dir, **options):
    """Trains the joint search + recommendation model into out_dir (a model bundle; load it with
    Bundle(out_dir)). Options: layers=4, heads=4, dim=128, context=0, history_window=20, epochs=10,
    patience=0 (early stopping after this many epochs without a better validation Recall), min_epochs=0, max_steps=0, batch=64, lr=1e-3, weight_decay=0.01, seed=1, valid_sample=500, valid_k=10,
    word_vectors=None, resume=False, verbose=0, threads=0, bf16=False (matrix products in bfloat16 with
    fp32 sums: faster on CPUs with AVX-512 BF16, slightly less accurate). Returns the report as a dict."""
    o = _train_opts(**options)
    r = _lib.TrainReport()
    _check(lib.semid_train(dataset._h, ids._h, _bytes(out_dir), byref(o), byref(r)))
    return _report(r)


# ---------------------------------------------------------------- models


def _decode_opts(k, beam, diverse, exclude_history, threads, expand_prefix=0.0):
    o = lib.semid_decode_opts_default()
    o.k = k
    o.beam = beam
    o.diverse = int(bool(diverse))
    o.exclude_history = -1 if exclude_history is None else int(bool(exclude_history))
    o.threads = threads
    o.expand_prefix = float(expand_prefix)
    return o


class Bundle(_Handle):
    """A trained model (the directory train() wrote): search and recommend in batches."""
    _free = staticmethod(lib.semid_model_free)

    def __init__(self, model_dir):
        super().__init__(_new(lib.semid_model_load, _bytes(model_dir)))

    @property
    def n_items(self):
        return lib.semid_model_n_items(self._h)

    def __len__(self):
        return self.n_items

    @property
    def item_ids(self):
        return [_str(lib.semid_model_item_id(self._h, i)) for i in range(self.n_items)]

    @property
    def titles(self):
        return [_str(lib.semid_model_item_title(self._h, i)) for i in range(self.n_items)]

    def item_id(self, item):
        s = lib.semid_model_item_id(self._h, int(item))
        if s is None:
            raise IndexError("item %d outside 0..%d" % (item, self.n_items - 1))
        return _str(s)

    def item_index(self, item_id):
        return lib.semid_model_item_index(self._h, _bytes(item_id))

    def ids_of(self, items):
        """Item ids of result indices (n, k), row by row, leaving out the -1 padding."""
        return [[self.item_id(i) for i in row if i >= 0] for row in np.atleast_2d(items)]

    def search(self, queries, k=10, beam=30, diverse=False, threads=0, expand_prefix=0.0):
        """Searches a list of queries (a str is one query): (items int32 (n, k), scores float32 (n, k)),
        items as indices (item_id / item_ids name them), best first, -1 / -inf past the last hit.
        expand_prefix (0..1): prefix expansion, the most share of the top k that items under the
        generated prefixes may take (docs/catalog.md); 0 = off."""
        if isinstance(queries, (str, bytes)):
            queries = [queries]
        qs = [_bytes(q) for q in queries]
        arr = (c_char_p * max(len(qs), 1))(*qs)
        items = np.full((len(qs), k), -1, np.int32)
        scores = np.full((len(qs), k), -np.inf, np.float32)
        o = _decode_opts(k, beam, diverse, None, threads, expand_prefix)
        _check(lib.semid_search(self._h, arr, len(qs), byref(o), _iptr(items), _fptr(scores), None))
        return items, scores

    def recommend(self, histories, k=10, beam=30, diverse=False, exclude_history=None, threads=0,
                  expand_prefix=0.0):
        """Recommends for a list of histories (each a list of item indices or item ids, oldest
        first): (items, scores) as search(). exclude_history None = the model's default;
        expand_prefix as in search()."""
        flat, offsets = [], [0]
        for h in histories:
            for it in h:
                if isinstance(it, (str, bytes)):
                    i = self.item_index(it)
                    if i < 0:
                        raise SemidError(6, "unknown item id %r" % (it,))
                    flat.append(i)
                else:
                    flat.append(int(it))
            offsets.append(len(flat))
        hist = np.asarray(flat, np.int32) if flat else np.zeros(1, np.int32)
        offs = np.asarray(offsets, np.int64)
        n = len(offsets) - 1
        items = np.full((n, k), -1, np.int32)
        scores = np.full((n, k), -np.inf, np.float32)
        o = _decode_opts(k, beam, diverse, exclude_history, threads, expand_prefix)
        _check(lib.semid_recommend(self._h, _iptr(hist), offs.ctypes.data_as(POINTER(c_int64)), n, byref(o),
                                   _iptr(items), _fptr(scores), None))
        return items, scores

    def evaluate(self, dataset, split="test", k=30, beam=30, diverse=False, threads=0):
        """Recall@k and NDCG@k on a split of the dataset the model was trained on:
        {"k", "search": {"n", "recall", "ndcg"}, "rec": ..., "rec_head": ..., "rec_torso": ...}."""
        r = _lib.EvalResult()
        o = _decode_opts(k, beam, diverse, None, threads)
        _check(lib.semid_evaluate(self._h, dataset._h, _bytes(split), byref(o), byref(r)))
        out = {"k": r.k}
        for name in ("search", "rec", "rec_head", "rec_torso"):
            m = getattr(r, name)
            out[name] = {"n": m.n, "recall": m.recall, "ndcg": m.ndcg}
        return out

    def __repr__(self):
        return "<semid.Bundle: %d items>" % self.n_items
