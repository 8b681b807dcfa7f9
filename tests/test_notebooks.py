"""The notebooks run top to bottom with the offline models, and are committed without outputs."""
import json

import pytest

from .conftest import ROOT, need_data

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, f"{path.name} has outputs"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_runs_top_to_bottom(path, tmp_path, monkeypatch, small_pdfs):
    need_data()
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("MEDRAG_QUICKSTART_PAPERS", str(small_pdfs))
    monkeypatch.setenv("MEDRAG_EVAL_LIMIT", "40")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    if path.name == "quickstart.ipynb":
        rendered = " ".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
        assert "passages</b> for" in rendered  # the hits table
        text = " ".join(str(o.get("data", {}).get("text/plain", "")) + o.get("text", "") for o in outputs)
        assert "'insufficient_evidence'" in text
