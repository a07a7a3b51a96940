import { parseArgs } from 'util';
import { initBackend } from '../util/backend';

export const command = {
  summary: 'show the TensorFlow.js backend (--json: {backend, tfjs, native, threads})',
  async run(argv: string[]): Promise<void> {
    const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' } } });
    const info = await initBackend({ quiet: true });
    const out = { ...info, node: process.version, platform: `${process.platform}-${process.arch}` };
    if (values.json) console.log(JSON.stringify(out));
    else for (const [k, v] of Object.entries(out)) console.log(`${k.padEnd(8)} ${v}`);
  },
};
