"""Server-side SVG bar charts: geometry is computed here, markup is a template (so every label is
escaped by Django). Horizontal bars, because category labels are Japanese names of varying length.

The SVG carries no inline style (the console's CSP forbids it): colours come from classes in
console.css. Each chart is drawn beside a data table with the same numbers, which is what screen
readers use; the SVG itself is one labelled image.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.utils.formats import number_format

from .dashboard import Chart

WIDTH = 640
LABEL_WIDTH = 170
VALUE_WIDTH = 80
ROW_HEIGHT = 26
BAR_HEIGHT = 16
TOP = 8
MAX_LABEL_CHARS = 11


@dataclass(frozen=True)
class BarGeometry:
    label: str
    short_label: str
    value_text: str
    suppressed: bool
    y: int  # top of the row
    bar_y: int
    text_y: int
    bar_width: float
    value_x: float


@dataclass(frozen=True)
class BarChartGeometry:
    width: int
    height: int
    label_width: int
    bar_x: int
    bar_height: int
    plot_width: int
    bars: list[BarGeometry]
    gridlines: list[tuple[float, str]]


def _nice_ceiling(value: int) -> int:
    """A round axis maximum ≥ value: 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 × 10^n."""
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if value <= step * magnitude:
            return int(step * magnitude)
    return value  # pragma: no cover - the loop always returns


def shorten(label: str, limit: int = MAX_LABEL_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bar_chart_geometry(chart: Chart, *, suppressed_text: str) -> BarChartGeometry:
    plot_width = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    values = [bar.value for bar in chart.bars if bar.value is not None]
    axis_max = _nice_ceiling(max(values, default=0))
    bars = []
    for index, bar in enumerate(chart.bars):
        y = TOP + index * ROW_HEIGHT
        width = 0.0 if bar.value is None else round(plot_width * bar.value / axis_max, 1)
        bars.append(BarGeometry(
            label=bar.label,
            short_label=shorten(bar.label),
            value_text=suppressed_text if bar.suppressed else number_format(bar.value or 0, force_grouping=True),
            suppressed=bar.suppressed,
            y=y,
            bar_y=y + (ROW_HEIGHT - BAR_HEIGHT) // 2,
            text_y=y + ROW_HEIGHT // 2 + 5,
            bar_width=width,
            value_x=LABEL_WIDTH + width + 6,
        ))
    fractions = (0, 0.5, 1) if axis_max % 2 == 0 else (0, 1)  # ticks only at whole numbers
    gridlines = [(round(LABEL_WIDTH + plot_width * fraction, 1),
                  number_format(int(axis_max * fraction), force_grouping=True)) for fraction in fractions]
    height = TOP * 2 + ROW_HEIGHT * max(len(bars), 1) + 14
    return BarChartGeometry(width=WIDTH, height=height, label_width=LABEL_WIDTH, bar_x=LABEL_WIDTH,
                            bar_height=BAR_HEIGHT, plot_width=plot_width, bars=bars, gridlines=gridlines)
