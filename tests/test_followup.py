"""Follow-up detection and the standalone query (rag.retrieve.followup): pure functions on text."""

from __future__ import annotations

import pytest

from rag.retrieve.followup import condense, is_followup, user_questions


def test_history_formats_give_the_user_questions_only():
    history = [
        "What did Japan offer India?",
        ("When was that agreed?", "In August [1]."),
        {"role": "assistant", "content": "Earlier this month [1]."},
        {"role": "user", "content": "  Who signed it?  "},
        {"role": "user", "content": None},
        "   ",
        42,
    ]
    assert user_questions(history) == ["What did Japan offer India?", "When was that agreed?", "Who signed it?"]
    assert user_questions(None) == []


@pytest.mark.parametrize("question", [
    "When was that agreed?",  # refers back
    "And what about tank engines?",  # continues
    "Why?",  # too short to stand alone
])
def test_questions_that_refer_back_are_follow_ups(question):
    assert is_followup(question)


def test_a_self_contained_question_is_not_a_follow_up_and_is_searched_as_asked():
    question = "How many ferries did the Narvik council order for the Kirkenes harbour?"
    assert not is_followup(question)
    assert condense(question, ["What did Japan offer India?"]) == question


def test_a_follow_up_carries_the_topic_of_the_last_self_contained_question():
    history = ["What did Japan offer India in defence?", "When was that agreed?"]
    query = condense("And who signed it?", history)
    # Both earlier questions: the second one refers back to the first, which sets the topic.
    assert query.startswith("And who signed it?")
    assert "What did Japan offer India in defence?" in query and "When was that agreed?" in query
    older = ["Who won the 2005 Grammy for best album?", *history]
    assert "Grammy" not in condense("And who signed it?", older)  # the walk back stops at the topic


def test_without_history_nothing_is_added():
    assert condense("When was that agreed?", []) == "When was that agreed?"
