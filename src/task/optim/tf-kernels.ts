// TensorFlow kernels that tfjs does not expose, called through tfjs-node's own
// op runner (backend.executeSingleOutput, the way tfjs-node runs its summary-writer
// ops). Why: an AdamW step written with tfjs ops is ~14 passes over every weight,
// each allocating a fresh buffer; TensorFlow's ResourceApplyAdam does the Adam update
// in ONE fused, multi-threaded pass, in place: the whole AdamW step gets 3-4x
// faster, on par with PyTorch's own AdamW on the same CPU (bench/adamw-step.ts).
// Only the native `tensorflow` backend has these; callers check
// nativeKernelsAvailable() and otherwise use plain tfjs ops.
import { tf } from '../../util/backend';

/** The parts of tfjs-node's NodeJSKernelBackend used here (not in tfjs's public types). */
interface NodeBackend {
  binding: Record<string, number>;
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: tf.Tensor[]): tf.Tensor;
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: tf.Tensor[], numOutputs: number): tf.Tensor[];
}
interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}

/** TensorFlow's name for "a variable owned by its handle": freed when the handle is disposed. */
const ANONYMOUS_NAME = 'cd2c89b7-88b7-44c8-ad83-06c2a9158347';

/** True when the native TensorFlow backend (tfjs-node) is active, so the kernels below run. */
export function nativeKernelsAvailable(): boolean {
  if (tf.getBackend() !== 'tensorflow') return false;
  const b = tf.backend() as unknown as Partial<NodeBackend>;
  return typeof b.executeSingleOutput === 'function' && typeof b.binding === 'object';
}

function nodeBackend(): NodeBackend {
  if (!nativeKernelsAvailable()) throw new Error(`TensorFlow kernels need the native backend; the active one is "${tf.getBackend()}"`);
  return tf.backend() as unknown as NodeBackend;
}

function floatAttr(b: NodeBackend, name: string): OpAttr {
  return { name, type: b.binding.TF_ATTR_TYPE, value: b.binding.TF_FLOAT };
}

/**
 * A float32 TensorFlow resource variable: what ResourceApplyAdam updates in place.
 * Copy-on-write: assign() and read() share buffers, and TensorFlow copies a
 * variable's buffer before an in-place update only while someone else still holds it.
 */
export class ResourceVariable {
  private handle: tf.Tensor | null;

  constructor(initial: tf.Tensor) {
    const b = nodeBackend();
    // The handle must outlive any tidy() the caller is in.
    this.handle = tf.keep(
      b.executeSingleOutput(
        'VarHandleOp',
        [
          { name: 'container', type: b.binding.TF_ATTR_STRING, value: '' },
          { name: 'shared_name', type: b.binding.TF_ATTR_STRING, value: ANONYMOUS_NAME },
          floatAttr(b, 'dtype'),
          { name: 'shape', type: b.binding.TF_ATTR_SHAPE, value: initial.shape },
        ],
        [],
      ),
    );
    this.assign(initial);
  }

  /** The handle, for kernels that take the variable itself. */
  get resource(): tf.Tensor {
    if (!this.handle) throw new Error('ResourceVariable used after dispose()');
    return this.handle;
  }

  /** Makes `value` the variable's contents (shares its buffer; no copy). */
  assign(value: tf.Tensor): void {
    const b = nodeBackend();
    b.executeMultipleOutputs('AssignVariableOp', [floatAttr(b, 'dtype')], [this.resource, value], 0);
  }

  /** The current contents as a tensor (shares the buffer until the next update). */
  read(): tf.Tensor {
    const b = nodeBackend();
    return b.executeSingleOutput('ReadVariableOp', [floatAttr(b, 'dtype')], [this.resource]);
  }

  dispose(): void {
    this.handle?.dispose();
    this.handle = null;
  }
}

/** The scalar inputs of ResourceApplyAdam, float32 tensors. */
export interface ApplyAdamScalars {
  beta1Power: tf.Scalar;
  beta2Power: tf.Scalar;
  lr: tf.Scalar;
  beta1: tf.Scalar;
  beta2: tf.Scalar;
  epsilon: tf.Scalar;
}

/**
 * TensorFlow's fused Adam, in place, all in float32:
 *   m += (grad - m) * (1 - beta1);  v += (grad² - v) * (1 - beta2)
 *   variable -= m * lr * sqrt(1 - beta2Power) / (1 - beta1Power) / (sqrt(v) + epsilon)
 */
export function applyAdam(variable: ResourceVariable, m: ResourceVariable, v: ResourceVariable, s: ApplyAdamScalars, grad: tf.Tensor): void {
  const b = nodeBackend();
  b.executeMultipleOutputs(
    'ResourceApplyAdam',
    [
      floatAttr(b, 'T'),
      { name: 'use_locking', type: b.binding.TF_ATTR_BOOL, value: false },
      { name: 'use_nesterov', type: b.binding.TF_ATTR_BOOL, value: false },
    ],
    [variable.resource, m.resource, v.resource, s.beta1Power, s.beta2Power, s.lr, s.beta1, s.beta2, s.epsilon, grad],
    0,
  );
}

/** sum(x²) / 2 in one pass without a temporary (TensorFlow's L2Loss); 3x faster than sum(square(x)). */
export function l2Loss(x: tf.Tensor): tf.Scalar {
  const b = nodeBackend();
  return b.executeSingleOutput('L2Loss', [floatAttr(b, 'T')], [x]) as tf.Scalar;
}

/**
 * TensorFlow's SparseSoftmaxCrossEntropyWithLogits: per-row loss [rows] and its
 * gradient with respect to the logits [rows, classes] (softmax - one-hot), both from ONE
 * pass over the logits. For a 30,000-word vocabulary the tfjs-ops version (log-softmax,
 * one-hot, multiply, sum, then autodiff back through each) makes ~8 passes.
 */
export function sparseSoftmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): { loss: tf.Tensor1D; backprop: tf.Tensor2D } {
  const b = nodeBackend();
  const [loss, backprop] = b.executeMultipleOutputs(
    'SparseSoftmaxCrossEntropyWithLogits',
    [floatAttr(b, 'T'), { name: 'Tlabels', type: b.binding.TF_ATTR_TYPE, value: b.binding.TF_INT32 }],
    [logits, labels],
    2,
  );
  return { loss: loss as tf.Tensor1D, backprop: backprop as tf.Tensor2D };
}
