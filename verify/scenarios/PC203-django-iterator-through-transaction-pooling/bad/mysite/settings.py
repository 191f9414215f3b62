SECRET_KEY = "verify-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS = ["shop"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "pc203",
        "USER": "app",
        "HOST": "127.0.0.1",
        "PORT": "26203",  # PgBouncer, transaction pooling
        "OPTIONS": {"connect_timeout": 5},
    }
}
