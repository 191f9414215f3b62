"""4 threads stream the app's table with QuerySet.iterator(chunk_size=50), three times each."""

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
import verifykit  # noqa: E402

verifykit.variant()
import mysite.wsgi  # noqa: E402, F401  (django.setup() with the project's settings)
from django.db import connection, connections  # noqa: E402
from shop.models import Item  # noqa: E402

with connection.schema_editor() as editor:
    editor.create_model(Item)
Item.objects.bulk_create(Item(name=f"item {n}", price=n) for n in range(600))
connections.close_all()

errors: list[str] = []
streamed = []


def reader() -> None:
    for _ in range(3):
        try:
            streamed.append(sum(1 for _ in Item.objects.order_by("id").iterator(chunk_size=50)))
        except Exception as exc:
            errors.append(verifykit.error_text(exc))
    connections.close_all()


threads = [threading.Thread(target=reader) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join(timeout=40)
complete = sum(count == 600 for count in streamed)
verifykit.report(errors, f"{complete}/12 full passes over 600 rows")
