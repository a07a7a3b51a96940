import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { NlpbookError } from '../src/util/errors';
import {
  DEFAULT_SETTINGS, SETTINGS_FIELDS, SETTINGS_FIELD_NAMES, SETTINGS_RESUME_FREE, SETTINGS_SCHEMA, Settings, describeSettings, loadSettings,
  makeSettings, parseSetArgs, saveSettings, settingAccepts, settingsConflicts, settingsFromCli, suggestField, validateSettings,
} from '../src/settings/settings';
import { defineSchema, field, withDefaults, type FieldSpec, type ValuesOf } from '../src/settings/schema';
import { BF16_FIELD, MIRROR_FIELDS, OPTIMIZER_FIELDS, RUN_FIELDS } from '../src/settings/shared-fields';
import { DEFAULT_PRETRAIN_SETTINGS, PRETRAIN_SCHEMA, makePretrainSettings } from '../src/pretrain/index';
import { SETTINGS_DOC, settingsMarkdown } from '../scripts/settings-docs';
import { jsonLines, runCli, tempDir } from './helpers';

/** Asserts that `fn` throws an NlpbookError with exactly this one-line message. */
function throwsLine(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof NlpbookError, `expected an NlpbookError, got ${e}`);
    assert.equal(e.message, message);
    assert.ok(!e.message.includes('\n'), 'the message must be one line');
    return true;
  });
}

test('defaults follow ratsnlp\'s ClassificationTrainArguments as the book uses them', () => {
  // ratsnlp's defaults, with the book's choices where ratsnlp has none (corpus "nsmc", seed 7).
  assert.equal(DEFAULT_SETTINGS.pretrainedModelName, 'beomi/kcbert-base');
  assert.equal(DEFAULT_SETTINGS.downstreamTaskName, 'document-classification');
  assert.equal(DEFAULT_SETTINGS.downstreamCorpusName, 'nsmc');
  assert.equal(DEFAULT_SETTINGS.maxSeqLength, 128);
  assert.equal(DEFAULT_SETTINGS.learningRate, 5e-5);
  assert.equal(DEFAULT_SETTINGS.epochs, 3);
  assert.equal(DEFAULT_SETTINGS.batchSize, 32);
  assert.equal(DEFAULT_SETTINGS.monitor, 'min val_loss');
  assert.equal(DEFAULT_SETTINGS.saveTopK, 1);
  assert.equal(DEFAULT_SETTINGS.seed, 7);
  assert.equal(DEFAULT_SETTINGS.overwriteCache, false);
  assert.equal(DEFAULT_SETTINGS.forceDownload, false);
  assert.equal(DEFAULT_SETTINGS.testMode, false);
  assert.equal(DEFAULT_SETTINGS.fp16, false);
  assert.equal(DEFAULT_SETTINGS.tpuCores, 0);
  assert.equal(DEFAULT_SETTINGS.tqdmEnabled, true);
  assert.equal(DEFAULT_SETTINGS.cpuWorkers, Math.max(1, os.cpus().length));
});

test('the field table covers exactly the Settings fields, and every default is valid', () => {
  assert.deepEqual([...SETTINGS_FIELD_NAMES].sort(), Object.keys(DEFAULT_SETTINGS).sort());
  assert.deepEqual(validateSettings({ ...DEFAULT_SETTINGS }), { ...DEFAULT_SETTINGS });
  for (const name of SETTINGS_FIELD_NAMES) {
    const f = SETTINGS_FIELDS[name];
    assert.ok(f.doc.length > 10, `${name} needs a doc`);
    if (f.type === 'enum') assert.ok(f.values!.length > 0);
    if (f.ratsnlp) assert.match(f.ratsnlp, /^[a-z0-9_]+$/);
  }
  // Parity-only fields say why they do nothing here.
  for (const name of ['cpuWorkers', 'fp16', 'tpuCores'] as const) assert.ok(SETTINGS_FIELDS[name].noEffect, name);
});

test('makeSettings applies overrides to the defaults and returns a new plain object', () => {
  const s = makeSettings({ batchSize: 16, learningRate: 3e-5, corpusMirror: '/mirror' });
  assert.equal(s.batchSize, 16);
  assert.equal(s.learningRate, 3e-5);
  assert.equal(s.corpusMirror, '/mirror');
  assert.equal(s.epochs, DEFAULT_SETTINGS.epochs);
  assert.equal(Object.isFrozen(s), false);
  s.epochs = 1; // notebooks may change it afterwards
  assert.equal(DEFAULT_SETTINGS.epochs, 3);
  assert.notEqual(makeSettings(), makeSettings());
  assert.deepEqual(makeSettings(), { ...DEFAULT_SETTINGS });
  // An undefined override means "not given" (handy when spreading optional values).
  assert.equal(makeSettings({ batchSize: undefined }).batchSize, 32);
});

