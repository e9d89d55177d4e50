"""One Pipeline serves many threads at once (Gradio workers, API clients): same answers, no errors."""

from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.slow  # the embedding model and a Chroma index over the seeds

QUESTIONS = [
    "What did Japan offer India?",
    "Which countries are Japan's partners in the Global Combat Air Program?",
    "How many people were killed in the Kashmir attack?",
    "What did the heavy industries minister say about Tesla's plans?",
    "Which railway crossing did Modi open in the disputed region?",
    "What share of GDP will Japan spend on defence?",
]


def test_concurrent_questions_get_the_answers_they_get_alone(seed_pipeline):
    p = seed_pipeline
    alone = {q: p.ask(q).text for q in QUESTIONS}
    # New wordings too, so that threads embed at the same time instead of hitting the query cache.
    asked = [f"{q} {suffix}".strip() for suffix in ("", "Please.", "Briefly?") for q in QUESTIONS] * 2
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(p.ask, asked))
    assert len(answers) == len(asked)
    # Asked again one at a time (after the concurrent run, so that it did embed in parallel).
    alone.update({q: p.ask(q).text for q in set(asked) - set(alone)})
    for q, a in zip(asked, answers):
        assert a.question == q  # no thread got another thread's answer
        assert a.text == alone[q]


def test_concurrent_embedding_matches_sequential(embedder):
    import numpy as np

    texts = [f"Sentence number {i} about the India-Japan defence dialogue in Tokyo." for i in range(24)]
    expected = embedder.embed(texts)
    with ThreadPoolExecutor(max_workers=6) as pool:
        got = list(pool.map(lambda t: embedder.embed([t])[0], texts))
    assert np.allclose(np.stack(got), expected, atol=1e-5)
