"""Readers for interaction files.

Four layouts are understood, each turned into a :class:`RawInteractions` (raw string ids plus
optional ratings and timestamps, with the 1-based source line of every row):

``pairs``
    One interaction per line: ``user item [rating] [timestamp]``, separated by a tab, a comma or
    runs of spaces (auto-detected from the first data line, or given). Every line must have the
    same number of fields as the first one. Example: lastfm's ``data1.txt``, yelp's ``*.rating``.
``adjacency``
    One user per line followed by all of its items: ``user item1 item2 ...`` (gowalla), or
    ``user:item1 item2 ...`` (SELFRec's sequential files). Items keep their order on the line.
``atomic``
    RecBole atomic files (``.inter``): a tab-separated header of ``name:type`` fields, where
    ``user_id``, ``item_id``, ``rating`` and ``timestamp`` are recognised.
``csv``
    Delimited rows under a header line that names the columns (MovieLens ``ratings.csv``, or a
    tab-separated file with a header); quoted fields are handled by :mod:`csv`. Columns are
    recognised by name (``userId``, ``movieId``, ``rating``, ``timestamp`` and common
    aliases); the separator is ``sep``, else detected from the header (tab, comma, spaces).

Detection (``kind="auto"``): ``.inter`` → atomic; a first line that names a column by one of
the aliases (any separator, any suffix) → csv; a first line ``user:item ...`` or lines of varying
width → adjacency; otherwise pairs (so a ``.csv`` file without a header is read as
comma-separated pairs). The separator may be given as ``"\t"``/``"tab"``, ``","``/
``"comma"``, ``" "``/``"space"`` (runs of whitespace), ``";"``/``"semicolon"`` or
``"|"``/``"pipe"``.

CRLF line endings, a UTF-8 byte-order mark, trailing whitespace and blank lines are accepted.
Ids are kept as strings: ``"007"`` and ``"7"`` are different ids. A malformed line raises one
:class:`~ssrec.errors.DataError` naming the file, the line and what is wrong.

A **behaviour column** (multi-behaviour data in one file, ``FileFormat.behavior``): a ``pairs``
file names it by field number (its ``columns`` hold the role ``behavior``, e.g.
:func:`behavior_columns` gives ``user item behavior [timestamp]``), a ``csv`` or ``atomic`` file
by its header name (or field number). The values are kept as strings in
:attr:`RawInteractions.behavior`; :func:`~ssrec.data.dataset.load_dataset` splits the rows by
them. An adjacency list cannot carry one.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from ssrec.errors import DataError

Kind = Literal["auto", "pairs", "adjacency", "atomic", "csv"]
ROLES = ("user", "item", "rating", "timestamp")
#: column roles of a ``pairs`` file: :data:`ROLES` plus ``label`` (1 = positive, 0 = a sampled
#: negative, e.g. RippleNet/KGCN's ``ratings_final.txt``; label-0 rows are not interactions) and
#: ``behavior`` (the behaviour of the row, e.g. ``view`` / ``cart`` / ``buy``)
COLUMN_ROLES = ROLES + ("label", "behavior")

_CSV_ALIASES = {
    "user": ("user", "userid", "user_id", "uid", "users"),
    "item": ("item", "itemid", "item_id", "iid", "movieid", "movie_id", "artistid", "artist_id",
             "businessid", "business_id", "items"),
    "rating": ("rating", "ratings", "score", "weight", "value"),
    "timestamp": ("timestamp", "time", "ts", "datetime", "unixtime"),
}


SEP_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "space": " ", "whitespace": " ",
             "semicolon": ";", "pipe": "|"}


def behavior_columns(field: int) -> tuple[str, ...]:
    """The ``columns`` of a ``pairs`` file whose field ``field`` (1-based, at least 3) holds the
    behaviour: ``user`` and ``item`` first, the behaviour at ``field``, and of the other fields
    the first is a timestamp, the rest are ignored. ``behavior_columns(3)`` is
    ``("user", "item", "behavior", "timestamp")`` (lines ``user item behavior [timestamp]``).

    Raises:
        ValueError: ``field`` < 3 (fields 1 and 2 are the user and the item).
    """
    if field < 3:
        raise ValueError(f"behaviour field {field}: fields 1 and 2 are the user and the item; "
                         "the behaviour is field 3 or later")
    rest = iter(("timestamp",))
    return ("user", "item") + tuple("behavior" if k == field else next(rest, "-")
                                    for k in range(3, max(field, 4) + 1))


def normalize_sep(sep: str | None) -> str | None:
    """A field separator as the readers use it: names and escapes (``"tab"``, ``"\\t"``,
    ``"comma"``, ``"space"``, ...) become the character, ``None`` stays (auto-detect).

    Raises:
        ValueError: a separator that is not one character (or a known name).
    """
    if sep is None:
        return None
    out = SEP_NAMES.get(sep.strip().lower() if sep.strip() else sep, sep)
    if len(out) != 1 and not out.isspace():
        raise ValueError(f"separator {sep!r} is not one character; use a character or one of "
                         f"{', '.join(repr(k) for k in SEP_NAMES)}")
    return out


@dataclass(frozen=True)
class FileFormat:
    """How to read one interaction file.

    Args:
        kind: ``"pairs"``, ``"adjacency"``, ``"atomic"``, ``"csv"`` or ``"auto"`` (default):
            ``.inter`` → atomic, a first line naming columns (``userId``, ``item``, ...) → csv,
            otherwise
            adjacency if the first data lines have a varying number of fields or a
            ``user:item`` first token, else pairs.
        sep: field separator; ``None`` (default) detects tab, comma or whitespace from the first
            data line. ``" "`` means runs of whitespace; names such as ``"tab"`` and the escape
            ``"\\t"`` are accepted (:func:`normalize_sep`).
        columns: for ``pairs``, the role of each field in order, from ``user``, ``item``,
            ``rating``, ``timestamp``, ``label`` and ``-`` (ignored). Default ``("user", "item",
            "rating", "timestamp")``; fields beyond the listed ones are ignored. A ``label``
            column holds 1 (an observed interaction) or 0 (a pre-sampled negative, as in
            RippleNet-style ``ratings_final.txt``): label-0 rows are skipped and counted
            (:attr:`RawInteractions.negatives_skipped`); any other value is an error.
        header: for ``pairs``, skip the first non-blank line.
        behavior: the behaviour column (``data.behavior_column``): its header name for a
            ``csv`` / ``atomic`` file, or its 1-based field number (a ``pairs`` file reads it
            through the ``behavior`` role of ``columns``, see :func:`behavior_columns`).
            ``None`` (default): no behaviour column.
        behavior_optional: a file without that column is read without behaviours (the test
            file of a behaviour-column dataset may hold only ``user item``); by default a
            missing behaviour column is an error.
    """

    kind: Kind = "auto"
    sep: str | None = None
    columns: tuple[str, ...] = ROLES
    header: bool = False
    behavior: str | int | None = None
    behavior_optional: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "sep", normalize_sep(self.sep))
        bad = [c for c in self.columns if c not in COLUMN_ROLES and c != "-"]
        if bad:
            raise ValueError(f"FileFormat.columns: unknown role(s) {bad}; use "
                             f"{COLUMN_ROLES + ('-',)}")
        if "user" not in self.columns or "item" not in self.columns:
            raise ValueError("FileFormat.columns must contain 'user' and 'item'")


@dataclass
class RawInteractions:
    """Interactions as read from one file, before id mapping.

    Attributes:
        path: the file they were read from.
        user: raw user ids, ``str`` array ``[N]``.
        item: raw item ids, ``str`` array ``[N]``.
        rating: ``float64 [N]`` or ``None`` when the file has no rating column.
        timestamp: ``float64 [N]`` or ``None`` when the file has no timestamp column.
        line: ``int64 [N]``, the 1-based line each row came from (rows of one adjacency line
            share it).
        layout: how the file was read, e.g. ``"pairs, tab-separated (user, item, rating)"``.
        lines_without_items: 1-based lines of an adjacency list that name a user and no item
            (no row comes from them).
        negatives_skipped: rows of a file with a ``label`` column whose label is 0 (sampled
            negatives, not interactions), skipped at reading.
        behavior: the behaviour of each row, ``str`` array ``[N]``, for a file read with a
            behaviour column (``FileFormat.behavior``), else ``None``.
        behavior_field: where that column is, for messages (``"field 3"``,
            ``"column 'behavior'"``).
    """

    path: str
    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray | None
    timestamp: np.ndarray | None
    line: np.ndarray
    layout: str = ""
    lines_without_items: tuple[int, ...] = ()
    negatives_skipped: int = 0
    behavior: np.ndarray | None = None
    behavior_field: str = ""

    def __len__(self) -> int:
        return int(self.user.shape[0])

    def take(self, index: np.ndarray) -> RawInteractions:
        """Rows selected by an integer or boolean index, in that order."""
        return replace(
            self,
            user=self.user[index],
            item=self.item[index],
            rating=None if self.rating is None else self.rating[index],
            timestamp=None if self.timestamp is None else self.timestamp[index],
            line=self.line[index],
            behavior=None if self.behavior is None else self.behavior[index],
        )

    @staticmethod
    def concat(parts: list[RawInteractions], path: str) -> RawInteractions:
        """Concatenate several files' rows (ratings/timestamps kept only if all have them)."""
        def cat(attr: str) -> np.ndarray | None:
            arrays = [getattr(p, attr) for p in parts]
            if any(a is None for a in arrays):
                return None
            return np.concatenate(arrays)

        return RawInteractions(
            path=path,
            user=np.concatenate([p.user for p in parts]),
            item=np.concatenate([p.item for p in parts]),
            rating=cat("rating"),
            timestamp=cat("timestamp"),
            line=np.concatenate([p.line for p in parts]),
            behavior=cat("behavior"),
        )


