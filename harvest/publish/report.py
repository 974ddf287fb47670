"""The funder's overview as a PDF, for board papers: ``harvest report`` and the dashboard's
download button. Made with fpdf2 (pure Python), from the same ``Overview`` the page
shows, so every figure is the published one; black text on white, tables not colours,
and reach over time and the map drawn in greys and black (report_charts.py).
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from harvest.errors import PublishError
from harvest.publish import report_charts
from harvest.publish.dashboard import TOO_FEW, Figure, Overview, build, connect, selection_from
from harvest.publish.dashboard import shown_value as shown
from harvest.publish.figures import when

PARTS = [
    ("reach", ""),
    ("who", "Who"),
    ("circumstances", ""),
    ("sessions", ""),
    ("areas", "Where"),
    ("districts", ""),
    ("deprivation", ""),
    ("activities", "What"),
    ("volunteers", ""),
    ("outcomes", "What changed"),
    ("scores", ""),
    ("coverage", "About these figures"),
]
DRAWN = {  # mm a figure's title, explanation and drawing take
    "reach": report_charts.CHART_HEIGHT + report_charts.LABELS + 25,
    "volunteers": report_charts.CHART_HEIGHT + report_charts.LABELS + 25,
    "districts": report_charts.MAP_HEIGHT + 25,
}
PLAIN = str.maketrans({"·": "-", "–": "-", "—": "-", "“": '"', "”": '"', "’": "'", "‘": "'"})


def text(value: str) -> str:
    """Text the PDF's built-in fonts can print (Latin-1)."""
    return value.translate(PLAIN).encode("latin-1", "replace").decode("latin-1")


class Report(FPDF):
    def __init__(self, overview: Overview) -> None:
        super().__init__(format="A4")
        self.overview = overview
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, 15)
        self.set_title(text(f"{overview.organisation}: {overview.describe()}"))
        self.set_author(text(overview.organisation))

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 5, text(f"{self.overview.organisation} - page {self.page_no()}"), align="C")

    def line_of(self, words: str, size: float = 10, style: str = "", height: float = 5) -> None:
        self.set_font("Helvetica", style, size)
        self.multi_cell(0, height, text(words), new_x="LMARGIN", new_y="NEXT")


def _headline(pdf: Report) -> None:
    o = pdf.overview
    pdf.line_of(f"People reached in {o.period_label}", 14, "B", 8)
    if o.headline is None:
        pdf.line_of(TOO_FEW, 11, "B")
        return
    h = o.headline
    names = [
        ("people", "people reached"),
        ("attendances", "attendances"),
        ("new_people", "new people"),
        ("returning_people", "returning people"),
    ]
    big, small = FontFace(emphasis="BOLD", size_pt=18), FontFace(size_pt=9)
    pdf.set_font("Helvetica", size=9)
    with pdf.table(col_widths=(1, 1, 1, 1), text_align="CENTER", first_row_as_headings=False) as t:
        figures, labels = t.row(), t.row()
        for key, label in names:
            figures.cell(shown(h[key]), style=big)
            labels.cell(label, style=small)
    pdf.ln(2)


def _figure(pdf: Report, figure: Figure) -> None:
    if figure.key in DRAWN and figure.rows and not figure.too_few:  # title and drawing together
        report_charts.room(pdf, DRAWN[figure.key])
    pdf.line_of(figure.title, 12, "B", 7)
    pdf.line_of(figure.explain, 8.5, "", 4)
    pdf.ln(1)
    if figure.too_few:
        pdf.line_of(TOO_FEW, 10, "B")
        pdf.ln(3)
        return
    if not figure.rows:
        pdf.line_of("Nothing to show.", 10)
        return
    if figure.key in ("reach", "volunteers"):
        report_charts.bars(pdf, figure, pdf.overview.selection.period, text)
    if figure.key == "districts":
        report_charts.uk_map(pdf, figure, text)
    pdf.set_font("Helvetica", size=8.5)
    n = len(figure.columns)
    widths = (3, *([1.4] * (n - 1))) if n > 2 else (3, 1)
    with pdf.table(
        col_widths=widths,
        headings_style=FontFace(emphasis="BOLD"),
        line_height=4.5,
        text_align=("LEFT", *(["RIGHT"] * (n - 1))),
    ) as table:
        table.row([text(c) for c in figure.columns])
        for row in figure.rows:
            table.row([text(shown(v)) for v in row[:n]])
    if figure.note:
        pdf.line_of(figure.note, 8.5)
    pdf.ln(3)


def render_pdf(overview: Overview) -> bytes:
    """The overview as the bytes of a PDF."""
    pdf = Report(overview)
    pdf.add_page()
    pdf.line_of(overview.organisation, 20, "B", 10)
    pdf.line_of("Who we reached and what changed", 14, "", 7)
    pdf.line_of(overview.describe(), 11, "B")
    pdf.line_of(
        "Figures from the charity's own records. Nobody is named: small numbers are hidden "
        "and every figure is rounded to 5 with a small fixed adjustment.",
        9,
    )
    pdf.ln(3)
    _headline(pdf)
    for key, part in PARTS:
        if part:
            pdf.line_of(part, 15, "B", 9)
        _figure(pdf, overview.figures[key])
    about = overview.about
    published = when(about.get("published_at"))
    pdf.line_of(f"Published {published}. {about.get('postcode_data', '')}.", 8)
    return bytes(pdf.output())


def write_report(
    funders_db: Path,
    out: Path,
    period: str = "",
    activity: str = "",
    area: str = "",
    organisation: str | None = None,
) -> Overview:
    """Write the overview of funders.db for a choice as a PDF at ``out``."""
    if not Path(funders_db).is_file():
        raise PublishError(f"There is no funders database at {funders_db}: run `harvest publish`.")
    conn = connect(funders_db)
    try:
        args = {"period": period, "activity": activity, "area": area}
        overview = build(conn, selection_from(conn, args), organisation)
    finally:
        conn.close()
    try:
        Path(out).write_bytes(render_pdf(overview))
    except OSError as exc:
        raise PublishError(f"Could not write the report to {out}: {exc}.") from None
    return overview
