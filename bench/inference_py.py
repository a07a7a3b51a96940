"""Python's side of bench/inference.ts: the same model folder and the same sentences through
transformers' AutoTokenizer (fast, Rust) + AutoModelForSequenceClassification in eval mode
under torch.inference_mode(), softmax included, as a user would write it.

Throughput: all sentences at each batch size, in input order (the usual loop: chunks of the
list, padded to the longest in the chunk) and sorted by token length (what our predict does
inside; the tokenizing that sorting needs is timed too). Latency: one sentence per call.

Usage: python bench/inference_py.py --model DIR --texts FILE.json --batch-sizes 1,32,128
          [--throughput 5000] [--latency 200] [--check 100] [--threads 2] [--max-length 128]
Prints one JSON line.
"""
import argparse
import json
import os
import statistics
import time

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--model', required=True)
    p.add_argument('--texts', required=True)
    p.add_argument('--batch-sizes', default='1,32,128')
    for name, default in [('throughput', 5000), ('latency', 200), ('check', 100), ('threads', 2), ('max-length', 128), ('warmup', 10)]:
        p.add_argument(f'--{name}', type=int, default=default)
    p.add_argument('--no-sorted', action='store_true', help='skip the length-sorted throughput runs')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    texts = json.load(open(a.texts, encoding='utf-8'))

    t0 = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForSequenceClassification.from_pretrained(a.model).eval()
    load_ms = (time.perf_counter() - t0) * 1000

    def batch_probs(chunk):
        enc = tokenizer(chunk, padding=True, truncation=True, max_length=a.max_length, return_tensors='pt')
        logits = model(**enc).logits
        return logits, torch.softmax(logits, dim=-1)

    def predict(items, batch_size, sort):
        order = list(range(len(items)))
        if sort:
            lengths = [len(ids) for ids in tokenizer(items, truncation=True, max_length=a.max_length)['input_ids']]
            order.sort(key=lambda i: (-lengths[i], i))
        out = [None] * len(items)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                logits, probs = batch_probs([items[i] for i in rows])
                for r, i in enumerate(rows):
                    out[i] = (logits[r].tolist(), probs[r, 1].item())
        return out

    def timed(fn):
        w, c = time.perf_counter(), time.process_time()
        fn()
        return time.perf_counter() - w, time.process_time() - c

    work = texts[:a.throughput]
    throughput = []
    for bs in [int(x) for x in a.batch_sizes.split(',') if x]:
        for sort in ([False] if a.no_sorted else [False, True]):
            predict(work[:max(2 * bs, 64)], bs, sort)  # warm-up
            wall, cpu = timed(lambda: predict(work, bs, sort))
            throughput.append({'batchSize': bs, 'order': 'sorted' if sort else 'input', 'sentences': len(work), 'seconds': round(wall, 3),
                               'sentencesPerSec': round(len(work) / wall, 1), 'cpuSeconds': round(cpu, 3)})

    latency = None
    if a.latency > 0:
        for t in texts[:a.warmup]:
            predict([t], 1, False)
        wall, cpu = [], []
        for t in texts[:a.latency]:
            w, c = timed(lambda: predict([t], 1, False))
            wall.append(w * 1000)
            cpu.append(c * 1000)
        q = statistics.quantiles(wall, n=20, method='inclusive')
        latency = {'n': len(wall), 'p50Ms': round(statistics.median(wall), 2), 'p95Ms': round(q[18], 2), 'meanMs': round(statistics.fmean(wall), 2),
                   'cpuP50Ms': round(statistics.median(cpu), 2)}

    check = predict(texts[:a.check], 32, False) if a.check > 0 else []
    print(json.dumps({
        'runtime': f'transformers + torch {torch.__version__}',
        'threads': torch.get_num_threads(),
        'attention': getattr(model.config, '_attn_implementation', None),
        'loadMs': round(load_ms, 1),
        'throughput': throughput,
        'latency': latency,
        'checkLogits': [row[0] for row in check],
        'loadavg': [round(x, 2) for x in os.getloadavg()],
    }))


if __name__ == '__main__':
    main()
