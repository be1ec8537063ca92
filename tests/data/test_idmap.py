import numpy as np
import pytest

from ssrec.data.idmap import IdMap
from ssrec.errors import SsrecError


def test_round_trip_and_numeric_order():
    values = np.array(["10", "2", "007", "7", "2", "0"])
    m, codes = IdMap.from_values(values)
    assert m.to_list() == ["0", "2", "007", "7", "10"]
    np.testing.assert_array_equal(m.to_raw(codes), values)
    assert m.index("007") != m.index("7")
    np.testing.assert_array_equal(m.to_index(["10", "x"], missing=-1), [4, -1])
    with pytest.raises(SsrecError, match="unknown id 'x'"):
        m.index("x")


def test_lexicographic_for_non_numeric():
    m, _ = IdMap.from_values(np.array(["b", "a", "c1"]))
    assert m.to_list() == ["a", "b", "c1"]
    with pytest.raises(ValueError):
        IdMap(["a", "a"])
