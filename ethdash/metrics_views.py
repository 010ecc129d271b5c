"""/metrics (a farm's series, for its `read` tokens and members) and /metrics/process (the
process's own, for the operator). Both in the Prometheus text format; docs/metrics.md lists every
series."""

from django.conf import settings
from django.http import HttpResponse
from django.utils.module_loading import import_string
from drf_spectacular.utils import extend_schema
from rest_framework import permissions
from rest_framework.exceptions import ValidationError
from rest_framework.views import APIView

from ethdash import metrics

PER_VALIDATOR = ("", "each")


@extend_schema(exclude=True)  # Prometheus's format, not the REST API's
class FarmMetricsView(APIView):
    """The farm's rigs, devices, pool accounts, validators (per farm and group; per validator
    with `?validators=each`) and open alerts. A token sees its one farm, a member all theirs."""

    def get(self, request):
        per_validator = request.query_params.get("validators", "")
        if per_validator not in PER_VALIDATOR:
            raise ValidationError({"validators": ["Leave it out, or 'each' for one series each."]})
        farm_ids = import_string(settings.ETHDASH_FARM_IDS_FOR_REQUEST)(request)
        body = metrics.farm_exposition(sorted(farm_ids), validators=per_validator)
        return HttpResponse(body, content_type=metrics.CONTENT_TYPE)


class OperatorOnly(permissions.BasePermission):
    message = "Needs the operator's metrics token (ETHDASH_METRICS_TOKEN) or an allowed address."

    def has_permission(self, request, view):
        return metrics.operator_allowed(request)


@extend_schema(exclude=True)
class ProcessMetricsView(APIView):
    """Requests, task runs, poll/store/evaluation times, queue length, outbound errors: every
    process's, added up, in multiprocess mode."""

    authentication_classes = []
    permission_classes = [OperatorOnly]

    def get(self, request):
        return HttpResponse(metrics.process_exposition(), content_type=metrics.CONTENT_TYPE)
