from django.dispatch import Signal

# Sent after commit when a proposal is approved, with ``proposal_id``. The registry listens
# to create the ML project, so this app never imports the apps above it.
proposal_approved = Signal()
