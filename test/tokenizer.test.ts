import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { NlpbookError } from '../src/util/errors';
import { sha256, sha256File } from '../src/util/fsutil';
import { BertTokenizer, readTokenizerConfig, readVocab, summarizeLengths, tokenLengths, tokenizerJsonText, writeTokenizerJson } from '../src/tokenizer/tokenizer';
import { FIXTURES, KCBERT_DIR, SHARED, jsonLines, runCli, tempDir } from './helpers';

// Made by scripts/fixtures/tokenizer.py with Python's slow BertTokenizer(vocab.txt, do_lower_case=False).
interface Case {
  src: string;
  text: string;
  ids: number[];
  tokens?: string[];
  trunc?: Record<string, number[]>; // only where truncation changes the ids
  decoded?: string;
  decodedSkip?: string;
  lowerIds?: number[]; // the same vocab with do_lower_case=True
  fastIds?: number[]; // where Python's own fast tokenizer differs from the slow one
}
const [header, ...rest] = fs.readFileSync(path.join(FIXTURES, 'tokenizer-kcbert.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const meta = header.meta;
const cases = rest as Case[];
const tokenizer = BertTokenizer.fromFolder(KCBERT_DIR);

/** A copy of the kcbert tokenizer files in a temp folder, with `edit` applied. */
const TMP = tempDir('nlpbook-tok-');
function kcbertCopy(edit: (dir: string) => void = () => {}): string {
  const dir = fs.mkdtempSync(path.join(TMP, 'model-'));
  for (const f of ['vocab.txt', 'tokenizer_config.json', 'config.json']) fs.copyFileSync(path.join(KCBERT_DIR, f), path.join(dir, f));
  edit(dir);
  return dir;
}

function throwsOneLine(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof NlpbookError, `expected NlpbookError, got ${e}`);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes('\n'), `one line expected: ${e.message}`);
    return true;
  });
}

test('the fixture was made from this vocab.txt and covers NSMC and the edge cases', () => {
  assert.equal(meta.vocabSha256, sha256File(path.join(KCBERT_DIR, 'vocab.txt')));
  assert.equal(cases.length, meta.cases);
  assert.ok(cases.length >= 2000, `${cases.length} cases`);
  assert.equal(cases.filter((c) => /^(train|test):\d+:empty$/.test(c.src)).length, 8); // 5 train + 3 test empty documents
  assert.equal(cases.filter((c) => /^(train|test):\d+:quoted$/.test(c.src)).length, 623 + 233);
  assert.ok(cases.some((c) => c.text.length > 5000 && c.ids.includes(tokenizer.unkTokenId)), 'a very long text with [UNK] words');
  assert.deepEqual(meta.maxLengths, [128, 32, 8]);
});

test('every fixture text gives Python\'s input_ids, untruncated and at max_length 128, 32 and 8', () => {
  let truncatedChecks = 0;
  for (const c of cases) {
    const full = tokenizer.encode(c.text);
    assert.deepEqual(full.inputIds, c.ids, `${c.src}: ${JSON.stringify(c.text).slice(0, 100)}`);
    assert.deepEqual(full.attentionMask, new Array(c.ids.length).fill(1), c.src);
    assert.deepEqual(full.tokenTypeIds, new Array(c.ids.length).fill(0), c.src);
    if (c.tokens) assert.deepEqual(full.tokens, c.tokens, c.src);
    for (const m of meta.maxLengths as number[]) {
      const expected = c.trunc?.[String(m)] ?? c.ids;
      if (c.trunc?.[String(m)]) truncatedChecks++;
      const e = tokenizer.encode(c.text, { maxLength: m });
      assert.deepEqual(e.inputIds, expected, `${c.src} at max_length ${m}`);
      assert.deepEqual(e.attentionMask, new Array(expected.length).fill(1), `${c.src} at max_length ${m}`);
    }
  }
  assert.ok(truncatedChecks > cases.length, `truncation exercised ${truncatedChecks} times`);
});

test('encodeBatch gives the same as encode, in order', () => {
  const some = cases.slice(0, 300);
  const batch = tokenizer.encodeBatch(some.map((c) => c.text), { maxLength: 32 });
  assert.deepEqual(batch.map((e) => e.inputIds), some.map((c) => c.trunc?.['32'] ?? c.ids));
});

