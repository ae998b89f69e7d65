"""Charts drawn on demand in the browser (``static/portal/charts.js``): pages that only may show a
chart (a panel, a running job) do not load Plotly until one is there."""

from __future__ import annotations

import json

from django.utils.html import format_html
from django.utils.safestring import SafeString

CONFIG = {"displayModeBar": False, "responsive": True}


def lazy_chart_html(figure, *, config: dict | None = None) -> SafeString:
    height = figure.layout.height or 300
    return format_html('<div class="plotly-graph-div" style="height:{}px" data-figure="{}" data-config="{}"></div>',
                       height, figure.to_json(), json.dumps(config or CONFIG))
