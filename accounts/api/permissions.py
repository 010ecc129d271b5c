"""The permission every API view has by default (REST_FRAMEWORK in settings)."""

from rest_framework import permissions

from accounts.models import ApiToken


class FarmScopePermission(permissions.BasePermission):
    """Reads need a login or a `read` token; views that write check the farm themselves through
    accounts.scoping.can_write, since which token scope a write needs depends on the action."""

    message = "This token lacks the scope this endpoint needs."

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        token = request.auth if isinstance(request.auth, ApiToken) else None
        if request.method in permissions.SAFE_METHODS:
            return token is None or token.has_scope(ApiToken.Scope.READ)
        return True
