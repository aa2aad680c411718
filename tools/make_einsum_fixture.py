"""make_einsum_fixture.py - the Keras 3 BERT-style encoder of tests/tf (gen_models.bert: 2 layers,
MultiHeadAttention = Einsum, exact GELU = Erfc, int32 token and segment ids) frozen by
TensorFlow, with its inputs and TensorFlow's output, for tests/test_rules_einsum.c and the rule
coverage corpus of tests/test_real_rewrites.c (C tests that need no TensorFlow).

    .venv/bin/python tools/make_einsum_fixture.py [OUT_DIR]   (default tests/fixtures/einsum/bert_keras3)

Writes model.pb, input_ids.npy, segment_ids.npy (graph inputs "input_ids", "segment_ids") and
output.npy (TensorFlow's "Identity:0"). Weights and inputs are deterministic (seed 1234)."""
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "tf"))
import gen_models  # noqa: E402

out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/einsum/bert_keras3")
with tempfile.TemporaryDirectory() as tmp:
    gen_models.generate("bert", Path(tmp))
    d = Path(tmp) / "bert"
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(d / "frozen.pb", out / "model.pb")
    shutil.copy(d / "in_input_ids.npy", out / "input_ids.npy")
    shutil.copy(d / "in_segment_ids.npy", out / "segment_ids.npy")
    shutil.copy(d / "ref_output_0.npy", out / "output.npy")
