// Step 2: the NSMC corpus, downloaded as Korpora does (cache first, verified) and read
// exactly as Python's csv module reads it; a pandas-like look with danfojs. Notebook 02-corpus.
export {
  documentLengths, ensureCorpus, NSMC_FILES, NsmcCorpus, nsmcPath, rawLines, readNsmc, readNsmcFile, SPLITS,
  type CorpusStats, type Example, type FetchResult, type Split,
} from './corpus';
export { dfd, frameHtml, LABEL_NAMES, labelCounts, lengthStats, toDataFrame } from './corpus-frame';