test('tokenize gives the pieces without [CLS]/[SEP]; decode matches Python\'s decode', () => {
  let decodes = 0;
  for (const c of cases) {
    if (c.tokens) assert.deepEqual(tokenizer.tokenize(c.text), c.tokens.slice(1, -1), c.src);
    if (c.decoded === undefined) continue;
    decodes++;
    assert.equal(tokenizer.decode(c.ids), c.decoded, c.src);
    assert.equal(tokenizer.decode(c.ids, { skipSpecialTokens: true }), c.decodedSkip, c.src);
  }
  assert.ok(decodes >= 300, `${decodes} decodes`);
  assert.equal(tokenizer.decode([]), '');
});

test('where Python\'s fast tokenizer differs from the slow one, we follow the slow one', () => {
  // Decomposed Hangul jamo (NFC), unassigned code points, "[MA\u200bSK]" (cleaned to a special token).
  const differing = cases.filter((c) => c.fastIds);
  assert.ok(differing.length >= 3, differing.map((c) => c.src).join(', '));
  for (const c of differing) {
    assert.notDeepEqual(c.fastIds, c.ids);
    assert.deepEqual(tokenizer.encode(c.text).inputIds, c.ids, c.src);
  }
  const jamo = cases.find((c) => c.src === 'edge:conjoining-jamo') as Case;
  assert.deepEqual(tokenizer.tokenize(jamo.text), ['각', '한글']);
});

test('with do_lower_case=true the same vocab gives Python\'s ids too (one known difference)', () => {
  const lower = BertTokenizer.fromFolder(kcbertCopy((d) => fs.writeFileSync(path.join(d, 'tokenizer_config.json'), '{"do_lower_case": true}')));
  // Known: Python keeps "[MA\u200bSK]" whole (it becomes "[MASK]" after cleaning, before lowercasing);
  // here lowercasing runs first, so it is split like "[mask]". Not reachable with kcbert (cased).
  const known = ['edge:specials-zero-width'];
  const differs: string[] = [];
  for (const c of cases.filter((x) => x.lowerIds)) {
    const ids = lower.encode(c.text).inputIds;
    if (JSON.stringify(ids) !== JSON.stringify(c.lowerIds)) differs.push(c.src);
  }
  assert.deepEqual(differs, known);
  assert.deepEqual(lower.tokenize('MARVEL Über'), tokenizer.tokenize('marvel uber'));
});

test('truncation keeps [CLS] first and [SEP] last; maxLength must leave room for both', () => {
  const long = cases.find((c) => c.src === 'edge:long') as Case;
  const e = tokenizer.encode(long.text, { maxLength: 8 });
  assert.equal(e.inputIds.length, 8);
  assert.equal(e.inputIds[0], tokenizer.clsTokenId);
  assert.equal(e.inputIds[7], tokenizer.sepTokenId);
  assert.deepEqual(e.inputIds.slice(0, 7), long.ids.slice(0, 7));
  assert.deepEqual(tokenizer.encode(long.text, { maxLength: 2 }).inputIds, [2, 3]);
  throwsOneLine(() => tokenizer.encode('영화', { maxLength: 1 }), /maxLength must be an integer of at least 2/);
  throwsOneLine(() => tokenizer.encodeBatch(['영화'], { maxLength: 2.5 }), /maxLength/);
});

test('kcbert facts: ids of the special tokens, vocab size, model_max_length', () => {
  assert.equal(tokenizer.vocabSize, 30000);
  assert.deepEqual(
    [tokenizer.padTokenId, tokenizer.unkTokenId, tokenizer.clsTokenId, tokenizer.sepTokenId, tokenizer.maskTokenId],
    [0, 1, 2, 3, 4],
  );
  assert.equal(tokenizer.modelMaxLength, 300);
  assert.equal(tokenizer.name, KCBERT_DIR);
  assert.equal(tokenizer.idToToken(4), '[MASK]');
  assert.equal(tokenizer.tokenToId('[MASK]'), 4);
});

test('fromPretrained resolves beomi/kcbert-base through the model mirror', async () => {
  const t = await BertTokenizer.fromPretrained('beomi/kcbert-base', { modelMirror: path.join(SHARED, 'models') });
  assert.equal(t.name, 'beomi/kcbert-base');
  assert.equal(t.fingerprint(), tokenizer.fingerprint());
  assert.deepEqual(t.encode(cases[100].text).inputIds, cases[100].ids);
});

