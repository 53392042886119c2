"""Token-space rendering: a skeleton batch -> an Arrow table of prompt/target text and ids.

Each distinct skeleton is tokenized once (by a clone of the tokenizer that knows the sentinel
``" \\ue000"`` as an added token) and cut at the sentinels into literal pieces; a gene's ids are
a table lookup. A numba kernel then concatenates pieces and gene ids (and the UTF-8 bytes of
the text) for every example. Where concatenation is not provably equal to tokenizing the text
(the probe in :meth:`TokenSpace.table` compares them), the job tokenizes text instead.
"""

from __future__ import annotations

import logging

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from c2s.corpus.corpus import Corpus
from c2s.errors import C2SInputError
from c2s.tasks.render import SENT, SkeletonBatch, batch_genes

log = logging.getLogger(__name__)
SCHEMA = pa.schema(
    [
        ("task", pa.string()),
        ("split", pa.string()),
        ("prompt", pa.string()),
        ("target", pa.string()),
        ("cell_ids", pa.list_(pa.string())),
        ("meta", pa.string()),
        ("prompt_ids", pa.list_(pa.int32())),
        ("target_ids", pa.list_(pa.int32())),
        ("n_tokens", pa.int32()),
    ]
)
PROBE = 64  # examples of a job's first batch checked against tokenizing their text
CACHE = 8192  # skeletons kept tokenized: per-cell tasks have a few hundred; multi-cell ones are
# mostly unique (a list of cell types), where a 100k-entry cache held ~300 MB per worker at 1M cells


def _ragged(seqs: list) -> tuple[np.ndarray, np.ndarray]:
    off = np.zeros(len(seqs) + 1, dtype=np.int64)
    off[1:] = np.cumsum([len(s) for s in seqs])
    vals = np.concatenate([np.asarray(s) for s in seqs]) if seqs else np.zeros(0)
    return off, vals


U = numba.uint64  # kernel indices are unsigned: numba then skips the wraparound check of a negative index on every
# access, which kept the byte loops from being vectorised (the assembler: 0.20 -> 0.115 s on a sample of batches)


@numba.njit(cache=True, inline="always")
def _put(dst, at, src, lo, hi):
    """Copy src[lo:hi] to dst[at:]; where it ends in dst (all uint64)."""
    while lo < hi:
        dst[at] = src[lo]
        at += U(1)
        lo += U(1)
    return at


@numba.njit(cache=True)
def _assemble(
    psk,
    tsk,
    run_off,
    rg_off,
    rg,
    sk_first,
    sk_nruns,
    pc_off,
    pc_tok,
    pb_off,
    pb,
    g_off,
    g_tok,
    gb_off,
    gb,
    o_pt,
    o_tt,
    o_pb,
    o_tb,
    v_pt,
    v_tt,
    v_pb,
    v_tb,
):
    """Example e's prompt/target tokens and UTF-8 bytes into v_* from o_*[e]; o_*[e + 1] is set to where
    they end (o_*[0] = 0). The v_* arrays need room for every example's (see :func:`_capacity`), and one byte
    more: a run's last gene writes a space past its end."""
    for e in range(psk.size):
        r = U(run_off[e])
        for side in range(2):
            s = U(psk[e]) if side == 0 else U(tsk[e])
            at = U(o_pt[e]) if side == 0 else U(o_tt[e])
            ab = U(o_pb[e]) if side == 0 else U(o_tb[e])
            vt = v_pt if side == 0 else v_tt
            vb = v_pb if side == 0 else v_tb
            first, runs = U(sk_first[s]), U(sk_nruns[s])
            for j in range(runs + U(1)):
                p = first + U(j)
                at = _put(vt, at, pc_tok, U(pc_off[p]), U(pc_off[p + U(1)]))
                ab = _put(vb, ab, pb, U(pb_off[p]), U(pb_off[p + U(1)]))
                if U(j) < runs:
                    lo, hi = U(rg_off[r]), U(rg_off[r + U(1)])
                    for i in range(lo, hi):
                        g = U(rg[U(i)])
                        a0, a1 = U(g_off[g]), U(g_off[g + U(1)])
                        if a1 - a0 == U(1):  # most genes are one token
                            vt[at] = g_tok[a0]
                            at += U(1)
                        else:
                            at = _put(vt, at, g_tok, a0, a1)
                        ab = _put(vb, ab, gb, U(gb_off[g]), U(gb_off[g + U(1)]))
                        vb[ab] = 32  # a space after every gene name (no branch) ...
                        ab += U(1)
                    if hi > lo:
                        ab -= U(1)  # ... but the last: what comes next overwrites it
                    r += U(1)
            if side == 0:
                o_pt[e + 1] = at
                o_pb[e + 1] = ab
            else:
                o_tt[e + 1] = at
                o_tb[e + 1] = ab


