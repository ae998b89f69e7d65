"""Deployment charts: pure functions from numbers to Plotly figures."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

FONT = dict(family="-apple-system, Segoe UI, Roboto, DejaVu Sans, Arial, sans-serif", size=12, color="#1b2430")
COLOURS = ["#2563eb", "#d97706", "#15803d", "#9333ea", "#dc2626", "#0891b2"]


def _layout(fig: go.Figure, height: int) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=50, r=20, t=30, b=40), paper_bgcolor="rgba(0,0,0,0)",
                      plot_bgcolor="rgba(0,0,0,0)", font=FONT,
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    fig.update_xaxes(showgrid=False)
    fig.update_yaxes(gridcolor="#eef1f5", rangemode="tozero")
    return fig


def traffic_figure(series: dict[str, dict[str, list]]) -> go.Figure:
    """Per endpoint: requests per minute (top) and p50 / p99 latency in ms (bottom)."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
                        subplot_titles=("Requests per minute", "Latency (ms): p50 solid, p99 dotted"))
    for i, (name, s) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        fig.add_trace(go.Scatter(x=s["times"], y=s["requests"], name=name, mode="lines", line=dict(color=colour)),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=s["times"], y=s["p50"], name=f"{name} p50", mode="lines", showlegend=False,
                                 line=dict(color=colour), connectgaps=False), row=2, col=1)
        fig.add_trace(go.Scatter(x=s["times"], y=s["p99"], name=f"{name} p99", mode="lines", showlegend=False,
                                 line=dict(color=colour, dash="dot"), connectgaps=False), row=2, col=1)
    fig.update_annotations(font=dict(size=12, color="#667085"))
    return _layout(fig, 360)


def output_distribution_figure(outputs: dict[str, list[float]], *, label: str = "Prediction") -> go.Figure:
    """Overlaid histograms of each role's outputs (primary against canary or shadow)."""
    fig = go.Figure()
    for i, (name, values) in enumerate(outputs.items()):
        fig.add_trace(go.Histogram(x=values, name=name, opacity=0.6, histnorm="probability",
                                   marker_color=COLOURS[i % len(COLOURS)]))
    fig.update_layout(barmode="overlay", xaxis_title=label, yaxis_title="share of requests")
    return _layout(fig, 260)
