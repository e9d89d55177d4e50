"""The index: embeddings (ONNX or torch) and their cache, the Chroma store with its manifest and
chunk table, the BM25 index, and the indexer that builds them. Imports rag.ingest and below."""
