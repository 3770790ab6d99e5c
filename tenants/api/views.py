"""Public directory of municipalities, served on the bare platform host, so one app binary can
serve several cities."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ..models import Municipality
from ..selectors import municipality_directory


class MunicipalityOutput(serializers.ModelSerializer):
    api_base_url = serializers.CharField(read_only=True)

    class Meta:
        model = Municipality
        fields = ["code", "name", "name_kana", "name_en", "prefecture", "api_base_url"]


class MunicipalityDirectoryApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses=MunicipalityOutput(many=True), tags=["platform"])
    def get(self, request):
        return Response(MunicipalityOutput(municipality_directory(), many=True).data)
