"""Notifications API: residents' devices, topic settings and inbox; staff's composer and stats."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from accounts.permissions import HasRole, IsResident

from .. import selectors, services
from ..models import Topic
from ..roles import SENDER_ROLES, STATS_ROLES
from . import serializers as s


# --- devices ------------------------------------------------------------------------------------
class DeviceRegisterApi(APIView):
    """Register this app install's FCM token for the signed-in resident (again: moves it here).
    Staff may register their phone too: it receives only what the system sends them by name (e.g.
    a class-closure review alert), never a broadcast."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=s.DeviceInput, responses={200: s.DeviceOutput, 201: s.DeviceOutput}, tags=["notifications"])
    def post(self, request):
        data = s.DeviceInput(data=request.data)
        data.is_valid(raise_exception=True)
        device, created = services.device_register(user=request.user, **data.validated_data)
        return Response(s.DeviceOutput(device).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class DeviceDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None}, tags=["notifications"])
    def delete(self, request, device_id: int):
        device = selectors.access_device(user=request.user, device_id=device_id)
        services.device_remove(device=device)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- preferences --------------------------------------------------------------------------------
class NotificationSettingsApi(APIView):
    """Which topics reach the resident. Disaster (防災・災害情報) is always on."""

    permission_classes = [IsResident]

    @extend_schema(responses=s.NotificationSettingsOutput, tags=["notifications"])
    def get(self, request):
        muted = selectors.muted_topics(user=request.user)
        return Response(s.NotificationSettingsOutput(s.NotificationSettingsOutput.build(muted)).data)

    @extend_schema(request=s.NotificationSettingsInput, responses=s.NotificationSettingsOutput, tags=["notifications"])
    def put(self, request):
        data = s.NotificationSettingsInput(data=request.data)
        data.is_valid(raise_exception=True)
        preference = services.notification_preferences_set(user=request.user, **data.validated_data)
        return Response(s.NotificationSettingsOutput(s.NotificationSettingsOutput.build(preference.muted_topics)).data)


# --- inbox --------------------------------------------------------------------------------------
class InboxApi(APIView):
    """お知らせ一覧: every notification sent to the resident, newest first, with the unread count.
    For staff: only the notifications the system sent them by name."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[s.InboxQueryInput], responses=s.InboxPageOutput, tags=["notifications"])
    def get(self, request):
        query = s.InboxQueryInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        page, size = query.validated_data["page"], query.validated_data["page_size"]
        muted = selectors.muted_topics(user=request.user)
        counts = selectors.inbox_counts(user=request.user, muted=muted)
        offset = (page - 1) * size
        items = list(selectors.inbox(user=request.user, muted=muted)[offset:offset + size]) if offset < counts["count"] else []
        body = {"count": counts["count"], "unread_count": counts["unread"], "results": items,
                **_links(request, page=page, size=size, count=counts["count"])}
        return Response(s.InboxPageOutput(body).data)


def _links(request, *, page: int, size: int, count: int) -> dict:
    url = request.build_absolute_uri()
    return {
        "next": replace_query_param(url, "page", page + 1) if page * size < count else None,
        "previous": (None if page == 1 else remove_query_param(url, "page") if page == 2
                     else replace_query_param(url, "page", page - 1)),
    }


class _InboxMarkApi(APIView):
    permission_classes = [IsAuthenticated]
    opened = False

    def post(self, request, notification_id: int):
        notification = selectors.access_inbox_item(user=request.user, notification_id=notification_id)
        notification.read_at, notification.opened_at = services.inbox_mark(
            user=request.user, notification=notification, opened=self.opened)
        return Response(s.InboxItemOutput(notification).data)


class InboxReadApi(_InboxMarkApi):
    """Mark an inbox item read."""

    @extend_schema(request=None, responses=s.InboxItemOutput, tags=["notifications"])
    def post(self, request, notification_id: int):
        return super().post(request, notification_id)


class InboxOpenedApi(_InboxMarkApi):
    """The resident opened the push (tapped it): counts as opened and read."""

    opened = True

    @extend_schema(request=None, responses=s.InboxItemOutput, tags=["notifications"])
    def post(self, request, notification_id: int):
        return super().post(request, notification_id)


# --- staff --------------------------------------------------------------------------------------
class StaffAudienceSizeApi(APIView):
    """How many residents and devices an audience reaches, before sending."""

    permission_classes = [HasRole(*SENDER_ROLES)]

    @extend_schema(request=s.AudienceSizeInput, responses=s.AudienceSizeOutput, tags=["staff"])
    def post(self, request):
        data = s.AudienceSizeInput(data=request.data)
        data.is_valid(raise_exception=True)
        body = selectors.audience_preview(audience=request.data["audience"],
                                          topic=data.validated_data.get("topic", Topic.DISASTER))
        return Response(s.AudienceSizeOutput(body).data)


class StaffNotificationListApi(APIView):
    def get_permissions(self):
        roles = SENDER_ROLES if self.request.method == "POST" else STATS_ROLES
        return [HasRole(*roles)()]

    @extend_schema(parameters=[s.PageQueryInput], responses=s.NotificationPageOutput, tags=["staff"])
    def get(self, request):
        query = s.PageQueryInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        page, size = query.validated_data["page"], query.validated_data["page_size"]
        notifications = selectors.notification_list()
        count = notifications.count()
        items = list(notifications[(page - 1) * size:page * size]) if (page - 1) * size < count else []
        return Response(s.NotificationPageOutput({"count": count, "results": items,
                                                  **_links(request, page=page, size=size, count=count)}).data)

    @extend_schema(request=s.NotificationInput, responses={201: s.NotificationDetailOutput}, tags=["staff"])
    def post(self, request):
        data = s.NotificationInput(data=request.data)
        data.is_valid(raise_exception=True)
        notification = services.notification_create(
            acting_user=request.user, **{**data.validated_data, "audience": request.data["audience"]})
        notification.stats = selectors.notification_stats(notification=notification)
        return Response(s.NotificationDetailOutput(notification).data, status=status.HTTP_201_CREATED)


class StaffNotificationDetailApi(APIView):
    """A notification and its delivery stats."""

    permission_classes = [HasRole(*STATS_ROLES)]

    @extend_schema(responses=s.NotificationDetailOutput, tags=["staff"])
    def get(self, request, notification_id: int):
        notification = selectors.access_notification(notification_id=notification_id)
        notification.stats = selectors.notification_stats(notification=notification)
        return Response(s.NotificationDetailOutput(notification).data)


class StaffNotificationCancelApi(APIView):
    """Cancel a scheduled notification before it is sent."""

    permission_classes = [HasRole(*SENDER_ROLES)]

    @extend_schema(request=None, responses=s.NotificationDetailOutput, tags=["staff"])
    def post(self, request, notification_id: int):
        notification = selectors.access_notification(notification_id=notification_id)
        services.notification_cancel(notification=notification, acting_user=request.user)
        notification.stats = selectors.notification_stats(notification=notification)
        return Response(s.NotificationDetailOutput(notification).data)
