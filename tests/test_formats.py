"""PDF, Word and non-UTF-8 text files, parsed from real files the tests make (no model, no index)."""

from __future__ import annotations

import io

import format_fixtures as ff
import pytest

from rag.errors import CorpusError
from rag.ingest.charset import decode_text
from rag.ingest.loaders import parse
from rag.ingest.pdf import read_pdf


def _sentences(text: str) -> list[str]:
    return [s.strip() + "." for s in text.split(". ") if s.strip()]


def test_two_column_pdf_reads_each_column_in_order():
    data = ff.two_column_pdf()
    # The fixture is the hard case: pypdf's plain text interleaves the two columns line by line.
    from pypdf import PdfReader

    plain = " ".join(PdfReader(io.BytesIO(data)).pages[1].extract_text().split())
    assert "Ingrid Solberg, promised a fund" not in plain
    [doc] = parse("bulletin.pdf", data, ".pdf")
    for sentence in _sentences(ff.TWO_COLUMN_LEFT) + _sentences(ff.TWO_COLUMN_RIGHT):
        assert sentence.rstrip(".") in doc.text, sentence
    assert doc.text.index("public tender") < doc.text.index("Fishermen welcomed")  # left column first
    assert len(doc.page_starts) == 2 and doc.page_starts[0] == 0
    assert doc.page_at(doc.text.index("Fishermen welcomed")) == 2
    assert doc.page_at(doc.text.index("This bulletin reports")) == 1
    assert doc.title == "Harbour works in Vardo" and doc.date == "2025-03-14"


def test_running_heads_and_page_numbers_are_removed_and_hyphens_joined():
    [doc] = parse("review.pdf", ff.running_header_pdf(), ".pdf")
    assert ff.RUNNING_HEADER not in doc.text and "Page 2 of 3" not in doc.text and "of 3" not in doc.text
    assert "new breakwater will shelter" in doc.text  # "break-" + "water" at a line end
    assert doc.text.count("well-known") == 2  # written unbroken elsewhere: the hyphen stays
    assert [doc.page_at(doc.text.index(w)) for w in ("Traffic through", "At Hammerfest", "Dredging")] == [1, 2, 3]
    # Offsets stay exact: each page's text starts where page_starts says.
    assert doc.text[doc.page_starts[2]:].startswith("Dredging of the Kirkenes channel")


def test_encrypted_and_image_only_pdfs_are_refused_with_a_reason():
    with pytest.raises(CorpusError, match=r"^locked.pdf: this PDF is encrypted and needs a password"):
        read_pdf("locked.pdf", ff.encrypted_pdf())
    with pytest.raises(CorpusError, match=r"^scan.pdf: this PDF has no text layer; run OCR first"):
        read_pdf("scan.pdf", ff.image_only_pdf())
    with pytest.raises(CorpusError, match=r"^junk.pdf: not a readable PDF"):
        read_pdf("junk.pdf", b"%PDF-1.4 this is not really a pdf")


def test_a_pdf_with_only_an_owner_password_opens():
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(ff.running_header_pdf())))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    assert "Kirkenes" in read_pdf("restricted.pdf", out.getvalue()).text


def test_docx_paragraphs_headings_and_table_rows():
    [doc] = parse("ferries.docx", ff.docx_with_table(), ".docx")
    assert doc.title == "Ferry budgets for the coastal towns" and doc.publisher == "Ports Desk"
    paragraphs = doc.text.split("\n\n")
    assert paragraphs[0].startswith("The regional council published")
    assert "Grants by town" in paragraphs  # a heading stays as its own paragraph
    assert "Town: Narvik; Ferry grant: NOK 17 million; Crossings per day: 9." in paragraphs
    assert paragraphs[-1].startswith("Councillors said")
    assert doc.page_starts == ()
    with pytest.raises(CorpusError, match=r"^old.docx: not a readable Word .docx file"):
        parse("old.docx", b"\xd0\xcf\x11\xe0 an old binary .doc", ".docx")


def test_latin1_text_is_decoded_and_its_encoding_recorded():
    [doc] = parse("cafe.txt", ff.latin1_file(), ".txt")
    assert doc.title == "Café owner honoured in Tromsø"
    assert "Señor José Müller" in doc.text and doc.encoding == "iso8859-1"
    [utf8] = parse("cafe.txt", ff.LATIN1_TEXT.encode("utf-8"), ".txt")
    assert utf8.text == doc.text and utf8.encoding == "utf-8"


def test_windows_1252_wins_a_tie_between_code_pages():
    # charset-normalizer alone picks cp1250 for this text, which reads "où" as "oů".
    text = "Le café de la gare, où l’on sert des crêpes à Noël. Über München fährt der Zug."
    decoded = decode_text("menu.txt", text.encode("cp1252"))
    assert decoded.text == text and decoded.encoding == "cp1252"


def test_binary_bytes_are_not_taken_for_text():
    data = bytes(range(256)) * 4
    # (rag.ingest.sniff refuses it before charset detection gets to guess a code page for it)
    with pytest.raises(CorpusError, match=r"^blob.txt: looks like binary data, not a text article"):
        parse("blob.txt", data, ".txt")


def test_a_pdf_citation_names_its_page_on_the_card_and_in_the_cli():
    from rag import cli
    from rag.schema import Answer, Citation
    from rag.web import render

    sentence = "Dredging of the Kirkenes channel will start in September."
    cite = Citation(n=1, doc_id="review", title="Ports review", source="review.pdf", snippet=sentence, start=0,
                    end=len(sentence), score=1.0, context=sentence, page=3)
    answer = Answer(text=sentence[:-1] + " [1].", citations=[cite], abstained=False, question="q", query="q")
    html = render.answer_html(answer, "t1")
    assert '<span class="dz-page">p. 3</span>' in html and "</b> · p. 3<br>" in html  # the card and the hover tip
    assert "review.pdf, p. 3)" in cli.render(answer)
    plain = Answer(text="x [1].", citations=[Citation(**{**cite.to_dict(), "page": None})], abstained=False)
    assert "dz-page" not in render.answer_html(plain, "t1") and "p. " not in cli.render(plain)


def test_a_server_that_refuses_private_addresses_does_not_fetch_them():
    """RAG_FETCH_PRIVATE_ADDRESSES=0 (a shared server): a link into the machine's own network is
    refused before any request is made; the port below has nothing listening."""
    from rag.ingest.web import FetchLimits, fetch

    for url in ("http://127.0.0.1:9/admin", "http://localhost:9/", "http://10.0.0.1:9/", "http://169.254.169.254/latest/"):
        with pytest.raises(CorpusError, match="private or local network address, which this server does not fetch"):
            fetch(url, FetchLimits(timeout=1, private_addresses=False))
