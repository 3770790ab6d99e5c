"""Shelters API: the public list and alerts residents read, and the staff operations of a disaster."""
from __future__ import annotations

import json
import re

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import HasRole
from accounts.roles import Role
from superapp.api.errors import ApiError, error_response
from superapp.api.renderers import CsvRenderer
from superapp.api.utils import client_ip

from .. import selectors, services
from ..opendata import write_shelters
from ..services import Evacuee
from . import serializers as s

DISASTER_ROLES = (Role.DISASTER_STAFF,)
RECEPTION_ROLES = (Role.SHELTER_STAFF, Role.DISASTER_STAFF)

SHELTER_PUBLIC_FIELDS = {
    "id": serializers.IntegerField(), "name": serializers.CharField(), "kana": serializers.CharField(),
    "name_en": serializers.CharField(), "address": serializers.CharField(),
    "latitude": serializers.FloatField(allow_null=True), "longitude": serializers.FloatField(allow_null=True),
    "capacity": serializers.IntegerField(), "hazards": serializers.ListField(child=serializers.CharField()),
    "is_designated_shelter": serializers.BooleanField(), "is_welfare_shelter": serializers.BooleanField(),
    "pets_allowed": serializers.BooleanField(), "car_stay_allowed": serializers.BooleanField(),
    "phone": serializers.CharField(),
    "status": serializers.ChoiceField(choices=["open", "closed"]),
    "level": serializers.ChoiceField(choices=["available", "somewhat_crowded", "crowded", "full", "closed"]),
    "evacuees": serializers.IntegerField(), "households": serializers.IntegerField(),
    "disaster": inline_serializer("ShelterDisaster", fields={
        "id": serializers.IntegerField(), "name": serializers.CharField(), "type": serializers.CharField()},
        allow_null=True),
    "opened_at": serializers.DateTimeField(allow_null=True), "updated_at": serializers.DateTimeField(allow_null=True),
    "distance_km": serializers.FloatField(allow_null=True, required=False),
}

ALERT_FIELDS = {
    "id": serializers.IntegerField(), "identifier": serializers.CharField(), "msg_type": serializers.CharField(),
    "status": serializers.CharField(), "event": serializers.CharField(), "urgency": serializers.CharField(),
    "severity": serializers.CharField(), "certainty": serializers.CharField(), "headline": serializers.CharField(),
    "description": serializers.CharField(), "instruction": serializers.CharField(), "area": serializers.CharField(),
    "district_ids": serializers.ListField(child=serializers.IntegerField()), "sent": serializers.DateTimeField(),
    "expires": serializers.DateTimeField(allow_null=True),
}


def _coordinate(request, name: str, low: float, high: float) -> float | None:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high or value != value:
        raise ApiError("validation_error", fields={name: [f"{low}〜{high}の数値で指定してください。 / "
                                                          f"Must be a number between {low} and {high}."]})
    return value


_ACCEPTS_GZIP = re.compile(r"\bgzip\b")


def public_payload_response(request, payload: selectors.PublicPayload) -> HttpResponse:
    """The pre-rendered JSON, gzipped when the client accepts it (the apps' HTTP stacks do)."""
    if _ACCEPTS_GZIP.search(request.META.get("HTTP_ACCEPT_ENCODING", "")):
        response = HttpResponse(payload.body_gzip, content_type="application/json")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(payload.body, content_type="application/json")
    response["Vary"] = "Accept-Encoding"
    response["Content-Length"] = str(len(response.content))  # CommonMiddleware's job, skipped here
    return response


def _shelter_list_response(request) -> HttpResponse:
    lat = _coordinate(request, "lat", -90, 90)
    lng = _coordinate(request, "lng", -180, 180)
    if (lat is None) != (lng is None):
        raise ApiError("validation_error", fields={"lat" if lat is None else "lng": [
            "lat と lng は両方指定してください。 / Give both lat and lng."]})
    payload = selectors.shelter_public_list()
    if lat is None:
        return public_payload_response(request, payload)
    rows = selectors.shelters_near(json.loads(payload.body), lat=lat, lng=lng)
    return HttpResponse(json.dumps(rows, ensure_ascii=False).encode(), content_type="application/json")


def _active_alerts_response(request) -> HttpResponse:
    return public_payload_response(request, selectors.active_alerts())


