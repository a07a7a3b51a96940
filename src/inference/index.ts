// Step 9: inference. Sentences scored by a trained model (`nlpbook predict`) and the demo
// web page with its JSON API (`nlpbook serve`). Notebook 09-inference.
export { predict } from './predict';
export { DEFAULT_HOST, DEFAULT_PORT, MAX_BODY_BYTES, MAX_TEXT_CHARS, startServer, type RunningServer, type ServeOptions } from './serve';
// The classifier itself comes from step 7 (train/classifier.ts).
export { SentenceClassifier, type ClassifierOptions, type Prediction } from '../train/index';
