"""The knowledge-graph readers and data model: exact cleaning counts, links, inverse relations,
label columns, errors that name file, line and field, and the two registered KG datasets."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import require_dataset
from ssrec.cli import main
from ssrec.data import load_dataset
from ssrec.data.idmap import IdMap
from ssrec.data.io import FileFormat, read_interactions
from ssrec.data.kg import build_kg, read_links, read_triples
from ssrec.errors import ConfigError, DataError

TRIPLES = (
    "a\tr1\tx\n"   # kept
    "a\tr1\tx\n"   # repeat of line 1
    "b\tr1\tb\n"   # self-loop
    "b\tr2\ty\n"   # kept
    "z\tr1\tw\n"   # dangling: z and w reach no item
    "x\tr3\ty\n"   # kept: joins a's and b's neighbours
)


def test_build_kg_counts_every_dropped_triple_by_reason(tmp_path):
    (tmp_path / "kg.txt").write_text(TRIPLES)
    kg, rep = build_kg(read_triples(tmp_path / "kg.txt"), IdMap(["a", "b", "c"]))
    assert rep["rows_read"] == 6
    assert rep["dropped"] == {"self_loop": 1, "duplicate": 1, "dangling": 1}
    assert rep["dangling_entities"] == 2
    assert (rep["triples"], rep["entities"], rep["relations"]) == (3, 5, 3)
    assert (rep["linked_items"], rep["unlinked_items"]) == (2, 1)
    # items first (a=0, b=1, c=2 unlinked), then the other entities (x=3, y=4)
    assert kg.n_items == 3 and kg.n_entities == 5
    assert kg.entity_ids.tolist() == ["a", "b", "", "x", "y"]
    assert kg.relation_names.tolist() == ["r1", "r2", "r3"]
    assert list(zip(kg.head, kg.relation, kg.tail)) == [(0, 0, 3), (1, 1, 4), (3, 2, 4)]
    assert rep["item_triples"] == 2 and rep["items_with_triples"] == 2
    assert kg.linked_items().tolist() == [True, True, False]


def test_inverse_relations_append_reversed_triples(tmp_path):
    (tmp_path / "kg.txt").write_text(TRIPLES)
    kg, rep = build_kg(read_triples(tmp_path / "kg.txt"), IdMap(["a", "b", "c"]), inverse=True)
    assert rep["added_by_inverse"] == 3 and rep["triples"] == 6 and rep["relations"] == 6
    assert kg.relation_names.tolist() == ["r1", "r2", "r3", "~r1", "~r2", "~r3"]
    assert list(zip(kg.head[3:], kg.relation[3:], kg.tail[3:])) == [(3, 3, 0), (4, 4, 1),
                                                                    (4, 5, 3)]
    assert kg.with_inverse() is kg


def test_recbole_kg_and_link_files(tmp_path):
    (tmp_path / "d.kg").write_text("head_id:token\trelation_id:token\ttail_id:token\n"
                                   "m.1\tgenre\tm.g\nm.2\tgenre\tm.g\nm.3\tgenre\tm.h\n")
    (tmp_path / "d.link").write_text("item_id:token\tentity_id:token\n"
                                     "10\tm.1\n"    # kept
                                     "20\tm.2\n"    # kept
                                     "99\tm.3\n"    # unknown item
                                     "30\tm.404\n"  # unknown entity
                                     "10\tm.3\n"    # item 10 already linked
                                     "40\tm.2\n")   # entity m.2 already linked
    items = IdMap(["10", "20", "30", "40"])
    kg, rep = build_kg(read_triples(tmp_path / "d.kg"), items, read_links(tmp_path / "d.link"))
    assert rep["links"]["rows_read"] == 6
    assert rep["links"]["dropped"] == {"unknown_item": 1, "unknown_entity": 1, "duplicate": 2}
    assert (rep["linked_items"], rep["unlinked_items"]) == (2, 2)
    # m.3 (linked to no item of the dataset) is an ordinary entity, dangling: its only
    # neighbour m.h joins no item
    assert rep["dropped"] == {"self_loop": 0, "duplicate": 0, "dangling": 1}
    assert kg.entity_ids.tolist() == ["m.1", "m.2", "", "", "m.g"]
    assert list(zip(kg.head, kg.tail)) == [(0, 4), (1, 4)]
    assert rep["layout"].startswith("RecBole atomic")


@pytest.mark.parametrize("text, line, what", [
    ("a r x\nb r\n", 2, "expected 3 fields"),
    ("head_id:token\trelation_id:token\ttail_id:token\na\tr\tx\nb\t\ty\n", 3,
     "empty relation_id field (field 2)"),
    ("head_id:token\ttail_id:token\na\tx\n", 1, "no 'relation_id' field"),
])
def test_malformed_kg_lines_name_file_line_and_field(tmp_path, text, line, what):
    p = tmp_path / "kg.txt"
    p.write_text(text)
    with pytest.raises(DataError) as err:
        read_triples(p)
    assert err.value.path == str(p) and err.value.line == line and what in str(err.value)


def test_no_linked_item_or_no_triple_left_is_an_error(tmp_path):
    (tmp_path / "kg.txt").write_text("p r q\n")
    with pytest.raises(DataError, match="no item of the dataset is linked"):
        build_kg(read_triples(tmp_path / "kg.txt"), IdMap(["a"]))
    (tmp_path / "kg.txt").write_text("a r a\na s a\n")
    with pytest.raises(DataError, match="no triple left after cleaning"):
        build_kg(read_triples(tmp_path / "kg.txt"), IdMap(["a"]))


def test_label_column_skips_sampled_negatives_and_rejects_other_values(tmp_path):
    p = tmp_path / "ratings_final.txt"
    fmt = FileFormat(kind="pairs", sep="\t", columns=("user", "item", "label"))
    p.write_text("0\t1\t1\n0\t2\t1\n0\t3\t0\n1\t1\t0\n1\t3\t1\n")
    raw = read_interactions(p, fmt)
    assert raw.user.tolist() == ["0", "0", "1"] and raw.item.tolist() == ["1", "2", "3"]
    assert raw.line.tolist() == [1, 2, 5] and raw.negatives_skipped == 2
    p.write_text("0\t1\t1\n0\t2\t2\n")
    with pytest.raises(DataError) as err:
        read_interactions(p, fmt)
    assert err.value.line == 2 and "label field (field 3) is '2'" in str(err.value)


def test_folder_with_kg_file_loads_the_graph(tmp_path):
    d = tmp_path / "ds"
    d.mkdir()
    (d / "train.txt").write_text("u1 a\nu1 b\nu2 b\nu2 c\n")
    (d / "test.txt").write_text("u1 c\nu2 a\n")
    (d / "kg.txt").write_text(TRIPLES)
    data = load_dataset(dataset=str(d), kg=True, valid_ratio=0)
    assert data.kg is not None and data.kg.n_items == data.n_items == 3
    assert data.report["kg"]["triples"] == 3
    assert data.report["kg"]["unlinked_item_train_interactions"] == 1  # u2 c
    assert load_dataset(dataset=str(d), valid_ratio=0).kg is None  # kg.txt is no data file
    with pytest.raises(ConfigError, match="no knowledge graph"):
        load_dataset(dataset="gowalla", kg=True)


def test_lastfm_kg_as_read(data_dir, capsys):
    require_dataset(data_dir, "lastfm-kg")
    data = load_dataset(dataset="lastfm-kg", data_dir=str(data_dir), kg=True)
    rep = data.report
    # SOURCE.md: 21,173 positives + 21,173 sampled negatives; 1,872 users, 3,846 items
    assert rep["label_negatives_skipped"] == {"all": 21173}
    assert rep["read"] == {"rows": 21173, "users": 1872, "items": 3846}
    kg = rep["kg"]
    assert kg["rows_read"] == 15518
    # 49 self-loops; repeats none; the star components of items left out of training dangle
    assert kg["dropped"]["self_loop"] == 49 and kg["dropped"]["duplicate"] == 0
    assert kg["entities"] == data.kg.n_entities and data.kg.n_items == data.n_items
    assert kg["triples"] == 15518 - 49 - kg["dropped"]["dangling"]
    # relations 11 and 22 (type.object.key / subject_key) hold only the 49 self-loops
    assert kg["relations"] == 58 and "11" not in data.kg.relation_names
    assert main(["data", "describe", "lastfm-kg", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "knowledge graph:" in out and "49 self-loops" in out


def test_ml_100k_kg_as_read(data_dir):
    require_dataset(data_dir, "ml-100k-kg")
    require_dataset(data_dir, "ml-100k")
    data = load_dataset(dataset="ml-100k-kg", data_dir=str(data_dir), kg=True)
    kg = data.report["kg"]
    # SOURCE.md: 91,631 triples, no repeats or self-loops; 1,598 link rows, one-to-one
    assert kg["rows_read"] == 91631 and kg["triples"] == 91631
    assert kg["dropped"] == {"self_loop": 0, "duplicate": 0, "dangling": 0}
    assert kg["relations"] == 24 and kg["links"]["rows_read"] == 1598
    dropped = kg["links"]["dropped"]
    # a link row is dropped only for an item missing from the training split
    assert dropped["unknown_entity"] == 0 and dropped["duplicate"] == 0
    assert kg["linked_items"] + dropped["unknown_item"] == 1598
    assert kg["linked_items"] + kg["unlinked_items"] == data.n_items
    # 34,628 entities, of which the training items' entities are merged into the items
    assert kg["entities"] == 34628 - kg["linked_items"] + data.n_items
    assert np.all(data.kg.head < data.kg.n_entities)
