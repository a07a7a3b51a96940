// Runs a GraphBuilder graph inside libtensorflow through tfjs-node's SavedModel
// support: the graph is written as a SavedModel to a temp folder, loaded into a
// TensorFlow session (the folder is removed right after), and each run() feeds
// tfjs tensors and returns tfjs tensors, without copying them through JavaScript.
// Only the native `tensorflow` backend can do this (graphAvailable()).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf } from '../backend';
import { GraphBuilder, ref, type Sym } from './graph';

/** The parts of tfjs-node's NodeJSKernelBackend used here (not in tfjs's public types). */
interface NodeBackend {
  loadSavedModelMetaGraph(dir: string, tags: string): number;
  runSavedModel(id: number, inputs: tf.Tensor[], inputInfos: { name: string }[], outputNames: string[]): tf.Tensor[];
  deleteSavedModel(id: number): void;
}

/** True when the native TensorFlow backend is active and can run graphs. */
export function graphAvailable(): boolean {
  if (tf.getBackend() !== 'tensorflow') return false;
  const b = tf.backend() as unknown as Partial<NodeBackend>;
  return typeof b.loadSavedModelMetaGraph === 'function' && typeof b.runSavedModel === 'function';
}

export class GraphSession {
  private id: number | null;
  private readonly backend: NodeBackend;

  /** Loads `graph` into a new TensorFlow session. */
  constructor(graph: GraphBuilder) {
    if (!graphAvailable()) throw new Error(`TensorFlow graphs need the native backend; the active one is "${tf.getBackend()}"`);
    this.backend = tf.backend() as unknown as NodeBackend;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nlpbook-graph-'));
    try {
      fs.writeFileSync(path.join(dir, 'saved_model.pb'), graph.savedModel());
      this.id = this.backend.loadSavedModelMetaGraph(dir, 'serve');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Feeds `feeds` (placeholder -> tensor) and returns `fetches` as new tensors (tracked by tf.tidy like any op's output). */
  run(feeds: ReadonlyArray<readonly [Sym, tf.Tensor]>, fetches: readonly Sym[]): tf.Tensor[] {
    if (this.id === null) throw new Error('GraphSession used after dispose()');
    return this.backend.runSavedModel(this.id, feeds.map(([, t]) => t), feeds.map(([s]) => ({ name: ref(s) })), fetches.map(ref));
  }

  dispose(): void {
    if (this.id !== null) this.backend.deleteSavedModel(this.id);
    this.id = null;
  }
}
