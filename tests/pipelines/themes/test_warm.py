"""A fresh process that has run ``warm_up`` analyses without compiling anything more."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

# In its own interpreter: this test process has compiled much of the code already.
_CHILD = textwrap.dedent(
    """
    import json
    import numpy as np
    from numba.core import event
    import pipelines.themes.graph as graph
    from pipelines.themes import find_themes, warm_up

    def blobs(n, seed):
        rng = np.random.default_rng(seed)
        centres = rng.normal(size=(5, 48))
        X = centres[rng.integers(0, 5, n)] + 0.3 * rng.normal(size=(n, 48))
        return X / np.linalg.norm(X, axis=1, keepdims=True)

    def compiled(work):
        with event.install_recorder("numba:compile") as rec:
            work()
        return len(rec.buffer)

    out = {"warm_up": compiled(warm_up)}
    texts = [f"story {i % 7} about topic {i % 5}" for i in range(600)]
    X = blobs(600, 3)
    out["small"] = compiled(lambda: find_themes(texts, X, random_state=4))
    graph.EXACT_KNN_N = 100  # the large regime (neighbour descent, short layout) on 600 rows
    out["large"] = compiled(lambda: find_themes(texts, X, random_state=4))
    print(json.dumps(out))
    """
)


@pytest.mark.descent
def test_after_the_warm_up_neither_regime_of_an_analysis_compiles_anything() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts["warm_up"] > 50  # it compiled the descent and the layouts itself
    assert counts["small"] == 0
    assert counts["large"] == 0
