// Where downloads come from on a machine without internet. A mirror is a base URL or
// a local folder with the same layout as the origin. One variable, NLPBOOK_MIRROR,
// names a folder laid out like this project's ../shared (data/nsmc/..., models/<name>/...);
// the specific variables and settings win over it.
import * as path from 'path';

/** The corpus mirror: the setting, else NLPBOOK_CORPUS_MIRROR, else $NLPBOOK_MIRROR/data, else null (GitHub). */
export function corpusMirror(setting: string | null | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  return setting || env.NLPBOOK_CORPUS_MIRROR || (env.NLPBOOK_MIRROR ? path.join(env.NLPBOOK_MIRROR, 'data') : null) || null;
}

/** The model mirror folder: the setting, else NLPBOOK_MODEL_MIRROR, else $NLPBOOK_MIRROR/models, else null (hub). */
export function modelMirror(setting: string | null | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  return setting || env.NLPBOOK_MODEL_MIRROR || (env.NLPBOOK_MIRROR ? path.join(env.NLPBOOK_MIRROR, 'models') : null) || null;
}
