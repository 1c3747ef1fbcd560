"""A small real Django project for the WSGI middleware's tests (served by gunicorn)."""
