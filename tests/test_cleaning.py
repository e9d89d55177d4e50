"""Cleaning the scraped seed pages: debris gone, reporting kept, related stories split out."""

from pathlib import Path

import pytest

from rag.ingest.cleaning import clean_page
from rag.ingest.loaders import parse

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def stories(name: str):
    return clean_page((SEEDS / name).read_text(encoding="utf-8"))


def test_page_with_related_articles_is_split_into_titled_stories():
    found = stories("000_c0363eb08f2c74e0.txt")
    titles = [s.title for s in found]
    assert titles[0] == "India seeks deeper defence ties with Japan amid push for strategic self-reliance"
    assert titles[1] == "Indian PM Modi invited to G7 summit in Canada"
    assert titles[2].startswith("Is Tesla stalling on India?")
    assert titles[3].startswith("India's Modi opens rail line")
    assert len(found) == 4
    assert all(s.publisher == "South China Morning Post" for s in found[1:])
    # Each story holds its own reporting and none of the others'.
    assert "Kumaraswamy" in found[2].text and "Kumaraswamy" not in found[0].text
    assert "Chenab Bridge" in found[3].text and "Chenab" not in found[2].text
    assert "G7" not in found[0].text


@pytest.mark.parametrize(
    "name, debris",
    [
        ("000_c0363eb08f2c74e0.txt", ["Advertisement", "Hashtags", "Try Our AI Features", "No comments yet", "Photo: TNS",
                                      "After India and Pakistan trade blows"]),
        ("001_ce83d2ce5fc7c134.txt", ["Select Language", "Reading Mode", "Font Size", "Live Tv", "ABOUT THE AUTHOR",
                                      "IMF Urges Calm", "Shah Rukh Khan", "Scroll to continue", "Filed under"]),
        ("002_792eeee021a370cc.txt", ["WhatsApp Channel", "Home Asia", "Courtesy: @MEAIndia"]),
        ("003_942864aac65c9d51.txt", ["Subscription Form", "Share your love", "Avatar photo", "Leave a Reply", "Articles: 166"]),
        ("004_17a39fbd4911a17a.txt", ["Call Us Now", "+91", "For Enquiry", "Dimensions of are article"]),
    ],
)
def test_boilerplate_is_gone(name, debris):
    text = "\n".join(s.text for s in stories(name))
    for piece in debris:
        assert piece not in text, piece


# Long lines on the pages that are headlines of unrelated stories, not reporting.
NOT_REPORTING = ["Shah Rukh Khan Opens Up", "Select the language of your choice"]


@pytest.mark.parametrize("name", sorted(p.name for p in SEEDS.glob("*.txt")))
def test_every_reporting_sentence_is_kept(name):
    """Every prose line of the page (15+ words ending like a sentence) survives, debris aside."""
    raw = (SEEDS / name).read_text(encoding="utf-8").replace("\u00a0", " ")
    cleaned = " ".join(s.text for s in clean_page(raw))
    prose = [
        ln.strip()
        for ln in raw.splitlines()
        if len(ln.split()) >= 15 and ln.strip()[-1:] in ".’'\"”" and not any(x in ln for x in NOT_REPORTING)
    ]
    assert prose
    for line in prose:
        for sentence in line.replace("Advertisement ", "").replace("Photo: TNS ", "").split(". "):
            if len(sentence.split()) >= 8:
                assert sentence.strip(". ") in cleaned, sentence


def test_inline_debris_is_removed_but_the_sentence_stays():
    tesla = stories("000_c0363eb08f2c74e0.txt")[2].text
    assert "India has taken notable steps to court Tesla." in tesla
    g7 = stories("000_c0363eb08f2c74e0.txt")[1].text
    assert "India is not a member of the G7" in g7


def test_title_and_date_are_extracted():
    newsx = stories("001_ce83d2ce5fc7c134.txt")
    assert [s.title for s in newsx] == ["India-Japan Security Ties Amid Indo-Pacific Tensions"]
    assert newsx[0].date == "2025-05-07"
    assert stories("002_792eeee021a370cc.txt")[0].title == "India-Japan Ties Steady; Upgrade Around The Corner?"
    assert stories("003_942864aac65c9d51.txt")[0].title == "India and Japan: A Defence Partnership Coming of Age"
    assert stories("003_942864aac65c9d51.txt")[0].publisher == "Defencematters.eu"
    japan = stories("004_17a39fbd4911a17a.txt")[0]
    assert japan.title == "Japan Keen to Deepen Defence Ties With India" and japan.date == "2024-03"


def test_repeated_standfirst_is_kept_once():
    text = stories("001_ce83d2ce5fc7c134.txt")[0].text
    assert text.count("India and Japan are strengthening ties amid growing regional security concerns.") == 1


def test_html_goes_through_trafilatura_with_its_metadata():
    html = b"""<html><head><title>Port deal signed | Harbour Times</title>
    <meta property="og:site_name" content="Harbour Times"><meta name="date" content="2025-02-03"></head>
    <body><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/login">Sign in</a></nav>
    <article><h1>Port deal signed</h1>
    <p>The two governments signed a long-awaited agreement on Monday to expand the northern port, officials said.</p>
    <p>The expansion will double the port's container capacity by 2030, according to the transport ministry.</p>
    </article><footer>Subscribe to our newsletter. Share this article.</footer></body></html>"""
    [doc] = parse("port.html", html, ".html")
    assert doc.title.startswith("Port deal signed")
    assert "double the port's container capacity" in doc.text
    assert "Sign in" not in doc.text and "newsletter" not in doc.text
    assert doc.date == "2025-02-03"


def test_markdown_front_matter_gives_metadata():
    md = b"---\ntitle: Drill off Goa\ndate: 2025-06-01\npublisher: Coast Weekly\n---\n\n# Drill off Goa\n\nThe navies of both countries held a joint drill off the coast of Goa this week, officials confirmed.\n"
    [doc] = parse("drill.md", md, ".md")
    assert (doc.title, doc.date, doc.publisher) == ("Drill off Goa", "2025-06-01", "Coast Weekly")
    assert doc.text.startswith("The navies of both countries")
