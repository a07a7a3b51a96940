// What this CPU can do that the training step may use.
import * as fs from 'fs';

let bf16Support: boolean | undefined;

/**
 * True when this CPU has AMX-BF16 (amx_bf16 in /proc/cpuinfo's flags) and TensorFlow's
 * oneDNN kernels, which use it, are on: then training graphs with bf16 matmuls run
 * faster than float32 ones (1.3-1.4x on a Xeon with AMX). AVX512-BF16 alone is not
 * enough: on a VM of the same Xeon that showed avx512_bf16 but no AMX, bf16 steps ran
 * 1.26-1.50x slower than float32 (bench/results/*-bf16-no-amx.*). Elsewhere (no AMX,
 * not Linux, TF_ENABLE_ONEDNN_OPTS=0) training stays float32.
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

/** nativeBf16's rule on given text and environment: the flags list amx_bf16, and oneDNN is not off. */
export function bf16FromCpuinfo(cpuinfo: string, env: NodeJS.ProcessEnv): boolean {
  return bf16Flags(cpuinfo).includes('amx_bf16') && env.TF_ENABLE_ONEDNN_OPTS !== '0';
}

/** bf16Flags of this machine ([] where /proc/cpuinfo cannot be read). */
export function cpuBf16Flags(): string[] {
  return bf16Flags(cpuinfo());
}
