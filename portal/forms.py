"""Forms of the kernel's own pages."""

from __future__ import annotations

from django import forms

from portal.models import DEFAULT_CHANNELS, NotificationChannel, NotificationKind


class NotificationPreferencesForm(forms.Form):
    """One choice per kind: in-app only, email at once, or the next morning's digest."""

    def __init__(self, *args, current: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        for kind in NotificationKind:
            default = NotificationChannel(DEFAULT_CHANNELS[kind]).label.lower()
            self.fields[kind.value] = forms.ChoiceField(
                label=kind.label, choices=NotificationChannel.choices, initial=current[kind.value],
                widget=forms.RadioSelect, help_text=f"Default: {default}",
            )

    def channels(self) -> dict[str, str]:
        return {kind: self.cleaned_data[kind] for kind in NotificationKind.values}