test('the tokenizer.json built from vocab.txt is what Python\'s BertTokenizerFast uses, plus NFC', () => {
  const python = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'tokenizer-kcbert-fast.json'), 'utf8')).tokenizerJson;
  const ours = JSON.parse(tokenizer.tokenizerJson());
  assert.deepEqual(ours.normalizer, { type: 'Sequence', normalizers: [python.normalizer, { type: 'NFC' }] });
  const ids = ours.model.vocab as Record<string, number>;
  const inIdOrder = Object.keys(ids).sort((a, b) => ids[a] - ids[b]);
  assert.deepEqual(
    { size: inIdOrder.length, sha256OfTokensInIdOrder: sha256(inIdOrder.join('\n')), idsAreLineNumbers: inIdOrder.every((t, i) => ids[t] === i) },
    python.model.vocab,
  );
  for (const key of ['version', 'truncation', 'padding', 'added_tokens', 'pre_tokenizer', 'post_processor', 'decoder']) {
    assert.deepEqual(ours[key], python[key], key);
  }
  assert.deepEqual({ ...ours.model, vocab: null }, { ...python.model, vocab: null });
});

test('writeTokenizerJson saves the definition; the folder then loads from it, same ids and fingerprint', () => {
  const dir = kcbertCopy();
  const file = writeTokenizerJson(dir);
  assert.equal(file, path.join(dir, 'tokenizer.json'));
  assert.equal(sha256File(file), tokenizer.fingerprint());
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text.indexOf('"[PAD]": 0') < text.indexOf('"[MASK]": 4') && text.indexOf('"[MASK]": 4') < text.indexOf('"!": 5'), 'vocab in id order');
  fs.rmSync(path.join(dir, 'vocab.txt')); // prove it is tokenizer.json that is read now
  const reloaded = BertTokenizer.fromFolder(dir);
  assert.equal(reloaded.fingerprint(), tokenizer.fingerprint());
  for (const c of cases.slice(0, 400)) assert.deepEqual(reloaded.encode(c.text).inputIds, c.ids, c.src);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
});

test('tokens like "__proto__", "constructor" or "123456789" in vocab.txt are ordinary tokens', () => {
  const dir = kcbertCopy((d) => fs.appendFileSync(path.join(d, 'vocab.txt'), '__proto__\n123456789\nconstructor\n'));
  const t = BertTokenizer.fromFolder(dir);
  assert.equal(t.vocabSize, 30003);
  assert.equal(t.tokenToId('__proto__'), 30000); // unreachable by tokenizing ("_" is punctuation) but in the vocab
  assert.deepEqual(t.encode('123456789 constructor').inputIds, [2, 30001, 30002, 3]);
  assert.equal(tokenizer.encode('123456789 constructor').inputIds.length, 17); // kcbert itself cuts both into pieces
  const text = tokenizerJsonText(readVocab(path.join(dir, 'vocab.txt')), readTokenizerConfig(dir));
  assert.ok(text.indexOf('"[PAD]": 0') < text.indexOf('"123456789": 30001'), 'number-like tokens stay in id order');
});

test('errors name the folder or file: missing folder, vocab.txt, empty or incomplete vocab, bad config', () => {
  const missing = path.join(TMP, 'nope');
  throwsOneLine(() => BertTokenizer.fromFolder(missing), new RegExp(`model folder not found: .*nope`));
  throwsOneLine(() => BertTokenizer.fromFolder(kcbertCopy((d) => fs.rmSync(path.join(d, 'vocab.txt')))), /no vocab\.txt \(nor tokenizer\.json\)/);
  throwsOneLine(() => BertTokenizer.fromFolder(kcbertCopy((d) => fs.writeFileSync(path.join(d, 'vocab.txt'), ''))), /vocab\.txt: empty vocabulary/);
  throwsOneLine(
    () => BertTokenizer.fromFolder(kcbertCopy((d) => fs.writeFileSync(path.join(d, 'vocab.txt'), '[PAD]\n[CLS]\n영화\n'))),
    /vocab\.txt: vocabulary lacks \[UNK\], \[SEP\]/,
  );
  throwsOneLine(
    () => BertTokenizer.fromFolder(kcbertCopy((d) => fs.writeFileSync(path.join(d, 'tokenizer_config.json'), '{"do_lower_case": fals'))),
    /tokenizer_config\.json: invalid JSON/,
  );
  throwsOneLine(
    () => BertTokenizer.fromFolder(kcbertCopy((d) => fs.writeFileSync(path.join(d, 'tokenizer_config.json'), '{"do_lower_case": "no"}'))),
    /tokenizer_config\.json: "do_lower_case" must be true or false/,
  );
  throwsOneLine(
    () => BertTokenizer.fromFolder(kcbertCopy((d) => fs.writeFileSync(path.join(d, 'tokenizer.json'), '{"model": {"type": "BPE", "vocab": {}, "merges": []}}'))),
    /tokenizer\.json: expected a WordPiece model \(BERT\), got BPE/,
  );
  throwsOneLine(() => writeTokenizerJson(missing), /model folder not found/);
});

