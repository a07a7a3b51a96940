// `nlpbook settings`: shows the effective settings (defaults <- --config <- --set),
// or saves them as settings.json, so a run can be prepared and checked before it starts.
import { parseArgs } from 'util';
import { describeSettings, saveSettings, settingsFromCli } from '../settings/index';

export const command = {
  summary: 'show the effective settings ([--config FILE] [--set key=value]... [--json] [--save DIR])',
  async run(argv: string[]): Promise<void> {
    const { values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        set: { type: 'string', multiple: true },
        json: { type: 'boolean' },
        save: { type: 'string' },
      },
    });
    const settings = settingsFromCli({ config: values.config, set: values.set });
    if (values.save !== undefined) {
      const file = saveSettings(settings, values.save);
      console.error(`nlpbook settings: wrote ${file}`);
    }
    if (values.json) {
      console.log(JSON.stringify(settings));
    } else if (values.save === undefined) {
      const rows = describeSettings(settings);
      const width = Math.max(...rows.map((r) => r.field.length));
      for (const r of rows) {
        const changed = r.value !== r.default ? `   (default ${JSON.stringify(r.default)})` : '';
        console.log(`${r.field.padEnd(width)}  ${JSON.stringify(r.value)}${changed}`);
      }
    }
  },
};
