"""Mini-app framework API: the resident's home screen and layout, launch (SSO) and consent, the
public signing keys, usage events; for staff, the municipality's catalog, its default layout,
external mini-apps in the shared catalog, and the usage ranking."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import HasRole, IsResident
from accounts.roles import Role
from superapp.api.openapi import ERROR_SCHEMA

from .. import selectors, services, sso
from ..attributes import age_band_from_label
from . import serializers as s
from .usage_input import parse_usage_batch

CATALOG_STAFF = HasRole(Role.MUNICIPALITY_ADMIN)
RANKING_STAFF = HasRole(Role.ANALYST)


def _issuer(request) -> str:
    """The municipality's API base URL on its primary host: the `iss` of its launch tokens."""
    return request.tenant.api_base_url() or request.build_absolute_uri("/api/v1/")


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ERROR_SCHEMA, description=description)


# --- Residents --------------------------------------------------------------------------------
class HomeScreenApi(APIView):
    """The resident's home screen: enabled mini-apps by category and their ordered favourites."""

    permission_classes = [IsResident]

    @extend_schema(responses=s.HomeScreenOutput, tags=["miniapps"])
    def get(self, request):
        # The selector builds plain dicts in the documented shape (the fuzz test checks them against
        # HomeScreenOutput); running ~30 mini-apps through a serializer on every app start would
        # cost more than the two queries behind them.
        return Response(selectors.home_screen(user=request.user))


class HomeLayoutApi(APIView):
    permission_classes = [IsResident]

    @extend_schema(request=s.HomeLayoutInput, responses=s.HomeLayoutOutput, tags=["miniapps"],
                   description="Sets the resident's ordered favourites. Unknown or disabled ids → 400 naming them.")
    def put(self, request):
        data = s.HomeLayoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        favourites = services.home_layout_set(user=request.user, favourites=data.validated_data["favourites"])
        return Response(s.HomeLayoutOutput({"favourites": favourites}).data)


class JwksApi(APIView):
    """Public keys (JWKS, RFC 7517) that verify this municipality's launch tokens. No sign-in needed."""

    permission_classes = [AllowAny]

    @extend_schema(responses=s.JwksOutput, tags=["miniapps"])
    def get(self, request):
        response = Response(sso.jwks())
        response["Cache-Control"] = "public, max-age=300"
        return response


class LaunchApi(APIView):
    permission_classes = [IsResident]

    @extend_schema(
        request=s.LaunchInput, tags=["miniapps"],
        responses={200: s.LaunchOutput, 409: _error("miniapp_disabled, or consent_required (ask the resident, then "
                                                     "send consent)")},
        description="Launches a mini-app. External mini-apps get a signed launch token (ES256 JWT, about 5 "
                    "minutes, audience = the mini-app id) carrying only the attributes the resident consented to "
                    "share; verify it with the keys at /api/v1/miniapps/keys/.")
    def post(self, request, miniapp_id: str):
        data = s.LaunchInput(data=request.data)
        data.is_valid(raise_exception=True)
        issuer = _issuer(request)
        result = services.miniapp_launch(
            user=request.user, miniapp_id=miniapp_id, issuer=issuer,
            municipality_code=request.tenant.code, consent=data.validated_data.get("consent"))
        item, token = result.item, result.token
        body = {"miniapp": item.id, "kind": item.kind, "api_url": item.api_path, "launch_url": item.launch_url,
                "url": None, "token": None, "expires_at": None, "expires_in": None,
                "shared_attributes": result.shared_attributes, "jwks_uri": None}
        if token is not None:
            parts = urlsplit(item.launch_url)
            query = "&".join(filter(None, [parts.query, urlencode({"launch_token": token.token})]))
            body.update(url=urlunsplit(parts._replace(query=query)), token=token.token, expires_at=token.expires_at,
                        expires_in=int((token.expires_at - timezone.now()).total_seconds()),
                        jwks_uri=f"{issuer}miniapps/keys/")
        return Response(s.LaunchOutput(body).data)


