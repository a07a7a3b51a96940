// What this CPU can do that the training step may use.
import * as fs from 'fs';

let bf16Support: boolean | undefined;

/**
 * True when this CPU multiplies bfloat16 natively (AMX-BF16 or AVX512-BF16 in
 * /proc/cpuinfo's flags) and TensorFlow's oneDNN kernels, which use them, are on: then
 * training graphs with bf16 matmuls run faster than float32 ones. Elsewhere (no such
 * flags, not Linux, TF_ENABLE_ONEDNN_OPTS=0) bfloat16 would be emulated, and slower.
 */
export function nativeBf16(): boolean {
  if (bf16Support !== undefined) return bf16Support;
  let flags = '';
  try {
    flags = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags')) ?? '';
  } catch {
    // not Linux: no way to tell, so no
  }
  const words = new Set(flags.split(/\s+/));
  bf16Support = (words.has('amx_bf16') || words.has('avx512_bf16')) && process.env.TF_ENABLE_ONEDNN_OPTS !== '0';
  return bf16Support;
}
