"""Citizen-ID API: enrolment (challenge, enroll), the resident's own ID, QR, scan history, published
keys; staff scan verification, printed card QRs and revocation."""
from __future__ import annotations

import base64

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from accounts.permissions import HasRole, IsResident
from accounts.roles import Role
from accounts.selectors import user_has_role
from superapp.api.errors import ApiError
from superapp.api.utils import client_ip

from .. import qr, qrimage, selectors, services, signing
from . import serializers as s


# --- Permissions and throttles ----------------------------------------------------------------------
def verify_roles(purpose: str | None = None) -> list[str]:
    mapping: dict[str, list[str]] = settings.CITIZEN_ID_VERIFY_ROLES
    if purpose is not None:
        return list(mapping.get(purpose, []))
    return sorted({role for roles in mapping.values() for role in roles})


class CanVerifyCitizenId(BasePermission):
    """Staff holding a role that may scan citizen IDs for at least one purpose (CITIZEN_ID_VERIFY_ROLES)."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and user_has_role(request.user, *verify_roles()))


class UserScopeThrottle(SimpleRateThrottle):
    """Per-user rate limit on a named scope, rate read at request time; the cache key is tenant-prefixed."""

    def get_rate(self):
        from rest_framework.settings import api_settings

        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def get_cache_key(self, request, view):
        ident = request.user.pk if request.user and request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ChallengeThrottle(UserScopeThrottle):
    scope = "citizen_id_challenge"


class EnrollThrottle(UserScopeThrottle):
    scope = "citizen_id_enroll"


class QrThrottle(UserScopeThrottle):
    scope = "citizen_id_qr"


class VerifyThrottle(UserScopeThrottle):
    scope = "citizen_id_verify"


# --- Documentation helpers ------------------------------------------------------------------------
class _ErrorBody(drf_serializers.Serializer):
    code = drf_serializers.CharField()
    message = drf_serializers.CharField()
    message_en = drf_serializers.CharField()
    fields = drf_serializers.DictField(child=drf_serializers.ListField(child=drf_serializers.CharField()))


class CitizenIdError(drf_serializers.Serializer):
    error = _ErrorBody()


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(CitizenIdError, description=description)


FORMAT_PARAMETER = OpenApiParameter(
    "format", OpenApiTypes.STR, enum=["json", "svg", "png"], required=False,
    description="json (default): the token; svg or png: the QR code image of the token.")


class _FormatParameterMixin:
    """`?format=svg|png` selects an image; DRF would read `format` as a renderer override and
    answer 404, so content negotiation here always picks JSON (for bodies and errors alike)."""

    def perform_content_negotiation(self, request, force=False):
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    def _format(self, request) -> str:
        query = s.QrFormatQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return query.validated_data["format"]


def _image(token: str, kind: str, filename: str) -> HttpResponse:
    response = HttpResponse(qrimage.render(token, kind=kind), content_type=qrimage.FORMATS[kind])
    response["Cache-Control"] = "no-store"
    response["Content-Disposition"] = f'inline; filename="{filename}.{kind}"'
    return response


def _citizen_body(citizen, info, **extra) -> dict:
    return {"reference": citizen.reference, "status": citizen.status, "status_reason": citizen.status_reason,
            "enrolled_at": citizen.enrolled_at, "verified_at": citizen.verified_at,
            "card_not_after": citizen.card_not_after, "basic_info": info, **extra}


# --- Residents ------------------------------------------------------------------------------------
class ChallengeApi(APIView):
    """A single-use challenge (5 minutes) for the card to sign."""

    permission_classes = [IsResident]
    throttle_classes = [ChallengeThrottle]

    @extend_schema(request=None, responses={201: s.ChallengeOutput}, tags=["citizen-id"])
    def post(self, request):
        issued = services.enrollment_challenge_issue(user=request.user)
        response = Response(s.ChallengeOutput({"nonce": issued.nonce, "expires_at": issued.expires_at}).data,
                            status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class EnrollApi(APIView):
    """本人確認: the card's JPKI signature certificate and its signature over the challenge."""

    permission_classes = [IsResident]
    throttle_classes = [EnrollThrottle]

    @extend_schema(
        request=s.EnrollInput,
        responses={201: s.EnrollOutput, 200: s.EnrollOutput,
                   400: _error("nonce_invalid, signature_invalid, certificate_untrusted, certificate_expired, "
                               "certificate_malformed, validation_error"),
                   403: _error("not_resident, certificate_revoked, permission_denied"),
                   409: _error("citizen_id_conflict: this account holds another person's citizen ID"),
                   503: _error("revocation_status_unavailable, service_unavailable")},
        tags=["citizen-id"],
        description="201 when a citizen ID is issued; 200 when an existing one is renewed, re-verified or moved "
                    "to this account (same card on a new phone).")
    def post(self, request):
        data = s.EnrollInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.citizen_id_enroll(user=request.user, client_ip=client_ip(request), **data.validated_data)
        body = _citizen_body(result.citizen, result.info, action=result.action)
        return Response(s.EnrollOutput(body).data,
                        status=status.HTTP_201_CREATED if result.action == "issued" else status.HTTP_200_OK)


