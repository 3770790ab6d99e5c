"""Announcements API: residents read the active ones and mark them seen; staff publish and edit."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import HasRole, IsResident
from accounts.roles import Role

from .. import selectors, services
from . import serializers as s

ANNOUNCEMENT_STAFF = HasRole(Role.MUNICIPALITY_ADMIN, Role.DISASTER_STAFF)


class AnnouncementListApi(APIView):
    permission_classes = [IsResident]

    @extend_schema(responses=s.AnnouncementOutput(many=True), tags=["announcements"],
                   description="Active announcements for this resident (everyone, their district, their interests), "
                               "popups first. Show unseen popups once, then POST .../seen/.")
    def get(self, request):
        return Response(s.AnnouncementOutput(selectors.announcements_for_resident(user=request.user), many=True).data)


class AnnouncementSeenApi(APIView):
    permission_classes = [IsResident]

    @extend_schema(request=None, responses={204: None}, tags=["announcements"])
    def post(self, request, announcement_id: int):
        announcement = selectors.access_announcement_for_resident(user=request.user, announcement_id=announcement_id)
        services.announcement_mark_seen(announcement=announcement, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StaffAnnouncementListApi(GenericAPIView):
    permission_classes = [ANNOUNCEMENT_STAFF]
    serializer_class = s.StaffAnnouncementOutput

    def get_queryset(self):
        return selectors.announcements_for_staff()

    @extend_schema(responses=s.StaffAnnouncementOutput(many=True), tags=["staff-announcements"])
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.StaffAnnouncementOutput(page, many=True).data)

    @extend_schema(request=s.AnnouncementInput, responses={201: s.StaffAnnouncementOutput},
                   tags=["staff-announcements"])
    def post(self, request):
        data = s.AnnouncementInput(data=request.data)
        data.is_valid(raise_exception=True)
        announcement = services.announcement_create(acting_user=request.user, **data.validated_data)
        announcement = selectors.access_announcement_for_staff(announcement_id=announcement.pk)
        return Response(s.StaffAnnouncementOutput(announcement).data, status=status.HTTP_201_CREATED)


class StaffAnnouncementDetailApi(APIView):
    permission_classes = [ANNOUNCEMENT_STAFF]

    @extend_schema(responses=s.StaffAnnouncementOutput, tags=["staff-announcements"])
    def get(self, request, announcement_id: int):
        return Response(s.StaffAnnouncementOutput(
            selectors.access_announcement_for_staff(announcement_id=announcement_id)).data)

    @extend_schema(request=s.AnnouncementInput(partial=True), responses=s.StaffAnnouncementOutput,
                   tags=["staff-announcements"])
    def patch(self, request, announcement_id: int):
        announcement = selectors.access_announcement_for_staff(announcement_id=announcement_id)
        data = s.AnnouncementInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.announcement_update(announcement=announcement, acting_user=request.user, **data.validated_data)
        return Response(s.StaffAnnouncementOutput(
            selectors.access_announcement_for_staff(announcement_id=announcement_id)).data)

    @extend_schema(responses={204: None}, tags=["staff-announcements"], description="Withdraws the announcement.")
    def delete(self, request, announcement_id: int):
        announcement = selectors.access_announcement_for_staff(announcement_id=announcement_id)
        services.announcement_delete(announcement=announcement, acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
