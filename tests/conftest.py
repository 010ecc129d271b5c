import sys


def pytest_terminal_summary(terminalreporter):
    # The route count of the generated isolation test, in every run that collected it.
    isolation = sys.modules.get("tests.test_isolation")
    if isolation is not None:
        terminalreporter.write_line(isolation.coverage_summary()[0])
