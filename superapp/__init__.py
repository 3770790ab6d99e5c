"""Project package: settings, URL confs (public + tenant), Celery app, WSGI, demo launcher."""
from .celery import app as celery_app

__all__ = ("celery_app",)