class ShelterListApi(APIView):
    """Shelters with status, vacancy level and counts; nearest first with ?lat=&lng=. No sign-in needed.
    Served from a cached, pre-rendered payload: no database query per request."""

    permission_classes = [AllowAny]

    @extend_schema(parameters=[OpenApiParameter("lat", float), OpenApiParameter("lng", float)],
                   responses=inline_serializer("ShelterPublic", SHELTER_PUBLIC_FIELDS, many=True), tags=["shelters"])
    def get(self, request):
        return _shelter_list_response(request)


class ActiveAlertsApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=inline_serializer("ActiveAlert", ALERT_FIELDS, many=True), tags=["alerts"])
    def get(self, request):
        return _active_alerts_response(request)


def anonymous_fast_path(api_view: type[APIView], respond):
    """During a disaster these two reads carry the surge. An anonymous GET skips DRF's request cycle
    (the payload is already rendered JSON); anything else — a token to check, another method —
    goes through the DRF view, so a foreign token still gets its 401. See also
    shelters.middleware, which answers the same anonymous GETs before most of the middleware."""
    drf_view = api_view.as_view()

    def view(request, *args, **kwargs):
        if is_anonymous_get(request):
            try:
                return respond(request)
            except ApiError as exc:
                return error_response(exc.code, exc.status_code, message=exc.message, message_en=exc.message_en,
                                      fields=exc.fields)
        return drf_view(request, *args, **kwargs)

    # drf-spectacular documents the wrapped view.
    view.cls, view.initkwargs, view.csrf_exempt = api_view, {}, True
    return view


def is_anonymous_get(request) -> bool:
    return request.method == "GET" and "HTTP_AUTHORIZATION" not in request.META


shelter_list_view = anonymous_fast_path(ShelterListApi, _shelter_list_response)
active_alerts_view = anonymous_fast_path(ActiveAlertsApi, _active_alerts_response)


