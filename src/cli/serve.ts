// `nlpbook serve`: the demo web page and JSON API of a trained model (course step 9).
// Runs until Ctrl+C (SIGINT) or SIGTERM, then closes the server and exits 0.
import { check } from '../util/errors';
import { DEFAULT_HOST, DEFAULT_PORT, MAX_BODY_BYTES, MAX_TEXT_CHARS, startServer } from '../inference/index';
import { defineCommand, untilAborted } from './command';
import { loaderFlags, MODEL_FLAGS, optionalInt, requireModel } from './inputs';

const USAGE = `usage: nlpbook serve --model DIR [--port N] [--host H] [--allow-host NAME]... [--tokenizer DIR] [--max-length N] [--quiet]

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
  --allow-host NAME  another name the page may be opened by (repeatable; ".example.org" for a
                     domain and its subdomains, "*" for any). Requests must name the server as
                     localhost, an IP address, the --host or such a NAME in their Host header;
                     others get 403, so no web site can reach the server through DNS rebinding
  --tokenizer DIR    tokenizer folder when DIR has no vocab.txt / tokenizer.json
  --max-length N     longest input in tokens (default: DIR/settings.json's maxSeqLength, else 128)
  --quiet            no line per request on stderr`;

export const command = defineCommand({
  name: 'serve',
  summary: 'web page and JSON API for a model folder (--model DIR [--port N] [--host H])',
  usage: USAGE,
  options: { ...MODEL_FLAGS, port: { type: 'string' }, host: { type: 'string' }, 'allow-host': { type: 'string', multiple: true }, quiet: { type: 'boolean' } },
  onSignal: 'stopping',
  async run({ values, signal, notice }) {
    const model = requireModel(values);
    const port = optionalInt(values.port, '--port', 0);
    check(port === undefined || port <= 65535, `--port must be at most 65535, got ${port}`);
    const server = await startServer({
      modelDir: model,
      ...loaderFlags(values),
      port,
      host: values.host,
      allowedHosts: values['allow-host'],
      log: values.quiet ? undefined : (line) => console.error(line),
    });
    // Ctrl+C while the model was loading: close without announcing it.
    if (!signal.aborted) {
      if (!['127.0.0.1', 'localhost', '::1'].includes(server.host)) {
        notice(`listening on ${server.host}: anyone who can reach this machine can use the model`);
      }
      notice(`${server.url} (Ctrl+C to stop)`);
      console.log(JSON.stringify({ url: server.url, host: server.host, port: server.port, model: server.classifier.dir }));
      // Stay in run() until a signal: main() then returns as for any other command.
      await untilAborted(signal);
    }
    await server.close().catch(() => undefined);
  },
});
