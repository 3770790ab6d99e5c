"""The sanitation staff role (環境・ごみ担当) uses the garbage console; every schema gets its group."""
from django.db import migrations


def create_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name="sanitation_staff")


class Migration(migrations.Migration):
    dependencies = [("miniapps_garbage", "0001_initial"), ("accounts", "0002_role_groups")]
    operations = [migrations.RunPython(create_group, migrations.RunPython.noop)]
