"""Community background work: pushes for new posts and waiting-list promotions, orphan photo purge.
Tasks take ids and are idempotent (a marker row/column is set under a row lock before anything is sent)."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from superapp.celery import app

from .models import CategoryFollow, Post, Rsvp
from .notify import Push, push_to_residents


def new_post_audience(post: Post) -> list[int]:
    """Active residents of the post's district who follow its category, except its author."""
    followers = CategoryFollow.objects.filter(category=post.category).values("user_id")
    return list(User.objects.filter(kind=User.Kind.RESIDENT, is_active=True, district_id=post.district_id,
                                    pk__in=followers).exclude(pk=post.author_id).values_list("pk", flat=True))


def _excerpt(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@app.task(name="community.tasks.notify_new_post")
def notify_new_post(post_id: int) -> int:
    with transaction.atomic():
        post = (Post.objects.select_for_update(of=("self",)).select_related("district")
                .filter(pk=post_id, notified_at__isnull=True).first())
        if post is None or not post.is_visible:
            return 0  # already sent, withdrawn or hidden before the push left
        post.notified_at = timezone.now()
        post.save(update_fields=["notified_at"])
        audience = new_post_audience(post)
        label = post.get_category_display().split(" / ")[0]
        push = Push(title=f"【{post.district.name}】{label}: {_excerpt(post.title, 40)}",
                    body=_excerpt(post.body or post.title),
                    deep_link=f"/community/posts/{post.pk}",
                    data={"kind": "community_post", "post_id": str(post.pk), "district_id": str(post.district_id),
                          "category": post.category})
        # The marker commits with the hand-over: a redelivered task finds notified_at set and stops.
        return push_to_residents(user_ids=audience, push=push)


@app.task(name="community.tasks.notify_promoted")
def notify_promoted(rsvp_id: int) -> int:
    with transaction.atomic():
        rsvp = (Rsvp.objects.select_for_update(of=("self",)).select_related("event__post")
                .filter(pk=rsvp_id, status=Rsvp.Status.GOING, promoted_at__isnull=False,
                        promotion_notified_at__isnull=True).first())
        if rsvp is None:
            return 0
        rsvp.promotion_notified_at = timezone.now()
        rsvp.save(update_fields=["promotion_notified_at"])
        post = rsvp.event.post
        start = timezone.localtime(rsvp.event.starts_at)
        push = Push(title="キャンセル待ちから参加が確定しました / You're in",
                    body=f"{_excerpt(post.title, 40)}（{start:%m/%d %H:%M}）に参加できます。"
                         f" / A place opened up for this event.",
                    deep_link=f"/community/events/{post.pk}",
                    data={"kind": "community_rsvp_promoted", "event_id": str(post.pk)}, topic="events")
        return push_to_residents(user_ids=[rsvp.user_id], push=push)


@app.task(name="community.tasks.purge_orphan_images")
def purge_orphan_images() -> int:
    from .services import images_purge_orphans

    return images_purge_orphans()
