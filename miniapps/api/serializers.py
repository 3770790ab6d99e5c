"""Input and output serializers of the mini-app framework API. Shape only; rules live in services."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from superapp.api.fields import StrictCharField

from ..attributes import AGE_BAND_LABELS, ATTRIBUTE_NAMES
from ..catalog.models import ExternalMiniApp, ResidentAttribute
from ..manifest import Category
from ..services import MAX_FAVOURITES, USAGE_BATCH_LIMIT

KINDS = ["builtin", "external"]
MINIAPP_ID = dict(max_length=50)


# --- Home screen ------------------------------------------------------------------------------
class OwnerOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ExternalMiniApp.OwnerKind.choices)
    name = serializers.CharField()


class HomeMiniAppOutput(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.ChoiceField(choices=KINDS)
    name = serializers.CharField()
    name_en = serializers.CharField()
    description = serializers.CharField()
    description_en = serializers.CharField()
    category = serializers.ChoiceField(choices=Category.choices)
    icon = serializers.CharField(help_text="An icon name, or an https:// image URL for external mini-apps.")
    api_url = serializers.CharField(allow_null=True, help_text="Built-in: the mini-app's API path on this host.")
    launch_url = serializers.CharField(allow_null=True, help_text="External: the web service's https:// URL.")
    requested_attributes = serializers.ListField(child=serializers.ChoiceField(choices=ResidentAttribute.choices))
    owner = OwnerOutput(allow_null=True)


class HomeCategoryOutput(serializers.Serializer):
    id = serializers.ChoiceField(choices=Category.choices)
    name = serializers.CharField()
    name_en = serializers.CharField()
    miniapps = HomeMiniAppOutput(many=True)


class HomeScreenOutput(serializers.Serializer):
    favourites = serializers.ListField(child=serializers.CharField(), help_text="Ordered mini-app ids.")
    layout = serializers.ChoiceField(choices=["resident", "default"],
                                     help_text="Whether the favourites are the resident's own or the municipality's default.")
    categories = HomeCategoryOutput(many=True)


class HomeLayoutInput(serializers.Serializer):
    favourites = serializers.ListField(child=StrictCharField(**MINIAPP_ID), max_length=MAX_FAVOURITES)


class HomeLayoutOutput(serializers.Serializer):
    favourites = serializers.ListField(child=serializers.CharField())


# --- Launch and consent -----------------------------------------------------------------------
class LaunchInput(serializers.Serializer):
    consent = serializers.ListField(
        child=serializers.ChoiceField(choices=ResidentAttribute.choices), required=False, max_length=len(ATTRIBUTE_NAMES),
        help_text="The attributes the resident agrees to share (a subset of requested_attributes; [] shares none). "
                  "Omit it once consent was given.")


class LaunchOutput(serializers.Serializer):
    miniapp = serializers.CharField()
    kind = serializers.ChoiceField(choices=KINDS)
    api_url = serializers.CharField(allow_null=True, help_text="Built-in mini-apps: their API path.")
    launch_url = serializers.CharField(allow_null=True, help_text="External: the registered https:// URL.")
    url = serializers.CharField(allow_null=True, help_text="External: launch_url with ?launch_token=<token> added.")
    token = serializers.CharField(allow_null=True, help_text="External: the signed launch token (JWT, ES256).")
    expires_at = serializers.DateTimeField(allow_null=True)
    expires_in = serializers.IntegerField(allow_null=True)
    shared_attributes = serializers.ListField(child=serializers.ChoiceField(choices=ResidentAttribute.choices))
    jwks_uri = serializers.CharField(allow_null=True)


class ConsentOutput(serializers.Serializer):
    miniapp = serializers.CharField()
    requested_attributes = serializers.ListField(child=serializers.ChoiceField(choices=ResidentAttribute.choices))
    attributes = serializers.ListField(child=serializers.ChoiceField(choices=ResidentAttribute.choices))
    consented_at = serializers.DateTimeField(allow_null=True)
    consent_required = serializers.BooleanField()


class JwkOutput(serializers.Serializer):
    kty = serializers.CharField()
    crv = serializers.CharField()
    x = serializers.CharField()
    y = serializers.CharField()
    kid = serializers.CharField()
    use = serializers.CharField()
    alg = serializers.CharField()


class JwksOutput(serializers.Serializer):
    keys = JwkOutput(many=True)


# --- Usage events -----------------------------------------------------------------------------
class UsageEventInput(serializers.Serializer):
    miniapp = StrictCharField(**MINIAPP_ID)
    kind = serializers.ChoiceField(choices=["opened", "tapped"])
    at = serializers.DateTimeField(help_text="Client time with a UTC offset (ISO 8601).")


class UsageBatchInput(serializers.Serializer):
    """Documents the request; the view validates it with the equivalent `parse_usage_batch`."""

    events = serializers.ListField(child=UsageEventInput(), max_length=USAGE_BATCH_LIMIT)


class UsageAcceptedOutput(serializers.Serializer):
    accepted = serializers.IntegerField()


# --- Staff: catalog ---------------------------------------------------------------------------
class PublisherOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class StaffCatalogItemOutput(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.ChoiceField(choices=KINDS)
    name = serializers.CharField()
    name_en = serializers.CharField()
    category = serializers.ChoiceField(choices=Category.choices)
    icon = serializers.CharField()
    enabled = serializers.BooleanField()
    status = serializers.ChoiceField(choices=ExternalMiniApp.Status.choices)
    available = serializers.BooleanField(help_text="Enabled here and published: shown to residents.")
    sort_order = serializers.IntegerField()
    api_url = serializers.CharField(allow_null=True, source="api_path")
    launch_url = serializers.CharField(allow_null=True)
    requested_attributes = serializers.ListField(child=serializers.ChoiceField(choices=ResidentAttribute.choices))
    publisher = serializers.SerializerMethodField()

    @extend_schema_field(PublisherOutput(allow_null=True))
    def get_publisher(self, item) -> dict | None:
        if item.publisher_code is None:
            return None
        return {"code": item.publisher_code, "name": item.publisher_name}


class StaffCatalogAddInput(serializers.Serializer):
    id = StrictCharField(**MINIAPP_ID)
    enabled = serializers.BooleanField(required=False, default=True)


class StaffCatalogUpdateInput(serializers.Serializer):
    enabled = serializers.BooleanField()


class StaffCatalogOrderInput(serializers.Serializer):
    order = serializers.ListField(child=StrictCharField(**MINIAPP_ID), max_length=500)


class StaffDefaultLayoutInput(serializers.Serializer):
    favourites = serializers.ListField(child=StrictCharField(**MINIAPP_ID), max_length=MAX_FAVOURITES)


class StaffDefaultLayoutOutput(serializers.Serializer):
    favourites = serializers.ListField(child=serializers.CharField())
    customised = serializers.BooleanField(help_text="False: no default set, residents get the first mini-apps.")


# --- Staff: external mini-apps ----------------------------------------------------------------
class ExternalMiniAppUpdateInput(serializers.Serializer):
    name = StrictCharField(max_length=60)
    name_en = StrictCharField(max_length=60)
    description = StrictCharField(max_length=500, allow_blank=True, required=False, default="")
    description_en = StrictCharField(max_length=500, allow_blank=True, required=False, default="")
    category = serializers.ChoiceField(choices=Category.choices)
    icon = StrictCharField(max_length=500)
    launch_url = StrictCharField(max_length=500, help_text="https:// only.")
    owner_kind = serializers.ChoiceField(choices=ExternalMiniApp.OwnerKind.choices)
    owner_name = StrictCharField(max_length=100)
    contact_email = serializers.EmailField(max_length=254, required=False, allow_blank=True, default="")
    requested_attributes = serializers.ListField(child=serializers.ChoiceField(choices=ResidentAttribute.choices),
                                                 max_length=len(ATTRIBUTE_NAMES), required=False, default=list)


class ExternalMiniAppCreateInput(ExternalMiniAppUpdateInput):
    id = StrictCharField(**MINIAPP_ID)


class ExternalMiniAppOutput(serializers.ModelSerializer):
    id = serializers.CharField(source="slug")
    publisher = PublisherOutput()

    class Meta:
        model = ExternalMiniApp
        fields = ["id", "publisher", "name", "name_en", "description", "description_en", "category", "icon",
                  "launch_url", "owner_kind", "owner_name", "contact_email", "requested_attributes", "status",
                  "created_at", "updated_at", "published_at"]


class SharedCatalogItemOutput(ExternalMiniAppOutput):
    in_catalog = serializers.SerializerMethodField()

    class Meta(ExternalMiniAppOutput.Meta):
        fields = [*ExternalMiniAppOutput.Meta.fields, "in_catalog"]

    def get_in_catalog(self, app) -> bool:
        return app.slug in self.context["in_catalog"]


class ExternalMiniAppStatusInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=ExternalMiniApp.Status.choices)


# --- Staff: ranking ---------------------------------------------------------------------------
class RankingQuery(serializers.Serializer):
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    district = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    age_band = serializers.ChoiceField(choices=AGE_BAND_LABELS, required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=200, default=50)

    def validate(self, data):
        for name in ("date_from", "date_to"):
            if name in data and not 2000 <= data[name].year <= 2100:
                raise serializers.ValidationError({name: "2000年〜2100年の日付です / A date from 2000 to 2100."})
        if "date_from" in data and "date_to" in data and data["date_from"] > data["date_to"]:
            raise serializers.ValidationError({"date_to": "date_from 以降の日付です / Must not be before date_from."})
        return data


class RankingRowOutput(serializers.Serializer):
    rank = serializers.IntegerField(allow_null=True)
    miniapp = serializers.CharField()
    name = serializers.CharField()
    name_en = serializers.CharField()
    opens = serializers.IntegerField(allow_null=True)
    taps = serializers.IntegerField(allow_null=True)
    resident_days = serializers.IntegerField(allow_null=True, help_text="Distinct residents per day, summed.")
    suppressed = serializers.BooleanField(help_text="Too few residents to show (privacy threshold).")


class RankingOutput(serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    privacy_threshold = serializers.IntegerField()
    rows = RankingRowOutput(many=True)
