from django.db import migrations


def set_fillfactor(apps, schema_editor):
    # Every processed epoch rewrites each validator's day row. With room left in each page,
    # PostgreSQL updates in place (HOT) and prunes old versions as it goes, so the table stays
    # near twice its live size instead of growing by a row version per validator and epoch.
    # The same holds for the validators' current figures, rewritten every epoch: in place, no
    # index entry is added as long as no indexed column (farm, index, pubkey, group) changes.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE validators_validatorday SET (fillfactor = 50)")
        schema_editor.execute("ALTER TABLE validators_validator SET (fillfactor = 70)")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE validators_validatorday RESET (fillfactor)")
        schema_editor.execute("ALTER TABLE validators_validator RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("validators", "0003_validators_issue7")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
