"""A Django request through django.test's Client: the app's own smoke test, as a workload for
`venvslim slim --run` (tests/it/real_run.rs). Exits non-zero if anything is off."""

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="workload",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["testserver"],
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
)
django.setup()

from django.http import JsonResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import path  # noqa: E402


def hello(request):
    return JsonResponse({"hello": request.GET.get("name", "world")})


urlpatterns = [path("hello", hello)]

response = Client().get("/hello", {"name": "slim"})
assert response.status_code == 200, response.status_code
assert response.json() == {"hello": "slim"}, response.content
print("ok")
