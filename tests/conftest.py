"""Shared fixtures. Real parts throughout: the bundled MiniLM model, Chroma on disk in a temp folder.

An autouse fixture refuses every connection that leaves the machine, so a passing suite shows
that nothing here needs the network.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path

import pytest

import rag
from rag.config import Config
from rag.pipeline import Pipeline
from rag.store.embeddings import Embedder

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0", ""}


class NetworkBlocked(RuntimeError):
    pass


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) and address else address
    return isinstance(host, str) and (host in LOCAL_HOSTS or host.startswith("127."))


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self, address):
        if not _is_local(address):
            raise NetworkBlocked(f"test tried to reach {address!r}: the product must run offline")
        return real_connect(self, address)

    def connect_ex(self, address):
        if not _is_local(address):
            raise NetworkBlocked(f"test tried to reach {address!r}: the product must run offline")
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if not _is_local((host.decode() if isinstance(host, bytes) else host,)):
            raise NetworkBlocked(f"test tried to resolve {host!r}: the product must run offline")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# Fixtures that load the embedding model (and build Chroma indexes): a test using one must be marked
# slow, so that `make check` (-m "not slow and not llm and not browser") stays a fast loop.
MODEL_FIXTURES = {"embedder", "seed_pipeline", "fresh_pipeline", "local_pipeline", "gate_result"}


def pytest_collection_modifyitems(config, items):
    unmarked = [it.nodeid for it in items
                if MODEL_FIXTURES & set(it.fixturenames) and it.get_closest_marker("slow") is None]
    if unmarked:
        raise pytest.UsageError("tests that load the embedding model must be marked slow: " + ", ".join(unmarked))


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    model = Embedder()
    model.warm_up()
    return model


# One vector and entity cache for the whole run: every fresh index of the seeds would otherwise
# embed and tag the same sentences again. Tests of the caches themselves pass text_cache_dir=None.
SHARED_TEXT_CACHE = Path(tempfile.mkdtemp(prefix="dossier-test-cache-"))


def make_config(tmp: Path, seeds: Path | None = None, **overrides) -> Config:
    """A config over a private copy of the seeds, with its own index folder (and the run's text cache)."""
    if seeds is None:
        seeds = tmp / "seeds"
        shutil.copytree(SEEDS, seeds, ignore=shutil.ignore_patterns("uploads"))
    overrides.setdefault("text_cache_dir", SHARED_TEXT_CACHE)
    return Config.from_env(seeds_dir=seeds, index_dir=tmp / "index", **overrides)


@pytest.fixture(scope="session")
def seed_pipeline(tmp_path_factory, embedder) -> Pipeline:
    """One pipeline over the five seed pages, shared by read-only tests."""
    tmp = tmp_path_factory.mktemp("seed")
    return Pipeline(make_config(tmp), embedder=embedder).warm_up()


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    """A real Chroma server (`chroma run` on a free loopback port), one per test module."""
    from chroma_server import ChromaServer

    server = ChromaServer(tmp_path_factory.mktemp("chroma") / "db").start()
    yield server
    server.stop()


_collections = iter(range(10**6))


def server_config(tmp: Path, server, seeds: Path | None = None, **overrides) -> Config:
    """make_config for server mode: the index in its own collection on `server`."""
    overrides.setdefault("collection", f"t{next(_collections)}-{tmp.name[-20:]}".replace("_", "-").strip("-"))
    return make_config(tmp, seeds, chroma_url=server.url, **overrides)


@pytest.fixture
def fresh_pipeline(tmp_path, embedder) -> Pipeline:
    """A pipeline over its own copy of the seeds, for tests that change the corpus or index."""
    return Pipeline(make_config(tmp_path), embedder=embedder)


__all__ = ["rag", "make_config", "server_config", "NetworkBlocked"]
