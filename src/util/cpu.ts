// What this CPU can do that the training step may use.
import * as fs from 'fs';

let bf16Support: boolean | undefined;

/**
 * True where training graphs with bf16 matmuls measured faster than float32 ones and
 * TensorFlow's oneDNN kernels are on: CPUs with AMX-BF16 (amx_bf16 in /proc/cpuinfo's
 * flags; 1.3-1.4x on a Xeon with AMX), and AMD CPUs with AVX512-BF16 (an AMD EPYC VM:
 * pretraining 1.23-1.32x, a fine-tuning step 1.13-1.45x; bench/results/*-bf16-amd.*).
 * AVX512-BF16 on an Intel CPU without AMX is not enough: on a VM of a Xeon that showed
 * avx512_bf16 but no AMX, bf16 steps ran 1.26-1.50x slower (bench/results/*-bf16-no-amx.*).
 * Elsewhere (no bfloat16 flags, not Linux, TF_ENABLE_ONEDNN_OPTS=0) training stays float32.
 */
export function nativeBf16(): boolean {
  bf16Support ??= bf16FromCpuinfo(cpuinfo(), process.env);
  return bf16Support;
}

/** /proc/cpuinfo's text; '' where it cannot be read (not Linux: no way to tell, so no flags). */
function cpuinfo(): string {
  try {
    return fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}

/** The bfloat16 flags /proc/cpuinfo's first flags line lists (amx_bf16, avx512_bf16): what the benches record of the CPU. */
export function bf16Flags(cpuinfo: string): string[] {
  const flags = cpuinfo.split('\n').find((l) => l.startsWith('flags')) ?? '';
  const words = new Set(flags.split(/\s+/));
  return ['amx_bf16', 'avx512_bf16'].filter((f) => words.has(f));
}

/** nativeBf16's rule on given text and environment: amx_bf16, or avx512_bf16 on an AMD CPU; and oneDNN is not off. */
export function bf16FromCpuinfo(cpuinfo: string, env: NodeJS.ProcessEnv): boolean {
  const flags = bf16Flags(cpuinfo);
  const amd = /^vendor_id\s*:\s*AuthenticAMD\s*$/m.test(cpuinfo);
  return (flags.includes('amx_bf16') || (amd && flags.includes('avx512_bf16'))) && env.TF_ENABLE_ONEDNN_OPTS !== '0';
}

/** bf16Flags of this machine ([] where /proc/cpuinfo cannot be read). */
export function cpuBf16Flags(): string[] {
  return bf16Flags(cpuinfo());
}
