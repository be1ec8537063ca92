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


def write_planted_social(path: Path, n_users: int = 60, n_groups: int = 4, per_user: int = 3,
                         seed: int = 1, **planted) -> Path:
    """The planted dataset of :func:`write_planted` plus ``social.txt``: every user links to
    ``per_user`` random users of its own group (friends share tastes), each link one-way, so
    some pairs end up mutual and some not, and every triangle motif type can occur."""
    write_planted(path, n_users=n_users, n_groups=n_groups, **planted)
    rng = np.random.default_rng(seed)
    lines = []
    for u in range(n_users):
        same = [v for v in range(u % n_groups, n_users, n_groups) if v != u]
        for v in rng.choice(same, size=per_user, replace=False):
            lines.append(f"u{u} u{v}")
    (path / "social.txt").write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def planted_social_dir(tmp_path_factory) -> Path:
    return write_planted_social(tmp_path_factory.mktemp("planted_social"))


@pytest.fixture(scope="session")
def planted_social(planted_social_dir):
    """The planted dataset with a planted social graph (friends inside the same group),
    loaded with ``data.social``."""
    return load_dataset(dataset=str(planted_social_dir), valid_ratio=0.2, social=True)
def write_planted_kg(path: Path, n_items: int = 40, n_groups: int = 4, n_tags: int = 5,
                     **planted) -> Path:
    """The planted dataset of :func:`write_planted` plus ``kg.txt`` (``head relation tail``,
    item id = entity id): every item ``i<k>`` has ``genre`` → ``g<group>`` (its planted group,
    the known answer) and ``tag`` → ``t<k mod n_tags>`` (noise across groups), and every genre
    entity has ``broader`` → ``music``, so the KG has two hops."""
    write_planted(path, n_items=n_items, n_groups=n_groups, **planted)
    groups = np.array_split(np.arange(n_items), n_groups)
    lines = []
    for g, members in enumerate(groups):
        for k in members:
            lines.append(f"i{k}\tgenre\tg{g}")
            lines.append(f"i{k}\ttag\tt{k % n_tags}")
        lines.append(f"g{g}\tbroader\tmusic")
    (path / "kg.txt").write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def planted_kg_dir(tmp_path_factory) -> Path:
    return write_planted_kg(tmp_path_factory.mktemp("planted_kg"))


@pytest.fixture(scope="session")
def planted_kg(planted_kg_dir):
    """The planted dataset with a planted item KG (each item's group as a ``genre`` entity),
    loaded with ``data.kg``."""
    return load_dataset(dataset=str(planted_kg_dir), valid_ratio=0.2, kg=True)


def write_planted_mb(path: Path, n_users: int = 60, n_items: int = 40, n_groups: int = 4,
                     seed: int = 0) -> Path:
    """A planted multi-behaviour dataset (view, cart, buy): users of group ``g`` act only on
    the 10 items of group ``g``, plus one viewed item of another group (noise).

    For each user, with the group's items in a random order ``c``: ``train_buy.txt`` holds
    ``c[0:4]``, ``test.txt`` ``c[4:6]`` (two held-out buys), ``train_cart.txt`` ``c[0:3]`` and
    ``c[4]`` (the first test item was carted), ``train_view.txt`` ``c[0:8]`` plus the noise
    item (both test items were viewed, as most Tmall test purchases were). So the files hold
    exactly 540 view, 240 cart, 240 buy and 120 test rows; 120 test pairs are in the view
    file, 60 in the cart file. Pairs, ``user item``, space separated.
    """
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    items_of = np.array_split(np.arange(n_items), n_groups)
    rows: dict[str, list[str]] = {"view": [], "cart": [], "buy": [], "test": []}
    for u in range(n_users):
        g = u % n_groups
        c = rng.permutation(items_of[g])
        other = items_of[(g + 1) % n_groups]
        noise = int(other[rng.integers(other.size)])
        rows["buy"] += [f"u{u} i{i}" for i in c[0:4]]
        rows["test"] += [f"u{u} i{i}" for i in c[4:6]]
        rows["cart"] += [f"u{u} i{i}" for i in (*c[0:3], c[4])]
        rows["view"] += [f"u{u} i{i}" for i in (*c[0:8], noise)]
    for b in ("view", "cart", "buy"):
        (path / f"train_{b}.txt").write_text("\n".join(rows[b]) + "\n")
    (path / "test.txt").write_text("\n".join(rows["test"]) + "\n")
    return path


@pytest.fixture(scope="session")
def planted_mb_dir(tmp_path_factory) -> Path:
    return write_planted_mb(tmp_path_factory.mktemp("planted_mb"))


@pytest.fixture(scope="session")
def planted_mb(planted_mb_dir):
    """The planted multi-behaviour dataset (target buy; one validation buy per user carved
    from the buy rows)."""
    return load_dataset(dataset=str(planted_mb_dir))


def write_planted_sequences(path: Path, n_users: int = 60, n_items: int = 40, n_groups: int = 4,
                            lengths: tuple[int, int] = (8, 14), seed: int = 0) -> Path:
    """Each user walks one item group in a fixed cyclic order: the next item is always the
    successor of the current one, a known answer for any sequential model.

    Writes ``seq.txt`` with ``user item rating timestamp`` rows (tab-separated, rating 1) in a
    shuffled row order, so only the timestamps give the order. Users have ``lengths[0]`` to
    ``lengths[1]`` items. Raw item ids are ``"0"`` .. ``"39"``: item ``"0"`` is a real item
    (never padding). Use with ``split="loo"``.
    """
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    size = n_items // n_groups
    rows = []
    for u in range(n_users):
        g = u % n_groups
        start = int(rng.integers(size))
        t0 = int(rng.integers(1_000, 2_000))
        for k in range(int(rng.integers(lengths[0], lengths[1] + 1))):
            item = g * size + (start + k) % size
            rows.append(f"u{u}\t{item}\t1\t{t0 + 10 * k}")
    rows = [rows[i] for i in rng.permutation(len(rows))]
    (path / "seq.txt").write_text("\n".join(rows) + "\n")
    return path / "seq.txt"


@pytest.fixture(scope="session")
def planted_seq_file(tmp_path_factory) -> Path:
    return write_planted_sequences(tmp_path_factory.mktemp("planted_seq"))


@pytest.fixture(scope="session")
def planted_seq(planted_seq_file):
    """A tiny sequential InteractionData (60 users, 40 items, leave-one-out by timestamp)."""
    return load_dataset(dataset=str(planted_seq_file), split="loo")


@pytest.fixture
def planted_for(request):
    """``planted_for(model_cls)``: the planted dataset suited to a model's family (with the
    planted social graph, item KG or behaviour graphs for models that need one)."""

    def get(cls):
        if cls.needs_social:
            return request.getfixturevalue("planted_social")
        if cls.needs_kg:
            return request.getfixturevalue("planted_kg")
        if cls.needs_behaviors:
            return request.getfixturevalue("planted_mb")
        return request.getfixturevalue("planted_seq" if cls.family == "sequential"
                                       else "planted")

    return get
