// `nlpbook env`: which TensorFlow.js backend this machine runs, and with how many threads.
import { initBackend } from '../util/backend';
import { defineCommand } from './command';

const USAGE = `usage: nlpbook env [--json]

Shows the TensorFlow.js backend (tensorflow: the native libtensorflow binding; wasm, with the
reason, where that does not load), the tfjs version, the thread count, Node's version and the
platform.

  --json   one line: {"backend","tfjs","native","threads",["reason",]"node","platform"}`;

export const command = defineCommand({
  name: 'env',
  summary: 'show the TensorFlow.js backend (--json: {backend, tfjs, native, threads})',
  usage: USAGE,
  options: {},
  json: true,
  async run() {
    const info = await initBackend({ quiet: true });
    return { ...info, node: process.version, platform: `${process.platform}-${process.arch}` };
  },
  text(out) {
    for (const [k, v] of Object.entries(out)) console.log(`${k.padEnd(8)} ${v}`);
  },
});
