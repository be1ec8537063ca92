"""The registry of named public datasets and the data-directory setting.

A named dataset lives in ``<data_dir>/<name>/``. The data directory is, in order of precedence:
the ``--data-dir`` option (``data.data_dir`` in a config), the ``SSREC_DATA_DIR`` environment
variable, or the user cache folder (``platformdirs.user_cache_dir("ssrec") / "data"``, e.g.
``~/.cache/ssrec/data`` on Linux).

Every registered file carries its sha256; a missing or corrupted file raises a
:class:`~ssrec.errors.DataError` that says where ssrec looked and what it expected.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from ssrec.data.io import FileFormat
from ssrec.errors import DataError
from ssrec.registry import Registry

ENV_VAR = "SSREC_DATA_DIR"


@dataclass(frozen=True)
class DatasetFile:
    """One file of a named dataset.

    Args:
        role: ``"train"``, ``"valid"``, ``"test"``, ``"all"`` (one file to be split),
            ``"social"`` (user–user links), ``"kg"`` (knowledge-graph triples), ``"link"``
            (item↔entity links) or ``"train:<behaviour>"`` (the training rows of one
            behaviour of a multi-behaviour dataset; the target behaviour's becomes ``train``).
        name: file name inside the dataset folder.
        sha256: expected checksum (hex).
        format: how to read it.
        folder: the folder under the data directory that holds the file, when it is not the
            dataset's own (ml-100k-kg reads its interactions from ``ml-100k/``); ``None``: the
            dataset's folder.
    """

    role: str
    name: str
    sha256: str
    format: FileFormat = field(default_factory=FileFormat)
    folder: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset: its files, default protocol and provenance.

    Args:
        name: registry name, also the folder name under the data directory.
        files: its interaction (and social) files.
        summary: one line for ``ssrec datasets``.
        source: where the files come from (paper / repository).
        default_split: ``"given"`` when the files carry the split, else the split applied to the
            ``all`` file (``"ratio"`` or ``"loo"``).
        homepage: where users can obtain the data.
        target_behavior: for a multi-behaviour dataset, the behaviour its test file holds (the
            default of ``data.target_behavior``); ``None`` for single-behaviour data.
    """

    name: str
    files: tuple[DatasetFile, ...]
    summary: str
    source: str
    default_split: str = "given"
    homepage: str = ""
    target_behavior: str | None = None

    @property
    def behaviors(self) -> tuple[str, ...]:
        """The behaviours of a multi-behaviour dataset in file order (the cascade order
        view → cart → buy of the registered ones), else ``()``."""
        return tuple(f.role.split(":", 1)[1] for f in self.files if f.role.startswith("train:"))

    def file(self, role: str) -> DatasetFile | None:
        """The file with ``role``, or ``None``."""
        for f in self.files:
            if f.role == role:
                return f
        return None

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(f.role for f in self.files)


DATASETS: Registry[DatasetSpec] = Registry("dataset")


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add ``spec`` to :data:`DATASETS` (raises ValueError on a duplicate name)."""
    DATASETS.add(spec.name, spec)
    return spec


def default_data_dir() -> Path:
    """The user cache folder used when neither ``--data-dir`` nor ``SSREC_DATA_DIR`` is set."""
    return Path(platformdirs.user_cache_dir("ssrec")) / "data"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """The data directory and how it was chosen (``"option"``, ``"env"`` or ``"cache"``)."""
    if data_dir:
        return Path(data_dir).expanduser(), "option"
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser(), "env"
    return default_data_dir(), "cache"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def locate(spec: DatasetSpec, data_dir: str | os.PathLike[str] | None = None,
           roles: tuple[str, ...] | None = None, verify: bool = True) -> dict[str, Path]:
    """Find (and checksum) the files of a named dataset.

    Args:
        spec: the dataset.
        data_dir: explicit data directory (see module docs for the fallback order).
        roles: only these roles (default: all of the dataset's files).
        verify: compare each file's sha256 with the registry.

    Returns:
        ``{role: path}``.

    Raises:
        DataError: a file is missing (the message names the folder searched and how the data
            directory was chosen) or its checksum differs.
    """
    base, how = resolve_data_dir(data_dir)
    how_text = {"option": "from --data-dir / data.data_dir", "env": f"from ${ENV_VAR}",
                "cache": f"the default cache folder; set ${ENV_VAR} or pass --data-dir"}[how]
    folder = base / spec.name
    out: dict[str, Path] = {}
    for f in spec.files:
        if roles is not None and f.role not in roles:
            continue
        path = (base / f.folder if f.folder else folder) / f.name
        if not path.is_file():
            hint = f" Get it from {spec.homepage}." if spec.homepage else ""
            raise DataError(
                f"dataset {spec.name!r}: file {f.name!r} not found in {path.parent} "
                f"(data directory {base}, {how_text}).{hint}", str(path))
        if verify:
            got = sha256_file(path)
            if got != f.sha256:
                raise DataError(
                    f"dataset {spec.name!r}: checksum mismatch, expected sha256 {f.sha256}, got "
                    f"{got}; the file is corrupted or a different version", str(path))
        out[f.role] = path
    return out


def _f(role: str, name: str, sha: str, folder: str | None = None, **fmt) -> DatasetFile:
    return DatasetFile(role, name, sha, FileFormat(**fmt) if fmt else FileFormat(), folder)


_TAB3 = dict(kind="pairs", sep="\t", columns=("user", "item", "rating"))

register_dataset(DatasetSpec(
    name="gowalla",
    files=(
        _f("train", "train.txt", "0f086326b28a56c2e6dcb81d86ee72d4ccb7eed3a8d26788392356d8f51111cc",
           kind="adjacency"),
        _f("test", "test.txt", "099a2a73924e4b754dc6efd730d764f492321b53c38eb93298850c83acf57be3",
           kind="adjacency"),
    ),
    summary="Gowalla check-ins, NGCF/LightGCN split (29,858 users, 40,981 items, implicit)",
    source="Wang et al. NGCF (SIGIR'19) / He et al. LightGCN (SIGIR'20) split of SNAP loc-gowalla",
    homepage="https://github.com/gusye1234/LightGCN-PyTorch/tree/master/data/gowalla",
))
_LGCNPP = "https://github.com/geon0325/LightGCNpp/tree/master/data"


def _lgcnpp(name: str, folder: str, train: str, valid: str, test: str, summary: str,
            source: str) -> DatasetSpec:
    """A dataset of the LightGCN++ repository: per-user adjacency lines, train/valid/test."""
    return register_dataset(DatasetSpec(
        name=name,
        files=(_f("train", "train.txt", train, kind="adjacency"),
               _f("valid", "valid.txt", valid, kind="adjacency"),
               _f("test", "test.txt", test, kind="adjacency")),
        summary=summary,
        source=source + "; validation split and files from LightGCN++ (Lee, Kim, Shin, "
                        "RecSys 2024), geon0325/LightGCNpp@a394f79",
        homepage=f"{_LGCNPP}/{folder}",
    ))


_lgcnpp("gowalla-valid", "gowalla",
        "d47e01d060624f389956c0b2f89a1ed8c453ea158631cd2b5320c241f3e1a073",
        "ddc22c1cd9a7d14fd5cd0c98b1473b614f4323038fef74ae0d28cc9c92a08ba2",
        "099a2a73924e4b754dc6efd730d764f492321b53c38eb93298850c83acf57be3",
        "Gowalla, the LightGCN test split with 1/8 of each user's training items as "
        "validation (29,858 users, 40,981 items)",
        "NGCF/LightGCN split of SNAP loc-gowalla")
_lgcnpp("ml-1m-lgcnpp", "ml-1m",
        "dfa3a7a866feade29ca5722ac0423c1b0317ac1f6ad38a55fc1a7ceeb9cee3bb",
        "429fe0d750b304677898d7eeb1080764bbf06550b94c9508b8cc8cd0573e3dfc",
        "0d58f78bbf606f401aec2efe3f519b945c458c8398955f986e03b880fbbd16a6",
        "MovieLens-1M implicit, per-user 7:1:2 split of LightGCN++ (6,039 users, 3,628 items)",
        "GroupLens MovieLens 1M (Harper & Konstan, TiiS 2015)")
_lgcnpp("lastfm-lgcnpp", "lastfm",
        "1845769cb1a9834692d3cf884de523d23aa126fa6b58eb5f49e9628e8c317705",
        "9ae3440becfcbba19d5a5a8298b7933126f89424a468de5765bf1c6f08a9e3eb",
        "0f0a15e3de2f868554ee1e32190c51db3e0ad0c4138e1428c66ba6de86102755",
        "Last.fm artists (HetRec 2011), per-user 7:1:2 split of LightGCN++ (1,885 users, "
        "17,388 artists; many test items never occur in training)",
        "HetRec 2011 Last.fm (Cantador, Brusilovsky, Kuflik)")
register_dataset(DatasetSpec(
    name="lastfm",
    files=(
        _f("train", "data1.txt", "c82af3228cbbda2f55a39244de09ed93292894f1d0d9f1908ebb57e27598fded",
           **_TAB3),
        _f("test", "test1.txt", "de4417c0e6123284ce59a0934bcf5288ec1ec8774a18a1eef453c9952dfa48f9",
           **_TAB3),
        _f("social", "trustnetwork.txt",
           "5b5bd7cbe4d22f3cd333dbfc7ec4b995cb2bdb28d95b0e9c5fc5607079f7b69e",
           kind="pairs", sep="\t", columns=("user", "item")),
    ),
    summary="Last.fm artists (HetRec 2011), LightGCN-PyTorch split, with friendships",
    source="HetRec 2011 Last.fm; split by the LightGCN-PyTorch authors",
    homepage="https://github.com/gusye1234/LightGCN-PyTorch/tree/master/data/lastfm",
))
register_dataset(DatasetSpec(
    name="ml-100k",
    files=(
        _f("all", "ml-100k.inter",
           "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff", kind="atomic"),
    ),
    summary="MovieLens 100K ratings with timestamps (RecBole atomic file), no fixed split",
    source="GroupLens MovieLens 100K (Harper & Konstan, TiiS 2015), RecBole's atomic file",
    default_split="ratio",
    homepage="https://grouplens.org/datasets/movielens/100k/",
))
register_dataset(DatasetSpec(
    name="ml-latest-small",
    files=(
        _f("all", "ratings.csv", "b4239649fbf90ebf405c56c3ae1d929d9e7c86fc1a3a80cbef1c884df593ef73",
           kind="csv"),
    ),
    summary="MovieLens latest-small (2016 edition), half-star ratings with timestamps",
    source="GroupLens MovieLens latest-small, 2016-10-17 edition",
    default_split="ratio",
    homepage="https://grouplens.org/datasets/movielens/",
))
register_dataset(DatasetSpec(
    name="yelp-diffnet",
    files=(
        _f("train", "yelp.train.rating",
           "7870b0889831108633e1ca3bbdaf8c56ebe7b68f282ebc0030f05e49eca1b478", **_TAB3),
        _f("valid", "yelp.val.rating",
           "dd2b45c434af3e10ffa26974507f6365b50ab55be163be4dd840da3df8e855eb", **_TAB3),
        _f("test", "yelp.test.rating",
           "794644f954a5afd53e719bc42d5d2b08a26ef6f93575c1eceb47b2f482154385", **_TAB3),
        _f("social", "yelp.links",
           "c15e94ee0dd50899eff283d2d08f6b9701abad888750cffcd17a0e142edf4613", **_TAB3),
    ),
    summary="Yelp implicit feedback with directed social links, DiffNet train/val/test split",
    source="Wu et al. DiffNet (SIGIR'19)",
    homepage="https://github.com/PeiJieSun/diffnet",
))
register_dataset(DatasetSpec(
    name="filmtrust",
    files=(
        _f("train", "trainset.txt",
           "5dde957e2666697ab43fcede5067f58cd1e794450cd147e2399d9d68f07d1d5c",
           kind="pairs", sep=" ", columns=("user", "item", "rating")),
        _f("test", "testset.txt",
           "65e343ac76f694d48863770b554e12fa3fdf0de431d75b35377c082bb3ef5bbb",
           kind="pairs", sep=" ", columns=("user", "item", "rating")),
        _f("social", "trust.txt",
           "64573a033add72b988a0fb140fdbc0ad3464cb9821f940007aff6fda44b09603",
           kind="pairs", sep=" ", columns=("user", "item", "rating")),
    ),
    summary="FilmTrust ratings (0.5-4) with directed trust, QRec's ~95/5 split",
    source="Guo, Zhang & Yorke-Smith (IJCAI'13); split shipped with QRec",
    homepage="https://guoguibing.github.io/librec/datasets.html",
))
register_dataset(DatasetSpec(
    name="amazon-beauty",
    files=(
        _f("train", "train.txt", "54d2d8905408cc11aef96834a7f60e0cb9d7a2593f797ea0a188e7c1ffe95380",
           kind="adjacency"),
        _f("test", "test.txt", "66f2b03db1850a53a0103ddd6adda93cede7228294cf46a2dcdf3b349b80cf88",
           kind="adjacency"),
    ),
    summary="Amazon Beauty 5-core, per-user item histories in time order (SELFRec's split)",
    source="McAuley et al. (SIGIR'15); SELFRec's sequential leave-one-out files",
    homepage="https://github.com/Coder-Yu/SELFRec/tree/main/dataset/amazon-beauty",
))
register_dataset(DatasetSpec(
    name="beauty-bert4rec",
    files=(
        _f("all", "beauty.txt", "f480b7a7403852342ffd8f9809bb30697dd669be31813d0e204b698fec86ef49",
           kind="pairs", sep=" ", columns=("user", "item")),
    ),
    summary="Amazon Beauty as processed for BERT4Rec (40,226 users, 54,542 items), time-ordered rows",
    source="Sun et al. BERT4Rec (CIKM'19)",
    default_split="loo",
    homepage="https://github.com/FeiSun/BERT4Rec/tree/master/data",
))
register_dataset(DatasetSpec(
    name="lastfm-hetrec",
    files=(
        _f("all", "ratings.txt", "4a6e11a8ed543b132e2901f0e7f20cd41ae2b7b898661aefb7557abd2af6658a",
           **_TAB3),
        _f("social", "trusts.txt",
           "f48ed2ca424e4b54962d89c696364ea324702051c106420768e0a184909ae887",
           kind="pairs", sep="\t", columns=("user", "item")),
    ),
    summary="Raw HetRec 2011 Last.fm user-artist listening counts with friendships, no split",
    source="HetRec 2011 workshop (RecSys'11), data from Last.fm",
    default_split="ratio",
    homepage="https://grouplens.org/datasets/hetrec-2011/",
))
register_dataset(DatasetSpec(
    name="lastfm-kg",
    files=(
        _f("all", "ratings_final.txt",
           "a1589f7ff2f36ea25c946900e38c941eb6d8fae27422b32c73dc571d731e1c70", kind="pairs",
           sep="\t", columns=("user", "item", "label")),
        _f("kg", "kg_final.txt",
           "ff58147005e774652ebf435e9a8c3f0c3e2ffe9a54087eab00fd9c5413040bc8"),
    ),
    summary="Last.fm users x artists with a Freebase-style item KG (RippleNet/KGCN/MCCLK "
            "processing; 1,872 users, 3,846 items, 15,518 triples), label-0 rows skipped",
    source="Wang et al. RippleNet (CIKM'18) / KGCN (WWW'19) music data, as shipped by "
           "CCIIPLab/MCCLK (Zou et al., SIGIR'22); HetRec 2011 Last.fm interactions",
    default_split="ratio",
    homepage="https://github.com/CCIIPLab/MCCLK/tree/master/data/music",
))
register_dataset(DatasetSpec(
    name="ml-100k-kg",
    files=(
        _f("all", "ml-100k.inter",
           "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff", folder="ml-100k",
           kind="atomic"),
        _f("kg", "ml-100k.kg", "200a0636fa07c218119a42e5bac7aa3e26e3665a6f919c1b22909bd412b14779"),
        _f("link", "ml-100k.link",
           "524dca2c3d62619688ab99b3ec53ea2acb9b64d38eafec3e02bdd0dc6bb7d948"),
    ),
    summary="MovieLens 100K with RecBole's Freebase KG (91,631 triples, 1,598 of 1,682 items "
            "linked); interactions read from the ml-100k folder",
    source="GroupLens MovieLens 100K; KG and links from RecBole 1.2.1 (KB4Rec, Zhao et al., "
           "Data Intelligence 2019)",
    default_split="ratio",
    homepage="https://github.com/RUCAIBox/RecBole/tree/master/recbole/dataset_example/ml-100k",
))


# -- multi-behaviour data: one training file per behaviour, the target's test file ------------
_MB_SOURCES = {
    "tmall-mb": "https://github.com/SS-00-SS/MBCGCN/tree/master/Data",
    "retailrocket-mb": "https://github.com/HKUDS/SSLRec/tree/main/datasets/multi_behavior/"
                       "retail_rocket",
    "beibei-mini-mb": "https://github.com/GuShuyun/MBRec/tree/master/data/Beibei/mini",
}
register_dataset(DatasetSpec(
    name="tmall-mb",
    files=(
        _f("train:view", "train_view.txt",
           "3a35ed6cd59f31353c8281c314a17927a8c7ade35a991b0b55014a1ede7c2daa", kind="adjacency",
           sep="\t"),
        _f("train:cart", "train_cart.txt",
           "481a048118ad3837208534a4367c2f20f290cd2a6f9297a621897655b62f2dbc", kind="adjacency",
           sep="\t"),
        _f("train:buy", "train_buy.txt",
           "4d8619e44b5292736daff25b18ff9b295893e7521e3d79faff4a62d48dd80e6e", kind="adjacency",
           sep="\t"),
        _f("test", "test.txt", "aa643ff3e3f072238740b684277e65ee2eaeecdcd3c5ec1134756d4adfb1672b",
           kind="adjacency", sep="\t"),
    ),
    summary="Tmall view/cart/buy (15,449 users, 11,953 items), one held-out buy per user "
            "(MB-CGCN's split; view file rebuilt from its adjacency)",
    source="Tianchi Tmall logs; Cheng et al. MB-CGCN (WWW'23), SS-00-SS/MBCGCN@931f9c1",
    homepage=_MB_SOURCES["tmall-mb"],
    target_behavior="buy",
))
_SPACE3 = dict(kind="pairs", sep=" ", columns=("user", "item", "timestamp"))
register_dataset(DatasetSpec(
    name="retailrocket-mb",
    files=(
        _f("train:view", "train_view.txt",
           "a25a925fbb45b1e8ae98023a6b0248708b5726a337cd779d247206a6ffe576ee", **_SPACE3),
        _f("train:cart", "train_cart.txt",
           "4457463f9c0cb211d1e4128f2fe5e8cd4af0f3b7a1ba51635b0f4dc2ca0463df", **_SPACE3),
        _f("train:buy", "train_buy.txt",
           "f3ddd9b0ef749d55b9422661bba6e4c8895116c638fecdb834c46dd103d4460b", **_SPACE3),
        _f("test", "test.txt", "2929ba32075ec4e8e2a02dffb2694548b9eb08a2c5699e4b7fe70b91ee8c168c",
           kind="pairs", sep=" ", columns=("user", "item")),
    ),
    summary="Retail Rocket view/cart/buy with timestamps (2,174 users, 30,113 item ids), one "
            "held-out buy per user (CML / SSLRec's set; 208 test items in no training file)",
    source="Retail Rocket (Kaggle); Wei et al. CML (WSDM'22) set as shipped by "
           "HKUDS/SSLRec@7597c31, converted from pickles to text",
    homepage=_MB_SOURCES["retailrocket-mb"],
    target_behavior="buy",
))
_SPACEADJ = dict(kind="adjacency", sep=" ")
register_dataset(DatasetSpec(
    name="beibei-mini-mb",
    files=(
        _f("train:view", "pv_mini.txt",
           "b9df6816274837aee3d9facc8e67d6732008c0ee8846a184320261c06f5611d6", **_SPACEADJ),
        _f("train:cart", "cart_mini.txt",
           "f53a22f8cd17a08b3d19d3bd42d5d4706fd0426de539926e2975bde7a190c5c9", **_SPACEADJ),
        _f("train:buy", "train_mini.txt",
           "f752f0bc7bcea743989b02ec0c2533049259c010131913aa15f5618be1ebe2f0", **_SPACEADJ),
        _f("test", "test_mini.txt",
           "78ec0ba2d676cf7babb7679187c7c9964224291bba587760b319e95892130cc6", **_SPACEADJ),
    ),
    summary="Beibei page view (pv)/cart/buy, first 1,000 users of the GHCF split (nested: "
            "buy within cart within view), one held-out buy per user; small, for tests",
    source="Chen et al. GHCF (AAAI'21) Beibei split; mini cut of Gu et al. S-MBRec (IJCAI'22), "
           "GuShuyun/MBRec@bf4519a",
    homepage=_MB_SOURCES["beibei-mini-mb"],
    target_behavior="buy",
))
