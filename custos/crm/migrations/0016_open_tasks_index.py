"""Open tasks on their own index: my day, and the tasks due on the home page and the
dashboard, read the few open tasks among millions of activities, for one owner or all."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0015_deal_board_newest_first"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="activity",
            index=models.Index(
                condition=models.Q(("done_at__isnull", True), ("kind", "task")),
                fields=["org", "owner", "due_at"],
                name="activity_open_tasks",
            ),
        ),
    ]
