"""Exercise Django as a site does: settings, django.setup(), migrations of contrib apps on an
in-memory sqlite database, the test client against a URLconf in a temp module, template rendering
(the admin login page: templates shipped in the package) and translations (.mo catalogs).
Asserts what it expects and prints a deterministic JSON summary.
Usage: python django.py TMPDIR   (TMPDIR: where to write the URLconf module)"""

import json
import os
import sys

tmp = sys.argv[1]
with open(os.path.join(tmp, "vs_urls.py"), "w") as f:
    f.write(
        "from django.contrib import admin\n"
        "from django.http import JsonResponse\n"
        "from django.urls import path\n"
        "from django.utils.translation import gettext\n"
        "def hello(request):\n"
        "    return JsonResponse({'hello': request.GET.get('name', ''), 'yes': gettext('Yes')})\n"
        "urlpatterns = [path('hello/', hello), path('admin/', admin.site.urls)]\n"
    )
sys.path.insert(0, tmp)

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(
    DEBUG=False,
    SECRET_KEY="not-secret",
    ALLOWED_HOSTS=["testserver"],
    ROOT_URLCONF="vs_urls",
    INSTALLED_APPS=[
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
    ],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "django.contrib.messages.context_processors.messages",
                ]
            },
        }
    ],
    USE_I18N=True,
    LANGUAGE_CODE="fr",
    USE_TZ=True,
    STATIC_URL="/static/",
)
django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

call_command("migrate", verbosity=0)
from django.contrib.auth.models import User  # noqa: E402

User.objects.create_superuser("admin", "a@example.com", "pw")
setup_test_environment()
client = Client()
out = {}
r = client.get("/hello/", {"name": "world"})
out["hello"] = [r.status_code, r.json()]
assert r.status_code == 200 and r.json() == {"hello": "world", "yes": "Oui"}, out
r = client.get("/admin/login/")
page = r.content.decode()
out["login"] = [r.status_code, "Connexion" in page, 'name="csrfmiddlewaretoken"' in page]
assert out["login"] == [200, True, True], out
assert client.login(username="admin", password="pw")
r = client.get("/admin/auth/user/")
out["changelist"] = [r.status_code, "admin" in r.content.decode()]
assert out["changelist"] == [200, True], out
print(json.dumps(out, sort_keys=True))