def _capacity(psk, tsk, sk_first, sk_nruns, pc_off, pb_off, n_genes, g_len, gb_len) -> tuple[int, int]:
    """(tokens, bytes) that a batch's prompts and targets together cannot exceed: room for either side.
    Genes are counted at the longest gene's size (a bound: pages never written are never touched)."""
    ends = sk_first + sk_nruns + 1  # each skeleton's pieces are sk_first[s]:ends[s]
    sk_tok, sk_b = pc_off[ends] - pc_off[sk_first], pb_off[ends] - pb_off[sk_first]
    tok = int(sk_tok[psk].sum() + sk_tok[tsk].sum()) + n_genes * g_len
    return tok, int(sk_b[psk].sum() + sk_b[tsk].sum()) + n_genes * (gb_len + 1) + 1


class TokenSpace:
    """A tokenizer's view of genes and skeletons. ``backend``: a ``tokenizers.Tokenizer`` (a
    transformers fast tokenizer's ``backend_tokenizer``)."""

    def __init__(self, backend, gene_names: np.ndarray) -> None:
        from tokenizers import AddedToken, Tokenizer

        bad = [g for g in map(str, gene_names) if not g or any(c.isspace() for c in g) or SENT in g]
        if bad:
            raise C2SInputError(
                f"{len(bad)} gene names are empty or contain whitespace, e.g. {bad[:5]}: a cell sentence "
                "could not tell them apart. Rename them in var (or data.gene_key) and re-run."
            )
        self.tok = backend
        self.clone = Tokenizer.from_str(self.tok.to_str())
        self.clone.add_tokens([AddedToken(" " + SENT, normalized=False), AddedToken(SENT, normalized=False)])
        self.sent_id = self.clone.token_to_id(" " + SENT)
        self.bare_id = self.clone.token_to_id(SENT)  # a gene list after a newline (c2s_scale's multi-cell layout)
        enc = self.tok.encode_batch([" " + str(g) for g in gene_names], add_special_tokens=False)
        self.g_off, self.g_tok = _ragged([np.asarray(x.ids, dtype=np.int32) for x in enc])
        self.g_tok = self.g_tok.astype(np.int32)
        self.gb_off, self.gb = _ragged([np.frombuffer(str(g).encode(), np.uint8) for g in gene_names])
        self.gb = self.gb.astype(np.uint8)
        self.g_max = int(np.diff(self.g_off).max(initial=0))  # the longest gene, in tokens and in bytes
        self.gb_max = int(np.diff(self.gb_off).max(initial=0))
        self._cache: dict[tuple[bool, str], tuple[list, list, bool]] = {}

    def _pieces(self, keys: list[tuple[bool, str]]) -> list[tuple[list, list, bool]]:
        """(token pieces, byte pieces, exact) of each (is target, skeleton text), cut at the sentinels. Not
        exact where a gene list follows a newline: its first gene is not the token " GENE" there."""
        todo = [k for k in dict.fromkeys(keys) if k not in self._cache]
        if len(self._cache) + len(todo) > CACHE:  # bound the cache; this batch's keys stay
            self._cache.clear()
            todo = list(dict.fromkeys(keys))
        enc = self.clone.encode_batch([(" " + t if target else t) for target, t in todo], add_special_tokens=False)
        for (target, t), x in zip(todo, enc):
            ids = np.asarray(x.ids, dtype=np.int32)
            # plain text (a list of labels, mostly one per example) is one piece: without SENT in the text no
            # sentinel token can occur (added tokens match literally), so skip the cutting (1.9 s of 10 at 1M)
            if SENT not in t:
                self._cache[(target, t)] = ([ids], [np.frombuffer(t.encode(), np.uint8)], True)
                continue
            cut = np.flatnonzero((ids == self.sent_id) | (ids == self.bare_id))
            full = " " + t if target else t
            before = [full[p - 1] if p else "" for p in _positions(full)]
            if cut.size != t.count(SENT) or any(c not in (" ", "\n") for c in before):
                raise AssertionError(f"every gene list must follow a space or a newline (template bug): {t!r}")
            ends = cut.tolist()  # the pieces between sentinels, each sentinel dropped
            toks = [ids[a:b] for a, b in zip([0, *(c + 1 for c in ends)], [*ends, ids.size])]
            pieces = [np.frombuffer(p.encode(), np.uint8) for p in t.split(SENT)]
            self._cache[(target, t)] = (toks, pieces, all(c == " " for c in before))
        return [self._cache[k] for k in keys]

    def table(self, corpus: Corpus, task: str, split: str, b: SkeletonBatch, check: bool) -> tuple[pa.Table, bool]:
        """(table, concatenation matched text tokenization). ``check`` runs the probe; a skeleton that is not
        exact (see :meth:`_pieces`) fails it without probing."""
        rg_off, rg, run_off = batch_genes(corpus, b)
        pieces = self._pieces([(False, t) for t in b.prompts] + [(True, t) for t in b.targets])
        sk_nruns = np.array([len(p[0]) - 1 for p in pieces], dtype=np.int64)
        sk_first = np.concatenate([[0], np.cumsum(sk_nruns + 1)[:-1]]).astype(np.int64)
        pc_off, pc_tok = _ragged([t for p in pieces for t in p[0]])
        pb_off, pb = _ragged([x for p in pieces for x in p[1]])
        psk, tsk = b.p_idx.astype(np.int64), (len(b.prompts) + b.t_idx).astype(np.int64)
        n = b.n
        offs = [np.zeros(n + 1, dtype=np.int64) for _ in range(4)]
        rg32 = rg.astype(np.int32, copy=False)
        tok, nb = _capacity(psk, tsk, sk_first, sk_nruns, pc_off, pb_off, rg32.size, self.g_max, self.gb_max)
        room = [np.empty(tok, np.int32), np.empty(tok, np.int32), np.empty(nb, np.uint8), np.empty(nb, np.uint8)]
        args = (
            psk,
            tsk,
            run_off,
            rg_off,
            rg32,
            sk_first,
            sk_nruns,
            pc_off,
            pc_tok.astype(np.int32),
            pb_off,
            pb.astype(np.uint8),
            self.g_off,
            self.g_tok,
            self.gb_off,
            self.gb,
        )
        _assemble(*args, *offs, *room)
        vals = [v[: int(o[-1])] for v, o in zip(room, offs)]
        prompt = pa.StringArray.from_buffers(n, pa.py_buffer(offs[2].astype(np.int32)), pa.py_buffer(vals[2]))
        target = pa.StringArray.from_buffers(n, pa.py_buffer(offs[3].astype(np.int32)), pa.py_buffer(vals[3]))
        p_ids, t_ids = (offs[0], vals[0]), (offs[1], vals[1])
        ok = all(p[2] for p in pieces)  # else the ids are not the text's: the caller retokenizes
        if check and ok:
            m = min(PROBE, n)
            ok = self._encode(prompt[:m], False) == _lists(p_ids, m) and self._encode(target[:m], True) == _lists(
                t_ids, m
            )
        return _build(task, split, prompt, target, p_ids, t_ids, b, corpus), ok

    def _encode(self, texts: pa.Array, target: bool) -> list[list[int]]:
        return [
            x.ids
            for x in self.tok.encode_batch(
                [(" " + t if target else t) for t in texts.to_pylist()], add_special_tokens=False
            )
        ]

    def retokenize(self, table: pa.Table) -> pa.Table:
        """The fallback: ids from tokenizing the text columns."""
        enc = [self._encode(table[c].combine_chunks(), c == "target") for c in ("prompt", "target")]
        cols = {c: pa.array(e, pa.list_(pa.int32())) for c, e in zip(("prompt_ids", "target_ids"), enc)}
        n_tok = pa.array([2 + len(p) + len(t) for p, t in zip(*enc)], pa.int32())
        for c, arr in list(cols.items()) + [("n_tokens", n_tok)]:
            table = table.set_column(table.schema.get_field_index(c), c, arr)
        return table