class CitizenIdApi(APIView):
    """The resident's own citizen ID with the 基本4情報 (each read is audited); DELETE revokes it."""

    permission_classes = [IsResident]

    @extend_schema(responses=s.CitizenIdOutput, tags=["citizen-id"])
    def get(self, request):
        citizen = selectors.access_own_citizen_id(user=request.user)
        info = services.citizen_id_read_own(citizen=citizen, user=request.user, client_ip=client_ip(request))
        response = Response(s.CitizenIdOutput(_citizen_body(citizen, info)).data)
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(request=None, responses={204: None}, tags=["citizen-id"])
    def delete(self, request):
        citizen = selectors.access_own_citizen_id(user=request.user)
        services.citizen_id_revoke(citizen=citizen, acting_user=request.user, reason="resident_request",
                                   client_ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class QrApi(_FormatParameterMixin, APIView):
    """A fresh QR token (60 s), as JSON or as the QR image."""

    permission_classes = [IsResident]
    throttle_classes = [QrThrottle]

    @extend_schema(parameters=[FORMAT_PARAMETER],
                   responses={(200, "application/json"): s.QrOutput, (200, "image/svg+xml"): OpenApiTypes.BINARY,
                              (200, "image/png"): OpenApiTypes.BINARY,
                              409: _error("citizen_id_suspended: re-verify with the card first")},
                   tags=["citizen-id"])
    def get(self, request):
        kind = self._format(request)
        citizen = selectors.access_own_citizen_id(user=request.user)
        issued = services.citizen_qr_issue(citizen=citizen)
        if kind != "json":
            return _image(issued.token, kind, "citizen-id")
        response = Response(s.QrOutput({"token": issued.token, "expires_at": issued.expires_at,
                                        "reference": issued.reference}).data)
        response["Cache-Control"] = "no-store"
        return response


class ScanHistoryApi(ListAPIView):
    """When and why staff scanned the resident's citizen ID (newest first)."""

    permission_classes = [IsResident]
    serializer_class = s.ScanHistoryOutput

    def get_queryset(self):
        return selectors.citizen_scan_history(citizen=selectors.access_own_citizen_id(user=self.request.user))

    @extend_schema(tags=["citizen-id"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


class KeysApi(APIView):
    """The municipality's QR public keys, so staff tablets can verify a QR offline."""

    permission_classes = [AllowAny]

    @extend_schema(responses=s.KeysOutput, tags=["citizen-id"])
    def get(self, request):
        keys = []
        for row in signing.published_keys():
            x = _b64url(bytes(row.public_key))
            keys.append({"kid": row.kid, "alg": "EdDSA", "crv": "Ed25519", "public_key": x, "status": row.status,
                         "created_at": row.created_at,
                         "jwk": {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": row.kid, "alg": "EdDSA", "use": "sig"}})
        body = {"municipality_code": services.current_municipality().code,
                "token_format": qr.__doc__.split("\n\n", 1)[1].strip(),
                "token_prefixes": {qr.APP_PREFIX: "app QR (about 60 s)", qr.CARD_PREFIX: "printed card QR"},
                "keys": keys}
        response = Response(s.KeysOutput(body).data)
        response["Cache-Control"] = "public, max-age=300"
        return response


# --- Staff ----------------------------------------------------------------------------------------
class StaffVerifyApi(APIView):
    """Scan a citizen-ID QR: the 基本4情報 for staff whose role allows the purpose; audited."""

    permission_classes = [CanVerifyCitizenId]
    throttle_classes = [VerifyThrottle]

    @extend_schema(
        request=s.VerifyInput,
        responses={200: s.VerifyOutput,
                   400: _error("qr_invalid, qr_expired, qr_wrong_municipality, validation_error"),
                   403: _error("permission_denied: no role for this purpose"),
                   409: _error("qr_replayed: an app QR is good for one scan"),
                   410: _error("citizen_id_revoked, qr_revoked")},
        tags=["staff"])
    def post(self, request):
        data = s.VerifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        purpose = data.validated_data["purpose"]
        if not user_has_role(request.user, *verify_roles(purpose)):
            raise ApiError("permission_denied", status_code=403, fields={"purpose": [
                "この目的で市民証を確認する権限がありません。 / Your role may not scan citizen IDs for this purpose."]})
        result = services.citizen_qr_verify(token=data.validated_data["token"], purpose=purpose, staff=request.user,
                                            client_ip=client_ip(request))
        body = {"reference": result.citizen.reference, "basic_info": result.info, "via": result.via,
                "purpose": purpose, "verified_at": result.citizen.verified_at,
                "token_expires_at": result.token_expires_at}
        response = Response(s.VerifyOutput(body).data)
        response["Cache-Control"] = "no-store"
        return response


class StaffCardQrApi(APIView):
    """Issue a long-lived printed QR for a verified resident without a smartphone."""

    permission_classes = [HasRole(Role.MUNICIPALITY_ADMIN)]

    @extend_schema(request=s.CardQrInput, responses={201: s.CardQrIssuedOutput, 410: _error("citizen_id_revoked")},
                   tags=["staff"])
    def post(self, request):
        data = s.CardQrInput(data=request.data)
        data.is_valid(raise_exception=True)
        citizen = selectors.access_citizen_id_by_reference(reference=data.validated_data["reference"])
        issued = services.card_qr_issue(citizen=citizen, acting_user=request.user, client_ip=client_ip(request))
        body = s.CardQrOutput(issued.card).data | {"token": issued.token}
        return Response(body, status=status.HTTP_201_CREATED)


class StaffCardQrDetailApi(_FormatParameterMixin, APIView):
    """A printed card QR again (same token), as JSON or image; DELETE revokes it."""

    permission_classes = [HasRole(Role.MUNICIPALITY_ADMIN)]

    @extend_schema(parameters=[FORMAT_PARAMETER],
                   responses={(200, "application/json"): s.CardQrIssuedOutput,
                              (200, "image/svg+xml"): OpenApiTypes.BINARY, (200, "image/png"): OpenApiTypes.BINARY,
                              410: _error("qr_revoked")},
                   tags=["staff"])
    def get(self, request, card_id: int):
        kind = self._format(request)
        card = selectors.access_card_qr(card_id=card_id)
        token = services.card_qr_token(card=card)
        if kind != "json":
            return _image(token, kind, f"citizen-id-card-{card.pk}")
        response = Response(s.CardQrOutput(card).data | {"token": token})
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(request=None, responses={200: s.CardQrOutput}, tags=["staff"])
    def delete(self, request, card_id: int):
        card = selectors.access_card_qr(card_id=card_id)
        services.card_qr_revoke(card=card, acting_user=request.user, client_ip=client_ip(request))
        return Response(s.CardQrOutput(card).data)


class StaffRevokeApi(APIView):
    """Revoke a resident's citizen ID (death, moving out, fraud); erases its 基本4情報."""

    permission_classes = [HasRole(Role.MUNICIPALITY_ADMIN)]

    @extend_schema(request=s.StaffRevokeInput, responses={200: s.StaffCitizenOutput}, tags=["staff"])
    def post(self, request):
        data = s.StaffRevokeInput(data=request.data)
        data.is_valid(raise_exception=True)
        citizen = selectors.access_citizen_id_by_reference(reference=data.validated_data["reference"])
        services.citizen_id_revoke(citizen=citizen, acting_user=request.user, reason=data.validated_data["reason"],
                                   client_ip=client_ip(request))
        return Response(s.StaffCitizenOutput(citizen).data)
