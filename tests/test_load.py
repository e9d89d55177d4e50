"""The load test, small: concurrent gradio_client clients and a run of questions in a row through the
real app's /ask; zero errors and every answer well-formed (timings are the bench's, not asserted)."""

from __future__ import annotations

import os
import time

import pytest
from test_app import served  # noqa: F401  (the real app on a free port, module-scoped)

from rag.bench.load import hammer, malformed, rss_mb, sequential

GOOD = {"text": "Tokyo offered engines [1].", "abstained": False,
        "citations": [{"n": 1, "snippet": "Tokyo offered engines.", "source": "a.txt"}]}


def test_malformed_names_what_is_wrong():
    assert malformed(GOOD["text"], GOOD) == ""
    assert malformed("x", GOOD) == "text and answer do not match"
    assert malformed("Tokyo [2].", {**GOOD, "text": "Tokyo [2]."}) == "a [n] marker that is no citation"
    assert malformed("Tokyo.", {**GOOD, "text": "Tokyo.", "citations": []}) == "an answer without citations"
    abstained = {"text": "The articles don't answer this.", "abstained": True, "citations": []}
    assert malformed(abstained["text"], abstained) == ""


@pytest.mark.slow
def test_concurrent_clients_and_a_long_run(served):  # noqa: F811
    url = served[0]
    result = hammer(url, total=64, clients=8, deadline=time.monotonic() + 600)
    assert result["errors"] == 0, result["first_errors"]
    assert result["asked"] == 64 and not result["stopped_at_time_limit"]
    run = sequential(url, 20, lambda: rss_mb(os.getpid()), time.monotonic() + 600)
    assert run["errors"] == 0 and run["asked"] == 20, run["first_errors"]
    assert set(run["rss_mb"]) == {"start", "middle", "end"} and all(v > 0 for v in run["rss_mb"].values())
