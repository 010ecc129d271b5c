from django.db import migrations


def set_fillfactor(apps, schema_editor):
    # Every processed epoch rewrites each validator's day row. With room left in each page,
    # PostgreSQL updates in place (HOT) and prunes old versions as it goes, so the table stays
    # near twice its live size instead of growing by a row version per validator and epoch.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE validators_validatorday SET (fillfactor = 50)")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE validators_validatorday RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("validators", "0003_validators_issue7")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
