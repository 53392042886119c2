"""Gene-aware tokenizer: one token per gene, lossless, loads with AutoTokenizer."""

import numpy as np
from transformers import AutoTokenizer

from c2s.tokenizer import tokenizer_id, train_byte_bpe, train_gene_tokenizer


def test_one_token_per_gene_and_lossless(pbmc_corpus, tmp_path):
    cs = pbmc_corpus.sentences
    sentences = cs.render(range(200))
    genes = [str(g) for g in cs.gene_names]
    texts = ["Predict the cell type of this human cell:", "List 100 genes of a human cell."] * 20
    tok = train_gene_tokenizer(texts, genes, text_vocab_size=500)
    # every gene in a rendered text follows a space (c2s.tasks.render), so " GENE" is one token
    n_tok = sum(len(tok(" " + s, add_special_tokens=False).input_ids) for s in sentences)
    n_genes = sum(len(s.split()) for s in sentences)
    assert n_tok == n_genes
    mixed = "Cell 1: " + sentences[0] + "\nWhat is its cell type? CD14+ Monocyte, naïve T"
    ids = tok(mixed, add_special_tokens=False).input_ids
    assert tok.decode(ids) == mixed
    tok.save_pretrained(tmp_path / "tok")
    again = AutoTokenizer.from_pretrained(tmp_path / "tok")
    assert again(mixed, add_special_tokens=False).input_ids == ids
    assert tokenizer_id(again) == tokenizer_id(tok)
    assert len(tok) <= 4 + 256 + 500 + len(genes)  # one added token per gene
    assert {again.pad_token, again.bos_token, again.eos_token} == {"<pad>", "<s>", "</s>"}


def test_byte_bpe_baseline_splits_genes(pbmc_corpus):
    sentences = pbmc_corpus.sentences.render(range(100))
    tok = train_byte_bpe(sentences, vocab_size=600)
    per_gene = np.mean([len(tok(s).input_ids) / len(s.split()) for s in sentences])
    assert per_gene > 1.2
    assert tok.decode(tok(sentences[0]).input_ids) == sentences[0]
