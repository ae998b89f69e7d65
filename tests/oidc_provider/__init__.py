"""A tiny OpenID Connect provider (django-oidc-provider) the single sign-on tests start in its
own process, so the portal signs people in against a real provider: discovery, login form,
consent, code exchange, RS256-signed ID tokens from a JWKS."""
