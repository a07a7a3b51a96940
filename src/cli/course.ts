import * as fs from 'fs';
import { runCourse, checkProfile, profileFromEnv } from '../course/index';
import { loadSettings, parseSetArgs } from '../settings/index';
import { NlpbookError } from '../util/errors';
import { defineCommand } from './command';

const USAGE = `usage: nlpbook course [--profile offline|book|tiny] [--minutes N] [--config FILE] [--set key=value]...

Runs the whole course pipeline: corpus → pretraining (offline profile) → tokenizer → features →
fine-tuning → one evaluation on the test split → report. Last stdout line: one JSON object
{"model","testAccuracy","validationAccuracy","minutes",...}.

  --profile  offline (default; or env NLPBOOK_PROFILE): pretrain a small BERT with kcbert's vocabulary, no download
             book: beomi/kcbert-base from the hub, the book's settings (needs internet)
             tiny: a tiny model on a slice of NSMC (seconds)
  --minutes  the whole job's wall-clock budget (offline default 57): fine-tuning and evaluation are
             measured on this machine and pretraining's steps planned to fill the rest
  --config / --set   fine-tuning settings over the profile's`;

export const command = defineCommand({
  name: 'course',
  summary: 'run the whole course pipeline (the main job); last stdout line: one JSON object',
  usage: USAGE,
  options: { profile: { type: 'string' }, minutes: { type: 'string' } },
  // --config/--set override the profile's settings: kept as given, resolved in run().
  settings: (args) => args,
  async run({ values, settings: { config, set } }) {
    const profile = values.profile === undefined ? profileFromEnv() : checkProfile(values.profile, '--profile');
    // Only the fields the file names override the profile (loadSettings validates them all).
    const fromConfig: Record<string, unknown> = {};
    if (config) {
      const full = loadSettings(config) as unknown as Record<string, unknown>;
      for (const key of Object.keys(JSON.parse(fs.readFileSync(config, 'utf8')))) fromConfig[key] = full[key];
    }
    const overrides = { ...fromConfig, ...parseSetArgs(set ?? []) };
    const minutes = values.minutes === undefined ? undefined : Number(values.minutes);
    if (minutes !== undefined && !(minutes > 0)) throw new NlpbookError(`--minutes: expected a positive number of minutes, got "${values.minutes}"`);
    return runCourse({ profile, overrides, minutes });
  },
});
