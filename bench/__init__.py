"""The benchmarks (see bench/README.md): one script per module, each run from the
repository root as ``python -m bench.<name>``, importing ``ipi`` (its fake SP-API from
``ipi.testing``) and each other as packages, never the tests."""
