"""Which packages the wheel holds: every ``medseg`` package found on disk (none listed by hand, so a new
subpackage cannot be left out), plus the repository's ``bundles/`` as the data-only package ``medseg_bundles``.

The rest of the build configuration is in ``pyproject.toml``; setuptools merges the two.
"""

from setuptools import find_namespace_packages, setup

BUNDLES = "bundles"  # the repository folder installed as the package ``medseg_bundles``
SKIP = ["*__pycache__*"]


def bundle_packages() -> list[str]:
    """``medseg_bundles`` and each folder below it (a bundle, its configs/, docs/) as its own package."""
    return ["medseg_bundles", *(f"medseg_bundles.{name}" for name in find_namespace_packages(BUNDLES, exclude=SKIP))]


setup(
    packages=[*find_namespace_packages(include=["medseg", "medseg.*"], exclude=SKIP), *bundle_packages()],
    package_dir={"medseg_bundles": BUNDLES},
)
