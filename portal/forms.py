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


# --- people, pods and the Council ----------------------------------------------------------------
# The forms only parse; the services (portal.people) check and refuse, and the views show their
# refusal on the field it names.

def _active_people():
    from portal.models import User

    return User.objects.filter(is_active=True).order_by("full_name", "username")


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user) -> str:
        return f"{user.display_name} ({user.username})"


class PersonForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="Letters, digits and @.+-_; it cannot change later.")
    full_name = forms.CharField(max_length=200, required=False)
    email = forms.EmailField()
    function = forms.ChoiceField(required=False)
    pod = forms.ModelChoiceField(queryset=None, required=False, empty_label="No pod")
    password = forms.CharField(widget=forms.PasswordInput(render_value=False), required=False,
                               help_text="Without one, the person cannot sign in until an administrator sets it.")

    def __init__(self, *args, editing: bool = False, **kwargs):
        from portal.models import Function, Pod

        super().__init__(*args, **kwargs)
        self.fields["function"].choices = [("", "No function")] + list(Function.choices)
        self.fields["pod"].queryset = Pod.objects.order_by("name")
        if editing:
            del self.fields["username"]
            del self.fields["password"]


class DeactivateForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False, widget=forms.TextInput,
                             help_text="Kept in the audit log.")


class PodForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class PodLeadsForm(forms.Form):
    """One choice per lead function; empty leaves the function without a lead."""

    def __init__(self, *args, current: dict[str, object], **kwargs):
        from portal.models import LEAD_FUNCTIONS

        from django.db.models import Q

        from portal.models import User

        super().__init__(*args, **kwargs)
        # A deactivated lead stays a choice until replaced, so saving another function keeps them.
        people = User.objects.filter(Q(is_active=True) | Q(pk__in=[u.pk for u in current.values()])).order_by(
            "full_name", "username")
        for function in LEAD_FUNCTIONS:
            lead = current.get(function.value)
            field = PersonChoiceField(queryset=people, required=False, empty_label="No lead", to_field_name="username",
                                      label=f"{function.label} lead")
            if lead is not None and not lead.is_active:
                field.help_text = f"{lead.display_name} is deactivated: choose who takes over."
            self.fields[function.value] = field
            if lead is not None:
                self.initial[function.value] = lead.username


class CouncilMembershipForm(forms.Form):
    user = PersonChoiceField(queryset=None, to_field_name="username", label="Person", empty_label="Choose a person")
    start_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}),
                               help_text="Leave empty for no end date.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = _active_people()


class CouncilMembershipEndForm(forms.Form):
    end_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Last day on the Council")


class ChairHandoverForm(forms.Form):
    user = PersonChoiceField(queryset=None, to_field_name="username", label="New chair",
                             empty_label="Choose a member", help_text="A member of the Council on that date.")
    from_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Chairs from")

    def __init__(self, *args, members=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = members if members is not None else _active_people()
