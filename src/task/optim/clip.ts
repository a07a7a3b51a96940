// Global-norm gradient clipping like torch.nn.utils.clip_grad_norm_, on tensors only
// (no host round trip): the norm and the scale stay tensors the trainer can log later.
//
// Cheapest use: clipScale(), then AdamW.step(grads, { gradScale: scale }), which scales
// each gradient just before its own update, so no second full set of gradients
// (440 MB for kcbert-base) is ever alive. clipGradNorm() is the torch-shaped version.
import { tf } from '../../util/backend';
import { check } from '../../util/errors';
import { l2Loss, nativeKernelsAvailable } from './tf-kernels';

/** Gradients by parameter name: what tf.variableGrads returns, or a Map. */
export type NamedTensors = tf.NamedTensorMap | Map<string, tf.Tensor>;

export interface ClipScale {
  /** L2 norm of all gradients together, before clipping (what clip_grad_norm_ returns). */
  totalNorm: tf.Scalar;
  /** min(1, maxNorm / (totalNorm + 1e-6)): the factor every gradient is multiplied by. */
  scale: tf.Scalar;
}

function tensorsOf(grads: NamedTensors | tf.Tensor[]): tf.Tensor[] {
  if (Array.isArray(grads)) return grads;
  return grads instanceof Map ? [...grads.values()] : Object.values(grads);
}

/** The L2 norm of all tensors as one long vector (torch: norm of the per-tensor norms). */
export function globalNorm(grads: NamedTensors | tf.Tensor[]): tf.Scalar {
  const tensors = tensorsOf(grads);
  check(tensors.length > 0, 'clip: no gradients to take the norm of');
  return tf.tidy(() => {
    // L2Loss gives sum(x²)/2 in one pass; plain tfjs needs square() (a full temporary) then sum().
    const native = nativeKernelsAvailable();
    const squares = tensors.map((g) => (native ? tf.mul(l2Loss(g), 2) : tf.sum(tf.square(g))));
    return tf.sqrt(squares.length === 1 ? squares[0] : tf.addN(squares)) as tf.Scalar;
  });
}

/** torch's clip coefficient, same float32 arithmetic: clamp(maxNorm * (1 / (norm + 1e-6)), max=1). */
export function clipCoefficient(totalNorm: tf.Scalar, maxNorm: number): tf.Scalar {
  check(maxNorm > 0, `settings.maxGradNorm: clipping needs a norm > 0, got ${maxNorm} (0 means: do not call clipping)`);
  return tf.tidy(() => tf.minimum(tf.mul(tf.reciprocal(tf.add(totalNorm, 1e-6)), maxNorm), 1) as tf.Scalar);
}

/** The total norm and the clip factor, leaving the gradients untouched. */
export function clipScale(grads: NamedTensors | tf.Tensor[], maxNorm: number): ClipScale {
  const totalNorm = globalNorm(grads);
  return { totalNorm, scale: clipCoefficient(totalNorm, maxNorm) };
}

/**
 * clip_grad_norm_ as a pure function: new, scaled gradients (the caller disposes
 * them and the inputs) plus the norm before clipping. Like torch, gradients are
 * multiplied even when the factor is 1.
 */
export function clipGradNorm(grads: tf.NamedTensorMap, maxNorm: number): ClipScale & { grads: tf.NamedTensorMap } {
  const { totalNorm, scale } = clipScale(grads, maxNorm);
  const clipped: tf.NamedTensorMap = {};
  for (const [name, g] of Object.entries(grads)) clipped[name] = tf.mul(g, scale);
  return { totalNorm, scale, grads: clipped };
}
