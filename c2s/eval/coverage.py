"""Gene coverage: how many of a dataset's genes the model's tokenizer knows, said before any generation.

A tokenizer with gene tokens (c2s's gene tokenizer, or a base tokenizer with ``add_genes``) knows a gene when
``" GENE"`` is one of its tokens: a gene it lacks is spelled in byte pieces the model never saw as a gene, and
never generated as one. A sub-word tokenizer (a base model's, no gene tokens) knows a gene when its pieces encode
without the unknown token. Below ``LOW`` the log warns and names the likely causes with their fixes; a case
mismatch (``Cd3e`` against ``CD3E``) is detected by case-folding and named with the option that fixes it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field

log = logging.getLogger(__name__)
LOW = 0.5  # below this share of known genes, warn
ENSEMBL = re.compile(r"ENS[A-Z]*G\d{6,}")


def gene_tokens(tokenizer) -> set[str]:
    """The genes the tokenizer holds as whole tokens (its added ``" GENE"`` tokens)."""
    return {t[1:] for t in tokenizer.get_added_vocab() if t.startswith(" ") and len(t) > 1 and " " not in t[1:]}


@dataclass
class GeneCoverage:
    """``n_known`` of ``n_genes`` genes are in the model's vocabulary (``mode``: ``whole`` gene tokens or
    ``subword`` pieces); ``n_known_ignoring_case``: as many would be with case ignored; ``missing``: up to 5."""

    n_genes: int
    n_known: int
    n_known_ignoring_case: int
    mode: str
    missing: list[str] = field(default_factory=list)
    n_ensembl: int = 0

    @property
    def fraction(self) -> float:
        return self.n_known / self.n_genes if self.n_genes else 1.0

    def line(self) -> str:
        how = "as whole gene tokens" if self.mode == "whole" else "as sub-words without unknown tokens"
        text = (
            f"{self.n_known} of {self.n_genes} genes ({100 * self.fraction:.1f}%) are in the model's vocabulary ({how})"
        )
        return text + (f"; missing e.g. {', '.join(self.missing)}" if self.missing else "")

    def causes(self) -> list[str]:
        """Likely causes of a low coverage, each with its fix (empty when coverage is fine)."""
        if self.fraction >= LOW:
            return []
        out = []
        if self.n_known_ignoring_case >= max(2 * self.n_known, self.n_known + 0.2 * self.n_genes):
            out.append(
                f"case: {self.n_known_ignoring_case} of {self.n_genes} genes match when case is ignored (e.g. Cd3e "
                "against CD3E); evaluate with gene_case=match_model (each gene takes the model's spelling), or "
                "gene_case=upper for a model trained on upper-case symbols (prompt_format=c2s_scale upper-cases)"
            )
        if self.n_ensembl > self.n_genes // 2:
            out.append(
                f"ids: {self.n_ensembl} genes are Ensembl ids, not symbols; set data.gene_key=<the var column of "
                "gene symbols>"
            )
        out += [
            "organism: a model trained on one organism's symbols cannot read the other's (set data.organism and "
            "use a model trained on it)",
            "gene panel: the model was trained on other genes (a targeted panel, another platform); fine-tune it "
            "on this data, or evaluate a model that knows these genes",
        ]
        return out

    def report(self) -> dict:
        return {**asdict(self), "fraction": self.fraction, "causes": self.causes()}

    def log(self, what: str) -> None:
        """Log the coverage line, and below ``LOW`` a warning with the causes and fixes."""
        log.info("Gene coverage of %s: %s.", what, self.line())
        if self.causes():
            log.warning(
                "LOW GENE COVERAGE (%s): %s. Prompts show genes the model does not know and references name genes "
                "it cannot produce, so scores will be near zero whatever the model. Likely causes: %s.",
                what,
                self.line(),
                "; ".join(self.causes()),
            )


def gene_coverage(tokenizer, genes: list[str], examples: int = 5) -> GeneCoverage:
    """How many of ``genes`` the tokenizer knows (see the module docstring). O(len(genes))."""
    genes = [str(g) for g in genes]
    known_tokens = gene_tokens(tokenizer)
    if known_tokens:
        known = [g in known_tokens for g in genes]
        folded = {t.casefold() for t in known_tokens}
        mode = "whole"
    else:
        unk = tokenizer.unk_token_id
        ids = tokenizer([" " + g for g in genes], add_special_tokens=False)["input_ids"] if genes else []
        known = [bool(i) and (unk is None or unk not in i) for i in ids]
        folded = {g.casefold() for g, k in zip(genes, known) if k}
        mode = "subword"
    ignoring_case = sum(k or g.casefold() in folded for g, k in zip(genes, known))
    return GeneCoverage(
        n_genes=len(genes),
        n_known=int(sum(known)),
        n_known_ignoring_case=int(ignoring_case),
        mode=mode,
        missing=[g for g, k in zip(genes, known) if not k][:examples],
        n_ensembl=sum(bool(ENSEMBL.fullmatch(g)) for g in genes),
    )


def match_case(genes: list[str], tokenizer) -> tuple[list[str], int]:
    """``genes`` respelled as the tokenizer's gene tokens of the same letters, ignoring case (the first such token
    in sorted order when several differ only in case); (names, how many were respelled). A gene already known, or
    with no such token, keeps its name; a respelling that would repeat a name already in ``genes`` is skipped."""
    tokens = gene_tokens(tokenizer)
    by_fold: dict[str, str] = {}
    for t in sorted(tokens):
        by_fold.setdefault(t.casefold(), t)
    taken, out, n = set(genes), [], 0
    for g in genes:
        new = by_fold.get(g.casefold())
        if g in tokens or new is None or new in taken:
            out.append(g)
            continue
        taken.add(new)
        out.append(new)
        n += 1
    return out, n
