from django.urls import reverse

NAV = [
    ("dashboard", "Dashboard", "dashboard"),
    ("proposals", "Proposals", "proposals:list"),
    ("council", "Council", "proposals:council"),
    ("people", "People", "people"),
    ("projects", "Projects & Models", "registry:projects"),
    ("deployments", "Deployments", "serving:deployments"),
    ("features", "Features", "features:list"),
    ("monitoring", "Monitoring", "observability:monitoring"),
    ("jobs", "Jobs", "workers:job_list"),
    ("system", "System", "workers:system"),
]


def navigation(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    match = getattr(request, "resolver_match", None)
    section = None
    if match is not None:
        section = (
            getattr(match.func, "nav_section", None)
            or match.kwargs.get("section")
            or {"proposals": "proposals", "registry": "projects", "serving": "deployments",
                "features": "features",
                "observability": "monitoring", "workers": "jobs"}.get(match.namespace)
            or match.url_name
        )
    from proposals.selectors import owed_count

    counts = getattr(request, "queue_counts", None)  # the home page has counted already
    owed = sum(counts.values()) if counts is not None else owed_count(user=request.user)
    items = [
        {"key": key, "label": label, "url": reverse(url_name), "active": key == section,
         "badge": owed if key == "dashboard" else 0,
         "badge_title": f"{owed} thing{'s' if owed != 1 else ''} wait for you" if key == "dashboard" else ""}
        for key, label, url_name in NAV
    ]
    return {"nav_items": items, "owed_count": owed}


def notifications(request):
    """The bell's unread count, one query a page."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    from portal.selectors import inbox_unread_count

    return {"unread_notifications": inbox_unread_count(user=request.user)}
