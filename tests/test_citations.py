"""Citation markers and the span rule shared by retrieval, the extractive and the generative answers."""

import pytest

from rag.answer.citations import with_markers
from rag.config import coerce
from rag.errors import ConfigError
from rag.schema import Chunk


@pytest.mark.parametrize(
    "text, numbers, marked",
    [
        ("Japan offered jets.", [1], "Japan offered jets [1]."),
        ("  Did Japan offer jets?  ", [2], "Did Japan offer jets [2]?"),
        ("Japan offered jets and tanks.", [1, 3], "Japan offered jets and tanks [1][3]."),
        ('He said "jets."', [1], 'He said "jets." [1]'),  # a closing quote keeps its full stop
        ("Japan offered jets", [1], "Japan offered jets [1]"),
    ],
)
def test_markers_go_inside_the_final_full_stop(text, numbers, marked):
    assert with_markers(text, numbers) == marked


def test_a_chunk_holds_a_span_when_at_least_half_of_it_lies_inside():
    c = Chunk("d-0", "d", "x" * 100, 100, 200)
    assert c.holds_most_of(120, 180)
    assert c.holds_most_of(50, 150)  # exactly half
    assert not c.holds_most_of(40, 150)
    assert not c.holds_most_of(200, 220)


def test_settings_are_coerced_to_the_field_type_with_a_named_error():
    assert coerce(" yes ", bool, "RAG_X") is True and coerce("8", int, "top_k") == 8
    with pytest.raises(ConfigError, match="RAG_TOP_K='eight' is not a valid int"):
        coerce("eight", int, "RAG_TOP_K")
