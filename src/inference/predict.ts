// Step 9 of the course, and what `nlpbook predict` runs: a trained model folder scores
// sentences. The classifier itself (loading any Hugging Face-layout folder, batching
// sentences by length) is train/classifier.ts's SentenceClassifier, which step 8 uses too.
import { SentenceClassifier, type ClassifierOptions, type Prediction } from '../train/index';

/** Scores `texts` with the model in `modelDir`: one prediction per text, in input order. */
export async function predict(modelDir: string, texts: readonly string[], options: ClassifierOptions & { batchSize?: number } = {}): Promise<Prediction[]> {
  const classifier = await SentenceClassifier.load(modelDir, options);
  try {
    return classifier.predict(texts, options);
  } finally {
    classifier.dispose();
  }
}