def _read_lines(path: Path) -> list[tuple[int, str]]:
    """Non-blank lines of ``path`` with their 1-based numbers, right-stripped."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError("file not found", str(path)) from None
    except OSError as exc:
        raise DataError(f"cannot read file: {exc.strerror}", str(path)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(f"not UTF-8 text (byte {exc.start})", str(path), line) from None
    out = []
    for no, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if s:
            out.append((no, s))
    return out


def _sep_name(sep: str) -> str:
    return {"\t": "tab", ",": "comma", " ": "whitespace"}.get(sep, repr(sep))


def _split_fn(sep: str | None, sample: str):
    if sep is None:
        if "\t" in sample:
            sep = "\t"
        elif "," in sample:
            sep = ","
        else:
            sep = " "
    if sep == " " or sep.isspace() and sep != "\t":
        return sep, str.split
    if sep == "\t":
        return sep, lambda s: [f.strip() for f in s.split("\t")]
    return sep, lambda s: [f.strip() for f in s.split(sep)]


def _to_float(values: list[str], lines: list[int], role: str, path: str) -> np.ndarray:
    """Parse numbers; on failure name the first bad line."""
    try:
        arr = np.array(values, dtype=np.float64)
    except ValueError:
        arr = None
    if arr is not None and np.isfinite(arr).all():
        return arr
    for v, no in zip(values, lines):
        try:
            x = float(v)
        except ValueError:
            raise DataError(f"{role} {v!r} is not a number", path, no) from None
        if not np.isfinite(x):
            raise DataError(f"{role} {v!r} is not a finite number", path, no)
    raise AssertionError("unreachable")  # pragma: no cover


def _header_roles(fields: list[str]) -> dict[str, int]:
    """The column of each role (user, item, rating, timestamp) that a header line names by
    one of its aliases; empty for a data line."""
    header = [h.strip().strip('"').lower() for h in fields]
    pos: dict[str, int] = {}
    for role, aliases in _CSV_ALIASES.items():
        for a in aliases:
            if a in header:
                pos[role] = header.index(a)
                break
    return pos


def _detect_kind(path: Path, lines: list[tuple[int, str]], sep: str | None) -> Kind:
    suffix = path.suffix.lower()
    if suffix == ".inter":
        return "atomic"
    if not lines:
        return "pairs"
    _, split = _split_fn(sep, lines[0][1])
    if _header_roles(split(lines[0][1])):
        return "csv"  # a header naming columns, whatever the separator or suffix
    if suffix == ".csv":
        return "pairs"  # comma-separated rows without a header
    first = lines[0][1].split()
    if first and ":" in first[0] and not first[0].endswith(":type"):
        return "adjacency"
    counts = Counter(len(split(s)) for _, s in lines[:200])
    width, n = counts.most_common(1)[0]
    # pairs files have one width of 2-4 fields; a few odd lines in them are malformed lines
    # (reported by the pairs reader with their line number), not an adjacency list, whose
    # widths vary from line to line
    total = sum(counts.values())
    if width <= 4 and (len(counts) == 1 or n >= 0.9 * total):
        return "pairs"
    if sum(c for w, c in counts.items() if w > 4) >= 0.1 * total:
        return "adjacency"  # per-user lists: many lines longer than any pairs row
    # neither one dominant width of 2-4 fields nor long per-user lines: a pairs file with a
    # malformed line and a list of users with 1-3 items each look the same
    widths = ", ".join(f"{c} lines of {w}" for w, c in sorted(counts.items()))
    odd = next(no for no, s in lines[:200] if len(split(s)) != width)
    raise DataError(f"cannot tell the layout: this line has {len(split(dict(lines)[odd]))} "
                    f"field(s), most lines have {width} ({widths} fields in the first 200 "
                    "lines): as `user item [rating] [timestamp]` rows this line is malformed, "
                    "and too few lines are long for an adjacency list (one user and their "
                    "items per line); fix the line, or set data.format=pairs or "
                    "data.format=adjacency", str(path), odd)


def read_interactions(path: str | Path, fmt: FileFormat | None = None,
                      numeric_ids: bool = False) -> RawInteractions:
    """Read one interaction file in any supported layout.

    Args:
        path: the file.
        fmt: how to read it; ``None`` means ``FileFormat()`` (everything auto-detected).
        numeric_ids: allow the fast reader (:func:`_read_integer_rows`): a pairs file of two
            columns or an adjacency list whose fields are all canonical decimal integers (no
            sign, no leading zero), one separator character between fields, no blank line,
            comes back with ``int64`` ``user`` / ``item`` arrays (the same ids as numbers; every
            other field of the result is what the general reader gives). Any other file is read
            by the general reader, with ``str`` ids.

    Returns:
        The rows as :class:`RawInteractions`.

    Raises:
        DataError: if the file is missing, unreadable or has a malformed line; the message names
            the file and line.
    """
    path = Path(path)
    fmt = fmt or FileFormat()
    if numeric_ids and fmt.kind in ("auto", "pairs", "adjacency") and not fmt.header \
            and path.suffix.lower() != ".inter":
        fast = _read_integer_rows(path, fmt)
        if fast is not None:
            return fast
    lines = _read_lines(path)
    kind = fmt.kind if fmt.kind != "auto" else _detect_kind(path, lines, fmt.sep)
    reader = {"pairs": _read_pairs, "adjacency": _read_adjacency, "atomic": _read_atomic,
              "csv": _read_csv}[kind]
    raw = reader(path, lines, fmt)
    if len(raw) == 0:
        raise DataError("no interactions found (the file is empty or has only a header)", str(path))
    return raw


#: bytes parsed at once by the fast reader (its temporaries take about 40 bytes per byte)
FAST_CHUNK = 1 << 23


def _parse_integer_chunk(b: np.ndarray, sep: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Integer fields and their 0-based line (within the chunk) of a chunk of whole lines
    (``uint8``, ending with a newline); ``None`` when a byte, a separator, a line end, a
    leading zero or a field of over 18 digits breaks the fast reader's rules."""
    digit = (b >= 48) & (b <= 57)
    nl = b == 10
    cr = b == 13
    sp = b == sep
    if not (digit | nl | cr | sp).all():
        return None
    n = b.size
    prev_digit = np.empty(n, dtype=bool)
    prev_digit[0] = False
    prev_digit[1:] = digit[:-1]
    next_digit = np.empty(n, dtype=bool)
    next_digit[-1] = False
    next_digit[:-1] = digit[1:]
    # a separator sits between two digits; a CR right before a newline; a line ends on a digit
    if (sp & ~(prev_digit & next_digit)).any():
        return None
    if cr.any():
        cr_at = np.flatnonzero(cr)
        if (cr_at + 1 >= n).any() or not nl[cr_at + 1].all() or not digit[cr_at - 1].all():
            return None
        ends = nl & ~np.r_[False, cr[:-1]]
        if (ends & ~prev_digit).any():
            return None
    elif (nl & ~prev_digit).any():
        return None
    if not digit[0] or not digit[np.flatnonzero(nl[:-1]) + 1].all():
        return None  # an empty line (or one starting with a separator)
    start = np.flatnonzero(digit & ~prev_digit)
    stop = np.flatnonzero(digit & ~next_digit) + 1
    length = stop - start
    if length.max() > 18 or ((b[start] == 48) & (length > 1)).any():
        return None  # too long for int64, or a leading zero ("007" is not "7")
    values = np.zeros(start.size, dtype=np.int64)
    for k in range(int(length.max())):  # Horner's rule, one digit position at a time
        if k < length.min():
            values *= 10
            values += b[start + k] - 48
        else:
            m = np.flatnonzero(length > k)
            values[m] = values[m] * 10 + (b[start[m] + k] - 48)
    nl_at = np.flatnonzero(nl)
    if start.size == 2 * nl_at.size and (start[1::2] < nl_at).all() \
            and (start[2::2] > nl_at[:-1]).all():
        line = np.arange(start.size, dtype=np.int64) // 2  # two fields on every line
    else:
        line = np.searchsorted(nl_at, start)  # newlines before each field
    return values, line