test('a vocab.txt with \\r\\n line ends reads like Python (text mode), and a missing config means Python\'s defaults', () => {
  const dir = kcbertCopy((d) => {
    const v = fs.readFileSync(path.join(d, 'vocab.txt'), 'utf8');
    fs.writeFileSync(path.join(d, 'vocab.txt'), v.replace(/\n/g, '\r\n'));
    fs.writeFileSync(path.join(d, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: false, unk_token: { content: '[UNK]', __type: 'AddedToken' } }));
  });
  const t = BertTokenizer.fromFolder(dir);
  assert.equal(t.fingerprint(), tokenizer.fingerprint());
  assert.equal(t.modelMaxLength, 300); // config.json's max_position_embeddings when tokenizer_config has none
  const bare = kcbertCopy((d) => fs.rmSync(path.join(d, 'tokenizer_config.json')));
  assert.equal(readTokenizerConfig(bare).doLowerCase, true); // BertTokenizer's default, like Python
});

test('nlpbook tokenize --json: one object per text, ids as Python, default max length 128', () => {
  const texts = cases.filter((c) => c.text !== '' && !c.text.includes('\n') && !c.text.includes('\r')).slice(0, 50);
  const long = cases.find((c) => c.src === 'edge:long') as Case;
  const file = path.join(TMP, 'texts.txt');
  fs.writeFileSync(file, [...texts.map((c) => c.text), '', long.text].join('\n') + '\n');
  const r = runCli(['tokenize', '--model', 'beomi/kcbert-base', '--json', '--file', file], { env: { NLPBOOK_MIRROR: SHARED } });
  assert.equal(r.status, 0, r.stderr);
  const out = jsonLines(r.stdout);
  assert.equal(out.length, texts.length + 2);
  texts.forEach((c, i) => {
    assert.equal(out[i].text, c.text);
    assert.deepEqual(out[i].input_ids, c.trunc?.['128'] ?? c.ids, c.src);
    assert.deepEqual(out[i].attention_mask, new Array(out[i].input_ids.length).fill(1));
    assert.equal(out[i].tokens.length, out[i].input_ids.length);
  });
  assert.deepEqual(out[texts.length].tokens, ['[CLS]', '[SEP]']);
  assert.deepEqual(out[texts.length + 1].input_ids, long.trunc?.['128']);

  const args = runCli(['tokenize', '--model', KCBERT_DIR, '--max-length', '8', '--json', cases[0].text, '[MASK] 최고'], {});
  assert.equal(args.status, 0, args.stderr);
  const [a, b] = jsonLines(args.stdout);
  assert.deepEqual(a.input_ids, cases[0].trunc?.['8'] ?? cases[0].ids);
  assert.deepEqual(b.tokens, ['[CLS]', '[MASK]', '최고', '[SEP]']);
});

test('nlpbook tokenize: bad input is one line on stderr and exit 1', () => {
  const noModel = runCli(['tokenize', '--model', 'nobody/no-such-model', '--json', 'x'], { env: { NLPBOOK_MIRROR: SHARED, HF_HUB_CACHE: path.join(TMP, 'hf-empty') } });
  assert.equal(noModel.status, 1);
  assert.match(noModel.stderr, /^nlpbook tokenize: model "nobody\/no-such-model" not found; tried .*mirror .*no-such-model/);
  const both = runCli(['tokenize', '--model', KCBERT_DIR, '--file', 'x.txt', 'text']);
  assert.equal(both.status, 1);
  assert.match(both.stderr, /either --file FILE or TEXT/);
  const badLength = runCli(['tokenize', '--model', KCBERT_DIR, '--max-length', '1', 'text']);
  assert.equal(badLength.status, 1);
  assert.match(badLength.stderr, /--max-length must be an integer of at least 2/);
  const help = runCli(['tokenize', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /default 128/);
});

test('tokenLengths and summarizeLengths: real lengths (nothing cut) and how many a maxLength would cut', () => {
  const some = cases.filter((c) => /^(train|test):\d+$/.test(c.src)).slice(0, 200);
  const lengths = tokenLengths(tokenizer, some.map((c) => c.text));
  assert.deepEqual(lengths, some.map((c) => c.ids.length));
  const s = summarizeLengths([3, 5, 10, 2, 40], 8);
  assert.deepEqual(s, { count: 5, mean: 12, p50: 5, p95: 40, p99: 40, max: 40, longer: 2, longerShare: 0.4 });
  assert.equal(summarizeLengths([], 8).count, 0);
});