def _positions(text: str) -> list[int]:
    out, p = [], text.find(SENT)
    while p >= 0:
        out.append(p)
        p = text.find(SENT, p + 1)
    return out


def _lists(ragged: tuple[np.ndarray, np.ndarray], m: int) -> list[list[int]]:
    off, val = ragged
    return [val[off[i] : off[i + 1]].tolist() for i in range(m)]


def _build(task, split, prompt, target, p_ids, t_ids, b: SkeletonBatch, corpus) -> pa.Table:
    n = b.n
    c_off, flat = b.cells
    cell_ids = pa.ListArray.from_arrays(pa.array(c_off.astype(np.int32)), pc.take(corpus.cell_ids, pa.array(flat)))
    lists = [pa.ListArray.from_arrays(pa.array(o.astype(np.int32)), pa.array(v, pa.int32())) for o, v in (p_ids, t_ids)]
    n_tok = (2 + np.diff(p_ids[0]) + np.diff(t_ids[0])).astype(np.int32)
    return pa.table(
        {
            "task": pa.repeat(pa.scalar(task, pa.string()), n),
            "split": pa.repeat(pa.scalar(split, pa.string()), n),
            "prompt": prompt,
            "target": target,
            "cell_ids": cell_ids,
            "meta": pc.take(pa.array(b.metas, pa.string()), pa.array(b.m_idx)),
            "prompt_ids": lists[0],
            "target_ids": lists[1],
            "n_tokens": pa.array(n_tok),
        },
        schema=SCHEMA,
    )


def warm_up() -> None:
    """What a render worker's first batch would otherwise pay after the plan (0.45 s of 0.6 s measured at
    200k cells), paid while the plan still runs: pyarrow imports pandas on its first ``pa.array`` of a numpy
    array, and numba builds its typing context and loads the assembler from its cache (with the
    signature :meth:`TokenSpace.table` calls it with: every array C-contiguous and writable)."""
    pa.array(np.zeros(1, np.int32))
    z = {t: np.zeros(0, dtype) for t, dtype in (("q", np.int64), ("i", np.int32), ("b", np.uint8))}
    _assemble(*(z[t] for t in "qqqqiqqqiqbqiqbqqqqiibb"))
