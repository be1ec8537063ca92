"""Shared fixtures: the real-data directory and tiny planted-structure datasets.

Real-data tests use the datasets under ``$SSREC_DATA_DIR`` (``.ci/run`` points it at
``../shared/data``). Without them those tests skip with the reason, unless
``SSREC_REQUIRE_DATA=1`` is set (CI), in which case a missing dataset fails the run.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ssrec.data import load_dataset

REPO = Path(__file__).resolve().parents[1]


def _data_dir() -> Path | None:
    env = os.environ.get("SSREC_DATA_DIR")
    if env:
        return Path(env)
    guess = REPO.parent / "shared" / "data"
    return guess if guess.is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real-data directory; skips (or fails when SSREC_REQUIRE_DATA=1) if absent."""
    d = _data_dir()
    if d is None or not d.is_dir():
        msg = ("real datasets not found: set SSREC_DATA_DIR to the folder holding gowalla/, "
               "lastfm/, ... (CI uses ../shared/data)")
        if os.environ.get("SSREC_REQUIRE_DATA") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return d


def require_dataset(data_dir: Path, name: str) -> Path:
    path = data_dir / name
    if not path.is_dir():
        msg = f"dataset {name!r} not found under {data_dir}"
        if os.environ.get("SSREC_REQUIRE_DATA") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def write_planted(path: Path, n_users: int = 60, n_items: int = 40, n_groups: int = 4,
                  per_user: int = 8, seed: int = 0) -> Path:
    """Users of group g interact only with items of group g: a known answer for any CF model.

    Writes ``train.txt`` and ``test.txt`` (``user item`` pairs) into ``path``.
    """
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    items_of = np.array_split(np.arange(n_items), n_groups)
    train, test = [], []
    for u in range(n_users):
        g = u % n_groups
        chosen = rng.choice(items_of[g], size=min(per_user, items_of[g].size), replace=False)
        for i in chosen[:-2]:
            train.append(f"u{u} i{i}")
        for i in chosen[-2:]:
            test.append(f"u{u} i{i}")
    (path / "train.txt").write_text("\n".join(train) + "\n")
    (path / "test.txt").write_text("\n".join(test) + "\n")
    return path


@pytest.fixture(scope="session")
def planted_dir(tmp_path_factory) -> Path:
    return write_planted(tmp_path_factory.mktemp("planted"))


@pytest.fixture(scope="session")
def planted(planted_dir):
    """A tiny InteractionData with planted group structure (60 users, 40 items)."""
    return load_dataset(dataset=str(planted_dir), valid_ratio=0.2)
