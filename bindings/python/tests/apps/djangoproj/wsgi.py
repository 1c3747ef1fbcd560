"""The project's WSGI entry point, as `django-admin startproject` writes it, wrapped in the
Himetrica middleware."""

import os

from django.core.wsgi import get_wsgi_application

import himetrica
from himetrica.wsgi import HimetricaMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djangoproj.settings")

client = himetrica.Client(os.environ["HM_KEY"], endpoint=os.environ["HM_ENDPOINT"], rate_limit_track=None)
application = HimetricaMiddleware(get_wsgi_application(), client, track_requests=True)
