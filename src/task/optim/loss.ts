// The classification objective and its metric, as tensors (no host round trip),
// matching torch.nn.CrossEntropyLoss (mean over the batch) and ratsnlp's accuracy.
import { tf } from '../../util/backend';
import { nativeKernelsAvailable, sparseSoftmaxCrossEntropy } from './tf-kernels';

/**
 * Mean softmax cross-entropy of `logits` [batch, classes] against int `labels`
 * [batch]. Stable for any logit size: log-softmax subtracts the row maximum before
 * exp, like torch's log_softmax. Differentiable with respect to `logits`.
 * `labelSmoothing` ε > 0 scores against (1 − ε)·one-hot + ε/classes instead
 * (torch's CrossEntropyLoss(label_smoothing=ε)).
 */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, labelSmoothing = 0): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[1];
    const logProbs = tf.logSoftmax(logits, -1);
    let targets: tf.Tensor = tf.oneHot(tf.cast(labels, 'int32'), classes);
    if (labelSmoothing > 0) targets = tf.add(tf.mul(targets, 1 - labelSmoothing), labelSmoothing / classes);
    const picked = tf.sum(tf.mul(logProbs, targets), -1);
    return tf.neg(tf.mean(picked)) as tf.Scalar;
  });
}

/**
 * R-Drop's consistency term (Liang et al. 2021) for `logits` holding a batch's two copies
 * (the first half's rows, then the second's, each run with its own dropout masks): the mean
 * over rows of KL(p1‖p2) + KL(p2‖p1). Differentiable with respect to `logits`.
 */
export function symmetricKl(logits: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [z1, z2] = tf.split(logits, 2, 0);
    const [lp1, lp2] = [tf.logSoftmax(z1, -1), tf.logSoftmax(z2, -1)];
    return tf.mean(tf.sum(tf.mul(tf.sub(tf.exp(lp1), tf.exp(lp2)), tf.sub(lp1, lp2)), -1)) as tf.Scalar;
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
