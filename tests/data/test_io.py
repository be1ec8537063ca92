from __future__ import annotations

import numpy as np
import pytest

from ssrec.data.io import FileFormat, read_interactions
from ssrec.errors import DataError


def write(tmp_path, name, text, mode="w"):
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def test_pairs_tab_crlf_blank_lines_and_trailing_whitespace(tmp_path):
    p = write(tmp_path, "a.txt", b"1\t10\t3.5\r\n\r\n2\t20\t4  \r\n   \r\n007\t10\t1\r\n")
    raw = read_interactions(p)
    assert raw.user.tolist() == ["1", "2", "007"]
    assert raw.item.tolist() == ["10", "20", "10"]
    np.testing.assert_array_equal(raw.rating, [3.5, 4.0, 1.0])
    assert raw.timestamp is None
    assert raw.line.tolist() == [1, 3, 5]


def test_pairs_space_comma_and_bom(tmp_path):
    p = write(tmp_path, "s.txt", "u1  i1   5 100\nu2 i2 4 200\n")
    raw = read_interactions(p)
    np.testing.assert_array_equal(raw.timestamp, [100.0, 200.0])
    p = write(tmp_path, "c.txt", "\ufeffu1,i1\nu2,i2\n".encode())
    raw = read_interactions(p)
    assert raw.user.tolist() == ["u1", "u2"] and raw.rating is None


def test_string_ids_are_not_numbers(tmp_path):
    p = write(tmp_path, "ids.txt", "007 1\n7 1\n")
    raw = read_interactions(p)
    assert raw.user.tolist() == ["007", "7"]


def test_adjacency_forms(tmp_path):
    p = write(tmp_path, "adj.txt", "0 5 6 7\n1 5\n2 9 8 7 6 5 4\n")
    raw = read_interactions(p)
    assert raw.user.tolist() == ["0", "0", "0", "1", "2", "2", "2", "2", "2", "2"]
    assert raw.item.tolist()[:4] == ["5", "6", "7", "5"]
    assert raw.line.tolist()[:4] == [1, 1, 1, 2]
    p = write(tmp_path, "seq.txt", "1:3 4 5\n2:7\n")
    raw = read_interactions(p)
    assert raw.user.tolist() == ["1", "1", "1", "2"]
    assert raw.item.tolist() == ["3", "4", "5", "7"]


