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
  let cpuinfo = '';
  try {
    cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // not Linux: no way to tell, so no
  }
  bf16Support = bf16FromCpuinfo(cpuinfo, process.env);
  return bf16Support;
}

/** nativeBf16's rule on given text and environment: /proc/cpuinfo's first flags line lists amx_bf16 or avx512_bf16, and oneDNN is not off. */
export function bf16FromCpuinfo(cpuinfo: string, env: NodeJS.ProcessEnv): boolean {
  const flags = cpuinfo.split('\n').find((l) => l.startsWith('flags')) ?? '';
  const words = new Set(flags.split(/\s+/));
  return (words.has('amx_bf16') || words.has('avx512_bf16')) && env.TF_ENABLE_ONEDNN_OPTS !== '0';
}