class EvacuationSpaceCsvApi(APIView):
    """The shelter registry as 指定緊急避難場所一覧 (national standard, current format), UTF-8 with BOM."""

    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer, CsvRenderer]

    @extend_schema(responses={(200, "text/csv"): str}, tags=["opendata"])
    def get(self, request):
        municipality = request.tenant
        body = write_shelters(selectors.Shelter.objects.order_by("id"), lg_code=municipality.code,
                              municipality_name=municipality.name, prefecture=municipality.prefecture)
        response = HttpResponse(body.encode("utf-8"), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{municipality.code}_evacuation_space.csv"'
        return response


class StaffDisasterApi(APIView):
    permission_classes = [HasRole(*DISASTER_ROLES)]

    @extend_schema(responses=s.DisasterOutput(many=True), tags=["staff-disasters"])
    def get(self, request):
        return Response(s.DisasterOutput(selectors.disaster_list(), many=True).data)

    @extend_schema(request=s.DisasterInput, responses={201: s.DisasterOutput}, tags=["staff-disasters"])
    def post(self, request):
        data = s.DisasterInput(data=request.data)
        data.is_valid(raise_exception=True)
        disaster = services.disaster_open(acting_user=request.user, **data.validated_data)
        return Response(s.DisasterOutput(disaster).data, status=status.HTTP_201_CREATED)


class StaffDisasterCloseApi(APIView):
    permission_classes = [HasRole(*DISASTER_ROLES)]

    @extend_schema(request=None, responses=s.DisasterOutput, tags=["staff-disasters"])
    def post(self, request, disaster_id: int):
        disaster = services.disaster_close(disaster=selectors.access_disaster(id=disaster_id), acting_user=request.user)
        return Response(s.DisasterOutput(disaster).data)


def _opening_body(opening) -> dict:
    return {"disaster_id": opening.disaster_id, "shelter_id": opening.shelter_id, "opened_at": opening.opened_at,
            "closed_at": opening.closed_at}


class StaffShelterOpenApi(APIView):
    permission_classes = [HasRole(*DISASTER_ROLES)]

    @extend_schema(request=None, responses=s.OpeningOutput, tags=["staff-disasters"])
    def post(self, request, disaster_id: int, shelter_id: int):
        opening = services.shelter_open(disaster=selectors.access_disaster(id=disaster_id),
                                        shelter=selectors.access_shelter(id=shelter_id), acting_user=request.user)
        return Response(s.OpeningOutput(_opening_body(opening)).data)


class StaffShelterCloseApi(APIView):
    permission_classes = [HasRole(*DISASTER_ROLES)]

    @extend_schema(request=None, responses=s.OpeningOutput, tags=["staff-disasters"])
    def post(self, request, disaster_id: int, shelter_id: int):
        opening = services.shelter_close(disaster=selectors.access_disaster(id=disaster_id),
                                         shelter=selectors.access_shelter(id=shelter_id), acting_user=request.user)
        return Response(s.OpeningOutput(_opening_body(opening)).data)


class StaffDisasterReportApi(APIView):
    """災害対策本部 report: JSON, or CSV with ?format=csv."""

    permission_classes = [HasRole(*DISASTER_ROLES)]
    renderer_classes = [JSONRenderer, CsvRenderer]

    @extend_schema(parameters=[OpenApiParameter("format", str, enum=["json", "csv"])],
                   responses={200: inline_serializer("DisasterReport", fields={
                       "disaster": serializers.DictField(), "generated_at": serializers.DateTimeField(),
                       "shelters": serializers.ListField(child=serializers.DictField()),
                       "totals": serializers.DictField()}),
                       (200, "text/csv"): str}, tags=["staff-disasters"])
    def get(self, request, disaster_id: int):
        report = selectors.disaster_report(disaster=selectors.access_disaster(id=disaster_id))
        if request.query_params.get("format") == "csv":
            from ..reports import report_csv

            response = HttpResponse(report_csv(report).encode("utf-8"), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="disaster-{disaster_id}-report.csv"'
            return response
        return Response(report)


def _evacuees_from(request, validated: dict, *, client_id: str = "", checked_in_at=None) -> list[Evacuee]:
    main_care, main_pets = validated.get("special_care", []), validated.get("pets", 0)
    if validated.get("qr_token"):
        from ..citizen import evacuee_from_qr

        first = evacuee_from_qr(token=validated["qr_token"], acting_user=request.user, scanned_at=checked_in_at,
                                client_ip=client_ip(request))
        first.special_care, first.pets = main_care, main_pets
    else:
        person = dict(validated["person"])
        person["special_care"] = sorted(set(person["special_care"]) | set(main_care))
        person["pets"] = person["pets"] or main_pets
        first = Evacuee(**person)
    first.client_item_id = client_id
    first.checked_in_at = checked_in_at
    members = [Evacuee(**member, client_item_id=f"{client_id}#{i}" if client_id else "",
                       checked_in_at=checked_in_at) for i, member in enumerate(validated.get("household", []), 1)]
    return [first, *members]


def _check_in_body(result) -> dict:
    return s.CheckInResultOutput({"household_id": result.household_id, "check_ins": result.check_ins,
                                  "already_checked_in": result.already_present}).data


class StaffCheckInApi(APIView):
    """Check an evacuee (and household) in, by citizen ID QR or manual entry. Send an Idempotency-Key
    header: a retried request returns the first answer and creates nothing."""

    permission_classes = [HasRole(*RECEPTION_ROLES)]

    @extend_schema(request=s.CheckInInput, responses={201: s.CheckInResultOutput, 200: s.CheckInResultOutput},
                   parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=True)],
                   tags=["staff-shelters"])
    def post(self, request, shelter_id: int):
        shelter = selectors.access_shelter(id=shelter_id)
        key = request.headers.get("Idempotency-Key", "")

        def compute():
            data = s.CheckInInput(data=request.data)
            data.is_valid(raise_exception=True)
            result = services.shelter_check_in(shelter=shelter, evacuees=_evacuees_from(request, data.validated_data),
                                               acting_user=request.user)
            return (201 if result.check_ins else 200), json.loads(json.dumps(_check_in_body(result), default=str))

        code, body = services.idempotent_response(scope=f"check-in:{shelter.pk}", key=key, payload=request.body,
                                                  compute=compute)
        return Response(body, status=code)


