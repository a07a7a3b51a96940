"""One PyTorch training step of BertForSequenceClassification, timed: the reference
for `nlpbook bench train` (bench/train-vs-pytorch.ts runs both).

Same work as ours: random init, train mode (dropout on), the same batch recipe
(src/bench/train-bench.ts benchBatch), cross-entropy, backward, clip_grad_norm_(1.0),
torch.optim.AdamW (lr 5e-5, eps 1e-6, weight decay 0.01 except biases and LayerNorm
weights) with the linear warmup schedule, zero_grad. Threads: --threads (default 2).

Usage: python bench/train_pytorch.py --layers 2 --hidden 128 --heads 2 --intermediate 512 \
          --vocab 30000 --batch 32 --seq 64 --steps 10 [--warmup 3] [--threads 2] [--full-mask]
Prints one JSON line: msPerStep (median wall), minMs, cpuMsPerStep (median process CPU), ...
"""
import argparse
import json
import os
import statistics
import time

import torch
from transformers import BertConfig, BertForSequenceClassification, get_linear_schedule_with_warmup


def bench_batch(batch, seq, vocab, full_mask=False):
    ids, mask, labels = [], [], []
    for b in range(batch):
        n = seq if full_mask else seq - (b * seq) // (2 * batch)
        ids.append([2 if i == 0 else (5 + ((b * 7919 + i * 104729) % (vocab - 5)) if i < n else 0) for i in range(seq)])
        mask.append([1 if i < n else 0 for i in range(seq)])
        labels.append(b % 2)
    return torch.tensor(ids), torch.tensor(mask), torch.tensor(labels)


def main():
    p = argparse.ArgumentParser()
    for name, default in [('layers', 2), ('hidden', 128), ('heads', 2), ('intermediate', 512), ('vocab', 30000),
                          ('batch', 32), ('seq', 64), ('steps', 10), ('warmup', 3), ('threads', 2), ('seed', 1)]:
        p.add_argument(f'--{name}', type=int, default=default)
    p.add_argument('--full-mask', action='store_true', help='attention mask all ones (no padded tail)')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    config = BertConfig(vocab_size=a.vocab, hidden_size=a.hidden, num_hidden_layers=a.layers, num_attention_heads=a.heads,
                        intermediate_size=a.intermediate, max_position_embeddings=max(300, a.seq), num_labels=2)
    model = BertForSequenceClassification(config)
    model.train()
    no_decay = ('bias', 'LayerNorm.weight')
    groups = [
        {'params': [p for n, p in model.named_parameters() if not n.endswith(no_decay)], 'weight_decay': 0.01},
        {'params': [p for n, p in model.named_parameters() if n.endswith(no_decay)], 'weight_decay': 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=5e-5, eps=1e-6)
    total = a.warmup + a.steps + 1
    sched = get_linear_schedule_with_warmup(opt, int(total * 0.1 + 0.999999), total)
    ids, mask, labels = bench_batch(a.batch, a.seq, a.vocab, a.full_mask)
    types = torch.zeros_like(ids)
    wall, cpu = [], []
    for i in range(a.warmup + a.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        out = model(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        out.loss.item()
        ms, cms = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
        if i >= a.warmup:
            wall.append(ms)
            cpu.append(cms)
    med = statistics.median_high(wall)
    print(json.dumps({
        'msPerStep': round(med, 2), 'tokensPerSec': round(a.batch * a.seq / (med / 1000)), 'medianMs': round(med, 2),
        'minMs': round(min(wall), 2), 'cpuMsPerStep': round(statistics.median_high(cpu), 2),
        'backend': f'torch {torch.__version__}', 'threads': torch.get_num_threads(),
        'attention': getattr(model.config, '_attn_implementation', None),
        'shape': {k: getattr(a, k) for k in ('layers', 'hidden', 'heads', 'intermediate', 'vocab', 'batch', 'seq')},
        'fullMask': a.full_mask, 'steps': a.steps, 'warmupSteps': a.warmup, 'params': sum(p.numel() for p in model.parameters()),
        'loadavg': [round(x, 2) for x in os.getloadavg()],
    }))


if __name__ == '__main__':
    main()
