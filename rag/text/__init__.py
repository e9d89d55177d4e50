"""Text utilities used at index time and at query time alike: terms and stemming, sentence
splitting, entity tagging. Imports only rag.schema, rag.config, rag.errors, rag.offline."""
