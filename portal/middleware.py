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
