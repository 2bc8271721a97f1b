"""Pipeline stage 6 (format) — one result shard on disk: a Parquet file that proves its contents.

A shard is written with exactly the columns and Arrow types of :data:`ROW_SCHEMA` (the columns of
:func:`trajlen.pipeline.measure`'s rows) and carries, in its Parquet key-value metadata, the SHA-256
of its *decoded* table (:func:`content_digest`: every column's name, type, null mask and value
bits). :func:`decode` accepts a file only if it parses, its schema equals :data:`ROW_SCHEMA`
(types, nullability), every string is valid UTF-8, no required column holds a null, and the digest
of what it decoded equals the digest it carries. A flipped bit anywhere in the file therefore either
leaves the decoded table bit-identical (e.g. a flip in unused statistics) or is rejected: it can never
be accepted as different values. Nothing here touches the filesystem; :mod:`trajlen.results` reads
the bytes, so that OS errors stay OS errors and only format errors become :class:`ShardError`.
"""

from __future__ import annotations

import functools
import hashlib
import io
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

__all__ = ["ROW_SCHEMA", "DIGEST_KEY", "ShardError", "encode", "encode_table", "decode", "content_digest",
           "undigested_schema_versions"]

#: Parquet key-value metadata key holding the hex SHA-256 of the decoded table.
DIGEST_KEY = b"trajlen.sha256"

_S, _I, _F, _L = pa.string(), pa.int64(), pa.float64(), pa.list_(pa.float64())
#: Spec fields that are ``None`` until a preset fills them: the only nullable columns.
#: Also null: how the parameters were drawn (σ labels, weight_init) in rows whose network was read
#: from a file, and the file's path and hash in rows whose network was drawn.
_NULLABLE = {"weight_init", "recurrence", "ltc_decay", "ltc_A", "hardtanh", "input_kind", "controller",
             "output", "refine", "max_seconds", "sigma_w2", "sigma_b2", "params_path", "params_sha256",
             "cfc_mode", "backbone_units", "backbone_layers", "module_path", "module_sha256", "lyap",
             "lyap_max"}
_COLUMNS = [
    ("task_id", _S), ("schema_version", _I), ("model", _S), ("activation", _S), ("width", _I),
    ("depth", _I), ("sigma_w2", _F), ("sigma_b2", _F), ("semantics", _S), ("weight_init", _S),
    ("recurrence", _S), ("ltc_decay", _S), ("ltc_A", _S), ("hardtanh", _S), ("cfc_mode", _S),
    ("backbone_units", _I), ("backbone_layers", _I), ("input_kind", _S), ("n_samples", _I),
    ("input_gain", _F), ("input_omega", _F), ("transient", _F),
    ("backend", _S), ("method", _S), ("controller", _S), ("rtol", _F), ("atol", _F), ("output", _S),
    ("refine", _I), ("grid_points", _I), ("dt", _F), ("ode_unfolds", _I), ("lyapunov", _I),
    ("max_steps", _I), ("max_seconds", _F), ("device", _S), ("dtype", _S), ("perturb", _I),
    ("seed", _I), ("sample", _I), ("params_path", _S), ("params_sha256", _S), ("module_path", _S),
    ("module_sha256", _S), ("status", _S), ("message", _S),
    ("n_accepted", _I), ("n_rejected", _I), ("nfev", _I), ("njev", _I), ("n_points", _I),
    ("spec_json", _S), ("l_input", _F), ("length", _F), ("length_full", _F), ("var_pc1", _F),
    ("var_pc2", _F), ("z_norm", _F), ("z_norm_code", _F), ("lengths", _L), ("lengths_full", _L),
    ("var_pc1_layers", _L), ("var_pc2_layers", _L), ("L", _F), ("steps_per_interval", _F),
    ("length_spread", _F), ("L_spread", _F), ("tau_min", _F), ("lyap", _L), ("lyap_max", _F),
    ("wall_s", _F), ("trajlen_version", _S), ("numpy_version", _S), ("scipy_version", _S),
    ("torch_version", _S), ("numba_version", _S),
]
#: The Arrow schema of every shard of ``SCHEMA_VERSION`` 4 (3's input controls and round-off spreads,
#: the ncps models' and your own networks' fields, the Lyapunov exponents), in the order the row
#: builder (:func:`trajlen.pipeline.measure`) writes them: change it only with a schema bump.
ROW_SCHEMA = pa.schema([pa.field(n, t, nullable=n in _NULLABLE) for n, t in _COLUMNS])


class ShardError(ValueError):
    """A shard's bytes are not a valid shard: unparsable, wrong schema, or content not as hashed."""


def _array_bytes(arr: pa.Array) -> list[bytes]:
    """The exact content of one array as byte strings: null mask, then values (recursively for
    lists: lengths, then the flattened items). Independent of chunking, offsets and of the bytes
    a reader leaves under null slots."""
    out = [np.asarray(arr.is_null()).tobytes() if arr.null_count else b"-"]
    t = arr.type
    if pa.types.is_null(t):
        return out
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        import pyarrow.compute as pc

        out.append(np.asarray(pc.list_value_length(arr).fill_null(-1), dtype=np.int64).tobytes())
        return out + _array_bytes(arr.flatten())
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if arr.null_count:  # the bytes under a null slot are unspecified: make them empty
            arr = arr.fill_null("")
        bufs = arr.buffers()
        off = np.frombuffer(bufs[1], np.int64 if pa.types.is_large_string(t) else np.int32)
        off = off[arr.offset:arr.offset + len(arr) + 1].astype(np.int64)
        data = b"" if bufs[2] is None else memoryview(bufs[2])[off[0]:off[-1]].tobytes()
        return out + [(off - off[0]).tobytes(), data]
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
        filled = arr.fill_null(False if pa.types.is_boolean(t) else 0) if arr.null_count else arr
        return out + [np.asarray(filled.to_numpy(zero_copy_only=False)).tobytes()]
    raise ShardError(f"no canonical form for column type {t}")


