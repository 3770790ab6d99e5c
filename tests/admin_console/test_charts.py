"""The SVG bar chart's geometry: a round axis, bars in proportion, suppressed cells drawn apart."""
from __future__ import annotations

from admin_console.charts import _nice_ceiling, bar_chart_geometry, shorten
from admin_console.dashboard import Bar, Chart


def test_nice_axis_maximum():
    assert [_nice_ceiling(v) for v in (0, 1, 7, 11, 23, 30_347, 15_950, 100)] == [1, 1, 8, 12, 25, 40_000, 20_000, 100]


def test_bars_are_in_proportion_and_suppressed_ones_have_no_length():
    chart = Chart(bars=[Bar("勧興", 15_950), Bar("循誘", 7_975), Bar("三瀬", None, suppressed=True)])
    geometry = bar_chart_geometry(chart, suppressed_text="秘匿")
    full, half, hidden = geometry.bars
    assert full.bar_width == round(geometry.plot_width * 15_950 / 20_000, 1)
    assert abs(half.bar_width * 2 - full.bar_width) < 0.2
    assert hidden.bar_width == 0 and hidden.suppressed and hidden.value_text == "秘匿"
    assert full.value_text == "15,950"
    assert [label for _x, label in geometry.gridlines] == ["0", "10,000", "20,000"]
    assert geometry.height == 8 * 2 + 26 * 3 + 14


def test_long_labels_are_shortened_for_the_svg_only():
    label = "佐賀市立北川副小学校区（東部）"
    assert shorten(label) == label[:10] + "…"
    chart = Chart(bars=[Bar(label, 3)])
    bar = bar_chart_geometry(chart, suppressed_text="-").bars[0]
    assert bar.label == label and bar.short_label.endswith("…")
