// The classification objective and its metric, as tensors (no host round trip),
// matching torch.nn.CrossEntropyLoss (mean over the batch) and ratsnlp's accuracy.
import { tf } from '../backend';

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
