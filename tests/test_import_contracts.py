"""The import contracts of pyproject.toml ([tool.importlinter]): the core imports no app, no app
imports the simulators, and the domains stay apart. A new import that breaks one fails here."""

from pathlib import Path

from importlinter.cli import lint_imports

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_the_import_contracts_are_kept(capsys):
    status = lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)

    report = capsys.readouterr().out
    assert status == 0, report
    assert "0 broken" in report
