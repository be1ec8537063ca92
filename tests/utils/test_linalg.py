import numpy as np
import pytest
import scipy.sparse as sp
import torch

from ssrec.utils.linalg import truncated_svd


def test_truncated_svd_matches_dense_reference():
    m = sp.random(60, 45, density=0.1, random_state=1, dtype=np.float64).tocsr()
    u, s, v = truncated_svd(m, 5)
    assert u.shape == (60, 5) and s.shape == (5,) and v.shape == (45, 5)
    du, ds, dvt = np.linalg.svd(m.toarray())
    np.testing.assert_allclose(s.numpy(), ds[:5], rtol=1e-5)
    assert (s[:-1] >= s[1:]).all()
    ref = du[:, :5] @ np.diag(ds[:5]) @ dvt[:5]  # best rank-5 approximation
    rec = (u * s) @ v.T
    np.testing.assert_allclose(rec.numpy(), ref, atol=1e-5)
    torch.testing.assert_close(u.T @ u, torch.eye(5), atol=1e-5, rtol=0)
    torch.testing.assert_close(v.T @ v, torch.eye(5), atol=1e-5, rtol=0)
    again = truncated_svd(m, 5)
    assert all(torch.equal(a, b) for a, b in zip((u, s, v), again))


def test_truncated_svd_rank_bounds():
    m = sp.identity(4, format="csr")
    with pytest.raises(ValueError, match="rank"):
        truncated_svd(m, 4)
    with pytest.raises(ValueError, match="rank"):
        truncated_svd(m, 0)
