"""The points ledger is append-only: a trigger refuses any UPDATE that changes what an entry says
(amount, balance, kind, owner, time). Links may still be cleared (SET NULL when a thank-you or a
district is deleted). The function lives in `public` so every municipality's trigger shares it and
schemas cloned from the template keep working."""
from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION public.community_points_entry_immutable() RETURNS trigger AS $$
BEGIN
    IF NEW.amount IS DISTINCT FROM OLD.amount
       OR NEW.balance_after IS DISTINCT FROM OLD.balance_after
       OR NEW.kind IS DISTINCT FROM OLD.kind
       OR NEW.user_id IS DISTINCT FROM OLD.user_id
       OR NEW.created_at IS DISTINCT FROM OLD.created_at
       OR (NEW.thanks_id IS NOT NULL AND NEW.thanks_id IS DISTINCT FROM OLD.thanks_id)
       OR (NEW.district_id IS NOT NULL AND NEW.district_id IS DISTINCT FROM OLD.district_id) THEN
        RAISE EXCEPTION 'community points ledger is append-only (entry %)', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

TRIGGER = """
CREATE TRIGGER community_points_entry_append_only
BEFORE UPDATE ON community_pointsentry
FOR EACH ROW EXECUTE FUNCTION public.community_points_entry_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [("community", "0001_initial")]

    operations = [
        migrations.RunSQL(FUNCTION, reverse_sql=migrations.RunSQL.noop),
        migrations.RunSQL(TRIGGER, reverse_sql="DROP TRIGGER IF EXISTS community_points_entry_append_only "
                                               "ON community_pointsentry;"),
    ]
