"""benchmarks/bench_compile.py: its JSON line on a few iterations (slow: inductor's
first compile takes minutes on 2 cores) and its argument check."""
import json
import subprocess
import sys

import pytest

from conftest import REPO


@pytest.mark.slow
def test_compile_benchmark_prints_its_json_line():
    proc = subprocess.run([sys.executable, 'benchmarks/bench_compile.py', '--iters', '2',
                           '--warmup', '1'], cwd=REPO, capture_output=True, text=True,
                          timeout=1200)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(out) == {'eager_ms', 'compiled_ms', 'ratio', 'compile_s'}
    assert out['eager_ms'] > 0 and out['compiled_ms'] > 0
    assert out['ratio'] == pytest.approx(out['compiled_ms'] / out['eager_ms'], abs=2e-3)


def test_compile_benchmark_refuses_zero_iterations():
    proc = subprocess.run([sys.executable, 'benchmarks/bench_compile.py', '--iters', '0'],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert '--iters, --warmup and --threads must be >= 1' in proc.stderr
