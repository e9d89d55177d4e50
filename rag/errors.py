"""Errors a user can act on. Each message says what went wrong and what to do."""


class RagError(Exception):
    """Base class: the CLI prints these without a traceback and exits non-zero."""


class ConfigError(RagError):
    pass


class QuestionError(RagError, ValueError):
    """Empty, whitespace-only or over-long question."""


class CorpusError(RagError):
    """Missing or empty seeds folder, unreadable or undecodable file."""


class IndexCorruptError(RagError):
    """The index folder exists but cannot be opened."""


class DocumentNotFound(RagError, KeyError):
    pass


class IndexBusyError(RagError):
    """Another process (or thread) is writing the index folder."""


class IndexWriteError(RagError):
    """The index could not be written (a full disk, say); the previous index still serves."""


class StoreUnavailable(RagError):
    """The Chroma server cannot be reached (down, wrong address, gone mid-session)."""


class StoreAuthError(RagError):
    """The Chroma server refused the credentials."""


class IndexMismatchError(RagError):
    """The shared index was built with another embedding model, dimension or settings."""


class IndexChangedError(RagError):
    """Another process changed the shared index while this one was writing or reading it."""


class StoreBusyError(RagError):
    """Another process holds the shared index's writer lock for too long."""
