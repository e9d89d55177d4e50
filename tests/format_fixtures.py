"""Real files of every format Dossier reads, made on the spot (fpdf2, pypdf, python-docx, Pillow).

Their facts are made up, so the seed articles answer none of the questions asked of them. Used by
the tests and by scripts/measure_parsing.py.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

# Page 2, right column, of the two-column PDF (written row by row across both columns, as some
# generators do, so that pypdf's plain extraction interleaves the columns).
TWO_COLUMN_LEFT = (
    "The harbour authority of Vardø approved a new breakwater in March. Engineers said the structure "
    "would be four hundred metres long and built from granite blocks quarried near the town. The council "
    "expects the work to take two years, with a contractor chosen by public tender in the autumn."
)
TWO_COLUMN_RIGHT = (
    "Fishermen welcomed the decision but asked for compensation during construction. The mayor, Ingrid "
    "Solberg, promised a fund of two million kroner for boats that cannot land their catch while the "
    "harbour mouth is closed. Inspectors will visit the quay every month."
)
RUNNING_HEADER = "Nordic Ports Review - Quarterly Bulletin"


def _pdf():
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_creation_date(__import__("datetime").datetime(2025, 3, 14, tzinfo=__import__("datetime").timezone.utc))
    return pdf


def _lines(pdf, lines: list[str], x: float = 20, y: float = 30, h: float = 6) -> float:
    for i, line in enumerate(lines):
        pdf.set_xy(x, y + i * h)
        pdf.cell(170, h, line)
    return y + len(lines) * h


def two_column_pdf() -> bytes:
    """Page 1: one column. Page 2: a headline over two columns, written line by line across them."""
    pdf = _pdf()
    pdf.set_title("Harbour works in Vardo")
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    intro = ("This bulletin reports on harbour works along the northern coast. Several towns plan to "
             "strengthen their quays against winter storms, and the ministry has asked each of them for a "
             "budget by the end of the year. The reports that follow were filed by our correspondents.")
    _lines(pdf, textwrap.wrap(intro, 90))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.set_xy(20, 20)
    pdf.cell(170, 10, "Breakwater approved in Vardo")
    pdf.set_font("Helvetica", size=11)
    left, right = textwrap.wrap(TWO_COLUMN_LEFT, 40), textwrap.wrap(TWO_COLUMN_RIGHT, 40)
    for i in range(max(len(left), len(right))):
        y = 40 + i * 6
        if i < len(left):
            pdf.set_xy(20, y)
            pdf.cell(80, 6, left[i])
        if i < len(right):
            pdf.set_xy(110, y)
            pdf.cell(80, 6, right[i])
    return bytes(pdf.output())


def running_header_pdf() -> bytes:
    """Three pages, each with the same running head and a "Page N of 3" footer. Page 2 breaks
    "break-water" and "well-known" across lines; page 3 holds the dredging fact."""
    pdf = _pdf()
    pdf.set_title("Quarterly bulletin on Nordic ports")
    pages = [
        ["Traffic through the northern ports rose in the first quarter, led by fish exports and",
         "cruise calls. Port managers expect the summer season to be the busiest since records began."],
        ["At Hammerfest the new break-",
         "water will shelter the inner basin from the north-westerly swell. The builder, a",
         "well-known firm from Tromso, has used the same well-",
         "known granite design on three other quays."],
        ["Dredging of the Kirkenes channel will start in September and cost 120 million kroner,",
         "the port director said. The channel will then take ships with a draught of eleven metres."],
    ]
    for n, body in enumerate(pages, 1):
        pdf.add_page()
        pdf.set_font("Helvetica", "I", 9)
        pdf.set_xy(20, 10)
        pdf.cell(170, 6, RUNNING_HEADER)
        pdf.set_font("Helvetica", size=11)
        _lines(pdf, body)
        pdf.set_font("Helvetica", size=9)
        pdf.set_xy(95, 280)
        pdf.cell(20, 6, f"Page {n} of {len(pages)}")
    return bytes(pdf.output())


def encrypted_pdf(user_password: str = "secret") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(running_header_pdf())))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def image_only_pdf() -> bytes:
    """A "scan": a page holding a picture of text and no text layer."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (800, 300), "white")
    ImageDraw.Draw(image).text((20, 20), "Scanned page: the text is only pixels.", fill="black")
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    pdf = _pdf()
    pdf.add_page()
    pdf.image(io.BytesIO(buf.getvalue()), x=10, y=10, w=190)
    return bytes(pdf.output())


def docx_with_table() -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.author = "Ports Desk"
    document.add_paragraph("Ferry budgets for the coastal towns", style="Title")
    document.add_paragraph("The regional council published its ferry budgets on Monday. Each town receives a "
                           "grant for the coming year, set out in the table below.")
    document.add_heading("Grants by town", level=1)
    table = document.add_table(rows=1, cols=3)
    for cell, text in zip(table.rows[0].cells, ("Town", "Ferry grant", "Crossings per day")):
        cell.text = text
    for row in (("Bodø", "NOK 31 million", "14"), ("Narvik", "NOK 17 million", "9"), ("Alta", "NOK 8 million", "4")):
        cells = table.add_row().cells
        for cell, text in zip(cells, row):
            cell.text = text
    document.add_paragraph("Councillors said the grants would be reviewed after the summer timetable.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


LATIN1_TEXT = (
    "Title: Café owner honoured in Tromsø\n\n"
    "The Café Øresund in Tromsø has been run by Señor José Müller since 1987, and on Friday the town "
    "gave him its medal for services to the harbour district. Müller said the prize belonged to his "
    "staff, who served coffee to the fishing crews through every winter storm.\n"
)


def latin1_file() -> bytes:
    return LATIN1_TEXT.encode("latin-1")


LINKED_PAGE = """<!doctype html><html><head><title>Lighthouse keeper retires after forty years</title>
<meta property="og:site_name" content="Coastal Times"><meta name="author" content="Kari Nilsen">
<meta property="article:published_time" content="2025-06-02T08:00:00Z"></head><body>
<nav><a href="/">Home</a> <a href="/news">News</a></nav>
<article><h1>Lighthouse keeper retires after forty years</h1>
<p>Arne Haugen, the last keeper of the Slettnes lighthouse, retired on Sunday after forty years at the station.
He said the hardest winter was in 1993, when a storm cut the road for nineteen days and supplies came by helicopter.</p>
<p>The lighthouse has been automatic since 2005, but Haugen stayed on to look after the building and its visitors.
The coastal administration plans to turn the keeper's house into a small museum next summer.</p>
</article><footer>Subscribe to our newsletter</footer></body></html>"""


def write_all(folder: Path) -> dict[str, Path]:
    """Every good fixture in `folder`, by kind."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "two_column": ("harbour-bulletin.pdf", two_column_pdf()),
        "running_header": ("ports-review.pdf", running_header_pdf()),
        "docx": ("ferry-budgets.docx", docx_with_table()),
        "latin1": ("cafe-latin1.txt", latin1_file()),
    }
    out = {}
    for kind, (name, data) in files.items():
        (folder / name).write_bytes(data)
        out[kind] = folder / name
    return out
