"""Streaming DataModule: exactly-once across ranks × workers, mid-epoch resume, labels, weights."""

from collections import Counter

import numpy as np
import pytest
import torch

from c2s.data.datamodule import C2SDataModule, ResumableLoader
from c2s.data.packing import pack, select_epoch
from c2s.errors import C2SInputError


def _dm(shards, **kw):
    args = dict(shards_dir=str(shards), max_seq_len=1024, batch_size=2, num_workers=2, seed=0)  # none longer
    args.update(kw)
    dm = C2SDataModule(**args)
    dm.setup()
    return dm


def _ids(batches):
    return [ex for b in batches if not b["is_padding"] for ex in b["example_ids"]]


def test_exactly_once_two_ranks_two_workers(synthetic_shards):
    dm = _dm(synthetic_shards)
    n = len(dm.index("train"))
    seen, steps = [], []
    for rank in (0, 1):
        loader = ResumableLoader(dm.stream("train", rank=rank, world_size=2), num_workers=2)
        batches = list(loader)
        steps.append(len(batches))
        seen += _ids(batches)
    assert steps[0] == steps[1], "ranks must run the same number of steps"
    assert Counter(seen) == Counter(range(n)), "every example exactly once per epoch"


def test_resume_mid_epoch_yields_the_rest(synthetic_shards):
    dm = _dm(synthetic_shards)
    full = ResumableLoader(dm.stream("train"), num_workers=2)
    reference = list(full)
    assert len(reference) > 6
    first = ResumableLoader(dm.stream("train"), num_workers=2)
    it = iter(first)
    for _ in range(5):
        next(it)
    state = first.state_dict()
    assert state == {"epoch": 0, "consumed": 5}
    resumed = ResumableLoader(dm.stream("train"), num_workers=2)
    resumed.load_state_dict(state)
    rest = list(resumed)
    assert [b["batch_index"] for b in rest] == [b["batch_index"] for b in reference[5:]]
    for a, b in zip(rest, reference[5:]):
        assert torch.equal(a["input_ids"], b["input_ids"]) and torch.equal(a["labels"], b["labels"])


def test_epochs_differ_and_are_seeded(synthetic_shards):
    dm = _dm(synthetic_shards, num_workers=0)
    loader = ResumableLoader(dm.stream("train"), num_workers=0)
    e0, e1 = _ids(list(loader)), _ids(list(loader))
    assert e0 != e1 and sorted(e0) == sorted(e1)
    again = ResumableLoader(_dm(synthetic_shards, num_workers=0).stream("train"), num_workers=0)
    assert _ids(list(again)) == e0


@pytest.mark.parametrize("mode", ["pretrain", "sft"])
def test_labels_and_segments(synthetic_shards, mode):
    dm = _dm(synthetic_shards, mode=mode, num_workers=0)
    idx = dm.index("train")
    tok = dm.tokenizer
    batch = next(iter(ResumableLoader(dm.stream("train"), num_workers=0)))
    ids, labels, seg, pos = batch["input_ids"], batch["labels"], batch["segment_ids"], batch["position_ids"]
    exs = iter(batch["example_ids"])
    for r in range(ids.shape[0]):
        for s in range(1, int(seg[r].max()) + 1):
            ex = next(exs)
            m = seg[r] == s
            p, t = idx.tokens(ex)
            expect = np.concatenate([[tok.bos_token_id], p, t, [tok.eos_token_id]])
            assert ids[r][m].tolist() == expect.tolist()
            assert pos[r][m].tolist() == list(range(expect.size))
            lab = labels[r][m]
            start = 1 if mode == "pretrain" else 1 + p.size  # never predict across an example boundary
            assert (lab[:start] == -100).all() and lab[start:].tolist() == expect[start:].tolist()
        assert (labels[r][seg[r] == 0] == -100).all() and (ids[r][seg[r] == 0] == tok.pad_token_id).all()


def test_weights_are_multipliers(synthetic_shards):
    dm = _dm(synthetic_shards, weights={"cell_type_annotation": 2.0, "cell_lm": 0.5}, default_weight=0.0, num_workers=0)
    idx = dm.index("train")
    tasks = np.asarray(dm.tasks)[idx.task_ids[_ids(list(ResumableLoader(dm.stream("train"), num_workers=0)))]]
    c = Counter(tasks.tolist())
    n_ct = int((np.asarray(dm.tasks)[idx.task_ids] == "cell_type_annotation").sum())
    assert set(c) == {"cell_type_annotation", "cell_lm"}
    assert c["cell_type_annotation"] == 2 * n_ct and c["cell_lm"] == round(0.5 * n_ct)


def test_unknown_mix_task_and_all_zero(synthetic_shards, caplog):
    with pytest.raises(C2SInputError, match="unknown task.*no_such_task"):
        _dm(synthetic_shards, weights={"no_such_task": 1.0})
    with pytest.raises(C2SInputError, match="weight 0"):
        _dm(synthetic_shards, default_weight=0.0)
    # a known task these shards lack (qa: no data.qa_path) is skipped with a warning, unless nothing is left
    dm = _dm(synthetic_shards, weights={"qa": 1.0, "cell_lm": 1.0}, default_weight=0.0)
    assert "qa" not in dm.tasks and "['qa']" in caplog.text
    with pytest.raises(C2SInputError, match="absent: \\['qa'\\]"):
        _dm(synthetic_shards, weights={"qa": 1.0}, default_weight=0.0)


