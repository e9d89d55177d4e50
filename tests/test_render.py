"""The chat HTML for hand-built answers: the direct answer (Answer.short) first, in bold, escaped,
with its [n] linked to the source card; everything else as before."""

from __future__ import annotations

import re

from rag.schema import Answer, Citation, ShortAnswer
from rag.web import render

DOC = (
    "Officials met in Srinagar on Tuesday. A deadly attack in Indian-administered Kashmir killed 26 "
    "tourists on April 22. The talks resume next month."
)
SENTENCE = "A deadly attack in Indian-administered Kashmir killed 26 tourists on April 22."
OTHER = "The talks resume next month."


def citation(n: int, snippet: str, doc_id: str = "d1", doc: str = DOC) -> Citation:
    start = doc.index(snippet)
    return Citation(n=n, doc_id=doc_id, title="Kashmir attack <i>report</i>", source=f"{doc_id}.txt",
                    snippet=snippet, start=start, end=start + len(snippet), score=0.9,
                    publisher="The Daily", date="2025-05-01", context=doc, context_start=0)


def short(text: str, n: int = 1, doc: str = DOC, label: str = "CARDINAL") -> ShortAnswer:
    start = doc.index(text)
    return ShortAnswer(text=text, doc_id="d1", start=start, end=start + len(text), label=label,
                       citation=n, source="d1.txt")


def answer(short_answer: ShortAnswer | None, citations: list[Citation] | None = None, text: str = "") -> Answer:
    citations = citations if citations is not None else [citation(1, SENTENCE)]
    text = text or " ".join(f"{c.snippet[:-1]} [{c.n}]." for c in citations)
    return Answer(text=text, citations=citations, abstained=False, question="How many tourists were killed?",
                  query="How many tourists were killed?", short=short_answer)


def test_the_short_answer_comes_first_in_bold_with_its_linked_marker():
    html = render.answer_html(answer(short("26")), "t1")
    head = re.search(r'<p class="dz-short"><strong>(.*?)</strong> (.*?)</p>', html)
    assert head and head.group(1) == "26"
    # Its [1] links to the same card excerpt as the [1] in the text, and shows the source on hover.
    assert '<a class="dz-cite" href="#dz-t1-c1">[1]</a>' in head.group(2)
    assert 'id="dz-t1-c1"' in html and "Kashmir attack &lt;i&gt;report&lt;/i&gt;" in head.group(2)
    # Before the quoted sentence, which still follows with its own marker.
    assert html.index("<strong>26</strong>") < html.index('class="dz-text"')
    text = re.search(r'<p class="dz-text">(.*?)</p>', html).group(1)
    assert "killed 26 tourists on April 22" in text and 'href="#dz-t1-c1">[1]</a>' in text
    assert html.startswith('<div class="dz-answer dz-done"><p class="dz-short">')


def test_the_marker_points_at_the_sentence_the_short_answer_comes_from():
    cites = [citation(1, OTHER), citation(2, SENTENCE)]
    html = render.answer_html(answer(short("April 22", n=2, label="DATE"), cites), "t7")
    head = re.search(r'<p class="dz-short">(.*?)</p>', html).group(1)
    assert head.startswith("<strong>April 22</strong> ")
    assert re.findall(r'class="dz-cite" href="#([^"]+)">\[(\d+)\]', head) == [("dz-t7-c2", "2")]


def test_short_answer_text_is_escaped():
    doc = DOC.replace("26", "<script>alert(1)</script> & <b>26</b>")
    sentence = SENTENCE.replace("26", "<script>alert(1)</script> & <b>26</b>")
    value = "<script>alert(1)</script> & <b>26</b>"
    a = answer(short(value, doc=doc), [citation(1, sentence, doc=doc)])
    html = render.answer_html(a, "t2")
    assert "<strong>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;26&lt;/b&gt;</strong>" in html
    assert "<script" not in html and "<b>26" not in html
    # Whitespace is folded like all article text: the HTML stays one line without blank lines.
    spaced = answer(short("26"), text="killed\n\n26 [1].")
    spaced.short = ShortAnswer(text="Robert\n\n  Sillerman", doc_id="d1", start=0, end=0, label="PERSON", citation=1)
    html = render.answer_html(spaced, "t3")
    assert "<strong>Robert Sillerman</strong>" in html and "\n" not in html


def test_no_short_answer_renders_as_before():
    without = render.answer_html(answer(None), "t1")
    assert "dz-short" not in without and "<strong>" not in without
    assert without.startswith('<div class="dz-answer dz-done"><p class="dz-text">')
    # With one, the rest of the message is unchanged: the short answer is only added in front.
    with_short = render.answer_html(answer(short("26")), "t1")
    assert re.sub(r'<p class="dz-short">.*?</p>(?=<p class="dz-text">)', "", with_short) == without


def test_a_follow_up_keeps_what_was_searched_for_above_the_short_answer():
    a = answer(short("26"))
    a.question, a.query = "And how many died?", "And how many died? (Kashmir attack)"
    html = render.answer_html(a, "t4")
    assert html.index("Searched for:") < html.index("<strong>26</strong>") < html.index('class="dz-text"')


def test_a_short_answer_whose_citation_is_missing_shows_without_a_dead_link():
    html = render.answer_html(answer(short("26", n=5)), "t5")
    head = re.search(r'<p class="dz-short">(.*?)</p>', html).group(1)
    assert head == "<strong>26</strong>"


def test_streaming_is_unchanged_and_the_final_message_has_the_short_answer():
    # The app streams the answer text as it comes, then replaces it with answer_html.
    streamed = render.streaming_html(SENTENCE + " [1]")
    assert "dz-short" not in streamed and "<strong>" not in streamed
    assert "<strong>26</strong>" in render.answer_html(answer(short("26")), "t6")
