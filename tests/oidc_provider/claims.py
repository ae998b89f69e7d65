from oidc_provider.lib.claims import ScopeClaims


class GroupClaims(ScopeClaims):
    """The scope "groups": the names of the provider's groups the person is in."""

    info_groups = ("Groups", "The groups you belong to.")

    def scope_groups(self):
        return {"groups": sorted(self.user.groups.values_list("name", flat=True))}
