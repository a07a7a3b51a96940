// The classification objective and its metric, as tensors (no host round trip),
// matching torch.nn.CrossEntropyLoss (mean over the batch) and ratsnlp's accuracy.
import { tf } from '../../util/backend';
import { nativeKernelsAvailable, sparseSoftmaxCrossEntropy } from './tf-kernels';

/**
 * Mean softmax cross-entropy of `logits` [batch, classes] against int `labels`
 * [batch]. Stable for any logit size: log-softmax subtracts the row maximum before
 * exp, like torch's log_softmax. Differentiable with respect to `logits`.
 */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const logProbs = tf.logSoftmax(logits, -1);
    const picked = tf.sum(tf.mul(logProbs, tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1])), -1);
    return tf.neg(tf.mean(picked)) as tf.Scalar;
  });
}

/** Share of rows whose highest logit is the label (ties: the first class wins, like torch.argmax). */
export function accuracy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(logits, -1), tf.cast(labels, 'int32')), 'float32')) as tf.Scalar);
}

/**
 * crossEntropy for many classes (a 30,000-word vocabulary in MLM pretraining): the
 * same value and gradient, but on the native backend from TensorFlow's fused kernel,
 * which computes the loss and softmax - one-hot in one pass over the logits. Measured
 * on [384, 30000] logits (2 cores): forward + backward ~135 ms with crossEntropy, see
 * bench/results/pretrain-step.json for the kernel. Other backends: crossEntropy.
 */
export function sparseCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  if (!nativeKernelsAvailable()) return crossEntropy(logits, labels);
  const rows = logits.shape[0];
  const body = (x: tf.Tensor, save: tf.GradSaveFunc) => {
    const { loss, backprop } = sparseSoftmaxCrossEntropy(x as tf.Tensor2D, tf.cast(labels, 'int32') as tf.Tensor1D);
    save([backprop]);
    const value = tf.div(tf.sum(loss), rows) as tf.Scalar;
    loss.dispose();
    return { value, gradFunc: (dy: tf.Tensor, [g]: tf.Tensor[]) => tf.mul(g, tf.div(dy, rows)) };
  };
  const f = tf.customGrad(body as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(logits) as tf.Scalar;
}
