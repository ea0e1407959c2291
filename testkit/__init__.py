"""Support shared by the tests and the benchmark (bench/): real servers to start, hostile images,
a FastAPI source database. Never imported by the apps' production modules (.importlinter)."""