test('a partial config takes the defaults for the missing fields, in field-table order', () => {
  const s = validateSettings({ epochs: 1, monitor: 'max val_accuracy' }, 'settings.json');
  assert.equal(s.epochs, 1);
  assert.equal(s.monitor, 'max val_accuracy');
  assert.equal(s.batchSize, 32);
  assert.deepEqual(Object.keys(s), SETTINGS_FIELD_NAMES);
});

test('each kind of bad input gives one line naming the source, the field and what it accepts', () => {
  throwsLine(() => validateSettings({ learningrate: 1e-5 }), 'settings: unknown field "learningrate" (did you mean "learningRate"?)');
  throwsLine(() => validateSettings({ learning_rate: 1e-5 }, 'settings.json'),
    'settings.json: unknown field "learning_rate" (did you mean "learningRate"?)');
  throwsLine(() => validateSettings({ max_seq_length: 64 }), 'settings: unknown field "max_seq_length" (did you mean "maxSeqLength"?)');
  throwsLine(() => validateSettings({ bachSize: 8 }), 'settings: unknown field "bachSize" (did you mean "batchSize"?)');
  throwsLine(() => validateSettings({ optimizer: 'AdamW' }),
    'settings: unknown field "optimizer" (the fields are listed by `nlpbook settings` and in docs/settings.md)');
  // wrong type
  throwsLine(() => validateSettings({ batchSize: '32' }, 'settings.json'),
    'settings.json: field "batchSize" must be an integer from 1 to 4096 (got "32")');
  throwsLine(() => validateSettings({ testMode: 'yes' }), 'settings: field "testMode" must be true or false (got "yes")');
  throwsLine(() => validateSettings({ corpusMirror: 5 }), 'settings: field "corpusMirror" must be a string or null (got 5)');
  throwsLine(() => validateSettings({ pretrainedModelName: '' }), 'settings: field "pretrainedModelName" must be a non-empty string (got "")');
  // out of range
  throwsLine(() => validateSettings({ batchSize: 0 }, 'settings.json'), 'settings.json: field "batchSize" must be an integer from 1 to 4096 (got 0)');
  throwsLine(() => validateSettings({ batchSize: 2.5 }), 'settings: field "batchSize" must be an integer from 1 to 4096 (got 2.5)');
  throwsLine(() => validateSettings({ maxSeqLength: 513 }), 'settings: field "maxSeqLength" must be an integer from 2 to 512 (got 513)');
  throwsLine(() => validateSettings({ saveTopK: -2 }), 'settings: field "saveTopK" must be an integer >= -1 (got -2)');
  throwsLine(() => validateSettings({ seed: 2 ** 32 }), 'settings: field "seed" must be an integer from 0 to 4294967295 (got 4294967296)');
  throwsLine(() => validateSettings({ learningRate: 0 }), 'settings: field "learningRate" must be a number > 0 and <= 1 (got 0)');
  throwsLine(() => validateSettings({ validationFraction: 1 }),
    'settings: field "validationFraction" must be a number between 0 and 1, both excluded (got 1)');
  throwsLine(() => validateSettings({ adamBeta2: 1 }), 'settings: field "adamBeta2" must be a number >= 0 and < 1 (got 1)');
  throwsLine(() => validateSettings({ weightDecay: -0.1 }), 'settings: field "weightDecay" must be a number >= 0 (got -0.1)');
  // parity-only fields
  throwsLine(() => makeSettings({ fp16: true }), 'settings: field "fp16" must be false (got true): TF.js has no float16 training; bf16 is the mixed precision here');
  throwsLine(() => makeSettings({ tpuCores: 8 }), 'settings: field "tpuCores" must be 0 (got 8): TF.js on Node has no TPU support');
  // enums
  throwsLine(() => validateSettings({ monitor: 'min val_accuracy' }),
    'settings: field "monitor" must be one of "min val_loss", "max val_accuracy" (got "min val_accuracy")');
  throwsLine(() => validateSettings({ emptyDocuments: 'drop' }),
    'settings: field "emptyDocuments" must be one of "keep", "skip", "error" (got "drop")');
  throwsLine(() => validateSettings({ downstreamCorpusName: 'naver' }), 'settings: field "downstreamCorpusName" must be one of "nsmc" (got "naver")');
  // not an object at all
  throwsLine(() => validateSettings([1, 2], 'a.json'), 'a.json: expected an object of settings like {"batchSize": 32} (got an array)');
  throwsLine(() => validateSettings(null, 'a.json'), 'a.json: expected an object of settings like {"batchSize": 32} (got null)');
});

