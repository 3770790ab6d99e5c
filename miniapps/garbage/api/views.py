"""Garbage calendar API. The calendar itself (areas, collections, iCal, sorting dictionary, pickup
days) is the city's open data and needs no sign-in, so calendar apps can subscribe to the iCal URL;
reminders and bookings belong to a signed-in resident."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from django.http import HttpResponse
from django.utils import timezone
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.generics import ListAPIView
from rest_framework.views import APIView

from accounts.permissions import IsResident
from superapp.api.errors import ApiError
from superapp.api.pagination import PageNumberPagination
from superapp.api.utils import reject_repeated_query_params

from .. import selectors, services
from ..ical import calendar_ics
from . import serializers as s

TAGS = ["garbage"]
_Q = OpenApiParameter("q", str, description="search text: ひらがな, カタカナ, 半角ｶﾅ, 漢字 all match")
_FROM = OpenApiParameter("from", OpenApiTypes.DATE, description="first date (YYYY-MM-DD), default today")
_TO = OpenApiParameter("to", OpenApiTypes.DATE,
                       description="last date (YYYY-MM-DD, inclusive), default from + 31 days; at most 400 days in all")


class _PaginatedListApi(ListAPIView):
    """A paginated list (documented as such in OpenAPI) filtered by a validated `q`."""

    pagination_class = PageNumberPagination

    def list(self, request, *args, **kwargs):
        params = s.AreaSearchInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        self.q = params.validated_data["q"]
        return super().list(request, *args, **kwargs)


class CategoryListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=s.CategoryOutput(many=True), tags=TAGS, summary="Garbage categories (分別区分)")
    def get(self, request):
        return Response(s.CategoryOutput(selectors.category_list(), many=True).data)


class AreaListApi(_PaginatedListApi):
    permission_classes = [AllowAny]
    serializer_class = s.AreaOutput

    def get_queryset(self):
        return selectors.area_search(q=self.q)

    @extend_schema(parameters=[_Q], tags=TAGS, summary="Search areas (地区)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AreaDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=s.AreaDetailOutput, tags=TAGS, summary="An area and its collection rules")
    def get(self, request, area_id: int):
        area = selectors.access_area(id=area_id)
        area.rules_list = list(selectors.area_rules(area=area))
        data = s.AreaOutput(area).data
        data["rules"] = s.AreaRuleOutput(area.rules_list, many=True).data
        return Response(data)


class AreaCollectionsApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(parameters=[_FROM, _TO], responses=s.CollectionOutput(many=True), tags=TAGS,
                   summary="Collection days of an area, sorted by date")
    def get(self, request, area_id: int):
        reject_repeated_query_params(request, "from", "to")
        params = s.DateRangeInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        start, end = params.validated_data["start"], params.validated_data["end"]

        def compute():
            area = selectors.access_area(id=area_id)
            return list(s.CollectionOutput(selectors.area_collections(area=area, start=start, end=end), many=True).data)

        return Response(selectors.cached_calendar_answer("collections", area_id, start, end, compute=compute))


class AreaNextApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=s.NextCollectionOutput(many=True), tags=TAGS,
                   summary="The next collection day of each category (today included)")
    def get(self, request, area_id: int):
        today = timezone.localdate()

        def compute():
            area = selectors.access_area(id=area_id)
            return list(s.NextCollectionOutput(selectors.area_next(area=area, today=today), many=True,
                                               context={"today": today}).data)

        return Response(selectors.cached_calendar_answer("next", area_id, today, compute=compute))


class AreaCalendarIcsApi(APIView):
    permission_classes = [AllowAny]

    def perform_content_negotiation(self, request, force=False):
        # Calendar clients send Accept: text/calendar; errors are still answered in the JSON shape.
        return JSONRenderer(), JSONRenderer.media_type

    @extend_schema(
        parameters=[OpenApiParameter("from", OpenApiTypes.DATE, description="default: 31 days ago"),
                    OpenApiParameter("to", OpenApiTypes.DATE, description="default: about a year ahead; at most 400 days")],
        responses={(200, "text/calendar"): OpenApiResponse(OpenApiTypes.STR, description="RFC 5545 calendar")},
        tags=TAGS, summary="iCalendar feed of an area (subscribe from Google/Apple Calendar)",
    )
    def get(self, request, area_id: int):
        reject_repeated_query_params(request, "from", "to")
        params = s.CalendarRangeInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        start, end = params.validated_data["start"], params.validated_data["end"]

        def compute():
            area = selectors.access_area(id=area_id)
            collections = selectors.area_collections(area=area, start=start, end=end)
            return calendar_ics(area=area, collections=collections, schema_name=request.tenant.schema_name)

        body = selectors.cached_calendar_answer("ics", area_id, start, end, compute=compute)
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="garbage-{area_id}.ics"'
        return response


class ItemListApi(_PaginatedListApi):
    permission_classes = [AllowAny]
    serializer_class = s.ItemOutput

    def get_queryset(self):
        return selectors.item_search(q=self.q)

    @extend_schema(parameters=[_Q], tags=TAGS, summary="Sorting dictionary (分別辞典) search")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ReminderApi(APIView):
    permission_classes = [IsResident]

    def _render(self, reminder):
        categories = selectors.categories_by_id(reminder.category_ids)
        return s.ReminderOutput(reminder, context={"categories": categories}).data

    @extend_schema(responses=s.ReminderOutput, tags=TAGS, summary="My garbage-day reminder (off with defaults if never set)")
    def get(self, request):
        return Response(self._render(selectors.reminder_for(user=request.user)))

    @extend_schema(request=s.ReminderInput, responses=s.ReminderOutput, tags=TAGS, summary="Set my garbage-day reminder")
    def put(self, request):
        data = s.ReminderInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        area = selectors.area_search().filter(pk=values["area"]).first()
        if area is None:
            raise ApiError("validation_error", fields={"area": ["地区が見つかりません / unknown area"]})
        reminder = services.reminder_set(user=request.user, area=area, category_ids=values.get("categories"),
                                         timing=values["timing"], time=values.get("time"), enabled=values["enabled"])
        return Response(self._render(reminder))


class PickupItemTypeListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=s.PickupItemTypeOutput(many=True), tags=TAGS, summary="Oversized-garbage item types and fees")
    def get(self, request):
        return Response(s.PickupItemTypeOutput(selectors.pickup_item_types(), many=True).data)


class PickupDayListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(parameters=[OpenApiParameter("area", int, required=True, description="the resident's area id")],
                   responses=s.PickupDayOutput(many=True), tags=TAGS,
                   summary="Upcoming oversized-garbage pickup days for an area")
    def get(self, request):
        params = s.PickupDaysInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        area = selectors.access_area(id=params.validated_data["area"])
        today = timezone.localdate()
        days = selectors.pickup_days_for_area(area=area, today=today)
        return Response(s.PickupDayOutput(days, many=True, context={"today": today}).data)


class BookingListApi(ListAPIView):
    permission_classes = [IsResident]
    pagination_class = PageNumberPagination
    serializer_class = s.BookingOutput

    def get_queryset(self):
        return selectors.bookings_of(user=self.request.user)

    @extend_schema(tags=TAGS, summary="My oversized-garbage bookings")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.BookingInput, responses={201: s.BookingOutput}, tags=TAGS,
                   summary="Book an oversized-garbage pickup (409 pickup_day_full / pickup_day_past / booking_closed)")
    def post(self, request):
        data = s.BookingInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        day = selectors.access_pickup_day_for_booking(id=values["pickup_day"])
        area = selectors.area_search().filter(pk=values["area"]).first()
        if area is None:
            raise ApiError("validation_error", fields={"area": ["地区が見つかりません / unknown area"]})
        lines = selectors.booking_lines(values["items"])
        booking = services.booking_create(user=request.user, pickup_day=day, area=area, lines=lines,
                                          address=values["address"], phone=values["phone"], note=values["note"])
        booking = selectors.access_booking(user=request.user, id=booking.id)
        return Response(s.BookingOutput(booking).data, status=status.HTTP_201_CREATED)


class BookingDetailApi(APIView):
    permission_classes = [IsResident]

    @extend_schema(responses=s.BookingOutput, tags=TAGS, summary="One of my bookings")
    def get(self, request, booking_id: int):
        return Response(s.BookingOutput(selectors.access_booking(user=request.user, id=booking_id)).data)


class BookingCancelApi(APIView):
    permission_classes = [IsResident]

    @extend_schema(request=None, responses=s.BookingOutput, tags=TAGS,
                   summary="Cancel my booking (until two working days before; 409 cancellation_closed)")
    def post(self, request, booking_id: int):
        booking = selectors.access_booking(user=request.user, id=booking_id)
        services.booking_cancel(booking=booking, acting_user=request.user)
        return Response(s.BookingOutput(booking).data)

