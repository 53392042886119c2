"""Tokenizers: a gene-aware one trained locally, or a base model's (optionally + gene tokens).

Gene-aware tokenizer: BPE over Metaspace pre-tokenization for text, plus every gene symbol that
occurs as one added token ``" GENE"``. Every gene in a rendered text follows a space (see
c2s.tasks.render), so one token per gene suffices and decoding is lossless.
(``AddedToken(single_word=True)`` would cost a separate space token per gene; a byte-level BPE
splits ``CD3D`` into ~2.4 tokens.) Added tokens are matched before BPE, leftmost-longest, so
``CD3`` never shadows ``CD3D``.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Callable, Iterable, Sequence

from c2s.config.prepare import TokenizerConfig
from c2s.corpus.corpus import gene_usage
from c2s.errors import C2SInputError

log = logging.getLogger(__name__)
SPECIALS = {"pad_token": "<pad>", "unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>"}


def import_hf() -> None:
    """Import what :func:`wrap` needs (~1 s), e.g. while this process waits on another."""
    from transformers import PreTrainedTokenizerFast  # noqa: F401


def wrap(tok):
    """A trained ``tokenizers.Tokenizer`` as a ``transformers.PreTrainedTokenizerFast``."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIALS)


def train_gene_tokenizer(texts: Iterable[str], genes: Sequence[str], text_vocab_size: int = 2048):
    """:func:`train_gene_backend`, as a ``transformers.PreTrainedTokenizerFast``."""
    return wrap(train_gene_backend(texts, genes, text_vocab_size))


def train_gene_backend(texts: Iterable[str], genes: Sequence[str], text_vocab_size: int = 2048):
    """Train BPE on ``texts`` (gene tokens excluded) and add each gene as one token.

    Returns a ``tokenizers.Tokenizer``; its vocabulary is at most ``text_vocab_size`` BPE
    entries, 256 byte-fallback tokens, 4 specials and len(genes) gene tokens.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

    genes = [str(g) for g in genes]
    gene_set = set(genes)
    tok = Tokenizer(models.BPE(unk_token=SPECIALS["unk_token"], byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tok.decoder = decoders.Sequence(
        [decoders.ByteFallback(), decoders.Metaspace(replacement="▁", prepend_scheme="first")]
    )
    # <0xNN> byte tokens in the model vocab: any character outside the learned merges still
    # round-trips (byte fallback) instead of becoming <unk>.
    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    trainer = trainers.BpeTrainer(
        vocab_size=text_vocab_size + len(byte_tokens),
        special_tokens=list(SPECIALS.values()) + byte_tokens,
        show_progress=False,
        min_frequency=2,
    )
    # train on the text around the genes; genes are added afterwards as whole tokens
    tok.train_from_iterator((" ".join(w for w in t.split(" ") if w not in gene_set) for t in texts), trainer)
    tok.add_tokens([AddedToken(" " + g, normalized=False) for g in genes])
    return tok


def train_byte_bpe(texts: Iterable[str], vocab_size: int):
    """:func:`train_byte_backend`, as a ``transformers.PreTrainedTokenizerFast``."""
    return wrap(train_byte_backend(texts, vocab_size))


def train_byte_backend(texts: Iterable[str], vocab_size: int):
    """A GPT-2-style byte-level BPE trained on the same texts: the baseline (``tokenizers.Tokenizer``)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIALS.values()),
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts, trainer)
    return tok


def load_tokenizer(name_or_path: str, add_genes: Sequence[str] = (), trust_remote_code: bool = False):
    """A base model's tokenizer (hub id or local dir), optionally with genes added as tokens.

    Missing pad/bos/eos are set from what the tokenizer has (pad falls back to eos).
    """
    from tokenizers import AddedToken
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise C2SInputError(
            f"Could not load a tokenizer from {name_or_path!r} ({exc}). Offline, give a local directory "
            "that holds tokenizer.json / tokenizer_config.json, or use tokenizer.kind=gene."
        ) from exc
    if tok.eos_token is None:
        raise C2SInputError(
            f"Tokenizer {name_or_path!r} has no EOS token; generation needs one. Set tokenizer.kind=gene."
        )
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if add_genes:
        n = tok.add_tokens([AddedToken(" " + g, normalized=False) for g in add_genes])
        log.info("Added %d gene tokens to %s (resize the model's embeddings).", n, name_or_path)
    return tok


