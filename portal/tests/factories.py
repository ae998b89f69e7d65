import factory

from portal.models import ChairTerm, CouncilMembership, Function, Pod, PodLead, User


class PodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pod
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Pod {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"person{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    full_name = factory.Faker("name")
    function = Function.DATA_SCIENTIST
    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or "secret-pass-123")
        if create:
            self.save(update_fields=["password"])


class PodLeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PodLead

    pod = factory.SubFactory(PodFactory)
    function = Function.PM
    user = factory.SubFactory(UserFactory)


class CouncilMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CouncilMembership

    user = factory.SubFactory(UserFactory)


class ChairTermFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChairTerm

    user = factory.SubFactory(UserFactory)
    end_date = factory.LazyAttribute(lambda t: t.start_date.replace(year=t.start_date.year + 1))
