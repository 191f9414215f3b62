from django.db import connection
from django.http import HttpResponse


def health(request):
    return HttpResponse("ok\n")


def orders(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(0.05)")
    except Exception as exc:  # the load driver reads the error from the body
        return HttpResponse(f"{type(exc).__name__}: {exc}\n", status=500)
    return HttpResponse("done\n")