def tokenizer_id(tokenizer) -> str:
    """Content hash of a tokenizer (its serialised ``tokenizer.json``): identifies it in manifests."""
    return hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode()).hexdigest()[:16]


def build_tokenizer(t: TokenizerConfig, seed: int, corpora, tasks, sample: int = 2000):
    """The tokenizer a prepare config asks for, trained on a bounded, seeded sample: the first
    ``sample`` train skeletons of every task and corpus (gene lists removed for kind=gene).
    Gene vocabulary: genes that occur in some sentence, plus gene-set members.

    Trained kinds return a ``tokenizers.Tokenizer`` (see :func:`wrap`: the prepare plan leaves
    transformers' 0.55 s import to a later step); kind=pretrained a transformers tokenizer."""
    if t.kind not in TOKENIZERS:
        raise C2SInputError(f"tokenizer.kind={t.kind!r} is not one of: {', '.join(TOKENIZERS)}.")
    names, counts = gene_usage(corpora)
    in_sets = {g for c in corpora for genes in c.gene_sets.values() for g in genes}
    genes = [g for g, n in zip(names, counts) if n > 0 or g in in_sets]
    # a pretrained tokenizer learns nothing here; byte-level BPE learns the full text, the gene one the skeletons
    texts = [] if t.kind == "pretrained" else _sample_texts(corpora, tasks, seed, sample, t.kind == "byte_bpe")
    return TOKENIZERS[t.kind](t, texts, genes)


def _sample_texts(corpora, tasks, seed: int, sample: int, full_text: bool) -> list[str]:
    """Prompts and targets of the first ``sample`` train records of every task and corpus: the full text, or
    (``full_text=False``) the skeletons with their gene lists removed."""
    import re

    from c2s.tasks.render import SENT, batches, examples

    texts: list[str] = []
    gene_list = re.compile(" ?" + SENT)
    for corpus in corpora:
        for task in tasks:
            if task.missing(corpus):
                continue
            left = sample
            for b in batches(corpus, task, "train", seed):
                m = min(b.n, left)
                if full_text:
                    texts += [
                        x for e in examples(corpus, task.name, "train", b, list(range(m))) for x in (e.prompt, e.target)
                    ]
                else:  # each distinct skeleton stripped once, then listed per record
                    p, t = ([gene_list.sub("", x) for x in xs] for xs in (b.prompts, b.targets))
                    texts += [x for i in range(m) for x in (p[b.p_idx[i]], t[b.t_idx[i]])]
                left -= m
                if not left:
                    break
    return texts


def _gene(t: TokenizerConfig, texts: list[str], genes: list[str]):
    return train_gene_backend(texts, genes, text_vocab_size=t.text_vocab_size)


def _byte_bpe(t: TokenizerConfig, texts: list[str], genes: list[str]):
    """The baseline: GPT-2-style byte-level BPE with the gene tokenizer's vocabulary size."""
    return train_byte_backend(texts, vocab_size=t.text_vocab_size + len(genes))


def _pretrained(t: TokenizerConfig, texts: list[str], genes: list[str]):
    if not t.name_or_path:
        raise C2SInputError("tokenizer.kind=pretrained needs tokenizer.name_or_path (a hub id or local dir).")
    return load_tokenizer(t.name_or_path, add_genes=genes if t.add_genes else ())


# tokenizer.kind -> builder(tokenizer config, sampled texts, gene vocabulary)
TOKENIZERS: dict[str, Callable[[TokenizerConfig, list[str], list[str]], Any]] = {
    "gene": _gene,
    "byte_bpe": _byte_bpe,
    "pretrained": _pretrained,
}
