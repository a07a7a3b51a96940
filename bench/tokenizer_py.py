"""Python side of bench/tokenizer.ts: Hugging Face's fast (Rust) BertTokenizerFast, batch encode.

  python bench/tokenizer_py.py MODEL_DIR NSMC_FILE MAX_LENGTH [SLOW_SAMPLE]

Reads the file the same simple way as the TypeScript side (lines, tab-split, field 2), tokenizes all
sentences in one batch call with truncation=True, max_length=MAX_LENGTH, twice, and prints one JSON line.
With SLOW_SAMPLE > 0 it also times the slow (pure Python) BertTokenizer, the one the book uses, on
that many sentences.
"""
import json
import os
import sys
import time

import tokenizers
import transformers
from transformers import BertTokenizerFast

model_dir, nsmc_file, max_length = sys.argv[1], sys.argv[2], int(sys.argv[3])
slow_sample = int(sys.argv[4]) if len(sys.argv) > 4 else 0

with open(nsmc_file, encoding="utf-8") as f:
    texts = [line.split("\t")[1] for line in f.read().split("\n")[1:] if line]

t0 = time.perf_counter()
vocab_file = os.path.join(model_dir, "vocab.txt")
if int(transformers.__version__.split(".")[0]) >= 5:
    from transformers.models.bert.tokenization_bert import load_vocab

    fast = BertTokenizerFast(vocab=load_vocab(vocab_file), do_lower_case=False)
else:
    fast = BertTokenizerFast(vocab_file=vocab_file, do_lower_case=False)
load_ms = (time.perf_counter() - t0) * 1000

runs = []
ids = 0
for _ in range(2):
    t0 = time.perf_counter()
    enc = fast(texts, truncation=True, max_length=max_length)
    runs.append(time.perf_counter() - t0)
    ids = sum(len(x) for x in enc["input_ids"])

result = {
    "tokenizer": "BertTokenizerFast (Rust), one batch call",
    "sentences": len(texts),
    "ids": ids,
    "seconds": round(runs[0], 3),
    "sentencesPerSec": round(len(texts) / runs[0]),
    "secondRunSentencesPerSec": round(len(texts) / runs[1]),
    "loadMs": round(load_ms, 1),
    "transformers": transformers.__version__,
    "tokenizers": tokenizers.__version__,
    "python": sys.version.split()[0],
    "rayonThreads": os.environ.get("RAYON_NUM_THREADS", "default (all cores)"),
}

if slow_sample > 0:
    try:
        from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy as Slow
    except ImportError:
        from transformers import BertTokenizer as Slow
    slow = Slow(vocab_file=vocab_file, do_lower_case=False)
    sample = texts[:slow_sample]
    t0 = time.perf_counter()
    slow(sample, truncation=True, max_length=max_length)
    dt = time.perf_counter() - t0
    result["slow"] = {"tokenizer": f"{Slow.__name__} (pure Python, the book's)", "sentences": len(sample),
                      "sentencesPerSec": round(len(sample) / dt)}

print(json.dumps(result))
