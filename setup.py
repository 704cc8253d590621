# The JSON Schemas live at the repository root (schemas/) so editors can point at them;
# they ship inside the package as edcconf.schemas. pyproject.toml cannot add a mapped
# package to a package search, hence this file.
# Folders that hold only data (views/templates/, scaffold/files/) are namespace packages, so that
# package-data reaches them and setuptools does not warn that they are absent from `packages`.
from setuptools import find_namespace_packages, setup

setup(
    packages=find_namespace_packages(include=["edcconf", "edcconf.*"], exclude=["*.__pycache__"]) + ["edcconf.schemas"]
)
