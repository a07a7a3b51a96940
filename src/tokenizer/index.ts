// Step 4: the tokenizer. kcbert's WordPiece (ids identical to Python's BertTokenizer),
// token length summaries, and the tokenizer files saved next to a model. Notebook 04-tokenizer.
export { BertTokenizer, summarizeLengths, tokenLengths, type Encoding, type EncodeOptions, type TokenLengthSummary } from './tokenizer';
export { tokenizerFiles, writeTokenizerFiles } from './tokenizer-files';
