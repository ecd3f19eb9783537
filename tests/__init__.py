"""The project test suite. A regular package: a dependency of sagemaker-core installs a top-level
``tests`` package that would otherwise shadow this folder."""