test('suggestions: case, snake_case, kebab-case, small typos and clear prefixes; nothing for far names', () => {
  assert.equal(suggestField('LEARNING_RATE'), 'learningRate');
  assert.equal(suggestField('tpu-cores'), 'tpuCores');
  assert.equal(suggestField('epoch'), 'epochs');
  assert.equal(suggestField('batch'), 'batchSize');
  assert.equal(suggestField('lr_scheduler'), undefined);
  assert.equal(suggestField(''), undefined);
});

test('settingAccepts words every field (docs and errors share it)', () => {
  assert.equal(settingAccepts('batchSize'), 'an integer from 1 to 4096');
  assert.equal(settingAccepts('fp16'), 'false');
  for (const name of SETTINGS_FIELD_NAMES) assert.ok(settingAccepts(name).length > 0, name);
});

test('save then load gives back identical settings, pretty JSON in field order', () => {
  const dir = path.join(tempDir(), 'checkpoint-doccls');
  const s: Settings = makeSettings({
    learningRate: 3e-5, warmupRatio: 0.06, adamEpsilon: 1e-8, corpusMirror: 'http://127.0.0.1:8080/korpora',
    monitor: 'max val_accuracy', seed: 2 ** 32 - 1, saveTopK: -1, emptyDocuments: 'skip', testMode: true,
  });
  const file = saveSettings(s, dir);
  assert.equal(file, path.join(dir, 'settings.json'));
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text.startsWith('{\n  "pretrainedModelName": "beomi/kcbert-base",\n'), text.slice(0, 80));
  assert.deepEqual(loadSettings(file), s);
  assert.deepEqual(Object.keys(JSON.parse(text)), SETTINGS_FIELD_NAMES);
  assert.equal(saveSettings(s, dir, 'other.json'), path.join(dir, 'other.json'));
  assert.deepEqual(fs.readdirSync(dir).sort(), ['other.json', 'settings.json'], 'no temp files left behind');
});

