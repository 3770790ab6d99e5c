"""Template tags for the console: navigation by role, SVG bar charts."""
from __future__ import annotations

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from ..access import in_language as _in_language
from ..access import may_use, navigation
from ..access import role_label as _role_label
from ..charts import bar_chart_geometry

register = template.Library()


@register.simple_tag(takes_context=True)
def console_nav(context):
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return []
    return navigation(request.user)


@register.simple_tag(takes_context=True)
def console_may(context, key: str) -> bool:
    request = context.get("request")
    return bool(request is not None and may_use(request.user, key))


@register.inclusion_tag("console/widgets/bar_chart.svg")
def bar_chart(chart, chart_id: str, title: str):
    return {
        "geometry": bar_chart_geometry(chart, suppressed_text=_("秘匿")),
        "chart": chart,
        "chart_id": chart_id,
        "title": title,
    }


@register.filter
def grouped(value):
    """230000 → "230,000" (whatever the language's thousand separator)."""
    if value is None or value == "":
        return ""
    return number_format(value, force_grouping=True)


@register.filter
def role_label(role) -> str:
    return _role_label(getattr(role, "name", role))


@register.filter
def in_language(label) -> str:
    """"防災・災害情報 / Disaster" → the part in the current language."""
    return _in_language(label)
