SECRET_KEY = "verify-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS = ["shop"]
ROOT_URLCONF = "mysite.urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

import dj_database_url

DATABASES = {
    "default": {
        **dj_database_url.config(
            default="postgres://app@127.0.0.1:25432/pc302", conn_max_age=600
        ),
        "OPTIONS": {"pool": {"min_size": 1, "max_size": 4}, "connect_timeout": 5},
    }
}