def test_atomic_and_csv(tmp_path):
    p = write(tmp_path, "x.inter", "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                                   "196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
    raw = read_interactions(p)
    assert raw.user.tolist() == ["196", "186"]
    np.testing.assert_array_equal(raw.timestamp, [881250949, 891717742])
    p = write(tmp_path, "r.csv", 'userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n'
                                 '1,"1029",3.0,1260759179\n')
    raw = read_interactions(p)
    assert raw.item.tolist() == ["31", "1029"]
    np.testing.assert_array_equal(raw.rating, [2.5, 3.0])


@pytest.mark.parametrize(
    "text, line, fragment",
    [
        ("1\t2\t3\n4\t5\n", 2, "expected 3 fields"),
        ("1 2 3\n4 5 abc\n6 7 8\n", 2, "rating 'abc' is not a number"),
        ("1 2 3\n4 5 nan\n", 2, "not a finite number"),
        ("1\n", 1, "at least 2 fields"),
        ("1,2\n3,\n", 2, "empty item"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, text, line, fragment):
    p = write(tmp_path, "bad.txt", text)
    with pytest.raises(DataError) as err:
        read_interactions(p, FileFormat(kind="pairs"))
    msg = str(err.value)
    assert str(p) in msg and f"line {line}" in msg and fragment in msg
    assert err.value.line == line


def test_auto_detection_reports_a_short_line_of_a_pairs_file(tmp_path):
    # 4 columns everywhere but one line: a malformed pairs file, not an adjacency list
    rows = [f"u{i % 5}\ti{i % 30}\t{i % 5 + 1}\t{1000 + i}" for i in range(60)]
    rows[17] = "u2"
    p = write(tmp_path, "ratings.txt", "\n".join(rows) + "\n")
    with pytest.raises(DataError) as err:
        read_interactions(p)
    assert err.value.line == 18 and "expected 4 fields" in str(err.value)
    # a line with more fields than the rest hints at the adjacency format
    rows = ["u1 i1", "u2 i2", *[f"u{i} i{i}" for i in range(3, 30)], "u9 i1 i2 i3"]
    p = write(tmp_path, "mostly_pairs.txt", "\n".join(rows) + "\n")
    with pytest.raises(DataError, match="data.format=adjacency"):
        read_interactions(p)


def test_auto_detection_refuses_to_guess_a_small_ambiguous_file(tmp_path):
    # 7 rows of 4 fields and one of 3: too few lines to call the odd one a malformed row, and
    # no long per-user lines either; the error asks for data.format instead of guessing
    rows = [f"u{i} i{i} 4 {100 + i}" for i in range(7)]
    rows.insert(3, "u9 i9 5")
    p = write(tmp_path, "small.txt", "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"7 lines of 4.*data.format=pairs") as err:
        read_interactions(p)
    assert str(p) in str(err.value)
    raw = read_interactions(p, FileFormat(kind="adjacency"))  # the user's answer is taken
    assert raw.user.tolist()[:4] == ["u0", "u0", "u0", "u1"]


def test_atomic_header_and_csv_column_errors(tmp_path):
    p = write(tmp_path, "bad.inter", "user_id\titem_id\n1\t2\n")
    with pytest.raises(DataError, match=r"line 1: atomic header field 'user_id'"):
        read_interactions(p)
    p = write(tmp_path, "bad.inter2", "user_id:token\titem_id:token\n1\t2\t3\n")
    with pytest.raises(DataError, match=r"line 2: expected 2 tab-separated fields"):
        read_interactions(p, FileFormat(kind="atomic"))
    p = write(tmp_path, "m.csv", "movieId,title\n1,Toy Story\n")
    with pytest.raises(DataError, match="CSV header has no user column"):
        read_interactions(p)


def test_missing_empty_and_binary_files(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_interactions(tmp_path / "nope.txt")
    with pytest.raises(DataError, match="no interactions found"):
        read_interactions(write(tmp_path, "empty.txt", "\n\n"))
    with pytest.raises(DataError, match=r"line 2: not UTF-8"):
        read_interactions(write(tmp_path, "bin.txt", b"1 2\n\xff\xfe 3\n"))


def test_headerless_csv_is_read_as_comma_separated_pairs(tmp_path):
    # issue 20.9: "CSV header has no user column" for a .csv file without a header
    p = write(tmp_path, "plain.csv", "u1,i1,5\nu1,i2,3\nu2,i1,4\n")
    raw = read_interactions(p)
    assert raw.user.tolist() == ["u1", "u1", "u2"] and raw.item.tolist() == ["i1", "i2", "i1"]
    np.testing.assert_array_equal(raw.rating, [5.0, 3.0, 4.0])
    assert raw.line.tolist() == [1, 2, 3]
    with pytest.raises(DataError, match="line 1: CSV header has no user column.*"
                                        "data.format=pairs"):
        read_interactions(p, FileFormat(kind="csv"))


@pytest.mark.parametrize("sep", [None, "\t", "tab", "\\t", "TAB"])
def test_tab_separated_file_with_a_header(tmp_path, sep):
    # issue 20.9: a header line was read as data; data.sep=tab and "\t" were not understood
    p = write(tmp_path, "r.tsv", "user\titem\trating\nu1\ti1\t5\nu2\ti 2\t4\n")
    for kind in ("auto", "csv"):
        raw = read_interactions(p, FileFormat(kind=kind, sep=sep))
        assert raw.user.tolist() == ["u1", "u2"] and raw.item.tolist() == ["i1", "i 2"]
        np.testing.assert_array_equal(raw.rating, [5.0, 4.0])
        assert raw.line.tolist() == [2, 3]
    assert FileFormat(sep="comma").sep == "," and FileFormat(sep="space").sep == " "
    with pytest.raises(ValueError, match="separator 'xx' is not one character"):
        FileFormat(sep="xx")
    bad = write(tmp_path, "bad.tsv", "user\titem\nu1\ti1\textra\n")
    with pytest.raises(DataError, match="line 2: expected 2 tab-separated fields"):
        read_interactions(bad)


def test_undecidable_layout_names_the_first_line_that_fits_neither(tmp_path):
    # issue 20.9: printf '7 3 1\n8 3 1\n9\n9 3 1\n' gave no line number
    p = write(tmp_path, "amb.txt", "7 3 1\n8 3 1\n9\n9 3 1\n")
    with pytest.raises(DataError) as err:
        read_interactions(p)
    assert err.value.line == 3
    assert str(err.value).startswith(f"{p}, line 3: cannot tell the layout: this line has 1 "
                                     "field(s), most lines have 3")
