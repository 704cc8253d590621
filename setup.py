# The JSON Schemas live at the repository root (schemas/) so editors can point at them;
# they ship inside the package as edcconf.schemas. pyproject.toml cannot add a mapped
# package to find_packages(), hence this file.
from setuptools import find_packages, setup

setup(packages=find_packages(include=["edcconf", "edcconf.*"]) + ["edcconf.schemas"])
