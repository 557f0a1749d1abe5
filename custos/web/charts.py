"""Charts drawn on the server as inline SVG: bars and a funnel, with their data as a table.

The geometry is worked out here and drawn by `web/dashboard/chart.html`. No styles are
inline (the CSP forbids them): colours come from CSS classes. Right-to-left languages get
a mirrored drawing, bars growing from the right, with x computed from the right edge; the
SVG carries `direction="rtl"`, so a text's start and end anchors turn with it and the same
anchors serve both directions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.numbers import format_percent
from django.utils.translation import get_language, to_locale

WIDTH = 640
LABEL_WIDTH = 200  # the names, before the bars
VALUE_WIDTH = 130  # the numbers, after the longest bar
GAP = 8
ROW_HEIGHT = 30
BAR_HEIGHT = 20
PADDING = 6
MAX_LABEL_CHARACTERS = 26
BAR_AREA = WIDTH - LABEL_WIDTH - VALUE_WIDTH


@dataclass(frozen=True)
class Item:
    """One bar: its name, its size, and how its value reads in the reader's locale."""

    label: str
    value: Decimal | int
    shown: str


@dataclass(frozen=True)
class Bar:
    label: str
    shown: str
    css_class: str
    x: float
    y: float
    width: float
    height: float
    label_x: float
    value_x: float
    text_y: float


@dataclass(frozen=True)
class Chart:
    """A drawn chart and the table that says the same in words and numbers."""

    id: str
    title: str
    description: str
    rtl: bool
    bars: list[Bar]
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    kind: str = "bars"
    width: int = WIDTH

    @property
    def height(self) -> int:
        return max(1, len(self.bars)) * ROW_HEIGHT + 2 * PADDING

    @property
    def direction(self) -> str:
        return "rtl" if self.rtl else "ltr"


def _short(label: str) -> str:
    """A long name cut to fit beside its bar; the table keeps it whole."""
    return label if len(label) <= MAX_LABEL_CHARACTERS else label[: MAX_LABEL_CHARACTERS - 1].rstrip() + "…"


def _mirrored(x: float, width: float, rtl: bool) -> float:
    """The x of a box (or, with width 0, of a point) as drawn: from the right in RTL."""
    return round(WIDTH - x - width, 2) if rtl else round(x, 2)


def bar_chart(
    *,
    id: str,
    title: str,
    description: str,
    items: Sequence[Item],
    columns: list[str],
    rows: list[list[str]],
    rtl: bool,
    funnel: bool = False,
) -> Chart:
    """Horizontal bars from the start edge, longest = largest; a funnel centres each bar and
    puts its number in the column after the widest one, so the steps line up."""
    largest = max((item.value for item in items), default=0) or 1
    bars = []
    for index, item in enumerate(items):
        width = round(float(item.value) / float(largest) * BAR_AREA, 2) if item.value else 0.0
        if item.value and width < 2:
            width = 2.0  # a value above nothing shows as a sliver, not as nothing
        x = LABEL_WIDTH + (BAR_AREA - width) / 2 if funnel else LABEL_WIDTH
        value_x = LABEL_WIDTH + BAR_AREA + GAP if funnel else LABEL_WIDTH + width + GAP
        y = PADDING + index * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2
        bars.append(
            Bar(
                label=_short(item.label),
                shown=item.shown,
                css_class=f"chart-bar step-{index % 6 + 1}" if funnel else "chart-bar",
                x=_mirrored(x, width, rtl),
                y=round(y, 2),
                width=width,
                height=BAR_HEIGHT,
                label_x=_mirrored(LABEL_WIDTH - GAP, 0, rtl),
                value_x=_mirrored(value_x, 0, rtl),
                text_y=round(y + BAR_HEIGHT / 2, 2),
            )
        )
    return Chart(
        id=id,
        title=title,
        description=description,
        rtl=rtl,
        bars=bars,
        columns=columns,
        rows=rows,
        kind="funnel" if funnel else "bars",
    )


def percent(part: Decimal | int | None, whole: Decimal | int = 1) -> str:
    """part / whole as a percentage in the reader's locale (“62 %” in German); a dash when
    there is nothing to divide by."""
    if part is None or not whole:
        return "—"
    try:
        locale = Locale.parse(to_locale(get_language() or "en"))
    except (UnknownLocaleError, ValueError):
        locale = Locale.parse("en")
    return format_percent(Decimal(part) / Decimal(whole), locale=locale)