def _read_integer_rows(path: Path, fmt: FileFormat) -> RawInteractions | None:
    """The fast reader of :func:`read_interactions` (``numeric_ids=True``): vectorised parsing
    of a pairs (two columns) or adjacency file of canonical decimal ids, or ``None`` to let
    the general reader take the file (which gives the same rows with string ids and reports
    any malformed line)."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise DataError("file not found", str(path)) from None
    except OSError as exc:
        raise DataError(f"cannot read file: {exc.strerror}", str(path)) from None
    if data.size == 0:
        return None
    first_nl = np.flatnonzero(data[:65536] == 10)
    head = bytes(data[:first_nl[0] if first_nl.size else 65536]).decode("latin-1").rstrip("\r")
    kind = fmt.kind
    if kind == "adjacency":
        sep = " " if fmt.sep in (None, " ", ":") else fmt.sep
    else:
        sep = fmt.sep if fmt.sep is not None else ("\t" if "\t" in head else
                                                   "," if "," in head else " ")
    if sep not in (" ", "\t", ","):
        return None
    if data[-1] != 10:
        data = np.concatenate([data, np.array([10], dtype=np.uint8)])
    # chunks of whole lines
    bounds, lo = [], 0
    while lo < data.size:
        hi = min(lo + FAST_CHUNK, data.size)
        if hi < data.size:
            nl_at = np.flatnonzero(data[hi - 1:min(hi + 65536, data.size)] == 10)
            if nl_at.size == 0:
                return None
            hi = hi + int(nl_at[0])
        bounds.append((lo, hi))
        lo = hi
    vals, lines, line_base = [], [], 0
    for lo, hi in bounds:
        part = _parse_integer_chunk(data[lo:hi], ord(sep))
        if part is None:
            return None
        vals.append(part[0])
        lines.append(part[1] + line_base)
        line_base += int(np.count_nonzero(data[lo:hi] == 10))
    del data
    v = np.concatenate(vals)
    line = np.concatenate(lines)
    del vals, lines
    width = np.bincount(line, minlength=line_base)
    if kind == "auto":
        if (width == 2).all():
            kind = "pairs"
        else:  # the general reader's rule, on its first 200 lines
            text = [(k + 1, " ".join(["0"] * int(w))) for k, w in enumerate(width[:200])]
            try:
                kind = _detect_kind(path, text, " ")
            except DataError:
                return None
    p = str(path)
    if kind == "pairs":
        roles = list(fmt.columns[:2])
        if not (width == 2).all() or sorted(roles) != ["item", "user"]:
            return None
        pair = v.reshape(-1, 2)
        ucol = roles.index("user")
        return RawInteractions(
            path=p, user=pair[:, ucol].copy(), item=pair[:, 1 - ucol].copy(), rating=None,
            timestamp=None, line=np.arange(1, line_base + 1, dtype=np.int64),
            layout=f"pairs, {_sep_name(sep)}-separated, no header ({', '.join(roles)})")
    if kind != "adjacency" or sep != (" " if fmt.sep in (None, ":") else fmt.sep):
        return None  # the general reader splits an adjacency line at whitespace by default
    first = np.r_[0, np.cumsum(width)[:-1]]  # each line's user field
    is_item = np.ones(v.size, dtype=bool)
    is_item[first] = False
    n_items = width - 1
    return RawInteractions(
        path=p, user=np.repeat(v[first], n_items), item=v[is_item], rating=None,
        timestamp=None, line=np.repeat(np.arange(1, line_base + 1, dtype=np.int64), n_items),
        layout="adjacency list (a user and their items per line)",
        lines_without_items=tuple((np.flatnonzero(n_items == 0) + 1).tolist()))


def _read_pairs(path: Path, lines: list[tuple[int, str]], fmt: FileFormat) -> RawInteractions:
    p = str(path)
    if fmt.header and lines:
        lines = lines[1:]
    if not lines:
        return _empty(p)
    _, split = _split_fn(fmt.sep, lines[0][1])
    nf = len(split(lines[0][1]))
    roles = list(fmt.columns[:nf])
    if nf < 2:
        raise DataError(f"expected at least 2 fields (user, item), found {nf}", p, lines[0][0])
    pos = {r: roles.index(r) for r in ROLES + ("behavior",) if r in roles}
    if "user" not in pos or "item" not in pos:
        raise DataError(f"expected fields {fmt.columns}, found {nf}", p, lines[0][0])
    if isinstance(fmt.behavior, str):
        raise DataError(f"data.behavior_column={fmt.behavior!r} names a header column, but "
                        "this file has no header line naming its columns (its first line "
                        "reads as data); give the behaviour's field number instead, e.g. "
                        "data.behavior_column=3 for `user item behavior [timestamp]` lines", p,
                        lines[0][0])
    if fmt.behavior is not None and "behavior" not in pos and not fmt.behavior_optional:
        raise DataError(f"no behaviour field: data.behavior_column={fmt.behavior} but the "
                        f"line has {nf} field(s)", p, lines[0][0])
    label = roles.index("label") if "label" in roles else None
    cols: dict[str, list[str]] = {r: [] for r in pos}
    nos: list[int] = []
    desc = ", ".join(roles)
    items = list(pos.items())
    negatives = 0
    for no, s in lines:
        f = split(s)
        if len(f) != nf:
            hint = ("; for an adjacency list (user item1 item2 ...) set data.format=adjacency"
                    if len(f) > nf and fmt.kind == "auto" else "")
            raise DataError(
                f"expected {nf} fields ({desc}) like line {lines[0][0]}, found {len(f)}{hint}",
                p, no)
        if label is not None:
            if f[label] == "0":
                negatives += 1
                continue
            if f[label] != "1":
                raise DataError(f"label field (field {label + 1}) is {f[label]!r}; expected 1 "
                                "(interaction) or 0 (sampled negative)", p, no)
        for r, k in items:
            v = f[k]
            if not v:
                raise DataError(f"empty {r} field", p, no)
            cols[r].append(v)
        nos.append(no)
    sep, _ = _split_fn(fmt.sep, lines[0][1])
    raw = _from_columns(p, cols, nos, f"pairs, {_sep_name(sep)}-separated"
                        f"{', header skipped' if fmt.header else ', no header'} ({desc})"
                        + (f", {negatives} label-0 rows skipped" if label is not None else ""),
                        f"field {pos['behavior'] + 1}" if "behavior" in pos else "")
    return replace(raw, negatives_skipped=negatives)


def _from_columns(p: str, cols: dict[str, list[str]], nos: list[int],
                  layout: str = "", behavior_field: str = "") -> RawInteractions:
    """Raw interactions from parsed string columns (``user``, ``item``, optional ``rating`` /
    ``timestamp`` / ``behavior``) and their 1-based line numbers (numbers are checked with the
    line named)."""
    return RawInteractions(
        path=p,
        user=np.array(cols["user"], dtype=str),
        item=np.array(cols["item"], dtype=str),
        rating=_to_float(cols["rating"], nos, "rating", p) if "rating" in cols else None,
        timestamp=_to_float(cols["timestamp"], nos, "timestamp", p) if "timestamp" in cols else None,
        line=np.array(nos, dtype=np.int64),
        layout=layout,
        behavior=np.array(cols["behavior"], dtype=str) if "behavior" in cols else None,
        behavior_field=behavior_field,
    )


def _behavior_position(fmt: FileFormat, names: list[str], p: str, hno: int) -> int | None:
    """The 0-based position of ``fmt.behavior`` among a header's column ``names`` (a name,
    matched case-insensitively, or a 1-based field number); ``None`` when the file has no
    behaviour column and ``fmt.behavior_optional`` allows that.

    Raises:
        DataError: the header has no such column (and it is not optional).
    """
    if fmt.behavior is None:
        return None
    if isinstance(fmt.behavior, int):
        k = fmt.behavior - 1
        found = k < len(names)
    else:
        low = [n.strip().strip('"').lower() for n in names]
        k = low.index(fmt.behavior.lower()) if fmt.behavior.lower() in low else -1
        found = k >= 0
    if found:
        return k
    if fmt.behavior_optional:
        return None
    what = (f"field {fmt.behavior}" if isinstance(fmt.behavior, int)
            else f"column {fmt.behavior!r}")
    raise DataError(f"no behaviour {what} (data.behavior_column) in the header; its columns: "
                    f"{', '.join(n.strip() for n in names)}", p, hno)


def _read_adjacency(path: Path, lines: list[tuple[int, str]], fmt: FileFormat) -> RawInteractions:
    p = str(path)
    if fmt.behavior is not None and not fmt.behavior_optional:
        raise DataError("data.behavior_column is set, but this file reads as an adjacency list "
                        "(a user and their items per line), which has no behaviour column; "
                        "write one `user item behavior [timestamp]` row per line (or set "
                        "data.format=pairs if it is such a file)", p)
    users: list[str] = []
    items: list[str] = []
    nos: list[int] = []
    empty: list[int] = []
    _, split = _split_fn(fmt.sep if fmt.sep not in (None, ":") else " ", lines[0][1] if lines else "")
    for no, s in lines:
        head, sepc, rest = s.partition(":")
        if sepc and " " not in head and "\t" not in head:
            user = head.strip()
            toks = split(rest)
        else:
            toks = split(s)
            user = toks[0]
            toks = toks[1:]
        if not user:
            raise DataError("missing user id", p, no)
        if any(not t for t in toks):
            raise DataError("empty item field", p, no)
        if not toks:
            empty.append(no)
        users.extend([user] * len(toks))
        items.extend(toks)
        nos.extend([no] * len(toks))
    return RawInteractions(
        path=p,
        user=np.array(users, dtype=str),
        item=np.array(items, dtype=str),
        rating=None,
        timestamp=None,
        line=np.array(nos, dtype=np.int64),
        layout="adjacency list (a user and their items per line)",
        lines_without_items=tuple(empty),
    )


def _read_atomic(path: Path, lines: list[tuple[int, str]], fmt: FileFormat) -> RawInteractions:
    p = str(path)
    if not lines:
        return _empty(p)
    hno, header = lines[0]
    fields = [h.strip() for h in header.split("\t")]
    names = []
    for h in fields:
        name, colon, typ = h.partition(":")
        if not colon or typ not in ("token", "float", "token_seq", "float_seq"):
            raise DataError(
                f"atomic header field {h!r} is not 'name:type' with type token/float/token_seq/"
                "float_seq", p, hno)
        names.append(name)
    want = {"user": "user_id", "item": "item_id", "rating": "rating", "timestamp": "timestamp"}
    pos = {r: names.index(n) for r, n in want.items() if n in names}
    for r in ("user", "item"):
        if r not in pos:
            raise DataError(f"atomic header has no {want[r]!r} field (found {names})", p, hno)
    bpos = _behavior_position(fmt, names, p, hno)
    if bpos is not None:
        pos["behavior"] = bpos
    nf = len(names)
    cols: dict[str, list[str]] = {r: [] for r in pos}
    nos: list[int] = []
    items = list(pos.items())
    for no, s in lines[1:]:
        f = [x.strip() for x in s.split("\t")]
        if len(f) != nf:
            raise DataError(f"expected {nf} tab-separated fields ({', '.join(names)}), "
                            f"found {len(f)}", p, no)
        for r, k in items:
            if not f[k]:
                raise DataError(f"empty {names[k]} field", p, no)
            cols[r].append(f[k])
        nos.append(no)
    return _from_columns(p, cols, nos, "RecBole atomic (" + ", ".join(
        f"{r}={names[k]}" for r, k in pos.items()) + ")",
        f"column {names[bpos]!r}" if bpos is not None else "")


def _read_csv(path: Path, lines: list[tuple[int, str]], fmt: FileFormat) -> RawInteractions:
    p = str(path)
    if not lines:
        return _empty(p)
    sep, split = _split_fn(fmt.sep, lines[0][1])
    if sep.isspace() and sep != "\t":
        rows = [split(s) for _, s in lines]
    else:
        rows = list(csv.reader(io.StringIO("\n".join(s for _, s in lines)), delimiter=sep))
    hno = lines[0][0]
    header = [h.strip().lower() for h in rows[0]]
    pos = _header_roles(rows[0])
    for r in ("user", "item"):
        if r not in pos:
            raise DataError(f"CSV header has no {r} column (found {rows[0]}; expected one of "
                            f"{_CSV_ALIASES[r]}); for a file without a header set "
                            "data.format=pairs (or leave data.format=auto)", p, hno)
    bpos = _behavior_position(fmt, rows[0], p, hno)
    if bpos is not None:
        pos["behavior"] = bpos
    nf = len(header)
    cols: dict[str, list[str]] = {r: [] for r in pos}
    nos: list[int] = []
    items = list(pos.items())
    what = _sep_name(sep)
    for (no, _), f in zip(lines[1:], rows[1:]):
        if len(f) != nf:
            raise DataError(f"expected {nf} {what}-separated fields like the header, found "
                            f"{len(f)}", p, no)
        for r, k in items:
            v = f[k].strip()
            if not v:
                raise DataError(f"empty {rows[0][k]} field", p, no)
            cols[r].append(v)
        nos.append(no)
    return _from_columns(p, cols, nos, f"{what}-separated with a header (" + ", ".join(
        f"{r}={rows[0][k].strip()}" for r, k in pos.items()) + ")",
        f"column {rows[0][bpos].strip()!r}" if bpos is not None else "")


def _empty(p: str) -> RawInteractions:
    e = np.array([], dtype=str)
    return RawInteractions(p, e, e.copy(), None, None, np.array([], dtype=np.int64))


def read_edges(path: str | Path, sep: str | None = None) -> RawInteractions:
    """Read a user–user relation file (``user friend [weight]`` per line).

    The two ids land in ``user`` and ``item`` of the result (``item`` holds the friend); a third
    column, if present, is returned as ``rating`` (the link weight).
    """
    return read_interactions(path, FileFormat(kind="pairs", sep=sep,
                                              columns=("user", "item", "rating")))
