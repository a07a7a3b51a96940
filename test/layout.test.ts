// The layout of src/: one folder per course step, and imports that follow the pipeline.
// Reads every .ts file under src/ (and the import lines of the notebooks' code cells) with
// TypeScript's own import scanner and checks, on the real files:
//   (a) no import cycle among files (type-only imports count too);
//   (b) the layer order: a module imports util/, its own folder and EARLIER steps' faces
//       (<step>/index.ts) only; side tools (charts/, export/, bench/) import any step;
//       cli/ imports anything; course/ may use charts/ (the main job draws step 8's charts);
//   (c) no src file names test/ (or fixtures/) in an import or a string path;
//   (d) at most MAX_TOP_LEVEL .ts files at src/'s top level;
//   (e) notebooks import only faces: './src/<folder>/index'.
// Also: every import names a file, never a folder ('../model/index', not '../model'):
// the notebook kernel (tslab) resolves an import by adding .js to it, so a folder import
// type-checks and then fails in Jupyter with MODULE_NOT_FOUND. And every step has a face
// that re-exports by name (no `export *`). The checker is tested on planted violations first.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import { REPO } from './helpers';

/** The course steps in import order: each may import the ones before it (through their faces). */
const STEPS = ['settings', 'corpus', 'model', 'tokenizer', 'data', 'task', 'train', 'pretrain', 'evaluate', 'inference', 'course'] as const;
/** Side tools: may import util/ and any step; steps do not import them (except course/ -> charts/). */
const SIDE_TOOLS = ['charts', 'export', 'bench'] as const;
/** Folders whose face (index.ts) notebooks may import besides the steps' (03a quotes the bench results). */
const NOTEBOOK_FACES = [...STEPS, 'util', 'charts', 'bench'];
const MAX_TOP_LEVEL = 6;

type Files = Map<string, string>; // repo-relative path ('src/model/bert.ts') -> text

interface Import {
  from: string;
  spec: string;
  line: number;
  /** The src file it resolves to, or null (a package, or a path outside src/). */
  target: string | null;
  /** True when the specifier names a folder (resolved through its index.ts). */
  folder: boolean;
}

interface LayoutProblems {
  cycles: string[];
  layers: string[];
  folderImports: string[];
  testPaths: string[];
  topLevel: string[];
  faces: string[];
  notebooks: string[];
}

/** The folder of a src file ('' at src/'s top level). */
function folderOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? parts[1] : '';
}

function lineAt(text: string, pos: number): number {
  return text.slice(0, pos).split('\n').length;
}

function importsOf(file: string, text: string, files: Files): Import[] {
  return ts.preProcessFile(text, true, true).importedFiles.map(({ fileName: spec, pos }) => {
    const imp: Import = { from: file, spec, line: lineAt(text, pos), target: null, folder: false };
    if (!spec.startsWith('.')) return imp;
    const base = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
    if (files.has(base + '.ts')) imp.target = base + '.ts';
    else if (files.has(base) && base.endsWith('.ts')) imp.target = base;
    else if (files.has(base + '/index.ts')) Object.assign(imp, { target: base + '/index.ts', folder: true });
    else if (!base.startsWith('src/')) imp.target = null;
    return imp;
  });
}

/** Why `from` may not import `to` (both src files), or null when it may. */
function layerProblem(from: string, to: string): string | null {
  const f = folderOf(from);
  const t = folderOf(to);
  const step = (x: string) => (STEPS as readonly string[]).indexOf(x);
  // A file at src/'s top level counts as a side tool.
  const side = (x: string) => x === '' || (SIDE_TOOLS as readonly string[]).includes(x);
  if (f === t || f === 'cli' || t === 'util') return null;
  if (t === 'cli') return 'only cli/ imports cli/';
  if (f === 'util') return 'util/ imports only util/';
  if (step(t) >= 0) {
    if (!side(f) && !(step(f) >= 0 && step(t) < step(f))) return `${t}/ is not an earlier step than ${f}/ (order: util, ${STEPS.join(', ')})`;
    if (to !== `src/${t}/index.ts`) return `another folder's step is imported through its face, src/${t}/index.ts`;
    return null;
  }
  if (side(t)) return side(f) || (f === 'course' && t === 'charts') ? null : `steps do not import the side tool ${t}/`;
  return `src/${t}/ is not in the layout (add it to STEPS or SIDE_TOOLS in test/layout.test.ts)`;
}

