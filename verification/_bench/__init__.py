"""The parts of the `bench_verification` command: pages, requests, database, timing, statistics, report."""
