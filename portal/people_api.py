"""The API of people, pods and the Council: everyone authenticated reads; the services decide who
writes (administrators; the chair too for the Council) and refuse anyone else with a 403."""

from __future__ import annotations

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal import people
from portal.api import error_responses
from portal.duties import duties_of
from portal.models import CouncilMembership, Function, Pod, PodLead, User
from portal.selectors import chair_term_current, council_membership_list, person_get, person_list, pod_list

ACTIVE_FILTERS = ("active", "inactive", "all")


# --- output ---------------------------------------------------------------------------------------

class PodLeadOutput(serializers.ModelSerializer):
    pod = serializers.CharField(source="pod.name")

    class Meta:
        model = PodLead
        fields = ["pod", "function"]


class PersonOutput(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name")
    pod = serializers.CharField(source="pod.name", allow_null=True, default=None)
    pod_leads = PodLeadOutput(many=True, read_only=True)
    on_council = serializers.BooleanField(read_only=True, help_text="On the Council today")

    class Meta:
        model = User
        fields = ["username", "name", "full_name", "email", "function", "pod", "is_active", "is_staff",
                  "pod_leads", "on_council"]


class DutyOutput(serializers.Serializer):
    kind = serializers.CharField(help_text="pod_lead, chair, council_member, pod_review, technical_lead, vote, project_owner")
    label = serializers.CharField()
    title = serializers.CharField()
    url = serializers.CharField(help_text="The page where the duty is settled or reassigned")
    detail = serializers.CharField()


class PersonDetailOutput(PersonOutput):
    open_duties = serializers.SerializerMethodField(
        help_text="What the person still holds: to reassign when they are deactivated")

    class Meta(PersonOutput.Meta):
        fields = PersonOutput.Meta.fields + ["open_duties"]

    @extend_schema_field(DutyOutput(many=True))
    def get_open_duties(self, person: User) -> list[dict]:
        return DutyOutput(duties_of(person), many=True).data


def _person_detail(username: str) -> dict:
    return PersonDetailOutput(person_list(active="all").get(username=username)).data


class PodOutput(serializers.ModelSerializer):
    leads = serializers.SerializerMethodField(help_text="function -> username of its lead")
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Pod
        fields = ["id", "name", "description", "member_count", "leads"]

    def get_leads(self, pod: Pod) -> dict[str, str]:
        return {lead.function: lead.user.username for lead in pod.leads.all()}


# --- people ---------------------------------------------------------------------------------------

class PersonInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    email = serializers.CharField(max_length=254)
    full_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    function = serializers.ChoiceField(choices=Function.choices, required=False, allow_blank=True, default="")
    pod = serializers.SlugRelatedField(slug_field="name", queryset=Pod.objects.all(), required=False,
                                       allow_null=True, default=None, help_text="The pod's name")
    password = serializers.CharField(write_only=True, required=False, allow_blank=True, default="",
                                     help_text="Optional; without one the person cannot sign in until it is set")


class PersonUpdateInput(serializers.Serializer):
    email = serializers.CharField(max_length=254, required=False)
    full_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    function = serializers.ChoiceField(choices=Function.choices, required=False, allow_blank=True)
    pod = serializers.SlugRelatedField(slug_field="name", queryset=Pod.objects.all(), required=False,
                                       allow_null=True, help_text="The pod's name; null for none")


class PersonListApi(generics.ListAPIView):
    """People, by name. ``q`` searches name, username, email, function and pod; ``active`` is
    ``active`` (the default), ``inactive`` or ``all``. POST adds a person (administrators)."""

    serializer_class = PersonOutput
    filter_backends: list = []

    @extend_schema(parameters=[
        OpenApiParameter("q", str, description="words of the name, username, email, function or pod"),
        OpenApiParameter("active", str, enum=list(ACTIVE_FILTERS), description="default: active"),
        OpenApiParameter("function", str, enum=Function.values),
        OpenApiParameter("pod", str, description="the pod's name"),
    ], responses={200: PersonOutput(many=True)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        active = params.get("active", "active")
        return person_list(q=params.get("q", "").strip()[:200], active=active if active in ACTIVE_FILTERS else "active",
                           function=params.get("function", "") if params.get("function") in Function.values else "",
                           pod=params.get("pod", "").strip())

    @extend_schema(request=PersonInput, responses={201: PersonDetailOutput, **error_responses(400, 403, 409)})
    def post(self, request):
        data = PersonInput(data=request.data)
        data.is_valid(raise_exception=True)
        person = people.person_add(actor=request.user, **data.validated_data)
        return Response(_person_detail(person.username), status=status.HTTP_201_CREATED)


class PersonDetailApi(APIView):
    """One person, their roles and open duties; PATCH changes email, name, function or pod."""

    @extend_schema(responses={200: PersonDetailOutput, **error_responses(404)})
    def get(self, request, username: str):
        return Response(_person_detail(person_get(username=username).username))

    @extend_schema(request=PersonUpdateInput, responses={200: PersonDetailOutput, **error_responses(400, 403, 404)})
    def patch(self, request, username: str):
        person = person_get(username=username)
        data = PersonUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        people.person_update(actor=request.user, user=person, **data.validated_data)
        return Response(_person_detail(person.username))


class PersonDeactivateInput(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="",
                                   help_text="Kept in the audit log")


class PersonDeactivateApi(APIView):
    """Deactivate a person: they can no longer sign in, review or vote; the answer lists the open
    duties someone must reassign."""

    @extend_schema(request=PersonDeactivateInput, responses={200: PersonDetailOutput, **error_responses(400, 403, 404, 409)})
    def post(self, request, username: str):
        person = person_get(username=username)
        data = PersonDeactivateInput(data=request.data)
        data.is_valid(raise_exception=True)
        people.person_deactivate(actor=request.user, user=person, reason=data.validated_data["reason"])
        return Response(_person_detail(person.username))


class PersonReactivateApi(APIView):
    """Reactivate a deactivated person."""

    @extend_schema(request=None, responses={200: PersonDetailOutput, **error_responses(403, 404, 409)})
    def post(self, request, username: str):
        person = person_get(username=username)
        people.person_reactivate(actor=request.user, user=person)
        return Response(_person_detail(person.username))


# --- pods -----------------------------------------------------------------------------------------

class PodInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class PodLeadsInput(serializers.Serializer):
    leads = serializers.DictField(
        child=serializers.CharField(allow_null=True, allow_blank=True),
        help_text="function -> username of the new lead, or null to leave the function without one; "
                  "functions left out keep their lead")

    def validate_leads(self, leads: dict) -> dict:
        functions = {f.value for f in Function}
        unknown = [f for f in leads if f not in functions]
        if unknown:
            raise serializers.ValidationError(f"Unknown function(s): {', '.join(unknown)}.")
        wanted = {}
        for function, username in leads.items():
            if not username:
                wanted[function] = None
                continue
            user = User.objects.filter(username=username).first()
            if user is None:
                raise serializers.ValidationError(f"No person with the username {username!r}.")
            wanted[function] = user
        return wanted


class PodListApi(generics.ListAPIView):
    """Pods with their leads; POST adds a pod (administrators)."""

    serializer_class = PodOutput
    filter_backends: list = []

    def get_queryset(self):
        return pod_list()

    @extend_schema(request=PodInput, responses={201: PodOutput, **error_responses(400, 403, 409)})
    def post(self, request):
        data = PodInput(data=request.data)
        data.is_valid(raise_exception=True)
        pod = people.pod_add(actor=request.user, **data.validated_data)
        return Response(PodOutput(pod_list().get(pk=pod.pk)).data, status=status.HTTP_201_CREATED)


class PodDetailApi(APIView):
    """One pod with its leads; PATCH ``{"leads": {"pm": "alice", "em": null}}`` sets them (all or none)."""

    @extend_schema(responses={200: PodOutput, **error_responses(404)})
    def get(self, request, pod_id: int):
        return Response(PodOutput(get_object_or_404(pod_list(), pk=pod_id)).data)

    @extend_schema(request=PodLeadsInput, responses={200: PodOutput, **error_responses(400, 403, 404, 409)})
    def patch(self, request, pod_id: int):
        pod = get_object_or_404(Pod, pk=pod_id)
        data = PodLeadsInput(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            for function, user in data.validated_data["leads"].items():
                people.pod_lead_set(actor=request.user, pod=pod, function=function, user=user)
        return Response(PodOutput(pod_list().get(pk=pod.pk)).data)


# --- the Council ----------------------------------------------------------------------------------

class ChairOutput(serializers.Serializer):
    username = serializers.CharField(source="user.username")
    name = serializers.CharField(source="user.display_name")
    start_date = serializers.DateField()
    end_date = serializers.DateField()


class MembershipOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField(source="user.username")
    name = serializers.CharField(source="user.display_name")
    is_active = serializers.BooleanField(source="user.is_active")
    start_date = serializers.DateField()
    end_date = serializers.DateField(allow_null=True)


class CouncilOutput(serializers.Serializer):
    chair = ChairOutput(allow_null=True)
    members = MembershipOutput(many=True, help_text="Current and future memberships")


class MembershipInput(serializers.Serializer):
    username = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.all(), source="user")
    start_date = serializers.DateField(required=False, help_text="Default: today")
    end_date = serializers.DateField(required=False, allow_null=True, default=None)


class MembershipEndInput(serializers.Serializer):
    end_date = serializers.DateField(required=False, allow_null=True, default=None,
                                     help_text="The last day served; default yesterday (off the Council from today)")


class ChairInput(serializers.Serializer):
    username = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.all(), source="to_user")
    from_date = serializers.DateField(required=False, help_text="Default: today")


def _council() -> dict:
    return CouncilOutput({"chair": chair_term_current(), "members": list(council_membership_list())}).data


class CouncilApi(APIView):
    """The Council's members and chair; POST adds a membership (administrators and the chair)."""

    @extend_schema(responses={200: CouncilOutput})
    def get(self, request):
        return Response(_council())

    @extend_schema(request=MembershipInput, responses={201: CouncilOutput, **error_responses(400, 403, 409)})
    def post(self, request):
        data = MembershipInput(data=request.data)
        data.is_valid(raise_exception=True)
        people.council_membership_add(actor=request.user, **data.validated_data)
        return Response(_council(), status=status.HTTP_201_CREATED)


class CouncilMembershipEndApi(APIView):
    """End a Council membership (administrators and the chair). One that has not begun by the end
    date is withdrawn; the sitting chair's membership ends only after the chair is handed over."""

    @extend_schema(request=MembershipEndInput, responses={200: CouncilOutput, **error_responses(400, 403, 404, 409)})
    def post(self, request, membership_id: int):
        data = MembershipEndInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = get_object_or_404(CouncilMembership.objects.select_related("user"), pk=membership_id)
        people.council_membership_end(actor=request.user, membership=membership, **data.validated_data)
        return Response(_council())


class CouncilChairApi(APIView):
    """Hand the chair over (administrators and the chair): the new chair must be on the Council."""

    @extend_schema(request=ChairInput, responses={200: CouncilOutput, **error_responses(400, 403, 409)})
    def post(self, request):
        data = ChairInput(data=request.data)
        data.is_valid(raise_exception=True)
        people.chair_handover(actor=request.user, **data.validated_data)
        return Response(_council())
