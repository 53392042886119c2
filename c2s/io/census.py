"""The CELLxGENE Census as a source (``data=census``): its schema mapped once, its release pinned.

The Census is a SOMA collection: ``census_data/<organism>`` experiments (``homo_sapiens``, ``mus_musculus``) and
``census_info/datasets`` (each dataset's title, collection and citation). A query here is one organism's
experiment, ``is_primary_data == True`` AND-ed with ``data.obs_value_filter`` (so no cell is counted twice),
read through ``c2s.io.soma``. Each cell's dataset text (title, collection name, citation, and description where
the table has one) feeds the dataset tasks; a CSV keyed by ``dataset_id`` (``data.dataset_text_csv``) overrides it.

``open_census`` is the one call that reaches the network (``cellxgene_census.open_soma``, an optional extra);
with ``data.uri`` a local copy laid out like the Census is opened instead, which is how tests and offline
clusters use it.
"""

from __future__ import annotations

import logging
from typing import Any

from c2s.errors import C2SInputError
from c2s.io.soma import SomaParts, _soma, check_uri, context, read_query

log = logging.getLogger(__name__)
ORGANISMS = {"homo_sapiens": "human", "mus_musculus": "mouse"}
PRIMARY = "is_primary_data == True"
TEXT_COLUMNS = ("dataset_title", "collection_name", "dataset_description", "citation")


def open_census(version: str, uri: str | None) -> Any:
    """The Census collection: the local copy at ``uri``, else release ``version`` through cellxgene_census."""
    soma = _soma()
    if uri:
        check_uri(uri)
        try:
            return soma.Collection.open(uri, context=context())
        except Exception as exc:
            raise C2SInputError(
                f"data.uri={uri!r} is not a SOMA collection laid out like the Census ({str(exc).splitlines()[0]})."
            ) from None
    try:
        import cellxgene_census
    except ImportError:
        raise C2SInputError(
            "data=census needs cellxgene-census: pip install -e '.[census]', or give a local copy with data.uri=<dir>."
        ) from None
    try:
        return cellxgene_census.open_soma(census_version=version)
    except Exception as exc:  # no network, an unknown release, an s3 error
        raise C2SInputError(
            f"The CELLxGENE Census {version} could not be opened ({type(exc).__name__}: {str(exc).splitlines()[0]}). "
            "Offline, copy the release once (e.g. with cellxgene_census.download or aws s3 sync) and set "
            "data.uri=<that copy>."
        ) from None


def dataset_text(census: Any) -> dict[str, str]:
    """{dataset_id: text} from ``census_info/datasets`` (the columns it has of TEXT_COLUMNS); a user CSV
    (``data.dataset_text_csv``) is applied over it by the corpus build, as for any source."""
    out: dict[str, str] = {}
    info = census["census_info"]["datasets"] if "census_info" in census else None
    if info is not None:
        names = [c for c in TEXT_COLUMNS if c in info.schema.names]
        table = info.read(column_names=["dataset_id", *names]).concat().to_pandas()
        for row in table.itertuples(index=False):
            parts = [str(getattr(row, c)).strip() for c in names if getattr(row, c) and str(getattr(row, c)).strip()]
            if parts:
                out[str(row.dataset_id)] = " ".join(p if p.endswith(".") else p + "." for p in parts)
    return out


def census_parts(o: Any) -> SomaParts:
    """The query of data config ``o`` (a DataConfig with census_version, census_organism (checked by it), uri,
    filters)."""
    organism = o.census_organism
    census = open_census(o.census_version, o.uri)
    data = census["census_data"] if "census_data" in census else None
    if data is None or organism not in data:
        raise C2SInputError(f"The Census at {o.uri or o.census_version} has no census_data/{organism} experiment.")
    obs_filter = PRIMARY if o.census_primary_only else None
    if o.obs_value_filter:
        obs_filter = f"{obs_filter} and ({o.obs_value_filter})" if obs_filter else o.obs_value_filter
    parts = SomaParts(
        f"{o.uri or 'census ' + o.census_version}/census_data/{organism}",
        o.measurement,
        obs_filter,
        o.var_value_filter,
        o.obs_id_key,
        experiment=data[organism],
        dataset_text=dataset_text(census),
    )
    parts.owner = census  # the experiment is open only while its collection is
    if o.census_primary_only:  # what the primary-data filter leaves out is counted and logged
        every = data[organism].axis_query(o.measurement, obs_query=_soma().AxisQuery(value_filter=o.obs_value_filter))
        left_out = every.n_obs - parts.n_obs
        log.info(
            "Census %s: %d cells match the filter; %d are primary data, %d duplicates of cells in other datasets "
            "(is_primary_data == False) are left out (census_primary_only=true).",
            organism,
            every.n_obs,
            parts.n_obs,
            left_out,
        )
    return parts


# ---- the source kind (c2s.io.sources registers it under "census": data.path census:<version>) ------------------
def census_open(part: str, o: Any, upper_case: bool):
    """One organism of the Census, read as any SOMA query is (``o``: the data config)."""
    return read_query(census_parts(o), o, upper_case)


def census_check(part: str) -> None:
    if not part.split(":", 1)[1] or part.endswith(":latest"):
        raise C2SInputError(f"data.path={part!r}: give a dated Census release (data.census_version), never latest.")
