"""Monitoring charts: pure functions from numbers to Plotly figures, no ORM inside."""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go

FONT = dict(family="-apple-system, Segoe UI, Roboto, DejaVu Sans, Arial, sans-serif", size=12, color="#1b2430")
COLOURS = ["#2563eb", "#d97706", "#15803d", "#9333ea", "#0891b2", "#be185d", "#4d7c0f", "#92400e"]
WARN, ALERT = "#d97706", "#dc2626"
REFERENCE, CURRENT = "#98a2b3", "#2563eb"

Series = dict[str, list[tuple[dt.datetime, float]]]


def _layout(fig: go.Figure, height: int, **extra) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=55, r=20, t=30, b=40), paper_bgcolor="rgba(0,0,0,0)",
                      plot_bgcolor="rgba(0,0,0,0)", font=FONT,
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0), **extra)
    fig.update_xaxes(showgrid=False)
    fig.update_yaxes(gridcolor="#eef1f5", zeroline=False)
    return fig


def _threshold(fig: go.Figure, value: float | None, label: str, colour: str) -> None:
    """A dashed horizontal line, labelled above its left end (no label when ``label`` is empty)."""
    if value is None:
        return
    annotation = dict(annotation=dict(text=label, font=dict(size=11, color=colour), xanchor="left"),
                      annotation_position="top left") if label else {}
    fig.add_hline(y=value, line=dict(color=colour, dash="dash", width=1), **annotation)


def drift_over_time_figure(series: Series, *, warn: float | None, alert: float | None, label: str = "PSI",
                           highlight: str | None = None) -> go.Figure:
    """One line per feature; the warn and alert thresholds drawn as dashed lines."""
    fig = go.Figure()
    for i, (feature, points) in enumerate(sorted(series.items())):
        strong = highlight is None or feature == highlight
        fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], name=feature or "prediction",
                                 mode="lines+markers", marker=dict(size=4),
                                 line=dict(color=COLOURS[i % len(COLOURS)], width=2.5 if feature == highlight else 1.5),
                                 opacity=1.0 if strong else 0.35))
    top = max([y for points in series.values() for _, y in points if y is not None] + [warn or 0, alert or 0])
    if warn is not None and alert is not None and top > 0 and (alert - warn) / top < 0.08:
        # On a chart scaled to a large value the two lines nearly meet: their own labels would print
        # over each other, so one label over both says which is which.
        _threshold(fig, warn, "", WARN)
        _threshold(fig, alert, f'<span style="color:{WARN}">warn {warn:g}</span> · alert {alert:g}', ALERT)
    else:
        _threshold(fig, warn, f"warn {warn:g}" if warn is not None else "", WARN)
        _threshold(fig, alert, f"alert {alert:g}" if alert is not None else "", ALERT)
    values = [v for points in series.values() for _, v in points if v is not None]
    top = max(values, default=0.0)
    if alert and top > 5 * alert and min(values) > 0:
        # One feature far past the alert line would flatten every other line and both thresholds
        # against the axis: a log scale keeps them all readable.
        fig.update_yaxes(title_text=f"{label} (log scale)", type="log")
    else:
        fig.update_yaxes(title_text=label, rangemode="tozero")
    return _layout(fig, 320)


def heatmap_figure(series: Series, *, alert: float | None, label: str = "PSI") -> go.Figure:
    """Feature by time: each cell a run's statistic; colours saturate at twice the alert threshold."""
    times = sorted({at for points in series.values() for at, _ in points})
    features = sorted(series)
    index = {t: i for i, t in enumerate(times)}
    grid = [[None] * len(times) for _ in features]
    for row, feature in enumerate(features):
        for at, value in series[feature]:
            grid[row][index[at]] = value
    top = (alert or 0.2) * 2
    fig = go.Figure(go.Heatmap(z=grid, x=times, y=features, zmin=0, zmax=top, hoverongaps=False,
                               colorscale=[[0, "#f0fdf4"], [0.25, "#bbf7d0"], [0.5, "#fde68a"], [1.0, "#dc2626"]],
                               colorbar=dict(title=dict(text=label), thickness=12)))
    # Every feature named: Plotly otherwise skips every other label on a short chart (a phone), and
    # the drifting feature's row can be the unnamed one.
    fig.update_yaxes(tickmode="array", tickvals=features, ticktext=features)
    return _layout(fig, max(200, 70 + 26 * len(features)))


def distribution_figure(histogram: dict, *, label: str) -> go.Figure:
    """The window's distribution against the reference's, on the reference's bins (or categories)."""
    names = histogram.get("labels") or histogram.get("categories") or _bin_labels(histogram.get("edges") or [])
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=histogram.get("reference") or [], name="training (reference)",
                         marker_color=REFERENCE))
    fig.add_trace(go.Bar(x=names, y=histogram.get("current") or [], name="this window", marker_color=CURRENT))
    fig.update_layout(barmode="group", bargap=0.15)
    fig.update_yaxes(title_text="share of rows", tickformat=".0%", rangemode="tozero")
    fig.update_xaxes(title_text=label, type="category")
    return _layout(fig, 280)


def _bin_labels(edges: list[float]) -> list[str]:
    if not edges:
        return ["all"]
    fmt = lambda v: f"{v:.3g}"  # noqa: E731
    labels = [f"≤ {fmt(edges[0])}"]
    labels += [f"{fmt(a)} – {fmt(b)}" for a, b in zip(edges, edges[1:])]
    labels.append(f"> {fmt(edges[-1])}")
    return labels


def quality_figure(points: list[tuple[dt.datetime, float]], *, metric: str, target: float | None = None,
                   lower_is_better: bool = True, height: int = 260) -> go.Figure:
    """A quality metric over time, with the promised target drawn."""
    fig = go.Figure(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], name=metric, mode="lines+markers",
                               line=dict(color=COLOURS[0]), marker=dict(size=5)))
    if target is not None:
        _threshold(fig, target, f"promised {'≤' if lower_is_better else '≥'} {target:g}", ALERT)
    fig.update_yaxes(title_text=metric.replace("_", " "))
    return _layout(fig, height)


def rates_figure(series: Series, *, label: str) -> go.Figure:
    """One line per feature that had a non-zero rate (all of them when none had): a legend of flat
    lines at 0% fills a phone's chart and says nothing."""
    shown = {k: v for k, v in series.items() if any(y for _, y in v)} or series
    fig = go.Figure()
    for i, (feature, points) in enumerate(sorted(shown.items())):
        fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], name=feature or "prediction",
                                 mode="lines", line=dict(color=COLOURS[i % len(COLOURS)])))
    # ".0%" printed 1.5% as "2%": small rates got the same label on two ticks.
    fig.update_yaxes(title_text=label, tickformat=".1~%", rangemode="tozero")
    return _layout(fig, 240)


def maturity_figure(counts: dict[int, int], names: dict[int, str], *, title: str) -> go.Figure:
    levels = sorted(names)
    fig = go.Figure(go.Bar(x=[counts.get(level, 0) for level in levels], y=[f"{level} · {names[level]}" for level in levels],
                           orientation="h", marker_color=COLOURS[0], text=[counts.get(level, 0) for level in levels],
                           textposition="auto"))
    fig.update_xaxes(title_text="projects", dtick=1, rangemode="tozero")
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, 60 + 34 * len(levels), title=dict(text=title, font=dict(size=13)))
