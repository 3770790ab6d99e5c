"""Feedback API: residents send and read their own; staff read the inbox and answer."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from accounts.permissions import HasRole, IsResident
from accounts.roles import Role
from superapp.api.pagination import NewestFirstCursorPagination

from .. import selectors, services
from . import serializers as s

FEEDBACK_STAFF = HasRole(Role.MUNICIPALITY_ADMIN, Role.COMMUNITY_MODERATOR)


class FeedbackThrottle(SimpleRateThrottle):
    """Per resident, on sending only (FEEDBACK_RATE, default 20/hour)."""

    scope = "feedback"

    def get_rate(self):
        from rest_framework.settings import api_settings

        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope, "20/hour")

    def allow_request(self, request, view):
        if request.method != "POST":
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class FeedbackApi(GenericAPIView):
    permission_classes = [IsResident]
    throttle_classes = [FeedbackThrottle]
    pagination_class = NewestFirstCursorPagination
    serializer_class = s.FeedbackOutput

    def get_queryset(self):
        return selectors.feedback_of_resident(user=self.request.user)

    @extend_schema(responses=s.FeedbackOutput(many=True), tags=["feedback"],
                   description="The resident's own feedback with the staff's answers, newest first.")
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.FeedbackOutput(page, many=True).data)

    @extend_schema(request=s.FeedbackInput, responses={201: s.FeedbackOutput}, tags=["feedback"])
    def post(self, request):
        data = s.FeedbackInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        feedback = services.feedback_submit(user=request.user, miniapp_id=fields.pop("miniapp"), **fields)
        return Response(s.FeedbackOutput(feedback).data, status=status.HTTP_201_CREATED)


class FeedbackDetailApi(APIView):
    permission_classes = [IsResident]

    @extend_schema(responses=s.FeedbackOutput, tags=["feedback"])
    def get(self, request, feedback_id: int):
        return Response(s.FeedbackOutput(
            selectors.access_feedback_for_resident(user=request.user, feedback_id=feedback_id)).data)


class StaffFeedbackListApi(GenericAPIView):
    permission_classes = [FEEDBACK_STAFF]
    serializer_class = s.StaffFeedbackOutput

    @extend_schema(parameters=[s.StaffFeedbackQuery], responses=s.StaffFeedbackOutput(many=True),
                   tags=["staff-feedback"])
    def get(self, request):
        query = s.StaffFeedbackQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.feedback_inbox(**query.validated_data))
        return self.get_paginated_response(s.StaffFeedbackOutput(page, many=True).data)


class StaffFeedbackDetailApi(APIView):
    permission_classes = [FEEDBACK_STAFF]

    @extend_schema(responses=s.StaffFeedbackOutput, tags=["staff-feedback"])
    def get(self, request, feedback_id: int):
        return Response(s.StaffFeedbackOutput(selectors.access_feedback_for_staff(feedback_id=feedback_id)).data)


class StaffFeedbackReplyApi(APIView):
    permission_classes = [FEEDBACK_STAFF]

    @extend_schema(request=s.FeedbackReplyInput, responses=s.StaffFeedbackOutput, tags=["staff-feedback"],
                   description="Answers the feedback; the resident sees it in the app and, with a reply address, "
                               "gets it by e-mail.")
    def post(self, request, feedback_id: int):
        feedback = selectors.access_feedback_for_staff(feedback_id=feedback_id)
        data = s.FeedbackReplyInput(data=request.data)
        data.is_valid(raise_exception=True)
        feedback = services.feedback_reply(feedback=feedback, text=data.validated_data["text"],
                                           acting_user=request.user)
        return Response(s.StaffFeedbackOutput(feedback).data)
