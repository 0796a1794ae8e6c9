"""Runs one pytest file for ctest (tests/python/python.cmake).

Exit 77, which ctest reports as skipped, with the reason printed: when NumPy or
pytest is missing for this interpreter, or when the file skipped every test
(e.g. torch is not installed). Otherwise pytest's own exit code.
Usage: run_pytest.py TEST_FILE BASETEMP
"""
import importlib.util
import os
import sys

SKIP = 77


def main() -> int:
    path, basetemp = sys.argv[1], sys.argv[2]
    missing = [m for m in ("pytest", "numpy") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"SKIPPED: {' and '.join(missing)} not installed for {sys.executable} "
              "(bash scripts/setup.sh installs python3-pytest and python3-numpy)")
        return SKIP
    import pytest

    os.makedirs(os.path.dirname(basetemp), exist_ok=True)

    class Outcomes:
        def __init__(self) -> None:
            self.passed = 0
            self.skipped: list[str] = []

        def pytest_runtest_logreport(self, report) -> None:
            if report.when == "call" and report.passed:
                self.passed += 1
            if report.skipped:
                self.skipped.append(str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else "")

        def pytest_collectreport(self, report) -> None:
            if report.skipped:
                self.skipped.append(str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else "")

    outcomes = Outcomes()
    rc = pytest.main(["-q", "-rs", "-p", "no:cacheprovider", f"--basetemp={basetemp}", path], plugins=[outcomes])
    if rc in (0, 5) and outcomes.passed == 0 and outcomes.skipped:
        print(f"SKIPPED: every test of {path} was skipped: {outcomes.skipped[0]}")
        return SKIP
    return int(rc)


if __name__ == "__main__":
    sys.exit(main())
