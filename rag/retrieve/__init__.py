"""Query time, up to passages: the per-question Snapshot of the index, hybrid retrieval with
reciprocal rank fusion, follow-up questions made standalone. Imports rag.store and below."""
