"""The performance runner: workload, schedules, backends, statistics, CSV files, `cibench perf`."""
