"""Loading libsemid.so and declaring its C API (include/semid/api.h) for ctypes.

The library is looked for, in order:
  1. the file named by $SEMID_LIBRARY;
  2. libsemid.so next to this package (python/semid/libsemid.so);
  3. build/release/libsemid.so of the source tree this package sits in;
  4. the system's libsemid (ctypes.util.find_library), e.g. after `make install`.
"""
import ctypes
import ctypes.util
import os

from ctypes import (POINTER, Structure, c_char_p, c_double, c_float, c_int, c_int32, c_int64, c_uint64, c_void_p)

_here = os.path.dirname(os.path.abspath(__file__))


def _candidates():
    env = os.environ.get("SEMID_LIBRARY")
    if env:
        yield env
        return
    yield os.path.join(_here, "libsemid.so")
    yield os.path.join(_here, os.pardir, os.pardir, "build", "release", "libsemid.so")
    found = ctypes.util.find_library("semid")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            tried.append(path + " (absent)")
            continue
        try:
            return ctypes.CDLL(os.path.normpath(path) if os.path.sep in path else path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError("semid: libsemid.so not found; build it (make release) or set SEMID_LIBRARY. Tried: "
                      + "; ".join(tried or ["nothing"]))


lib = _load()

# ---- structs (field for field as in include/semid/api.h) ----


class ImportOpts(Structure):
    _fields_ = [("format", c_char_p), ("min_rating", c_double), ("user_core", c_int32), ("item_core", c_int32),
                ("keep_uninteracted", c_int), ("lenient", c_int), ("descriptions_path", c_char_p),
                ("queries_path", c_char_p)]


class SynthOpts(Structure):
    _fields_ = [("n_items", c_int32), ("n_users", c_int32), ("mean_history", c_double), ("min_history", c_int32),
                ("n_topics", c_int32), ("queries_per_item", c_int32), ("queries_train", c_int32),
                ("queries_valid", c_int32), ("seed", c_uint64)]


class QueryOpts(Structure):
    _fields_ = [("per_item", c_int32), ("train", c_int32), ("valid", c_int32), ("append", c_int), ("seed", c_uint64)]


class EmbedOpts(Structure):
    _fields_ = [("dim", c_int32), ("epochs", c_int32), ("batch", c_int32), ("lr", c_float), ("seed", c_uint64),
                ("word_vectors", c_char_p), ("threads", c_int)]


class QuantizerOpts(Structure):
    _fields_ = [("method", c_char_p), ("levels", c_int32), ("codebook", c_int32), ("iters", c_int32),
                ("beam", c_int32), ("seed", c_uint64), ("verbose", c_int), ("threads", c_int)]


class IdsOpts(Structure):
    _fields_ = [("strategy", c_char_p), ("method", c_char_p), ("levels", c_int32), ("codebook", c_int32),
                ("iters", c_int32), ("beam", c_int32), ("seed", c_uint64), ("disambiguate", c_int),
                ("verbose", c_int), ("threads", c_int)]


class Collisions(Structure):
    _fields_ = [("distinct_ids", c_int32), ("colliding_items", c_int32), ("max_items_per_id", c_int32),
                ("rate", c_double)]


class TrainOpts(Structure):
    _fields_ = [("layers", c_int32), ("heads", c_int32), ("dim", c_int32), ("context", c_int32),
                ("history_window", c_int32), ("epochs", c_int32), ("max_steps", c_int64), ("batch", c_int32),
                ("lr", c_float), ("weight_decay", c_float), ("seed", c_uint64), ("valid_sample", c_int32),
                ("valid_k", c_int32), ("word_vectors", c_char_p), ("resume", c_int), ("verbose", c_int),
                ("threads", c_int), ("patience", c_int32), ("min_epochs", c_int32),
                ("bf16", c_int32)]


class TrainReport(Structure):
    _fields_ = [("steps", c_int64), ("total_steps", c_int64), ("epochs_done", c_int32),
                ("last_epoch_loss", c_double), ("best_valid", c_double), ("best_epoch", c_int32),
                ("valid_search", c_double), ("valid_rec", c_double), ("seconds", c_double),
                ("tokens_per_s", c_double), ("n_params", c_int64), ("stopped_early", c_int)]


class DecodeOpts(Structure):
    _fields_ = [("k", c_int32), ("beam", c_int32), ("diverse", c_int), ("exclude_history", c_int),
                ("threads", c_int), ("expand_prefix", c_double)]


class Metrics(Structure):
    _fields_ = [("n", c_int64), ("recall", c_double), ("ndcg", c_double)]


class EvalResult(Structure):
    _fields_ = [("k", c_int32), ("search", Metrics), ("rec", Metrics), ("rec_head", Metrics),
                ("rec_torso", Metrics)]


# ---- functions ----

status = c_int
handle = c_void_p
P = POINTER
pf, pi32, pi64 = P(c_float), P(c_int32), P(c_int64)
out = P(c_void_p)

_SIGNATURES = {
    # semid.h
    "semid_status_name": (c_char_p, [c_int]),
    "semid_last_error": (c_char_p, []),
    "semid_set_log_level": (None, [c_int]),
    "semid_set_threads": (None, [c_int]),
    "semid_get_threads": (c_int, []),
    "semid_version": (c_char_p, []),
    "semid_version_number": (c_int, []),
    # datasets
    "semid_import_opts_default": (ImportOpts, []),
    "semid_data_import": (status, [c_char_p, P(ImportOpts), out]),
    "semid_synth_opts_default": (SynthOpts, []),
    "semid_data_synth": (status, [P(SynthOpts), out]),
    "semid_query_opts_default": (QueryOpts, []),
    "semid_data_make_queries": (status, [handle, P(QueryOpts)]),
    "semid_data_load": (status, [c_char_p, out]),
    "semid_data_save": (status, [handle, c_char_p]),
    "semid_data_free": (None, [handle]),
    "semid_data_name": (c_char_p, [handle]),
    "semid_data_n_items": (c_int32, [handle]),
    "semid_data_n_users": (c_int32, [handle]),
    "semid_data_n_interactions": (c_int64, [handle]),
    "semid_data_n_queries": (c_int32, [handle]),
    "semid_data_item_id": (c_char_p, [handle, c_int32]),
    "semid_data_item_title": (c_char_p, [handle, c_int32]),
    "semid_data_item_genres": (c_char_p, [handle, c_int32]),
    "semid_data_item_description": (c_char_p, [handle, c_int32]),
    "semid_data_item_year": (c_int32, [handle, c_int32]),
    "semid_data_item_index": (c_int32, [handle, c_char_p]),
    "semid_data_user_id": (c_char_p, [handle, c_int32]),
    "semid_data_user_items": (pi32, [handle, c_int32, pi64]),
    "semid_data_query": (c_char_p, [handle, c_int32, pi32, pi32]),
    # embeddings
    "semid_embed_opts_default": (EmbedOpts, []),
    "semid_embed": (status, [handle, c_char_p, P(EmbedOpts), out]),
    "semid_embeddings_fuse": (status, [handle, handle, c_char_p, out]),
    "semid_embeddings_create": (status, [pf, c_int64, c_int64, P(c_char_p), out]),
    "semid_embeddings_align": (status, [handle, handle, out]),
    "semid_embeddings_load": (status, [c_char_p, c_char_p, out]),
    "semid_embeddings_save": (status, [handle, c_char_p, c_char_p]),
    "semid_embeddings_free": (None, [handle]),
    "semid_embeddings_rows": (c_int64, [handle]),
    "semid_embeddings_cols": (c_int64, [handle]),
    "semid_embeddings_data": (pf, [handle]),
    "semid_embeddings_item_id": (c_char_p, [handle, c_int64]),
    "semid_embeddings_topk": (status, [handle, pf, c_int64, c_int32, c_int, pi32, pf]),
    # quantizers
    "semid_quantizer_opts_default": (QuantizerOpts, []),
    "semid_quantizer_fit": (status, [pf, c_int64, c_int64, P(QuantizerOpts), out]),
    "semid_quantizer_encode": (status, [handle, pf, c_int64, c_int64, pi32]),
    "semid_quantizer_reconstruct": (status, [handle, pi32, c_int64, c_int32, pf]),
    "semid_quantizer_save": (status, [handle, c_char_p]),
    "semid_quantizer_load": (status, [c_char_p, out]),
    "semid_quantizer_free": (None, [handle]),
    "semid_quantizer_method": (c_char_p, [handle]),
    "semid_quantizer_levels": (c_int32, [handle]),
    "semid_quantizer_level_size": (c_int32, [handle, c_int32]),
    "semid_quantizer_dim": (c_int32, [handle]),
    # ID tables
    "semid_ids_opts_default": (IdsOpts, []),
    "semid_ids_build": (status, [handle, handle, handle, P(IdsOpts), out]),
    "semid_ids_load": (status, [c_char_p, out]),
    "semid_ids_save": (status, [handle, c_char_p]),
    "semid_ids_export_tsv": (status, [handle, c_char_p]),
    "semid_ids_free": (None, [handle]),
    "semid_ids_strategy": (c_char_p, [handle]),
    "semid_ids_method": (c_char_p, [handle]),
    "semid_ids_n_items": (c_int32, [handle]),
    "semid_ids_n_tasks": (c_int32, [handle]),
    "semid_ids_n_levels": (c_int32, [handle]),
    "semid_ids_n_tokens": (c_int32, [handle]),
    "semid_ids_level_size": (c_int32, [handle, c_int, c_int32]),
    "semid_ids_item_id": (c_char_p, [handle, c_int32]),
    "semid_ids_fingerprint": (c_uint64, [handle]),
    "semid_ids_codes": (status, [handle, c_int, pi32]),
    "semid_ids_tokens": (status, [handle, c_int, pi32]),
    "semid_ids_collisions": (status, [handle, c_int, P(Collisions)]),
    "semid_ids_quantizer": (handle, [handle, c_int]),
    "semid_ids_encode_new": (status, [handle, handle, c_int, pf, c_int64, c_int64, pi32]),
    # training
    "semid_train_opts_default": (TrainOpts, []),
    "semid_trainer_create": (status, [handle, handle, c_char_p, P(TrainOpts), out]),
    "semid_trainer_run": (status, [handle, c_int64, P(TrainReport)]),
    "semid_trainer_done": (c_int, [handle]),
    "semid_trainer_free": (None, [handle]),
    "semid_train": (status, [handle, handle, c_char_p, P(TrainOpts), P(TrainReport)]),
    # models
    "semid_model_load": (status, [c_char_p, out]),
    "semid_model_free": (None, [handle]),
    "semid_model_n_items": (c_int32, [handle]),
    "semid_model_item_id": (c_char_p, [handle, c_int32]),
    "semid_model_item_title": (c_char_p, [handle, c_int32]),
    "semid_model_item_index": (c_int32, [handle, c_char_p]),
    "semid_decode_opts_default": (DecodeOpts, []),
    "semid_search": (status, [handle, P(c_char_p), c_int64, P(DecodeOpts), pi32, pf, pi32]),
    "semid_recommend": (status, [handle, pi32, pi64, c_int64, P(DecodeOpts), pi32, pf, pi32]),
    "semid_evaluate": (status, [handle, handle, c_char_p, P(DecodeOpts), P(EvalResult)]),
}

for _name, (_res, _args) in _SIGNATURES.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args

STATUS_NAMES = ["OK", "EINVAL", "EIO", "EPARSE", "EFORMAT", "ENOMEM", "ENOTFOUND", "ENUMERIC", "EINTERNAL"]
