// The tokenizer files that go next to a saved model, made from the tokenizer object
// itself (whatever folder or hub id it came from), so every checkpoint folder is a
// complete Hugging Face model folder: Python's AutoTokenizer and BertTokenizer.fromFolder
// both load it and cut sentences exactly as in training.
//   vocab.txt              one WordPiece token per line, line number = id (slow tokenizer)
//   tokenizer_config.json  casing and special tokens
//   tokenizer.json         the definition this project runs (Python's fast tokenizer reads it)
import * as path from 'path';
import { writeFileAtomic } from '../util/fsutil';
import type { BertTokenizer } from './tokenizer';

/** File name -> contents of the tokenizer files for `tokenizer`. */
export function tokenizerFiles(tokenizer: BertTokenizer): Map<string, string> {
  const vocab = JSON.parse(tokenizer.tokenizerJson()).model.vocab as Record<string, number>;
  const byId: string[] = [];
  for (const [token, id] of Object.entries(vocab)) byId[id] = token;
  const c = tokenizer.config;
  const config = {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: c.doLowerCase,
    strip_accents: c.stripAccents,
    tokenize_chinese_chars: c.tokenizeChineseChars,
    model_max_length: c.modelMaxLength,
    unk_token: c.unkToken,
    sep_token: c.sepToken,
    pad_token: c.padToken,
    cls_token: c.clsToken,
    mask_token: c.maskToken,
    clean_up_tokenization_spaces: true,
  };
  return new Map([
    ['vocab.txt', `${byId.join('\n')}\n`],
    ['tokenizer_config.json', `${JSON.stringify(config, null, 2)}\n`],
    ['tokenizer.json', tokenizer.tokenizerJson()],
  ]);
}

/** Writes the files of tokenizerFiles() into `dir` (each atomically); returns their paths. */
export function writeTokenizerFiles(files: Map<string, string>, dir: string): string[] {
  return [...files].map(([name, text]) => {
    const file = path.join(dir, name);
    writeFileAtomic(file, text);
    return file;
  });
}
