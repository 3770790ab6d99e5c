"""Every schema gets one Django group per staff role (the template carries them to clones)."""
from django.db import migrations

ROLES = ["municipality_admin", "disaster_staff", "shelter_staff", "teacher", "community_moderator", "analyst"]


def create_role_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for role in ROLES:
        Group.objects.get_or_create(name=role)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(create_role_groups, migrations.RunPython.noop)]
