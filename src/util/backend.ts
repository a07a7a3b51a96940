// Picks the TensorFlow.js backend once per process: the native `tensorflow` backend
// of @tensorflow/tfjs-node (libtensorflow, all cores) when its addon loads, else
// wasm with a one-line notice (about 4x slower on matmuls, no gather gradient:
// fine for inference, not for training). scripts/setup-tensorflow.js builds the addon.
import * as os from 'os';
import * as tf from '@tensorflow/tfjs';

export interface BackendInfo {
  backend: string;
  tfjs: string;
  native: boolean;
  threads: number;
  /** Why the native backend is not in use (absent when it is). */
  reason?: string;
}

let info: BackendInfo | undefined;

/** Loads the best backend (once) and returns what it is. Safe to call repeatedly. */
export async function initBackend(options: { quiet?: boolean } = {}): Promise<BackendInfo> {
  if (info) return info;
  // libtensorflow logs every CPU feature at start-up; keep warnings and errors only.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  let reason: string | undefined;
  // @tensorflow/tfjs-node-gpu registers the same "tensorflow" backend (README: GPU).
  const nativePackage = process.env.NLPBOOK_TFJS_PACKAGE || '@tensorflow/tfjs-node';
  try {
    require(nativePackage);
    await tf.setBackend('tensorflow');
  } catch (e) {
    reason = `${nativePackage} did not load: ${firstLine(e)}; run \`node scripts/setup-tensorflow.js\``;
  }
  if (tf.getBackend() === 'tensorflow') {
    const threads = Number(process.env.TF_NUM_INTRAOP_THREADS) || os.cpus().length;
    info = { backend: 'tensorflow', tfjs: tf.version.tfjs, native: true, threads };
    return info;
  }
  const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  if (!options.quiet) console.error(`nlpbook: using the wasm backend (${reason})`);
  info = { backend: tf.getBackend(), tfjs: tf.version.tfjs, native: false, threads: wasm.getThreadsCount(), reason };
  return info;
}

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split('\n')[0];
}

export { tf };
