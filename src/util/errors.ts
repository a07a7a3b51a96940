/**
 * An error meant for the person at the keyboard: one line that names the file or
 * field and what was expected. The CLI prints only its message (no stack trace).
 */
export class NlpbookError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NlpbookError';
  }
}

/** Throws an NlpbookError unless `condition` holds. */
export function check(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new NlpbookError(typeof message === 'function' ? message() : message);
}
