"""Community moderation console (community_moderator; municipality admins pass). Pages call the same
services as the staff API; everything residents wrote is rendered through Django's autoescaping."""
from __future__ import annotations

from datetime import timedelta

from django.http import Http404, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.roles import Role
from admin_console.access import staff_required
from superapp.api.errors import ApiError

from .. import selectors, services
from ..models import Comment, Event, PostReport
from .forms import HideForm, OpenDataForm, SuspendForm

moderator_required = staff_required(Role.COMMUNITY_MODERATOR)
QUEUE_PAGE_SIZE = 50


def _back_to_post(post_id: int, flash: str = "") -> HttpResponseRedirect:
    url = reverse("community_console:post", args=[post_id])
    return HttpResponseRedirect(f"{url}?done={flash}" if flash else url)


@require_GET
@moderator_required
def queue(request):
    """Open reports (most reported first), hidden posts, or events with their open-data flag."""
    view = request.GET.get("view", "open")
    if view == "events":
        events = list(selectors.moderation_events()[:QUEUE_PAGE_SIZE])
        return render(request, "community/console/events.html", {"events": events, "view": view})
    if view == "hidden":
        posts = selectors.hidden_posts()[:QUEUE_PAGE_SIZE]
    else:
        view = "open"
        posts = selectors.report_queue(status=PostReport.Status.OPEN)[:QUEUE_PAGE_SIZE]
    return render(request, "community/console/queue.html", {"posts": list(posts), "view": view})


@require_GET
@moderator_required
def post_detail(request, post_id: int):
    post = selectors.moderation_post(post_id=post_id)
    reports = list(post.reports.select_related("reporter").order_by("-created_at"))
    comments = list(Comment.objects.filter(post=post, deleted_at__isnull=True).select_related("author")
                    .order_by("created_at", "id"))
    context = {"post": post, "event": _event_of(post), "reports": reports, "comments": comments,
               "hide_form": HideForm(), "suspend_form": SuspendForm(), "done": request.GET.get("done", "")}
    return render(request, "community/console/post.html", context)


@require_POST
@moderator_required
def post_hide(request, post_id: int):
    post = selectors.moderation_post(post_id=post_id)
    form = HideForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    services.post_hide(post=post, moderator=request.user, reason=reason)
    return _back_to_post(post.pk, "hidden")


@require_POST
@moderator_required
def post_restore(request, post_id: int):
    post = selectors.moderation_post(post_id=post_id)
    services.post_restore(post=post, moderator=request.user)
    return _back_to_post(post.pk, "restored")


@require_POST
@moderator_required
def post_dismiss(request, post_id: int):
    post = selectors.moderation_post(post_id=post_id)
    services.reports_dismiss(post=post, moderator=request.user)
    return _back_to_post(post.pk, "dismissed")


@require_POST
@moderator_required
def suspend_author(request, post_id: int):
    post = selectors.moderation_post(post_id=post_id)
    form = SuspendForm(request.POST)
    if form.is_valid():
        days = form.cleaned_data["days"]
        try:
            services.suspension_create(user_id=post.author_id, district_id=post.district_id,
                                       reason=form.cleaned_data["reason"], moderator=request.user,
                                       until=timezone.now() + timedelta(days=days) if days else None)
        except ApiError as exc:
            form.add_error(None, f"{exc.message} / {exc.message_en}")
        else:
            return _back_to_post(post.pk, "suspended")
    reports = list(post.reports.select_related("reporter").order_by("-created_at"))
    comments = list(Comment.objects.filter(post=post, deleted_at__isnull=True).select_related("author")
                    .order_by("created_at", "id"))
    return render(request, "community/console/post.html",
                  {"post": post, "event": _event_of(post), "reports": reports, "comments": comments,
                   "hide_form": HideForm(), "suspend_form": form, "done": ""}, status=400)


@require_POST
@moderator_required
def event_open_data(request, post_id: int):
    """Publishes the post's event in the open-data イベント一覧, or withdraws it."""
    post = selectors.moderation_post(post_id=post_id)
    event = _event_of(post)
    if event is None:
        raise Http404
    form = OpenDataForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("open_data は 1 か 0 です。 / open_data must be 1 or 0.")
    event.post = post
    services.event_open_data_set(event=event, open_data=form.cleaned_data["open_data"], acting_user=request.user)
    if request.POST.get("next") == "events":
        return HttpResponseRedirect(reverse("community_console:queue") + "?view=events")
    return _back_to_post(post.pk, "open_data_on" if form.cleaned_data["open_data"] else "open_data_off")


def _event_of(post) -> Event | None:
    try:
        return post.event
    except Event.DoesNotExist:
        return None


@require_POST
@moderator_required
def comment_hide(request, comment_id: int):
    comment = selectors.moderation_comment(comment_id=comment_id)
    services.comment_hide(comment=comment, moderator=request.user)
    return _back_to_post(comment.post_id, "comment_hidden")


@require_POST
@moderator_required
def comment_restore(request, comment_id: int):
    comment = selectors.moderation_comment(comment_id=comment_id)
    services.comment_restore(comment=comment, moderator=request.user)
    return _back_to_post(comment.post_id, "comment_restored")


@require_GET
@moderator_required
def suspensions(request):
    return render(request, "community/console/suspensions.html",
                  {"suspensions": list(selectors.suspensions_active()[:200])})


@require_POST
@moderator_required
def suspension_lift(request, suspension_id: int):
    suspension = selectors.access_suspension(suspension_id=suspension_id)
    services.suspension_lift(suspension=suspension, moderator=request.user)
    return HttpResponseRedirect(reverse("community_console:suspensions"))