class ConsentApi(APIView):
    permission_classes = [IsResident]

    @extend_schema(responses=s.ConsentOutput, tags=["miniapps"],
                   description="What the mini-app asks for and what the resident agreed to share.")
    def get(self, request, miniapp_id: str):
        item = selectors.access_catalog_item(miniapp_id=miniapp_id)
        return Response(s.ConsentOutput(selectors.consent_state(user=request.user, item=item)).data)

    @extend_schema(responses={204: None}, tags=["miniapps"],
                   description="Withdraws consent; the next launch asks again.")
    def delete(self, request, miniapp_id: str):
        services.miniapp_consent_withdraw(user=request.user, miniapp_id=miniapp_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UsageApi(APIView):
    permission_classes = [IsResident]

    @extend_schema(
        request=s.UsageBatchInput, tags=["miniapps"],
        responses={202: s.UsageAcceptedOutput,
                   400: _error("validation_error naming the bad events, or usage_batch_too_large (over 500)")},
        description="A batch of up to 500 usage events, stored in one insert or not at all.")
    def post(self, request):
        events = parse_usage_batch(request.data)
        accepted = services.usage_events_record(user=request.user, events=events)
        return Response({"accepted": accepted}, status=status.HTTP_202_ACCEPTED)


# --- Staff: the municipality's catalog --------------------------------------------------------
class StaffCatalogApi(APIView):
    permission_classes = [CATALOG_STAFF]

    @extend_schema(responses=s.StaffCatalogItemOutput(many=True), tags=["staff-miniapps"],
                   description="Every mini-app in this municipality's catalog, enabled or not, in order.")
    def get(self, request):
        return Response(s.StaffCatalogItemOutput(selectors.catalog_items(), many=True).data)

    @extend_schema(request=s.StaffCatalogAddInput, responses={201: s.StaffCatalogItemOutput}, tags=["staff-miniapps"],
                   description="Adds a published external mini-app from the shared catalog (any municipality's).")
    def post(self, request):
        data = s.StaffCatalogAddInput(data=request.data)
        data.is_valid(raise_exception=True)
        item = services.catalog_add_external(miniapp_id=data.validated_data["id"], acting_user=request.user,
                                             enabled=data.validated_data["enabled"])
        return Response(s.StaffCatalogItemOutput(item).data, status=status.HTTP_201_CREATED)


class StaffCatalogItemApi(APIView):
    permission_classes = [CATALOG_STAFF]

    @extend_schema(responses=s.StaffCatalogItemOutput, tags=["staff-miniapps"])
    def get(self, request, miniapp_id: str):
        return Response(s.StaffCatalogItemOutput(selectors.access_catalog_item(miniapp_id=miniapp_id)).data)

    @extend_schema(request=s.StaffCatalogUpdateInput, responses=s.StaffCatalogItemOutput, tags=["staff-miniapps"],
                   description="Enables or disables a mini-app for this municipality's residents.")
    def patch(self, request, miniapp_id: str):
        data = s.StaffCatalogUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        item = services.catalog_entry_update(miniapp_id=miniapp_id, acting_user=request.user, **data.validated_data)
        return Response(s.StaffCatalogItemOutput(item).data)


class StaffCatalogOrderApi(APIView):
    permission_classes = [CATALOG_STAFF]

    @extend_schema(request=s.StaffCatalogOrderInput, responses=s.StaffCatalogItemOutput(many=True),
                   tags=["staff-miniapps"], description="Puts the listed mini-apps first, in this order.")
    def put(self, request):
        data = s.StaffCatalogOrderInput(data=request.data)
        data.is_valid(raise_exception=True)
        items = services.catalog_reorder(order=data.validated_data["order"], acting_user=request.user)
        return Response(s.StaffCatalogItemOutput(items, many=True).data)


class StaffDefaultLayoutApi(APIView):
    permission_classes = [CATALOG_STAFF]

    @extend_schema(responses=s.StaffDefaultLayoutOutput, tags=["staff-miniapps"],
                   description="The favourites new residents get until they arrange their own.")
    def get(self, request):
        favourites, customised = selectors.home_default_layout()
        return Response(s.StaffDefaultLayoutOutput({"favourites": favourites, "customised": customised}).data)

    @extend_schema(request=s.StaffDefaultLayoutInput, responses=s.StaffDefaultLayoutOutput, tags=["staff-miniapps"])
    def put(self, request):
        data = s.StaffDefaultLayoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        favourites = services.home_default_layout_set(favourites=data.validated_data["favourites"],
                                                      acting_user=request.user)
        return Response(s.StaffDefaultLayoutOutput({"favourites": favourites, "customised": True}).data)


# --- Staff: external mini-apps (shared catalog) -----------------------------------------------
class StaffSharedCatalogApi(APIView):
    permission_classes = [CATALOG_STAFF]

    @extend_schema(responses=s.SharedCatalogItemOutput(many=True), tags=["staff-miniapps"],
                   description="Published external mini-apps of every municipality on the platform.")
    def get(self, request):
        in_catalog = {item.id for item in selectors.catalog_items()}
        return Response(s.SharedCatalogItemOutput(selectors.shared_catalog(), many=True,
                                                  context={"in_catalog": in_catalog}).data)


class StaffExternalMiniAppListApi(APIView):
    permission_classes = [CATALOG_STAFF]

    @extend_schema(responses=s.ExternalMiniAppOutput(many=True), tags=["staff-miniapps"],
                   description="External mini-apps this municipality publishes (any status).")
    def get(self, request):
        apps = selectors.external_miniapps_published_by(municipality=request.tenant)
        return Response(s.ExternalMiniAppOutput(apps, many=True).data)

    @extend_schema(request=s.ExternalMiniAppCreateInput, responses={201: s.ExternalMiniAppOutput},
                   tags=["staff-miniapps"], description="Registers an external mini-app as a draft.")
    def post(self, request):
        data = s.ExternalMiniAppCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        app = services.external_miniapp_create(publisher=request.tenant, slug=fields.pop("id"),
                                               acting_user=request.user, **fields)
        return Response(s.ExternalMiniAppOutput(app).data, status=status.HTTP_201_CREATED)


class StaffExternalMiniAppDetailApi(APIView):
    permission_classes = [CATALOG_STAFF]

    @extend_schema(responses=s.ExternalMiniAppOutput, tags=["staff-miniapps"])
    def get(self, request, miniapp_id: str):
        app = selectors.access_external_miniapp(municipality=request.tenant, slug=miniapp_id)
        return Response(s.ExternalMiniAppOutput(app).data)

    @extend_schema(request=s.ExternalMiniAppUpdateInput(partial=True), responses=s.ExternalMiniAppOutput,
                   tags=["staff-miniapps"])
    def patch(self, request, miniapp_id: str):
        app = selectors.access_external_miniapp(municipality=request.tenant, slug=miniapp_id)
        data = s.ExternalMiniAppUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        app = services.external_miniapp_update(app=app, acting_user=request.user, **data.validated_data)
        return Response(s.ExternalMiniAppOutput(app).data)


class StaffExternalMiniAppStatusApi(APIView):
    permission_classes = [CATALOG_STAFF]

    @extend_schema(request=s.ExternalMiniAppStatusInput, responses=s.ExternalMiniAppOutput, tags=["staff-miniapps"],
                   description="Review status: draft, published (on the shared catalog), suspended (off every "
                               "municipality's home screen at once).")
    def post(self, request, miniapp_id: str):
        app = selectors.access_external_miniapp(municipality=request.tenant, slug=miniapp_id)
        data = s.ExternalMiniAppStatusInput(data=request.data)
        data.is_valid(raise_exception=True)
        app = services.external_miniapp_set_status(app=app, status=data.validated_data["status"],
                                                   acting_user=request.user)
        return Response(s.ExternalMiniAppOutput(app).data)


# --- Staff: usage ranking ---------------------------------------------------------------------
class StaffUsageRankingApi(APIView):
    permission_classes = [RANKING_STAFF]

    @extend_schema(parameters=[s.RankingQuery], responses=s.RankingOutput, tags=["staff-miniapps"],
                   description="ミニアプリランキング from the daily aggregates (default: the last 30 days).")
    def get(self, request):
        query = s.RankingQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        date_to = params.get("date_to") or max(timezone.localdate(), params.get("date_from") or timezone.localdate())
        date_from = params.get("date_from") or date_to - timedelta(days=29)
        threshold = int(request.tenant.setting("privacy_threshold") or 0)
        rows = selectors.usage_ranking(
            date_from=date_from, date_to=date_to, district_id=params.get("district"),
            age_band=age_band_from_label(params["age_band"]) if "age_band" in params else None,
            privacy_threshold=threshold, limit=params["limit"])
        return Response(s.RankingOutput({"date_from": date_from, "date_to": date_to, "privacy_threshold": threshold,
                                         "rows": rows}).data)