/** One cycle through `start` inside its strongly connected component, as a path. */
function cycleThrough(start: string, edges: Map<string, string[]>, component: Set<string>): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const node = queue.shift()!;
    for (const next of edges.get(node) ?? []) {
      if (!component.has(next)) continue;
      if (next === start) {
        const pathBack = [node];
        while (pathBack[0] !== start) pathBack.unshift(prev.get(pathBack[0])!);
        return [...pathBack, start];
      }
      if (!prev.has(next)) {
        prev.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start];
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
function cycles(edges: Map<string, string[]>): string[][] {
  let index = 0;
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    order.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!order.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, order.get(w)!));
    }
    if (low.get(v) === order.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (edges.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of [...edges.keys()].sort()) if (!order.has(v)) visit(v);
  return found.map((component) => cycleThrough(component[0], edges, new Set(component)));
}

/** String literals (and template pieces) that name test/ or fixtures/ as a path. */
function testPathStrings(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const pattern = /(^|[/\\])(test|fixtures)[/\\]|(^|[/\\])fixtures$/;
  const visit = (node: ts.Node) => {
    const parent = node.parent;
    const isModuleName = parent && (ts.isImportDeclaration(parent) || ts.isExportDeclaration(parent) || ts.isExternalModuleReference(parent) ||
      (ts.isCallExpression(parent) && (parent.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(parent.expression) && parent.expression.text === 'require'))));
    if (isModuleName) return; // imports are checked with the other imports
    if ((ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateLiteralToken(node)) && pattern.test(node.text)) {
      found.push(`${file}:${lineAt(text, node.getStart(source))}: ${JSON.stringify(node.text)}`);
    }
    node.forEachChild(visit);
  };
  visit(source);
  return found;
}

/** Checks src files and notebooks' code (notebook name -> code of its cells) against the layout. */
function layoutProblems(files: Files, notebooks: Map<string, string> = new Map()): LayoutProblems {
  const problems: LayoutProblems = { cycles: [], layers: [], folderImports: [], testPaths: [], topLevel: [], faces: [], notebooks: [] };
  const edges = new Map<string, string[]>();
  for (const [file, text] of files) {
    const imports = importsOf(file, text, files);
    edges.set(file, imports.flatMap((i) => (i.target ? [i.target] : [])));
    for (const i of imports) {
      const where = `${file}:${i.line}: '${i.spec}'`;
      if (/(^|\/)(test|fixtures)(\/|$)/.test(i.spec)) problems.testPaths.push(`${where} (an import)`);
      else if (i.spec.startsWith('.') && !i.target) problems.testPaths.push(`${where} (outside src/)`);
      if (i.folder) problems.folderImports.push(`${where}: name the file, '${i.spec.replace(/\/$/, '')}/index'`);
      if (i.target) {
        const why = layerProblem(file, i.target);
        if (why) problems.layers.push(`${where} -> ${i.target}: ${why}`);
      }
    }
    problems.testPaths.push(...testPathStrings(file, text));
  }
  problems.cycles = cycles(edges).map((c) => c.join(' -> '));

  const topLevel = [...files.keys()].filter((f) => folderOf(f) === '').sort();
  if (topLevel.length > MAX_TOP_LEVEL) problems.topLevel.push(`${topLevel.length} files at src/'s top level (at most ${MAX_TOP_LEVEL}): ${topLevel.join(', ')}`);

  const folders = new Set([...files.keys()].map(folderOf).filter((f) => f));
  for (const folder of folders) {
    if (![...STEPS, ...SIDE_TOOLS, 'util', 'cli'].includes(folder)) problems.faces.push(`src/${folder}/ is not in the layout (STEPS or SIDE_TOOLS in test/layout.test.ts)`);
  }
  for (const folder of [...STEPS, 'util', 'charts']) {
    const face = files.get(`src/${folder}/index.ts`);
    if (face === undefined) {
      if ((STEPS as readonly string[]).includes(folder)) problems.faces.push(`src/${folder}/index.ts is missing (the step's public face)`);
      continue;
    }
    if (!/^\/\/.*\n\/\/.*\n/.test(face)) problems.faces.push(`src/${folder}/index.ts: open with a 2-3 line comment (what the step does, which notebook teaches it)`);
    if (/^\s*export\s*\*/m.test(face)) problems.faces.push(`src/${folder}/index.ts: re-export by name, not with export *`);
  }

  for (const [name, code] of notebooks) {
    for (const { fileName: spec } of ts.preProcessFile(code, true, true).importedFiles) {
      if (!spec.startsWith('.')) continue;
      const m = /^\.\/src\/([a-z]+)\/index$/.exec(spec);
      if (!m || !NOTEBOOK_FACES.includes(m[1]) || !files.has(`src/${m[1]}/index.ts`)) {
        problems.notebooks.push(`${name}: '${spec}' (import a face: ${NOTEBOOK_FACES.map((f) => `'./src/${f}/index'`).join(', ')})`);
      }
    }
  }
  return problems;
}