def _type_name(t: pa.DataType) -> str:
    """A type's name without a list's child-field name (``item`` when built, ``element`` once read
    back from Parquet: the same type)."""
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"{'large_' if pa.types.is_large_list(t) else ''}list<{_type_name(t.value_type)}>"
    return str(t)


def content_digest(table: pa.Table) -> str:
    """Hex SHA-256 of a table's decoded content: row count, and per column (in order) its name,
    type, null mask and value bits (floats by their bits: NaN payloads and -0.0 count)."""
    h = hashlib.sha256(f"rows={table.num_rows}\n".encode())
    for field, col in zip(table.schema, table.columns):
        h.update(f"{field.name}\x00{_type_name(field.type)}\x00".encode())
        for part in _array_bytes(col.combine_chunks()):
            h.update(len(part).to_bytes(8, "little"))
            h.update(part)
    return h.hexdigest()


def _check_schema(table: pa.Table) -> None:
    if table.schema.equals(ROW_SCHEMA):
        return
    got = {f.name: f for f in table.schema}
    for field in ROW_SCHEMA:
        f = got.get(field.name)
        if f is None:
            raise ShardError(f"column {field.name} is missing")
        if not f.type.equals(field.type):
            raise ShardError(f"column {field.name} is {f.type}, expected {field.type}")
        if f.nullable != field.nullable:
            raise ShardError(f"column {field.name} is {'nullable' if f.nullable else 'required'}, "
                             f"expected {'nullable' if field.nullable else 'required'}")
    extra = [n for n in table.schema.names if n not in ROW_SCHEMA.names]
    raise ShardError(f"unexpected column(s) {', '.join(extra)}" if extra else "columns out of order")


def _check_values(table: pa.Table) -> None:
    for field, col in zip(table.schema, table.columns):
        if not field.nullable and col.null_count:
            raise ShardError(f"required column {field.name} holds {col.null_count} null(s)")
    try:
        table.validate(full=True)  # offsets in range, strings valid UTF-8
    except (pa.ArrowInvalid, ValueError) as e:
        raise ShardError(f"invalid data: {str(e).splitlines()[0]}") from None


def encode(rows: Sequence[dict]) -> bytes:
    """Rows (dicts with exactly the :data:`ROW_SCHEMA` columns) as the bytes of a shard file.

    Raises ``ValueError`` for a row with missing or extra columns, or a null in a required column:
    a programming error (a new row column needs :data:`ROW_SCHEMA` and a ``SCHEMA_VERSION`` bump).
    """
    return encode_table(rows)[0]


def encode_table(rows: Sequence[dict]) -> tuple[bytes, pa.Table]:
    """:func:`encode`, and the table those bytes hold as :func:`decode` returns it (no metadata):
    the writer keeps it rather than parse back bytes it has just written."""
    import pyarrow.parquet as pq

    want = set(ROW_SCHEMA.names)
    for row in rows:
        if set(row) != want:
            missing, extra = sorted(want - set(row)), sorted(set(row) - want)
            raise ValueError(f"a result row must have exactly the columns of trajlen.shards."
                             f"ROW_SCHEMA; missing {missing}, extra {extra}")
    table = pa.Table.from_pylist(list(rows), schema=ROW_SCHEMA)
    try:
        _check_values(table)
    except ShardError as e:
        raise ValueError(f"result rows do not fit the store schema: {e}") from None
    stamped = table.replace_schema_metadata({DIGEST_KEY: content_digest(table).encode()})
    buf = io.BytesIO()
    pq.write_table(stamped, buf)
    return buf.getvalue(), table.cast(_decoded_schema())


@functools.cache
def _decoded_schema() -> pa.Schema:
    """:data:`ROW_SCHEMA` as Parquet gives it back (a list's value field is named ``element``, not
    ``item``): a kept table must concatenate with decoded ones."""
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(ROW_SCHEMA.empty_table(), buf)
    return _parse(buf.getvalue()).schema.remove_metadata()


def decode(data: bytes) -> pa.Table:
    """The table of a shard file's bytes, verified (module docstring); metadata stripped.

    Raises :class:`ShardError` for anything wrong with the bytes (a ``MemoryError`` propagates).
    """
    table = _parse(data)
    digest = (table.schema.metadata or {}).get(DIGEST_KEY)
    if digest is None:
        raise ShardError("it carries no content hash (not written by this trajlen's store)")
    table = table.replace_schema_metadata(None)
    _check_schema(table)
    _check_values(table)
    if content_digest(table).encode() != digest:
        raise ShardError("its content does not match its content hash")
    return table


def _parse(data: bytes) -> pa.Table:
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(pa.BufferReader(data)).read(use_threads=False)
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 — the bytes are in memory: any parse error is a format error
        msg = str(e).splitlines()[0] if str(e) else ""
        raise ShardError(f"unreadable Parquet ({type(e).__name__}: {msg})") from None


def undigested_schema_versions(data: bytes) -> set | None:
    """For a shard without a content hash: its ``schema_version`` values (to tell a shard written
    by another schema of trajlen from a damaged one), or None if it has no such column."""
    try:
        table = _parse(data)
    except ShardError:
        return None
    if DIGEST_KEY in (table.schema.metadata or {}) or "schema_version" not in table.column_names:
        return None
    try:
        return set(table.column("schema_version").to_pylist())
    except (pa.ArrowException, TypeError, ValueError):
        return None
