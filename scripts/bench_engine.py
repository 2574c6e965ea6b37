#!/usr/bin/env python3
"""Engine benchmark of the four contracts' test models (ONNX Runtime on this
machine): latency p50/p90/p99, throughput, host<->device copies apart from
compute. Same as `hoi-engine-bench`; here so `make bench` runs it."""

import sys

from hoi_perception.engine.bench_cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
