"""Files → cleaned documents → chunks: loaders, page cleaning, chunking. Imports rag.text and below."""
