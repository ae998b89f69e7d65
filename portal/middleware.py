from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Every page needs sign-in. The REST API answers 401 itself (session or token auth),
    so its views are left to DRF; the interactive API docs are a page and redirect."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        path = request.path_info
        if path.startswith(settings.PUBLIC_PATHS):
            return None
        if path.startswith("/api/docs/"):
            # DRF marks every view it serves login-not-required, this page included.
            return None if request.user.is_authenticated else self.handle_no_permission(request, view_func)
        if path.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class DesignedErrorPagesMiddleware:
    """With DEBUG on, Django answers a missing page or a crash with its technical pages. People
    trying the portal in development should see what production shows; set
    ``DEBUG_TECHNICAL_ERRORS=true`` to get Django's pages (tracebacks, URL lists) back. The
    traceback of a crash is logged either way."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not settings.DEBUG or settings.DEBUG_TECHNICAL_ERRORS or response.status_code not in (404, 500):
            return response
        if getattr(response, "designed", False) or "html" not in response.get("Content-Type", ""):
            return response
        from portal import views

        return views.error_404(request) if response.status_code == 404 else views.error_500(request)
