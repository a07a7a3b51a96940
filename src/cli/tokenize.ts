// `nlpbook tokenize`: shows how the model's tokenizer cuts sentences into WordPiece tokens and ids,
// the same ids Python's BertTokenizer gives (course step 4).
import { check } from '../util/errors';
import { defineCommand } from './command';
import { inputTexts } from './inputs';
import { DEFAULT_SETTINGS } from '../settings/index';
import { BertTokenizer } from '../tokenizer/index';

const USAGE = `usage: nlpbook tokenize [--model DIR_OR_ID] [--max-length N] [--json] (--file FILE | TEXT...)

Tokenizes each TEXT (or each line of FILE; "-" reads stdin) with the model's WordPiece tokenizer:
[CLS] pieces… [SEP], cut to --max-length tokens with [SEP] kept (Python's truncation=True).

  --model DIR_OR_ID   model folder or hub id (default ${DEFAULT_SETTINGS.pretrainedModelName}; ids resolve
                      through NLPBOOK_MIRROR / NLPBOOK_MODEL_MIRROR or Python's Hugging Face cache)
  --max-length N      longest output in tokens, [CLS] and [SEP] included (default ${DEFAULT_SETTINGS.maxSeqLength},
                      the settings' maxSeqLength)
  --json              one JSON object per input line: {"text","tokens","input_ids","attention_mask"}
  --file FILE         one text per line`;

export const command = defineCommand({
  name: 'tokenize',
  summary: 'WordPiece tokens and ids of texts (--model DIR_OR_ID [--max-length N] --json (--file FILE | TEXT...))',
  usage: USAGE,
  options: { model: { type: 'string' }, 'max-length': { type: 'string' }, file: { type: 'string' } },
  positionals: true,
  json: true,
  async run({ values, positionals }) {
    const maxLength = Number(values['max-length'] ?? DEFAULT_SETTINGS.maxSeqLength);
    check(Number.isInteger(maxLength) && maxLength >= 2, `--max-length must be an integer of at least 2, got "${values['max-length']}"`);
    const texts = inputTexts(values.file, positionals, 'tokenize');

    const tokenizer = await BertTokenizer.fromPretrained(values.model ?? DEFAULT_SETTINGS.pretrainedModelName);
    for (const text of texts) {
      const e = tokenizer.encode(text, { maxLength });
      if (values.json) {
        console.log(JSON.stringify({ text, tokens: e.tokens, input_ids: e.inputIds, attention_mask: e.attentionMask }));
      } else {
        console.log(`${text}\n  tokens ${e.tokens.join(' ')}\n  ids    ${e.inputIds.join(' ')}`);
      }
    }
  },
});
