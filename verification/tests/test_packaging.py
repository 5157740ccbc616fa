"""The package's metadata says what is true: classifiers, version, package data, dependencies and extras.

`.ci/package` builds and installs the wheel for real; these tests read the sources, so a wrong line in
setup.cfg fails in the fast suite already.
"""

from __future__ import annotations

import ast
import configparser
import sys
from pathlib import Path

from packaging.version import Version
from trove_classifiers import classifiers as known_classifiers

import verification

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "verification"
#: Modules the SDK extra installs, by import name (its requirement names, as modules).
EXTRA_MODULES = {
    "vonage": {
        "vonage",
        "vonage_verify",
        "vonage_verify_legacy",
        "vonage_http_client",
        "vonage_utils",
        "requests",
        "cryptography",
    }
}
#: What a base install imports besides the standard library.
BASE_MODULES = {"django", "phonenumbers", "verification", "asgiref"}


def setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config


def lines(value: str) -> list[str]:
    return [line.strip() for line in value.strip().splitlines() if line.strip() and not line.strip().startswith("#")]


def imported_top_level_modules(path: Path) -> set[str]:
    """The top-level modules a file imports at run time (imports under `if TYPE_CHECKING:` left out)."""
    tree = ast.parse(path.read_text())
    type_checking_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for statement in block.body
        for node in ast.walk(statement)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in type_checking_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"__future__"}


def shipped_modules() -> list[Path]:
    return [path for path in PACKAGE.rglob("*.py") if "tests" not in path.relative_to(PACKAGE).parts]


def test_every_classifier_is_a_real_trove_classifier() -> None:
    declared = lines(setup_cfg()["metadata"]["classifiers"])
    assert set(declared) <= known_classifiers, set(declared) - known_classifiers
    assert "Typing :: Typed" in declared
    assert (PACKAGE / "py.typed").exists()


def test_the_classifiers_name_the_django_and_python_versions_the_project_is_tested_on() -> None:
    declared = lines(setup_cfg()["metadata"]["classifiers"])
    requirements = (ROOT / "requirements.txt").read_text()
    for pin in ("Django==5.2", "Django==6.1"):
        assert pin in requirements
        assert f"Framework :: Django :: {pin.split('==')[1]}" in declared
    assert f"Programming Language :: Python :: {sys.version_info.major}.{sys.version_info.minor}" in declared


def test_the_version_has_one_source() -> None:
    assert setup_cfg()["metadata"]["version"] == "attr: verification.__version__"
    assert str(Version(verification.__version__)) == verification.__version__


def test_every_package_data_pattern_matches_files_that_exist() -> None:
    for pattern in lines(setup_cfg()["options.package_data"]["verification"]):
        assert list(PACKAGE.glob(pattern)), f"package_data {pattern!r} matches nothing"
    shipped = {
        str(path.relative_to(PACKAGE))
        for pattern in lines(setup_cfg()["options.package_data"]["verification"])
        for path in PACKAGE.glob(pattern)
    }
    templates = {str(path.relative_to(PACKAGE)) for path in (PACKAGE / "templates").rglob("*") if path.is_file()}
    static = {str(path.relative_to(PACKAGE)) for path in (PACKAGE / "static").rglob("*") if path.is_file()}
    assert templates | static <= shipped


def test_a_base_install_imports_only_django_and_phonenumbers() -> None:
    vonage_backend = PACKAGE / "backends" / "vonage"
    pytest_only = {PACKAGE / "testing" / "fixtures.py"}
    for path in shipped_modules():
        if vonage_backend in path.parents or path in pytest_only:
            continue
        extra = imported_top_level_modules(path) - BASE_MODULES
        assert not extra, f"{path.relative_to(ROOT)} imports {sorted(extra)}, which a base install does not have"


def test_the_vonage_backend_imports_only_what_its_extra_installs() -> None:
    declared = {
        line.split(">")[0].split("=")[0].split("<")[0].strip()
        for line in lines(setup_cfg()["options.extras_require"]["vonage"])
    }
    assert {name.replace("-", "_") for name in declared} == EXTRA_MODULES["vonage"]
    used = set()
    for path in (PACKAGE / "backends" / "vonage").glob("*.py"):
        used |= imported_top_level_modules(path)
    assert used - BASE_MODULES <= EXTRA_MODULES["vonage"]
    assert "vonage" in used


def test_the_base_requirements_are_django_and_phonenumbers() -> None:
    required = lines(setup_cfg()["options"]["install_requires"])
    assert [requirement.split(">")[0] for requirement in required] == ["Django", "phonenumbers"]
