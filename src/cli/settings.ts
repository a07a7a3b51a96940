// `nlpbook settings`: shows the effective settings (defaults <- --config <- --set),
// or saves them as settings.json, so a run can be prepared and checked before it starts.
import { describeSettings, saveSettings, settingsFromCli } from '../settings/index';
import { defineCommand } from './command';

const USAGE = `usage: nlpbook settings [--config FILE] [--set key=value]... [--json] [--save DIR]

Shows the fine-tuning settings nlpbook train would use with the same --config and --set:
one row per field, with the default where it differs (fields: docs/settings.md).

  --config FILE       settings JSON
  --set key=value     override one setting, e.g. --set epochs=1 --set batchSize=16
  --save DIR          write them as DIR/settings.json (then no table)
  --json              one line: the settings object`;

export const command = defineCommand({
  name: 'settings',
  summary: 'show the effective settings ([--config FILE] [--set key=value]... [--json] [--save DIR])',
  usage: USAGE,
  options: { save: { type: 'string' } },
  json: true,
  settings: settingsFromCli,
  async run({ values, settings, notice }) {
    if (values.save !== undefined) notice(`wrote ${saveSettings(settings, values.save)}`);
    return settings;
  },
  text(settings, { values }) {
    if (values.save !== undefined) return;
    const rows = describeSettings(settings);
    const width = Math.max(...rows.map((r) => r.field.length));
    for (const r of rows) {
      const changed = r.value !== r.default ? `   (default ${JSON.stringify(r.default)})` : '';
      console.log(`${r.field.padEnd(width)}  ${JSON.stringify(r.value)}${changed}`);
    }
  },
});