def test_packing_respects_length_and_is_efficient():
    rng = np.random.default_rng(0)
    lengths = rng.integers(50, 400, size=2000)
    order = select_epoch(np.zeros(2000, dtype=np.int16), np.ones(1), 0, 0)
    packs = pack(order, lengths, 2048)
    assert sorted(e for p in packs for e in p) == list(range(2000))
    assert all(lengths[p].sum() <= 2048 for p in packs)
    assert lengths.sum() / (len(packs) * 2048) > 0.95


@pytest.mark.parametrize("n, batch_size, slots", [(2000, 4, 3), (37, 8, 4), (5, 2, 1), (0, 4, 2)])
def test_epoch_plan_arrays_equal_the_list_plan(n, batch_size, slots):
    """The array plan the stream uses yields exactly the batches of the list-of-lists plan,
    padding batches and per-slot dealing included."""
    from c2s.data.packing import Batch, EpochPlan, pack_arrays

    def plan_batches(packs, batch_size, slots):  # the list plan the stream used before, as the reference
        batches = [
            Batch(i, tuple(tuple(p) for p in packs[s : s + batch_size]))
            for i, s in enumerate(range(0, len(packs), batch_size))
        ]
        n_real = len(batches)
        for j in range((-n_real) % slots if n_real else 0):
            batches.append(Batch(n_real + j, batches[j % n_real].packs, is_padding=True))
        return batches

    def slot_batches(batches, rank, world_size, worker, workers):
        return batches[rank * workers + worker :: world_size * workers]

    lengths = np.random.default_rng(n).integers(50, 900, size=max(n, 1))
    order = select_epoch(np.zeros(n, dtype=np.int16), np.ones(1), 0, 0)
    expected = plan_batches(pack(order, lengths, 2048), batch_size, slots)
    plan = EpochPlan(*pack_arrays(order, lengths, 2048), batch_size, slots)
    assert len(plan) == len(expected) and [plan[i] for i in range(len(plan))] == expected
    for w in range(slots):  # one rank, ``slots`` workers
        assert [plan[i] for i in plan.slot(0, 1, w, slots)] == slot_batches(expected, 0, 1, w, slots)


def test_budgets_in_tokens_and_examples_match_the_epoch_plan(synthetic_shards):
    """A token or example budget becomes ceil(budget / per-step mean) steps; the means come from epoch 0."""
    from c2s.config.stage import StageConfig
    from c2s.training.budget import resolve_budget

    dm = _dm(synthetic_shards, num_workers=0)
    stream = dm.stream("train", rank=0, world_size=1)
    plan = stream.plan(0)
    n_examples = len(dm.index("train"))
    tokens = float(stream.index.lengths[plan.examples].sum())
    epoch = resolve_budget(StageConfig(max_epochs=1, batch_size=2, max_seq_len=1024), dm, 1)
    assert epoch.examples_per_step * epoch.schedule_steps == pytest.approx(n_examples)
    assert epoch.tokens_per_step * epoch.schedule_steps == pytest.approx(tokens)
    half = resolve_budget(StageConfig(max_examples=n_examples // 2, batch_size=2, max_seq_len=1024), dm, 1)
    assert half.max_steps == int(np.ceil(n_examples // 2 / epoch.examples_per_step))
    by_tokens = resolve_budget(StageConfig(max_tokens=int(tokens // 2), batch_size=2, max_seq_len=1024), dm, 1)
    assert by_tokens.max_steps == int(np.ceil(int(tokens // 2) / epoch.tokens_per_step))
    with pytest.raises(ValueError, match="max_examples=0 must be positive"):
        StageConfig(max_examples=0)


def test_stream_process_imports_neither_pyarrow_numba_nor_the_tasks(synthetic_shards):
    """They cost a stream process and each loader worker ~100 MB of RSS together (measured
    with benchmarks/prepare_scale.py); the stream reads only manifests, lengths and token files."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from c2s.data.datamodule import C2SDataModule\n"
        f"dm = C2SDataModule(shards_dir={str(synthetic_shards)!r}, max_seq_len=512, batch_size=2)\n"
        "batch = next(iter(dm.train_dataloader()))\n"
        "assert batch['n_tokens'] > 0\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pyarrow', 'numba', 'hydra'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


def test_index_widens_lengths_and_cells_past_uint16(synthetic_shards, tmp_path):
    """The index keeps lengths and cell counts in 16 bits while they fit; a 70,000-token
    prompt or a 70,000-cell sample widens them instead of wrapping around."""
    import shutil

    from c2s.data.shards import ShardSet
    from c2s.data.stream import TokenIndex

    d = shutil.copytree(synthetic_shards, tmp_path / "shards")
    shards = ShardSet(d, verify=False)
    files = shards.files("train")
    lengths_file = str(files[1]).removesuffix(".parquet") + ".lengths.npy"
    n = np.load(lengths_file)
    n[0, 0], n[0, 2] = 70_000, 70_000
    np.save(lengths_file, n)
    tasks = sorted({shards.task_of(f) for f in files})
    idx = TokenIndex.from_shards(shards, "train", tasks)
    every = np.concatenate([np.load(str(f).removesuffix(".parquet") + ".lengths.npy") for f in files]).astype(np.int64)
    np.testing.assert_array_equal(idx.lengths, every[:, 0] + every[:, 1] + 2)
    np.testing.assert_array_equal(idx.n_cells, every[:, 2])
    first = len(np.load(str(files[0]).removesuffix(".parquet") + ".lengths.npy"))
    assert idx.lengths[first] == 70_000 + n[0, 1] + 2
    assert idx.starts[first + 1] == 70_000 + n[0, 1]  # the next example's offset in that file
