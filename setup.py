"""Package list for setuptools (metadata lives in pyproject.toml).

The parameterized notebooks stay in the repository's top-level ``notebooks/`` folder and are
mapped into the wheel as ``usagekit/notebooks/`` so an installed usagekit can publish its report.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["usagekit", "usagekit.*"]), "usagekit.notebooks"],
    package_dir={"usagekit.notebooks": "notebooks"},
)
