"""bench/gpu_generate.py runs end to end on a CPU with a tiny configuration, so it is ready for a GPU."""
from __future__ import annotations

import importlib.util

from .conftest import ROOT


def test_gpu_benchmark_runs_with_a_tiny_configuration(tmp_path):
    spec = importlib.util.spec_from_file_location("gpu_generate", ROOT / "bench" / "gpu_generate.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.LLAMA_32_1B["hidden_size"] == 2048 and bench.LLAMA_32_1B["num_hidden_layers"] == 16
    out = tmp_path / "r.json"
    result = bench.main(["--tiny", "--device", "cpu", "--batches", "1,2", "--prompt-tokens", "12",
                         "--new-tokens", "6", "--repeats", "1", "--json", str(out)])
    assert out.exists() and result["config"] == "tiny" and result["compile"] is False
    assert set(result["paths"]) == {"plain", "fast"} and result["copy_bandwidth_gb_s"] > 0
    for path in result["paths"].values():
        assert [r["batch"] for r in path["rows"]] == [1, 2]
        for row in path["rows"]:
            assert row["prefill_tokens_per_s"] > 0 and row["decode_tokens_per_s"] > 0
        one = path["rows"][0]
        assert 0 < one["fraction_of_bandwidth_limit"] and one["bandwidth_limit_tokens_per_s"] > 0
    assert "| fast | float32 | 2 |" in bench.table(result)