test('bad settings files give one clear line, and a good saved file is never lost', () => {
  const dir = tempDir();
  const good = makeSettings({ batchSize: 16 });
  const file = saveSettings(good, dir);
  const before = fs.readFileSync(file, 'utf8');

  // Saving invalid settings over it throws before writing anything.
  throwsLine(() => saveSettings({ ...good, batchSize: 0 }, dir),
    `saving ${file}: field "batchSize" must be an integer from 1 to 4096 (got 0)`);
  throwsLine(() => saveSettings({ ...good, fp16: true }, dir),
    `saving ${file}: field "fp16" must be false (got true): TF.js has no float16 training; bf16 is the mixed precision here`);
  assert.equal(fs.readFileSync(file, 'utf8'), before);
  assert.deepEqual(fs.readdirSync(dir), ['settings.json']);
  assert.deepEqual(loadSettings(file), good);

  // A corrupt file (cut short, as by a crash of a non-atomic writer) names itself and where it broke.
  const corrupt = path.join(dir, 'corrupt.json');
  fs.writeFileSync(corrupt, before.slice(0, 60));
  assert.throws(() => loadSettings(corrupt), (e: unknown) => {
    assert.ok(e instanceof NlpbookError);
    assert.match(e.message, new RegExp(`^${escape(corrupt)}: not valid JSON`));
    assert.ok(!e.message.includes('\n'));
    return true;
  });
  const trailingComma = path.join(dir, 'comma.json');
  fs.writeFileSync(trailingComma, '{\n  "epochs": 2,\n}\n');
  assert.throws(() => loadSettings(trailingComma), (e: unknown) => {
    assert.ok(e instanceof NlpbookError);
    assert.match(e.message, new RegExp(`^${escape(trailingComma)}: not valid JSON at line 3, column 1 \\(`));
    return true;
  });
  const typo = path.join(dir, 'typo.json');
  fs.writeFileSync(typo, '{"learning_rate": 1e-5}');
  throwsLine(() => loadSettings(typo), `${typo}: unknown field "learning_rate" (did you mean "learningRate"?)`);
  throwsLine(() => loadSettings(path.join(dir, 'missing.json')), `${path.join(dir, 'missing.json')}: settings file not found`);
  throwsLine(() => loadSettings(dir), `${dir}: is a folder, expected a settings JSON file`);
  // A partial file with a BOM (Windows editors) is fine.
  const partial = path.join(dir, 'partial.json');
  fs.writeFileSync(partial, '\uFEFF{"epochs": 1}');
  assert.deepEqual(loadSettings(partial), makeSettings({ epochs: 1 }));
  // The good file is still intact and loads.
  assert.equal(fs.readFileSync(file, 'utf8'), before);
  assert.deepEqual(loadSettings(file), good);
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('parseSetArgs converts values by field type', () => {
  assert.deepEqual(parseSetArgs([
    'batchSize=16', 'learningRate=3e-5', 'fp16=false', 'testMode=true', 'corpusMirror=null', 'modelMirror=/models',
    'monitor=max val_accuracy', 'downstreamModelDir=runs/a=b', 'seed=0x10', 'saveTopK=-1',
  ]), {
    batchSize: 16, learningRate: 3e-5, fp16: false, testMode: true, corpusMirror: null, modelMirror: '/models',
    monitor: 'max val_accuracy', downstreamModelDir: 'runs/a=b', seed: 16, saveTopK: -1,
  });
  // "null" is only special for nullable fields; the last pair for a key wins.
  assert.deepEqual(parseSetArgs(['downstreamTaskName=null', 'epochs=1', 'epochs=2']), { downstreamTaskName: 'null', epochs: 2 });
  assert.deepEqual(parseSetArgs([]), {});
});

test('parseSetArgs errors name the argument', () => {
  throwsLine(() => parseSetArgs(['batchSize']), '--set batchSize: expected key=value, e.g. --set batchSize=16');
  throwsLine(() => parseSetArgs(['=16']), '--set =16: expected key=value, e.g. --set batchSize=16');
  throwsLine(() => parseSetArgs(['learning_rate=1e-5']), '--set learning_rate=1e-5: unknown field "learning_rate" (did you mean "learningRate"?)');
  throwsLine(() => parseSetArgs(['batchSize=abc']), '--set batchSize=abc: field "batchSize" must be an integer from 1 to 4096 (got "abc")');
  throwsLine(() => parseSetArgs(['batchSize=']), '--set batchSize=: field "batchSize" must be an integer from 1 to 4096 (got "")');
  throwsLine(() => parseSetArgs(['testMode=yes']), '--set testMode=yes: field "testMode" must be true or false (got "yes")');
  throwsLine(() => parseSetArgs(['fp16=true']), '--set fp16=true: field "fp16" must be false (got true): TF.js has no float16 training; bf16 is the mixed precision here');
  throwsLine(() => parseSetArgs(['validationFraction=0']),
    '--set validationFraction=0: field "validationFraction" must be a number between 0 and 1, both excluded (got 0)');
});

test('settingsFromCli: defaults <- config file <- --set pairs', () => {
  const dir = tempDir();
  const config = saveSettings(makeSettings({ batchSize: 16, epochs: 1, seed: 42 }), dir);
  const s = settingsFromCli({ config, set: ['epochs=2', 'corpusMirror=/srv/korpora'] });
  assert.equal(s.batchSize, 16); // from the file
  assert.equal(s.seed, 42); // from the file
  assert.equal(s.epochs, 2); // --set wins over the file
  assert.equal(s.corpusMirror, '/srv/korpora');
  assert.equal(s.learningRate, 5e-5); // default
  assert.deepEqual(settingsFromCli({}), makeSettings());
  assert.deepEqual(settingsFromCli({ set: ['epochs=5'] }), makeSettings({ epochs: 5 }));
});

test('describeSettings gives one row per field with value, default, doc and note', () => {
  const rows = describeSettings(makeSettings({ batchSize: 8 }));
  assert.deepEqual(rows.map((r) => r.field), SETTINGS_FIELD_NAMES);
  const batch = rows.find((r) => r.field === 'batchSize')!;
  assert.deepEqual(batch, { field: 'batchSize', group: 'training', value: 8, default: 32, doc: SETTINGS_FIELDS.batchSize.doc, note: '' });
  assert.match(rows.find((r) => r.field === 'fp16')!.note, /must be false: TF\.js has no float16 training; bf16 is the mixed precision here/);
  assert.match(rows.find((r) => r.field === 'cpuWorkers')!.note, /^no effect here/);
  assert.equal(describeSettings().find((r) => r.field === 'batchSize')!.value, 32);
});

test('docs/settings.md is generated from both schemas and up to date (regenerate: scripts/settings-docs.ts)', () => {
  const doc = fs.readFileSync(SETTINGS_DOC, 'utf8');
  assert.ok(doc === settingsMarkdown(), 'docs/settings.md is out of date: run node --import tsx scripts/settings-docs.ts');
  const [fineTuning, pretraining] = doc.split('\n## Pretraining\n');
  const fieldRows = (part: string) => part.split('\n').filter((l) => l.startsWith('| `'));
  for (const [part, schema, withRatsnlp] of [[fineTuning, SETTINGS_SCHEMA, true], [pretraining, PRETRAIN_SCHEMA, false]] as const) {
    const rows = fieldRows(part);
    const listed = rows.map((l) => /^\| `(\w+)`/.exec(l)![1]);
    assert.deepEqual([...listed].sort(), [...schema.names].sort());
    for (const name of schema.names as readonly string[]) {
      const row = rows[listed.indexOf(name)];
      const f = (schema.fields as Record<string, { ratsnlp: string | null; defaultNote?: string }>)[name];
      if (withRatsnlp && f.ratsnlp) assert.ok(row.includes(`\`${f.ratsnlp}\``), `${name}: ratsnlp name missing`);
      const def = (schema.defaults as Record<string, unknown>)[name];
      if (!f.defaultNote) assert.ok(row.includes(`\`${JSON.stringify(def)}\``), `${name}: default missing`);
      assert.ok(row.includes(schema.accepts(name as never).replace(/\|/g, '\\|')), `${name}: accepted values missing`);
    }
  }
  assert.match(pretraining, /^\| `learningRate` \| `0\.001` \| a number > 0 and <= 1 \|/m);
  assert.match(pretraining, /Checks between fields: `hidden` is a multiple of `heads`;/);
});

test('settings.json and pretrain-settings.json keep their key order and defaults', () => {
  // Saved files are read back and compared by resume logic: this order and these values are a format.
  assert.deepEqual(Object.entries(DEFAULT_SETTINGS).filter(([k]) => k !== 'cpuWorkers'), [
    ['pretrainedModelName', 'beomi/kcbert-base'], ['downstreamTaskName', 'document-classification'], ['downstreamCorpusName', 'nsmc'],
    ['downstreamCorpusRootDir', 'data/Korpora'], ['downstreamModelDir', 'data/checkpoint-doccls'], ['maxSeqLength', 128], ['saveTopK', 1],
    ['monitor', 'min val_loss'], ['seed', 7], ['overwriteCache', false], ['forceDownload', false], ['testMode', false], ['learningRate', 5e-5],
    ['epochs', 3], ['batchSize', 32], ['fp16', false], ['tpuCores', 0], ['tqdmEnabled', true], ['corpusMirror', null],
    ['modelMirror', null], ['emptyDocuments', 'keep'], ['validationFraction', 0.1], ['warmupRatio', 0.1], ['weightDecay', 0.01], ['adamBeta1', 0.9],
    ['adamBeta2', 0.999], ['adamEpsilon', 1e-6], ['maxGradNorm', 1], ['lengthBucketing', true], ['dropLast', false], ['earlyStoppingPatience', 0],
    ['layerLrDecay', 1], ['labelSmoothing', 0], ['rDropWeight', 0], ['averageCheckpoints', 1], ['averageEverySteps', 500], ['freezeWordEmbeddings', false], ['bf16', false], ['logEverySteps', 10],
  ]);
  assert.equal(SETTINGS_FIELD_NAMES.indexOf('cpuWorkers'), SETTINGS_FIELD_NAMES.indexOf('batchSize') + 1);
  assert.deepEqual(Object.entries(DEFAULT_PRETRAIN_SETTINGS), [
    ['tokenizer', 'beomi/kcbert-base'], ['nsmc', true], ['textFiles', []], ['corpusRootDir', 'data/Korpora'], ['corpusMirror', null],
    ['modelMirror', null], ['heldOutDocuments', 1000], ['outputDir', null], ['layers', 4], ['hidden', 256], ['heads', 4], ['intermediate', 1024],
    ['maxPositions', 128], ['maxSeqLength', 128], ['packing', false], ['maskProb', 0.15], ['maskProbEnd', 0], ['maskTokenProb', 0.8], ['randomTokenProb', 0.1],
    ['wholeWordMasking', true], ['predictSeenTokensOnly', false], ['softmaxTokens', 0], ['dropout', true], ['objective', 'mlm'], ['generatorLayers', 1], ['discriminatorWeight', 50],
    ['taskWeight', 0], ['validationFraction', 0.1], ['batchSize', 128], ['steps', 0], ['epochs', 4], ['minutes', 0], ['learningRate', 1e-3],
    ['warmupRatio', 0.06], ['weightDecay', 0.01], ['adamBeta1', 0.9], ['adamBeta2', 0.98], ['adamEpsilon', 1e-6], ['maxGradNorm', 1], ['bf16', false], ['seed', 7],
    ['logEverySteps', 20], ['checkpointEveryMinutes', 5], ['tqdmEnabled', true], ['testMode', false],
  ]);
  assert.ok(Object.isFrozen(DEFAULT_SETTINGS) && Object.isFrozen(DEFAULT_PRETRAIN_SETTINGS));
  assert.deepEqual(Object.keys(makePretrainSettings()), PRETRAIN_SCHEMA.names);
});

test('the optimizer, run, mirror and bf16 fields are declared once and shared by both schemas', () => {
  const pretrainDefaults: Record<string, unknown> = { learningRate: 1e-3, warmupRatio: 0.06, adamBeta2: 0.98, logEverySteps: 20 };
  for (const [name, shared] of Object.entries({ ...OPTIMIZER_FIELDS, ...RUN_FIELDS, ...MIRROR_FIELDS, bf16: BF16_FIELD })) {
    const fine = (SETTINGS_SCHEMA.fields as Record<string, unknown>)[name];
    const pre = (PRETRAIN_SCHEMA.fields as Record<string, FieldSpec>)[name];
    assert.equal(fine, shared, `${name}: fine-tuning uses the shared declaration as it is`);
    const { default: preDefault, doc: _preDoc, ...preRule } = pre;
    const { default: sharedDefault, doc: _sharedDoc, ...sharedRule } = shared;
    assert.deepEqual(preRule, sharedRule, `${name}: same rule in pretraining`);
    assert.equal(preDefault, name in pretrainDefaults ? pretrainDefaults[name] : sharedDefault, `${name}: pretraining default`);
  }
  assert.deepEqual([...SETTINGS_RESUME_FREE].sort(), [
    'corpusMirror', 'cpuWorkers', 'downstreamCorpusRootDir', 'downstreamModelDir', 'forceDownload', 'logEverySteps', 'modelMirror', 'overwriteCache', 'tqdmEnabled',
  ]);
  assert.deepEqual([...PRETRAIN_SCHEMA.resumeFree].sort(), [
    'checkpointEveryMinutes', 'corpusMirror', 'corpusRootDir', 'logEverySteps', 'modelMirror', 'outputDir', 'tqdmEnabled',
  ]);
  const a = makeSettings();
  assert.deepEqual(settingsConflicts(a, { ...a, tqdmEnabled: false, corpusMirror: '/m' }), []);
  assert.deepEqual(settingsConflicts(a, { ...a, learningRate: 1e-4, seed: 8 }), ['seed 7 -> 8', 'learningRate 0.00005 -> 0.0001']);
});

test('a schema from declarations: the type, defaults, validation, --set and cross-field checks', () => {
  const FIELDS = {
    size: field.integer({ default: 4, min: 1, max: 64, group: 'shape', ratsnlp: 'hidden_size', doc: 'How big.' }),
    heads: field.integer({ default: 2, min: 1, group: 'shape', doc: 'How many heads.' }),
    mode: field.oneOf(['fast', 'slow'], { default: 'fast', group: 'run', doc: 'How to run.' }),
    name: field.nullableString({ default: null, group: 'run', resumeFree: true, doc: 'A name.' }),
    files: field.stringList({ default: [], group: 'run', nonEmpty: true, doc: 'Files.' }),
    ...withDefaults(RUN_FIELDS, { seed: { default: 1 } }),
  };
  type Toy = ValuesOf<typeof FIELDS>;
  // @ts-expect-error: the type of an enum field is the union of its values
  const wrongMode: Toy['mode'] = 'quick';
  assert.equal(wrongMode, 'quick');
  const typed: Toy = { size: 8, heads: 2, mode: 'slow', name: null, files: ['a'], seed: 1, testMode: false, tqdmEnabled: true, logEverySteps: 10 };
  const toy = defineSchema(FIELDS, {
    source: 'toy', example: 'toy settings like {"size": 8}', listedBy: 'the toy docs', groups: { shape: 'Shape', run: 'Run', training: 'Training', runtime: 'Runtime' },
    checks: [{ field: 'size', doc: 'size is a multiple of heads', problem: (s) => (s.size % s.heads ? `(${s.size}) must be a multiple of heads (${s.heads})` : undefined) }],
  });
  assert.deepEqual(toy.make({ size: 8, mode: 'slow', files: ['a'] }), typed);
  assert.equal(toy.defaults.seed, 1);
  assert.equal(RUN_FIELDS.seed.default, 7, 'withDefaults leaves the shared declaration alone');
  throwsLine(() => toy.validate({ size: 5 }), 'toy: field "size" (5) must be a multiple of heads (2)');
  throwsLine(() => toy.validate({ mode: 'quick' }, 'toy.json'), 'toy.json: field "mode" must be one of "fast", "slow" (got "quick")');
  throwsLine(() => toy.validate({ hidden_size: 8 }), 'toy: unknown field "hidden_size" (did you mean "size"?)');
  throwsLine(() => toy.validate({ colour: 1 }), 'toy: unknown field "colour" (the fields are listed by the toy docs)');
  throwsLine(() => toy.validate(7), 'toy: expected an object of toy settings like {"size": 8} (got 7)');
  assert.deepEqual(toy.parseSet(['files=a, b', 'name=null', 'size=16']), { files: ['a', 'b'], name: null, size: 16 });
  throwsLine(() => toy.parseSet(['files=a,']), '--set files=a,: field "files" must be a list of non-empty strings (got ["a",""])');
  assert.deepEqual(toy.conflicts(toy.make(), toy.make({ name: 'x', size: 8 })), ['size 4 -> 8']);
  assert.deepEqual(toy.describe().map((r) => [r.field, r.group]).slice(0, 3), [['size', 'shape'], ['heads', 'shape'], ['mode', 'run']]);
  // A default that breaks its own rule is caught when the schema is defined.
  throwsLine(() => defineSchema({ n: field.integer({ default: 0, min: 1, group: 'g', doc: 'A count.' }) }, {
    source: 'bad', example: '', listedBy: '', groups: { g: 'G' },
  }), 'bad schema: the default: field "n" must be an integer >= 1 (got 0)');
});

test('nlpbook settings prints, overrides, loads and saves settings', () => {
  const dir = tempDir();
  const shown = runCli(['settings', '--set', 'batchSize=16', '--json']);
  assert.equal(shown.status, 0, shown.stderr);
  const [s] = jsonLines(shown.stdout);
  assert.deepEqual(s, makeSettings({ batchSize: 16 }));

  const saved = runCli(['settings', '--set', 'epochs=1', '--set', 'seed=42', '--save', dir]);
  assert.equal(saved.status, 0, saved.stderr);
  assert.equal(saved.stdout, '');
  assert.match(saved.stderr, /wrote .*settings\.json/);
  const config = path.join(dir, 'settings.json');
  assert.deepEqual(loadSettings(config), makeSettings({ epochs: 1, seed: 42 }));

  const text = runCli(['settings', '--config', config, '--set', 'epochs=2']);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^epochs\s+2\s+\(default 3\)$/m);
  assert.match(text.stdout, /^seed\s+42\s+\(default 7\)$/m);
  assert.match(text.stdout, /^batchSize\s+32$/m);
  assert.equal(text.stdout.trim().split('\n').length, SETTINGS_FIELD_NAMES.length);
});

test('nlpbook settings: a typo exits 1 with one line on stderr and nothing on stdout', () => {
  const r = runCli(['settings', '--set', 'learning_rate=1e-5', '--json']);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'nlpbook settings: --set learning_rate=1e-5: unknown field "learning_rate" (did you mean "learningRate"?)\n');
  const missing = runCli(['settings', '--config', 'no/such/settings.json']);
  assert.equal(missing.status, 1);
  assert.equal(missing.stderr, 'nlpbook settings: no/such/settings.json: settings file not found\n');
});
