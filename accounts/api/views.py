"""Accounts API: resident sign-up, profile, districts, staff device tokens, logout."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from superapp.api.utils import ResidentSignupThrottle, StaffTokenThrottle, client_ip

from .. import selectors, services
from ..models import ApiToken
from ..permissions import HasRole
from ..roles import Role
from . import serializers as s


class ResidentCreateApi(APIView):
    """Create a resident account for an app install (no sign-in needed)."""

    permission_classes = [AllowAny]
    throttle_classes = [ResidentSignupThrottle]

    @extend_schema(request=s.ResidentCreateInput, responses={201: s.ResidentCreateOutput}, tags=["residents"])
    def post(self, request):
        data = s.ResidentCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        issued = services.resident_create(**data.validated_data)
        body = {"token": issued.raw, "token_expires_at": issued.token.expires_at, "resident": issued.token.user}
        return Response(s.ResidentCreateOutput(body).data, status=status.HTTP_201_CREATED)


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.MeOutput, tags=["residents"])
    def get(self, request):
        return Response(s.MeOutput(request.user).data)

    @extend_schema(request=s.ProfileInput, responses=s.MeOutput, tags=["residents"])
    def patch(self, request):
        data = s.ProfileInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.resident_update_profile(user=request.user, **data.validated_data)
        return Response(s.MeOutput(user).data)


class DistrictListApi(APIView):
    """The municipality's school districts (小学校区); public, so the app can offer them at sign-up."""

    permission_classes = [AllowAny]

    @extend_schema(responses=s.DistrictOutput(many=True), tags=["districts"])
    def get(self, request):
        return Response(s.DistrictOutput(selectors.district_list(), many=True).data)


class StaffDistrictCreateApi(APIView):
    permission_classes = [HasRole(Role.MUNICIPALITY_ADMIN)]

    @extend_schema(request=s.DistrictInput, responses={201: s.DistrictOutput}, tags=["staff"])
    def post(self, request):
        data = s.DistrictInput(data=request.data)
        data.is_valid(raise_exception=True)
        district = services.district_create(acting_user=request.user, **data.validated_data)
        return Response(s.DistrictOutput(district).data, status=status.HTTP_201_CREATED)


class StaffTokenApi(APIView):
    """A bearer token for a staff device (shelter tablet, QR scanner) carrying the staff member's roles."""

    permission_classes = [AllowAny]
    throttle_classes = [StaffTokenThrottle]

    @extend_schema(request=s.StaffTokenInput, responses={201: s.StaffTokenOutput}, tags=["auth"])
    def post(self, request):
        data = s.StaffTokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        ip = client_ip(request)
        user = services.staff_authenticate(
            username=data.validated_data["username"], password=data.validated_data["password"], client_ip=ip
        )
        issued = services.staff_token_issue(user=user, client_ip=ip, label=data.validated_data["device_label"])
        body = {"token": issued.raw, "token_expires_at": issued.token.expires_at,
                "roles": sorted(selectors.user_role_names(user))}
        return Response(s.StaffTokenOutput(body).data, status=status.HTTP_201_CREATED)


class LogoutApi(APIView):
    """Revoke the bearer token this request was made with."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None}, tags=["auth"])
    def post(self, request):
        if isinstance(request.auth, ApiToken):
            services.api_token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)
