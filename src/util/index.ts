// Tools every step uses: the TensorFlow.js backend, one-line errors, atomic files,
// progress lines, the seeded generator, mirrors, verified downloads, graph sessions.
// Library modules import the file they need (../util/errors); this face is for notebooks.
export { initBackend, tf, type BackendInfo } from './backend';
export { check, NlpbookError } from './errors';
export { displayPath, scratchDir, sha256, sha256File, writeFileAtomic, writeJsonAtomic } from './fsutil';
export { formatBytes, formatDuration, progress, type Progress } from './progress';
export { Rng, type RngState } from './random';
