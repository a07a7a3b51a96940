import * as fs from 'fs';
import { parseArgs } from 'util';
import { runCourse, checkProfile, profileFromEnv } from '../course/index';
import { loadSettings, parseSetArgs } from '../settings/index';

const USAGE = `usage: nlpbook course [--profile offline|book|tiny] [--config FILE] [--set key=value]...

Runs the whole course pipeline: corpus → pretraining (offline profile) → tokenizer → features →
fine-tuning → one evaluation on the test split → report. Last stdout line: one JSON object
{"model","testAccuracy","validationAccuracy","minutes",...}.

  --profile  offline (default; or env NLPBOOK_PROFILE): pretrain a small BERT with kcbert's vocabulary, no download
             book: beomi/kcbert-base from the hub, the book's settings (needs internet)
             tiny: a tiny model on a slice of NSMC (seconds)
  --config / --set   fine-tuning settings over the profile's`;

export const command = {
  summary: 'run the whole course pipeline (the main job); last stdout line: one JSON object',
  async run(argv: string[]): Promise<void> {
    const { values } = parseArgs({
      args: argv,
      options: { profile: { type: 'string' }, config: { type: 'string' }, set: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      console.log(USAGE);
      return;
    }
    const profile = values.profile === undefined ? profileFromEnv() : checkProfile(values.profile, '--profile');
    // Only the fields the file names override the profile (loadSettings validates them all).
    const fromConfig: Record<string, unknown> = {};
    if (values.config) {
      const full = loadSettings(values.config) as unknown as Record<string, unknown>;
      for (const key of Object.keys(JSON.parse(fs.readFileSync(values.config, 'utf8')))) fromConfig[key] = full[key];
    }
    const overrides = { ...fromConfig, ...parseSetArgs(values.set ?? []) };
    const result = await runCourse({ profile, overrides });
    console.log(JSON.stringify(result));
  },
};
