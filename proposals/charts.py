"""Council charts: pure functions from counts to Plotly figures, no ORM inside."""

from __future__ import annotations

import plotly.graph_objects as go

# One colour per proposal state, matching the state badges in portal.css.
STATE_COLOURS = {
    "draft": "#98a2b3",
    "pod_review": "#0369a1",
    "council_review": "#6d28d9",
    "changes_requested": "#d97706",
    "escalated": "#c2410c",
    "approved": "#15803d",
    "rejected": "#b91c1c",
    "withdrawn": "#cbd2dc",
}


def proposals_by_pod_figure(by_pod: dict[str, dict[str, int]], *, states: list[tuple[str, str]]) -> go.Figure:
    """A stacked bar per pod, one segment per state; states nobody is in are left out of the legend.

    ``by_pod`` is ``{pod name: {state: count}}``; ``states`` is ``[(value, label), ...]`` in stacking order.
    """
    pods = sorted(by_pod, key=lambda p: (-sum(by_pod[p].values()), p))
    fig = go.Figure()
    for value, label in states:
        counts = [by_pod[p].get(value, 0) for p in pods]
        if not any(counts):
            continue
        fig.add_trace(go.Bar(
            name=label, x=pods, y=counts, marker_color=STATE_COLOURS.get(value),
            hovertemplate="%{x}: %{y} " + label.lower() + "<extra></extra>",
        ))
    fig.update_layout(
        barmode="stack",
        height=320,
        margin=dict(l=40, r=10, t=10, b=40),
        legend=dict(orientation="h", yanchor="top", y=-0.15, x=0, traceorder="normal"),
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        yaxis=dict(title="Proposals", dtick=1 if max((sum(v.values()) for v in by_pod.values()), default=0) <= 10 else None,
                   gridcolor="#e2e7ee", rangemode="tozero"),
        xaxis=dict(automargin=True),
        font=dict(family="-apple-system, Segoe UI, Roboto, DejaVu Sans, Arial, sans-serif", size=12, color="#1b2430"),
    )
    return fig
