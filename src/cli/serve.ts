// `nlpbook serve`: the demo web page and JSON API of a trained model (course step 9).
// Runs until Ctrl+C (SIGINT) or SIGTERM, then closes the server and exits 0.
import { parseArgs } from 'util';
import { check } from '../util/errors';
import { DEFAULT_HOST, DEFAULT_PORT, MAX_BODY_BYTES, MAX_TEXT_CHARS, startServer } from '../inference/index';
import { optionalInt } from './inputs';

const USAGE = `usage: nlpbook serve --model DIR [--port N] [--host H] [--tokenizer DIR] [--max-length N] [--quiet]

Serves a web page (type a sentence, see 긍정/부정 and the probability) and a JSON API for
the model in DIR:

  POST /api/predict  {"text": "..."}  ->  {"text","label","positive_prob","logits","ms"}
  GET  /api/health

Errors come back as {"error": "..."} with a 4xx status (malformed JSON, no "text", a body
over ${MAX_BODY_BYTES} bytes, a text over ${MAX_TEXT_CHARS} characters). Once listening it prints the URL on
stderr and {"url","host","port","model"} on stdout. Ctrl+C stops it.

  --model DIR        model folder (nlpbook train's best/, or any Hugging Face classifier folder)
  --port N           default ${DEFAULT_PORT}; 0 picks a free port
  --host H           default ${DEFAULT_HOST} (this machine only); 0.0.0.0 listens on every interface
  --tokenizer DIR    tokenizer folder when DIR has no vocab.txt / tokenizer.json
  --max-length N     longest input in tokens (default: DIR/settings.json's maxSeqLength, else 128)
  --quiet            no line per request on stderr`;

export const command = {
  summary: 'web page and JSON API for a model folder (--model DIR [--port N] [--host H])',
  async run(argv: string[]): Promise<void> {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        tokenizer: { type: 'string' },
        'max-length': { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(USAGE);
      return;
    }
    check(values.model !== undefined, '--model DIR is required (a trained model folder, e.g. data/checkpoint-doccls/best)');
    const port = optionalInt(values.port, '--port', 0);
    check(port === undefined || port <= 65535, `--port must be at most 65535, got ${port}`);
    const server = await startServer({
      modelDir: values.model,
      tokenizerDir: values.tokenizer,
      maxLength: optionalInt(values['max-length'], '--max-length', 2),
      port,
      host: values.host,
      log: values.quiet ? undefined : (line) => console.error(line),
    });
    if (!['127.0.0.1', 'localhost', '::1'].includes(server.host)) {
      console.error(`nlpbook serve: listening on ${server.host}: anyone who can reach this machine can use the model`);
    }
    console.error(`nlpbook serve: ${server.url} (Ctrl+C to stop)`);
    console.log(JSON.stringify({ url: server.url, host: server.host, port: server.port, model: server.classifier.dir }));

    // Stay in run() until a signal: main() then returns as for any other command.
    await new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        console.error(`nlpbook serve: ${signal}: stopping`);
        server.close().then(resolve, resolve);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  },
};
