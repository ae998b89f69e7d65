"""What serving tells the apps above it, without knowing them."""

from django.dispatch import Signal

# Sent inside the publishing transaction when a revision goes live: endpoint, revision.
revision_published = Signal()