function srcFiles(): Files {
  const files: Files = new Map();
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(REPO, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith('.ts')) files.set(rel, fs.readFileSync(path.join(REPO, rel), 'utf8'));
    }
  };
  walk('src');
  return files;
}

function notebookCode(): Map<string, string> {
  const dir = path.join(REPO, 'notebooks');
  const code = new Map<string, string>();
  for (const name of fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort()) {
    const nb = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));
    code.set(name, nb.cells.filter((c: any) => c.cell_type === 'code').map((c: any) => [c.source].flat().join('')).join('\n'));
  }
  return code;
}

const list = (items: string[]) => `\n  ${items.join('\n  ')}`;

test('the checker finds planted violations', () => {
  const face = (names: string) => `// A step.\n// Taught by a notebook.\nexport { ${names} } from './a';\n`;
  const planted: Files = new Map([
    ['src/util/errors.ts', "export const fixture = 'test/fixtures/tiny-bert';\n"],
    ['src/settings/index.ts', face('s')],
    ['src/settings/a.ts', "import { t } from '../task/index';\nexport const s = 1;\n"],
    ['src/model/index.ts', "export * from './a';\n"],
    ['src/model/a.ts', "import { b } from './b';\nexport const a = 1;\n"],
    ['src/model/b.ts', "import { a } from './a';\nimport { s } from '../settings';\nexport const b = 1;\n"],
    ['src/task/index.ts', face('t')],
    ['src/task/a.ts', "import { a } from '../model/a';\nimport { h } from '../../test/helpers';\nexport const t = 1;\n"],
    ['src/misc/x.ts', 'export const x = 1;\n'],
    ...Array.from({ length: MAX_TOP_LEVEL + 1 }, (_, i) => [`src/top${i}.ts`, ''] as [string, string]),
  ]);
  const p = layoutProblems(planted, new Map([['01.ipynb', "import { s } from './src/settings/index';\nimport { a } from './src/model/a';\n"]]));
  assert.deepEqual(p.cycles, ['src/model/a.ts -> src/model/b.ts -> src/model/a.ts']);
  assert.deepEqual(p.layers, [
    "src/settings/a.ts:1: '../task/index' -> src/task/index.ts: task/ is not an earlier step than settings/ (order: util, settings, corpus, model, tokenizer, data, task, train, pretrain, evaluate, inference, course)",
    "src/task/a.ts:1: '../model/a' -> src/model/a.ts: another folder's step is imported through its face, src/model/index.ts",
  ]);
  assert.deepEqual(p.folderImports, ["src/model/b.ts:2: '../settings': name the file, '../settings/index'"]);
  assert.deepEqual(p.testPaths, ["src/util/errors.ts:1: \"test/fixtures/tiny-bert\"", "src/task/a.ts:2: '../../test/helpers' (an import)"]);
  assert.equal(p.topLevel.length, 1);
  assert.match(p.topLevel[0], /^7 files at src\/'s top level/);
  assert.deepEqual(p.faces.sort(), [
    'src/misc/ is not in the layout (STEPS or SIDE_TOOLS in test/layout.test.ts)',
    'src/model/index.ts: open with a 2-3 line comment (what the step does, which notebook teaches it)',
    'src/model/index.ts: re-export by name, not with export *',
    ...['corpus', 'course', 'data', 'evaluate', 'inference', 'pretrain', 'tokenizer', 'train'].map((s) => `src/${s}/index.ts is missing (the step's public face)`),
  ].sort());
  assert.equal(p.notebooks.length, 1);
  assert.match(p.notebooks[0], /^01\.ipynb: '\.\/src\/model\/a'/);
});

test('src/ follows the course layout', () => {
  const files = srcFiles();
  assert.ok(files.size > 40, `only ${files.size} .ts files found under src/`);
  const p = layoutProblems(files, notebookCode());
  const titles: Record<keyof LayoutProblems, string> = {
    cycles: 'import cycles',
    layers: 'imports against the layer order',
    folderImports: 'imports of a folder (the notebook kernel, tslab, cannot load them)',
    testPaths: 'src/ names test/',
    topLevel: "src/'s top level",
    faces: 'faces',
    notebooks: 'notebooks importing past a face',
  };
  const report = (Object.keys(titles) as (keyof LayoutProblems)[]).filter((k) => p[k].length).map((k) => `${titles[k]}:${list(p[k])}`);
  assert.ok(report.length === 0, report.join('\n'));
});
