"""`make bench` keeps working: the DynamoDB table runs (quick) and every route
answers with its expected status (the bench exits non-zero otherwise)."""
import subprocess
import sys

from infrastructure.cfn import ROOT


def test_bench_dynamodb_table_runs():
    result = subprocess.run([sys.executable, "-m", "bench", "--only", "dynamodb"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "GET /auth/me" in result.stdout and "GetItem x1" in result.stdout