class StaffCheckInBatchApi(APIView):
    """Upload check-ins a tablet queued while offline; idempotent per item (client_id)."""

    permission_classes = [HasRole(*RECEPTION_ROLES)]

    @extend_schema(request=s.BatchInput, responses=inline_serializer("BatchResult", fields={
        "results": serializers.ListField(child=serializers.DictField())}), tags=["staff-shelters"])
    def post(self, request, shelter_id: int):
        shelter = selectors.access_shelter(id=shelter_id)
        data = s.BatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        items = data.validated_data["items"]
        uploaded = selectors.uploaded_offline_items(shelter=shelter, client_ids=[i["client_id"] for i in items])
        results = []
        for item in items:
            if item["client_id"] in uploaded:  # sent before: answer again, verify nothing twice
                check_ins = uploaded[item["client_id"]]
                results.append({"client_id": item["client_id"], "status": "already_uploaded", **s.CheckInResultOutput(
                    {"household_id": str(check_ins[0].household_id), "check_ins": [],
                     "already_checked_in": check_ins}).data})
                continue
            try:
                evacuees = _evacuees_from(request, item, client_id=item["client_id"],
                                          checked_in_at=item["checked_in_at"])
                result = services.shelter_check_in(shelter=shelter, evacuees=evacuees, acting_user=request.user)
            except ApiError as exc:
                if exc.code == "shelter_not_open":
                    raise
                results.append({"client_id": item["client_id"], "status": "rejected",
                                "error": {"code": exc.code, "message": exc.message, "message_en": exc.message_en,
                                          "fields": exc.fields}})
                continue
            results.append({"client_id": item["client_id"],
                            "status": "created" if result.check_ins else "already_uploaded",
                            **_check_in_body(result)})
        return Response({"results": results})


class StaffCheckOutApi(APIView):
    permission_classes = [HasRole(*RECEPTION_ROLES)]

    @extend_schema(request=s.CheckOutInput, responses=s.CheckInOutput(many=True), tags=["staff-shelters"])
    def post(self, request, shelter_id: int):
        shelter = selectors.access_shelter(id=shelter_id)
        data = s.CheckOutInput(data=request.data)
        data.is_valid(raise_exception=True)
        check_ins = services.shelter_check_out(shelter=shelter, check_in_ids=data.validated_data["check_in_ids"],
                                               acting_user=request.user)
        return Response(s.CheckInOutput(check_ins, many=True).data)


class StaffEvacueeListApi(APIView):
    permission_classes = [HasRole(*RECEPTION_ROLES)]

    @extend_schema(responses=s.CheckInOutput(many=True), tags=["staff-shelters"])
    def get(self, request, shelter_id: int):
        shelter = selectors.access_shelter(id=shelter_id)
        return Response(s.CheckInOutput(selectors.current_evacuees(shelter=shelter), many=True).data)


class StaffAlertApi(APIView):
    """Receive an OASIS CAP 1.2 alert (Content-Type: application/cap+xml)."""

    permission_classes = [HasRole(*DISASTER_ROLES)]
    parser_classes = []  # the raw body is read as XML below

    @extend_schema(request={"application/cap+xml": str}, responses={201: inline_serializer("ReceivedAlert", ALERT_FIELDS), 200: inline_serializer("ReceivedAlert", ALERT_FIELDS)},
                   tags=["alerts"])
    def post(self, request):
        content_type = request.content_type.split(";")[0].strip().lower()
        if content_type not in {"application/cap+xml", "application/xml", "text/xml"}:
            raise ApiError("unsupported_media_type", status_code=415)
        result = services.alert_receive(document=request.body, acting_user=request.user)
        body = {"id": result.alert.pk, "identifier": result.alert.identifier,
                                 "msg_type": result.alert.msg_type, "status": result.alert.status,
                                 "event": result.alert.event, "urgency": result.alert.urgency,
                                 "severity": result.alert.severity, "certainty": result.alert.certainty,
                                 "headline": result.alert.headline, "description": result.alert.description,
                                 "instruction": result.alert.instruction, "area": result.alert.area_desc,
                                 "district_ids": result.alert.district_ids, "sent": result.alert.sent,
                                 "expires": result.alert.expires}
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class EmergencyContactsApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=inline_serializer("EmergencyContacts", fields={
        "contacts": s.EmergencyContactOutput(many=True)}), tags=["residents"])
    def get(self, request):
        contacts = request.user.emergency_contacts.all()
        return Response({"contacts": s.EmergencyContactOutput(contacts, many=True).data})

    @extend_schema(request=s.EmergencyContactsInput, responses=inline_serializer("EmergencyContactsSaved", fields={
        "contacts": s.EmergencyContactOutput(many=True)}), tags=["residents"])
    def put(self, request):
        data = s.EmergencyContactsInput(data=request.data)
        data.is_valid(raise_exception=True)
        contacts = services.emergency_contacts_set(user=request.user, contacts=data.validated_data["contacts"])
        return Response({"contacts": s.EmergencyContactOutput(contacts, many=True).data})
