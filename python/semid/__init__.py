"""semid from Python: Semantic IDs for joint generative search and recommendation.

A thin ctypes binding over libsemid.so (the C API in include/semid/api.h):
numpy arrays in and out, the work stays in the library, and a call that
fails raises SemidError carrying semid's message.

    import semid
    ds = semid.Dataset.synth(items=200, users=400, seed=1)
    ids = semid.build_ids(semid.embed(ds, "content"), dataset=ds, codebook=16, disambiguate=True)
    semid.train(ds, ids, "model", layers=1, dim=32, epochs=2)
    items, scores = semid.Bundle("model").search(["space adventure with aliens"], k=5)
"""
from ._core import (SemidError, version, set_threads, get_threads, set_log_level, Dataset, Embeddings, embed, fuse,
                    Quantizer, rq_kmeans, IDTable, build_ids, Trainer, train, Bundle, SEARCH, RECOMMEND)

__version__ = version()

__all__ = ["SemidError", "version", "set_threads", "get_threads", "set_log_level", "Dataset", "Embeddings", "embed",
           "fuse", "Quantizer", "rq_kmeans", "IDTable", "build_ids", "Trainer", "train", "Bundle", "SEARCH",
           "RECOMMEND"]
