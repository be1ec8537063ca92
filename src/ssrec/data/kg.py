"""Knowledge graphs over items: triples, item↔entity links, cleaning and indexing.

Two layouts of triples are read (:func:`read_triples`):

``head relation tail`` text
    One triple per line, tab- or whitespace-separated (KGAT/KGIN's ``kg_final.txt``,
    RippleNet/KGCN's ``kg_final.txt``). Ids are strings, as for interactions.
RecBole atomic ``.kg``
    A typed header ``head_id:token  relation_id:token  tail_id:token`` then tab-separated rows.

Item↔entity links (:func:`read_links`) are RecBole ``.link`` files (header
``item_id:token  entity_id:token``) or plain ``item entity`` lines. Without a link file the
dataset's raw item id **is** the entity id (lastfm-kg: item ``i`` is entity ``i``).

:func:`build_kg` indexes the graph against the interactions' item id map (built from the
training interactions): entity indices ``0..I-1`` are the dataset's items (same indices as
``InteractionData.items``), linked or not, and the other entities follow in natural order of
their raw ids. Cleaning drops and counts, in this order:

1. ``self_loop``: triples with ``head == tail``;
2. ``duplicate``: a ``(head, relation, tail)`` that occurred on an earlier line (first kept);
3. ``dangling``: triples whose entities are joined to no item of the dataset by any path of
   triples (dangling entities: no propagation over the KG can carry them to an item).

Link rows are dropped and counted as ``unknown_item`` (not an item of the training
interactions: absent, only in validation/test, or filtered), ``unknown_entity`` (the entity
occurs in no triple left after steps 1-2) or ``duplicate`` (the item or the entity was linked
on an earlier line; links are one-to-one). Items without a link keep their index and simply
have no KG fact; they are counted (``unlinked_items``).

Inverse relations (``inverse=True``, or :meth:`KnowledgeGraph.with_inverse`) add ``(t, r+R,
h)`` for every triple ``(h, r, t)``, as KGAT/KGIN/KGCL's loaders do (``inverse_r``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ssrec.data.idmap import IdMap
from ssrec.data.io import _read_lines
from ssrec.errors import DataError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawTriples:
    """Triples as read from one file (raw string ids).

    Attributes:
        path: the file.
        head, relation, tail: ``str [T]``.
        line: ``int64 [T]``, the 1-based line of each triple.
        layout: how the file was read.
    """

    path: str
    head: np.ndarray
    relation: np.ndarray
    tail: np.ndarray
    line: np.ndarray
    layout: str = ""

    def __len__(self) -> int:
        return int(self.head.shape[0])


@dataclass(frozen=True)
class RawLinks:
    """Item↔entity links as read from one file: ``item``, ``entity`` (``str [N]``) and the
    1-based ``line`` (``int64 [N]``) of each row."""

    path: str
    item: np.ndarray
    entity: np.ndarray
    line: np.ndarray

    def __len__(self) -> int:
        return int(self.item.shape[0])


def _atomic_header(fields: list[str]) -> list[str] | None:
    """The names of a RecBole typed header (``name:type`` fields), or None for a data line."""
    names = []
    for f in fields:
        name, colon, typ = f.partition(":")
        if not colon or typ not in ("token", "float", "token_seq", "float_seq"):
            return None
        names.append(name)
    return names


def _read_columns(path: str | Path, want: tuple[str, ...], atomic_names: tuple[str, ...],
                  what: str) -> tuple[list[list[str]], list[int], str]:
    """Rows of a ``len(want)``-column file (plain, tab/whitespace separated, or a RecBole atomic
    file whose header names ``atomic_names``); returns the columns in ``want`` order, the
    1-based lines and the layout.

    Raises:
        DataError: the file is missing or empty, the header lacks a column, a row has the
            wrong number of fields or an empty field (file, line and field named).
    """
    p = str(path)
    lines = _read_lines(Path(path))
    if not lines:
        raise DataError(f"no {what} found (the file is empty)", p)
    first = lines[0][1]
    tabbed = "\t" in first
    split = (lambda s: [f.strip() for f in s.split("\t")]) if tabbed else str.split
    header = _atomic_header(split(first))
    if header is not None:
        missing = [n for n in atomic_names if n not in header]
        if missing:
            raise DataError(f"atomic header has no {missing[0]!r} field (found {header})", p,
                            lines[0][0])
        pos = [header.index(n) for n in atomic_names]
        names = list(atomic_names)
        nf = len(header)
        body = lines[1:]
        layout = "RecBole atomic (" + ", ".join(atomic_names) + ")"
    else:
        pos = list(range(len(want)))
        names = list(want)
        nf = len(want)
        body = lines
        layout = f"{' '.join(want)}, {'tab' if tabbed else 'whitespace'}-separated"
    cols: list[list[str]] = [[] for _ in want]
    nos: list[int] = []
    for no, s in body:
        f = split(s)
        if len(f) != nf:
            raise DataError(f"expected {nf} fields ({', '.join(header or names)}), found "
                            f"{len(f)}", p, no)
        for c, k in enumerate(pos):
            if not f[k]:
                raise DataError(f"empty {names[c]} field (field {k + 1})", p, no)
            cols[c].append(f[k])
        nos.append(no)
    if not nos:
        raise DataError(f"no {what} found (only a header)", p)
    return cols, nos, layout


def read_triples(path: str | Path) -> RawTriples:
    """Read a KG file: ``head relation tail`` lines or a RecBole ``.kg`` atomic file.

    Raises:
        DataError: missing/empty file or a malformed line (file, line and field named).
    """
    cols, nos, layout = _read_columns(path, ("head", "relation", "tail"),
                                      ("head_id", "relation_id", "tail_id"), "triples")
    h, r, t = (np.array(c, dtype=str) for c in cols)
    return RawTriples(str(path), h, r, t, np.array(nos, dtype=np.int64), layout)


def read_links(path: str | Path) -> RawLinks:
    """Read item↔entity links: ``item entity`` lines or a RecBole ``.link`` atomic file.

    Raises:
        DataError: missing/empty file or a malformed line (file, line and field named).
    """
    cols, nos, _ = _read_columns(path, ("item", "entity"), ("item_id", "entity_id"), "links")
    return RawLinks(str(path), np.array(cols[0], dtype=str), np.array(cols[1], dtype=str),
                    np.array(nos, dtype=np.int64))


@dataclass(frozen=True, eq=False)
class KnowledgeGraph:
    """An item knowledge graph indexed against a dataset's items.

    Entities ``0..n_items-1`` are the dataset's items (the indices of
    ``InteractionData.items``); entities ``n_items..n_entities-1`` are the other KG entities.

    Attributes:
        head, relation, tail: ``int64 [T]`` triples (cleaned; with the inverse triples
            appended after the originals when ``inverse``).
        n_items: ``I``.
        n_entities: ``E`` (items included).
        relation_names: ``str [R]`` raw relation id per relation index (inverse relations are
            named ``"~" + name``).
        entity_ids: ``str [E]`` raw entity id per entity (``""`` for an unlinked item).
        inverse: whether inverse triples were added.
    """

    head: np.ndarray
    relation: np.ndarray
    tail: np.ndarray
    n_items: int
    n_entities: int
    relation_names: np.ndarray
    entity_ids: np.ndarray
    inverse: bool = False

    @property
    def n_triples(self) -> int:
        return int(self.head.shape[0])

    @property
    def n_relations(self) -> int:
        """``R`` (inverse relations included)."""
        return int(self.relation_names.shape[0])

    def with_inverse(self) -> KnowledgeGraph:
        """The graph plus ``(t, r+R, h)`` for every triple (itself when already inverse)."""
        if self.inverse:
            return self
        r = self.n_relations
        return replace(self, head=np.concatenate([self.head, self.tail]),
                       relation=np.concatenate([self.relation, self.relation + r]),
                       tail=np.concatenate([self.tail, self.head]),
                       relation_names=np.concatenate(
                           [self.relation_names, np.char.add("~", self.relation_names)]),
                       inverse=True)

    def item_mask(self) -> np.ndarray:
        """``bool [T]``: triples whose head is an item (the item–entity edges)."""
        return self.head < self.n_items

    def adjacency(self) -> sp.csr_matrix:
        """Binary ``[E, E]`` CSR with ``A[h, t] = 1`` for every triple (any relation)."""
        ones = np.ones(self.n_triples, dtype=np.float32)
        m = sp.csr_matrix((ones, (self.head, self.tail)), shape=(self.n_entities,) * 2)
        m.data[:] = 1.0
        return m

    def linked_items(self) -> np.ndarray:
        """``bool [I]``: items with at least one triple (as head or tail)."""
        out = np.zeros(self.n_items, dtype=bool)
        for end in (self.head, self.tail):
            out[end[end < self.n_items]] = True
        return out


def _triple_keys(h: np.ndarray, r: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.char.add(np.char.add(np.char.add(np.char.add(h, "\x00"), r), "\x00"), t)


def build_kg(triples: RawTriples, items: IdMap, links: RawLinks | None = None,
             inverse: bool = False) -> tuple[KnowledgeGraph, dict[str, Any]]:
    """Clean, link and index a knowledge graph (see the module docs for the rules).

    Args:
        triples: the KG file's rows (:func:`read_triples`).
        items: the interactions' item id map (from the training interactions).
        links: item↔entity links (:func:`read_links`); ``None``: the raw item id is the raw
            entity id.
        inverse: add the inverse of every triple.

    Returns:
        ``(kg, report)``; ``report`` holds ``file``, ``layout``, ``rows_read``, ``dropped``
        (``self_loop``, ``duplicate``, ``dangling``), ``dangling_entities``, ``links``
        (``file`` or ``"identity"``, ``rows_read``, ``dropped`` by reason), ``items``,
        ``linked_items``, ``unlinked_items``, ``triples``, ``entities``, ``relations``,
        ``inverse``, ``added_by_inverse``, ``item_triples`` (head an item),
        ``items_with_triples``, ``triples_per_item`` (min / median / max over items with
        triples) and ``top_relations`` (the 5 largest, as ``[name, triples]``).

    Raises:
        DataError: no triple is left after cleaning or no item is linked.
    """
    h, r, t = triples.head, triples.relation, triples.tail
    n_read = len(triples)
    loop = h == t
    ok = np.flatnonzero(~loop)
    _, first = np.unique(_triple_keys(h[ok], r[ok], t[ok]), return_index=True)
    kept = np.sort(ok[first])
    dropped = {"self_loop": int(loop.sum()), "duplicate": int(ok.size - kept.size),
               "dangling": 0}
    h, r, t = h[kept], r[kept], t[kept]
    if kept.size == 0:
        raise DataError(f"no triple left after cleaning (dropped {dropped})", triples.path)
    ents, codes = np.unique(np.concatenate([h, t]), return_inverse=True)
    codes = codes.reshape(-1)
    hc, tc = codes[:h.size], codes[h.size:]

    # -- links: raw entity code -> item index ----------------------------------------------
    link_rep: dict[str, Any]
    if links is None:
        item_raw, ent_raw = items.raw_ids, items.raw_ids
        link_rows = len(items)
        link_rep = {"file": "identity (item id = entity id)"}
    else:
        item_raw, ent_raw = links.item, links.entity
        link_rows = len(links)
        link_rep = {"file": links.path}
    item_idx = items.to_index(item_raw, missing=-1)
    pos = np.searchsorted(ents, ent_raw)
    pos = np.minimum(pos, max(ents.size - 1, 0))
    ent_code = np.where((ents.size > 0) & (ents[pos] == ent_raw), pos, -1)
    unknown_item = item_idx < 0
    unknown_entity = ~unknown_item & (ent_code < 0)
    good = np.flatnonzero(~unknown_item & ~unknown_entity)
    _, fi = np.unique(item_idx[good], return_index=True)
    good_i = np.sort(good[fi])
    _, fe = np.unique(ent_code[good_i], return_index=True)
    good_ie = np.sort(good_i[fe])
    if links is not None:
        link_rep.update(rows_read=link_rows, dropped={
            "unknown_item": int(unknown_item.sum()), "unknown_entity": int(unknown_entity.sum()),
            "duplicate": int(good.size - good_ie.size)})
    else:  # identity: an item whose id is no entity is unlinked, nothing is "dropped"
        link_rep.update(rows_read=0, dropped={"unknown_item": 0, "unknown_entity": 0,
                                              "duplicate": 0})
    ent_to_item = np.full(ents.size, -1, dtype=np.int64)
    ent_to_item[ent_code[good_ie]] = item_idx[good_ie]
    if good_ie.size == 0:
        raise DataError("no item of the dataset is linked to an entity of the knowledge graph "
                        f"(links: {link_rep['file']})", triples.path)

    # -- dangling: components of the entity graph without an item -------------------------
    n_codes = ents.size
    g = sp.csr_matrix((np.ones(hc.size, dtype=np.int8), (hc, tc)), shape=(n_codes, n_codes))
    _, comp = connected_components(g, directed=False)
    with_item = np.zeros(comp.max() + 1 if comp.size else 0, dtype=bool)
    with_item[comp[ent_to_item >= 0]] = True
    keep = with_item[comp[hc]]
    dropped["dangling"] = int((~keep).sum())
    used = np.zeros(n_codes, dtype=bool)
    used[hc[keep]] = True
    used[tc[keep]] = True
    dangling_entities = int((~with_item[comp]).sum())
    hc, tc, r = hc[keep], tc[keep], r[keep]
    if hc.size == 0:
        raise DataError(f"no triple left after cleaning (dropped {dropped})", triples.path)

    # -- entity and relation indices ------------------------------------------------------
    n_items = len(items)
    others = np.flatnonzero(used & (ent_to_item < 0))  # codes in sorted raw order
    other_raw = ents[others]
    order = _natural(other_raw)
    index = ent_to_item.copy()
    index[others[order]] = n_items + np.arange(others.size)
    rel_map, rel = IdMap.from_values(r)
    entity_ids = np.full(n_items + others.size, "", dtype=object)
    entity_ids[ent_to_item[ent_to_item >= 0]] = ents[ent_to_item >= 0]
    entity_ids[n_items:] = other_raw[order]
    kg = KnowledgeGraph(head=index[hc].astype(np.int64), relation=rel.astype(np.int64),
                        tail=index[tc].astype(np.int64), n_items=n_items,
                        n_entities=n_items + int(others.size),
                        relation_names=np.asarray(rel_map.raw_ids, dtype=str),
                        entity_ids=entity_ids.astype(str))
    n_orig = kg.n_triples
    if inverse:
        kg = kg.with_inverse()

    linked = int(good_ie.size)
    item_heads = kg.head[kg.item_mask()]
    per_item = np.bincount(item_heads, minlength=n_items)
    nz = per_item[per_item > 0]
    counts = np.bincount(kg.relation[:n_orig], minlength=len(rel_map))
    top = np.argsort(-counts, kind="stable")[:5]
    report = {
        "file": triples.path,
        "layout": triples.layout,
        "rows_read": n_read,
        "dropped": dropped,
        "dangling_entities": dangling_entities,
        "links": link_rep,
        "items": n_items,
        "linked_items": linked,
        "unlinked_items": n_items - linked,
        "triples": kg.n_triples,
        "entities": kg.n_entities,
        "relations": kg.n_relations,
        "inverse": inverse,
        "added_by_inverse": kg.n_triples - n_orig,
        "item_triples": int(item_heads.size),
        "items_with_triples": int(nz.size),
        "triples_per_item": ({"min": int(nz.min()), "median": float(np.median(nz)),
                              "max": int(nz.max())} if nz.size else None),
        "top_relations": [[str(rel_map.raw_ids[k]), int(counts[k])] for k in top],
    }
    return kg, report


def _natural(values: np.ndarray) -> np.ndarray:
    """Argsort of distinct strings: numeric when all are decimal integers, else lexicographic."""
    if values.size and all(v.isdecimal() for v in values.tolist()):
        return np.argsort(values.astype(np.int64), kind="stable")
    return np.argsort(values, kind="stable")
