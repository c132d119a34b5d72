// The dependency rules of DESIGN §1 and style rule 1 of §7, checked over every .ts file in src/.
// Each failure lists every violation as `file:line → specifier (resolved) — rule`.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = join(ROOT, 'src');

// ---------------------------------------------------------------------------------------------
// A small scanner: blanks comments and the contents of string, template and regex literals while
// keeping every offset (and line) where it was, and remembers each string literal by its offset.
// Matching on the blanked text means a commented-out import or a string that looks like one is
// never taken for a real import, and a literal is read back from the original at the same place.

interface Literal {
  value: string;
  /** A template literal with ${...}: its value is not known statically. */
  computed: boolean;
}

interface Scanned {
  bare: string;
  literals: Map<number, Literal>;
}

const REGEX_AFTER = new Set(['', '(', ',', '=', ':', '[', '!', '&', '|', '?', '{', '}', ';', '+', '-', '*', '%', '<', '>', '~', '^']);
const REGEX_AFTER_WORD = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'void', 'yield', 'await', 'instanceof', 'new', 'delete', 'throw']);

function scan(src: string): Scanned {
  const out = src.split('');
  const literals = new Map<number, Literal>();
  const blank = (from: number, to: number) => {
    for (let k = from; k < to && k < out.length; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  let depth = 0;
  /** For each open ${...}: the brace depth that closes it and the template it belongs to. */
  const templates: { closeAt: number; start: number }[] = [];
  let lastChar = '';
  let lastWord = '';

  /** Scans template text from `i` (just after ` or }) to the closing ` or the next ${. */
  const templateText = (i: number, start: number): number => {
    let j = i;
    while (j < src.length) {
      if (src[j] === '\\') {
        j += 2;
        continue;
      }
      if (src[j] === '`') {
        blank(i, j);
        const lit = literals.get(start);
        if (lit && !lit.computed) lit.value += src.slice(i, j);
        lastChar = '`';
        return j + 1;
      }
      if (src[j] === '$' && src[j + 1] === '{') {
        blank(i, j);
        const lit = literals.get(start);
        if (lit) lit.computed = true;
        templates.push({ closeAt: depth, start });
        depth += 1;
        lastChar = '{';
        return j + 2;
      }
      j += 1;
    }
    blank(i, j);
    return j;
  };

  let i = 0;
  while (i < src.length) {
    const ch = src[i]!;
    const next = src[i + 1];
    if (ch === '/' && next === '/') {
      const end = src.indexOf('\n', i);
      const stop = end === -1 ? src.length : end;
      blank(i, stop);
      i = stop;
      continue;
    }
    if (ch === '/' && next === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end === -1 ? src.length : end + 2;
      blank(i, stop);
      i = stop;
      continue;
    }
    if (ch === "'" || ch === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== ch && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1;
      literals.set(i, { value: src.slice(i + 1, j), computed: false });
      blank(i + 1, j);
      lastChar = ch;
      lastWord = '';
      i = j + 1;
      continue;
    }
    if (ch === '`') {
      literals.set(i, { value: '', computed: false });
      lastWord = '';
      i = templateText(i + 1, i);
      continue;
    }
    if (ch === '/' && (REGEX_AFTER.has(lastChar) || REGEX_AFTER_WORD.has(lastWord))) {
      let j = i + 1;
      let inClass = false;
      while (j < src.length && src[j] !== '\n') {
        if (src[j] === '\\') {
          j += 2;
          continue;
        }
        if (src[j] === '[') inClass = true;
        else if (src[j] === ']') inClass = false;
        else if (src[j] === '/' && !inClass) break;
        j += 1;
      }
      blank(i + 1, j);
      lastChar = '/';
      lastWord = '';
      i = j + 1;
      continue;
    }
    if (ch === '{') depth += 1;
    if (ch === '}') {
      const open = templates[templates.length - 1];
      if (open && depth - 1 === open.closeAt) {
        templates.pop();
        depth -= 1;
        i = templateText(i + 1, open.start);
        continue;
      }
      depth -= 1;
    }
    if (/[\w$]/.test(ch)) {
      let j = i;
      while (j < src.length && /[\w$]/.test(src[j]!)) j += 1;
      lastWord = src.slice(i, j);
      lastChar = src[j - 1]!;
      i = j;
      continue;
    }
    if (!/\s/.test(ch)) {
      lastChar = ch;
      lastWord = '';
    }
    i += 1;
  }
  return { bare: out.join(''), literals };
}

const lineAt = (text: string, index: number) => text.slice(0, index).split('\n').length;

interface ImportRef {
  specifier: string;
  line: number;
  kind: 'static' | 'side-effect' | 'dynamic';
  computed: boolean;
}

/** Every module specifier in `import ... from`, `export ... from`, `import '...'` and `import(...)`. */
function importsOf(src: string): ImportRef[] {
  const { bare, literals } = scan(src);
  const refs: ImportRef[] = [];
  const literalAt = (quote: number) => literals.get(quote);
  const patterns: [RegExp, ImportRef['kind']][] = [
    [/(?<![\w$.])(?:import|export)\s+(?:[\w\s{},*$]*?\s)?from\s*(['"])/g, 'static'],
    [/(?<![\w$.])import\s*(['"])/g, 'side-effect'],
  ];
  for (const [re, kind] of patterns) {
    for (const m of bare.matchAll(re)) {
      const quote = m.index! + m[0].length - 1;
      const lit = literalAt(quote);
      if (lit) refs.push({ specifier: lit.value, line: lineAt(bare, quote), kind, computed: false });
    }
  }
  for (const m of bare.matchAll(/(?<![\w$.])import\s*\(\s*/g)) {
    const at = m.index! + m[0].length;
    const lit = literalAt(at);
    const closes = lit && /^\s*[,)]/.test(bare.slice(bare.indexOf(bare[at]!, at + 1) + 1));
    if (lit && !lit.computed && closes) refs.push({ specifier: lit.value, line: lineAt(bare, at), kind: 'dynamic', computed: false });
    else refs.push({ specifier: '<computed>', line: lineAt(bare, at), kind: 'dynamic', computed: true });
  }
  return refs.sort((a, b) => a.line - b.line);
}

interface ClockCall {
  call: string;
  line: number;
}

const CLOCK_PATTERNS: [RegExp, string][] = [
  [/(?<![\w$])Date\s*\.\s*now\s*\(/g, 'Date.now()'],
  [/(?<![\w$])new\s+Date\s*\(\s*\)/g, 'new Date()'],
  [/(?<![\w$])new\s+Date(?!\s*\()/g, 'new Date'],
  [/(?<![\w$.])set(?:Timeout|Interval)\s*\(/g, 'setTimeout/setInterval'],
  [/(?<![\w$])globalThis\s*\.\s*set(?:Timeout|Interval)\b/g, 'globalThis.setTimeout/setInterval'],
];

/** Calls that read the wall clock or start a timer, outside comments and strings. */
function clockCallsOf(src: string): ClockCall[] {
  const { bare } = scan(src);
  const calls: ClockCall[] = [];
  for (const [re, call] of CLOCK_PATTERNS) {
    for (const m of bare.matchAll(re)) calls.push({ call, line: lineAt(bare, m.index!) });
  }
  return calls.sort((a, b) => a.line - b.line);
}

// ---------------------------------------------------------------------------------------------
// The module graph of src/.

interface Edge {
  /** e.g. src/service/notebook-service.ts */
  from: string;
  line: number;
  specifier: string;
  /** The file a relative specifier resolves to (src/...), or null for packages and node: built-ins. */
  target: string | null;
  resolved: boolean;
  computed: boolean;
}

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return walk(path);
      return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
    });
}

const toPosix = (p: string) => p.split(sep).join('/');
const repoPath = (abs: string) => toPosix(relative(ROOT, abs));

function resolveRelative(fromAbs: string, specifier: string): { target: string; resolved: boolean } {
  const base = resolve(dirname(fromAbs), specifier);
  const candidates = [base, base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts')];
  const hit = candidates.find((c) => existsSync(c) && statSync(c).isFile());
  return { target: repoPath(hit ?? base), resolved: hit !== undefined };
}

const FILES = walk(SRC);
const SOURCES = new Map(FILES.map((abs) => [repoPath(abs), readFileSync(abs, 'utf8')]));

const EDGES: Edge[] = FILES.flatMap((abs) =>
  importsOf(SOURCES.get(repoPath(abs))!).map((ref): Edge => {
    const from = repoPath(abs);
    if (ref.computed) return { from, line: ref.line, specifier: ref.specifier, target: null, resolved: false, computed: true };
    if (!ref.specifier.startsWith('.')) return { from, line: ref.line, specifier: ref.specifier, target: null, resolved: true, computed: false };
    const { target, resolved } = resolveRelative(abs, ref.specifier);
    return { from, line: ref.line, specifier: ref.specifier, target, resolved, computed: false };
  }),
);

// ---------------------------------------------------------------------------------------------
// The rules.

const under = (path: string | null, dir: string) => path !== null && path.startsWith(`src/${dir}/`);
const RUNTIME_IMPL = /^src\/runtime\/([^/]+)\//;
const runtimeImplOf = (path: string | null) => (path === null ? null : (RUNTIME_IMPL.exec(path)?.[1] ?? null));
/** Modules of runtime/local/ that the cluster runtimes (slurm/, kubernetes/) build on rather than duplicate. */
const SHARED_LOCAL_PIECES = new Set(
  ['jupyter-command', 'layout', 'hooks', 'program-check', 'file-tail', 'json-file'].map((m) => `src/runtime/local/${m}.ts`),
);
const STORE_CONTRACTS = new Set(['src/store/store.ts', 'src/store/mutate.ts']);
const RUNTIME_CONTRACT = 'src/runtime/runtime.ts';
/** Database drivers belong to store/sql/ alone. */
const DRIVERS = new Set(['kysely', 'better-sqlite3', 'pg', 'pg-pool']);
const packageOf = (specifier: string) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

type Rule = (e: Edge) => string | null;

/** Service and scheduler see the store and the runtime only through their contracts, and no layer above them. */
const contractsOnly =
  (layer: string): Rule =>
  (e) => {
    if (under(e.target, 'store') && !STORE_CONTRACTS.has(e.target!)) return `${layer}/ imports only the store contracts (store/store.ts, store/mutate.ts)`;
    if (under(e.target, 'runtime') && e.target !== RUNTIME_CONTRACT) return `${layer}/ imports only the runtime contract (runtime/runtime.ts)`;
    if (under(e.target, 'api') || under(e.target, 'cli') || e.target === 'src/main.ts') return `${layer}/ must not import the layers above it`;
    if (e.target === null && DRIVERS.has(packageOf(e.specifier))) return `${layer}/ must not use a database driver`;
    return null;
  };

const RULES: { name: string; appliesTo: (from: string) => boolean; rule: Rule }[] = [
  {
    name: 'domain/ imports nothing of ours outside domain/ (only node: built-ins)',
    appliesTo: (from) => under(from, 'domain'),
    rule: (e) => {
      if (e.target === null) return e.specifier.startsWith('node:') ? null : 'domain/ imports only node: built-ins';
      return under(e.target, 'domain') ? null : 'domain/ imports nothing of ours';
    },
  },
  { name: 'service/ imports only the store and runtime contracts', appliesTo: (from) => under(from, 'service'), rule: contractsOnly('service') },
  { name: 'scheduler/ imports only the store and runtime contracts', appliesTo: (from) => under(from, 'scheduler'), rule: contractsOnly('scheduler') },
  {
    name: 'api/ never imports store/sql/ or a runtime implementation',
    appliesTo: (from) => under(from, 'api'),
    rule: (e) => {
      if (under(e.target, 'store/sql')) return 'api/ must not import store/sql/';
      if (runtimeImplOf(e.target) !== null) return 'api/ must not import a runtime implementation';
      if (e.target === null && DRIVERS.has(packageOf(e.specifier))) return 'api/ must not use a database driver';
      return null;
    },
  },
  {
    name: 'only src/main.ts imports store/sql/* and runtime/*/ implementations',
    appliesTo: () => true,
    rule: (e) => {
      if (e.from === 'src/main.ts') return null;
      if (under(e.target, 'store/sql') && !under(e.from, 'store/sql')) return 'only src/main.ts imports store/sql/';
      const impl = runtimeImplOf(e.target);
      // Another runtime may reuse the local runtime's pure pieces (same Jupyter argv, hooks, layout), nothing else of it.
      if (impl !== null && runtimeImplOf(e.from) !== null && SHARED_LOCAL_PIECES.has(e.target!)) return null;
      if (impl !== null && runtimeImplOf(e.from) !== impl) return `only src/main.ts imports runtime/${impl}/`;
      return null;
    },
  },
  {
    name: 'every relative import resolves to a file in the repository',
    appliesTo: () => true,
    rule: (e) => (e.specifier.startsWith('.') && !e.resolved ? 'does not resolve to a file' : null),
  },
  {
    name: 'no dynamic import with a computed specifier (the rules could not be checked)',
    appliesTo: () => true,
    rule: (e) => (e.computed ? 'computed dynamic import' : null),
  },
];

const describeEdge = (e: Edge) => `${e.from}:${e.line} → '${e.specifier}'${e.target && e.target !== e.specifier ? ` (${e.target})` : ''}`;

function violationsOf(rule: (typeof RULES)[number]): string[] {
  return EDGES.filter((e) => rule.appliesTo(e.from)).flatMap((e) => {
    const why = rule.rule(e);
    return why === null ? [] : [`${describeEdge(e)} — ${why}`];
  });
}

const report = (title: string, violations: string[]) =>
  `${violations.length} violation(s) of "${title}":\n${violations.map((v) => `  ${v}`).join('\n')}`;

// ---------------------------------------------------------------------------------------------

describe('the checker itself', () => {
  const SAMPLE = [
    "import a from './a.ts';",
    "import type { B } from '../b.ts';",
    'import {',
    '  c,',
    '  type D,',
    '} from "./c.ts";',
    "import * as e from 'node:fs';",
    "import def, { named } from 'pkg/sub';",
    "import './side-effect.ts';",
    "export { f } from './f.ts';",
    "export * from './g.ts';",
    "export type { H } from './h.ts';",
    "export * as ns from './ns.ts';",
    "const m = await import('./dynamic.ts');",
    'const n = await import(`./computed-${name}.ts`);',
    "// import nope from './line-comment.ts';",
    "/* import nope from './block-comment.ts'; */",
    'const s = "import fake from \'./in-string.ts\'";',
    "const t = `export { x } from './in-template.ts'`;",
    "const r = /import x from 'in-regex'/;",
    "const url = 'http://example.org/*'; import z from './after-tricky-string.ts';",
    "const q = a / b; import y from './after-division.ts';",
  ].join('\n');

  it('finds static, type-only, multi-line, re-export, side-effect and dynamic imports with their lines', () => {
    assert.deepEqual(
      importsOf(SAMPLE).map((r) => `${r.line} ${r.kind} ${r.specifier}`),
      [
        '1 static ./a.ts',
        '2 static ../b.ts',
        '6 static ./c.ts',
        '7 static node:fs',
        '8 static pkg/sub',
        '9 side-effect ./side-effect.ts',
        '10 static ./f.ts',
        '11 static ./g.ts',
        '12 static ./h.ts',
        '13 static ./ns.ts',
        '14 dynamic ./dynamic.ts',
        '15 dynamic <computed>',
        '21 static ./after-tricky-string.ts',
        '22 static ./after-division.ts',
      ],
    );
  });

  it('finds clock reads and timers, but not in comments, strings or member calls', () => {
    const source = [
      'const a = Date.now();',
      'const b = new Date();',
      'const c = new Date(a);',
      'setTimeout(() => {}, 10);',
      'const d = setInterval(tick, 10);',
      '// Date.now() in a comment',
      "const e = 'new Date() in a string';",
      'socket.setTimeout(1000);',
      'const f = `${Date.now()}`;',
      'globalThis.setTimeout(x, 1);',
      'const g = new Date;',
    ].join('\n');
    assert.deepEqual(
      clockCallsOf(source).map((c) => `${c.line} ${c.call}`),
      ['1 Date.now()', '2 new Date()', '4 setTimeout/setInterval', '5 setTimeout/setInterval', '9 Date.now()', '10 globalThis.setTimeout/setInterval', '11 new Date'],
    );
  });

  it('reads the real source tree', () => {
    assert.ok(FILES.length >= 30, `found ${FILES.length} files under src/`);
    assert.ok(
      EDGES.some((e) => e.from === 'src/main.ts' && e.target === 'src/store/sql/sqlite.ts'),
      'sees main.ts wire the SQLite store',
    );
    assert.ok(
      EDGES.some((e) => e.from === 'src/service/notebook-service.ts' && e.target === 'src/domain/lease.ts'),
      'sees the service use the lease math',
    );
  });
});

describe('dependency rules (DESIGN §1)', () => {
  for (const rule of RULES) {
    it(rule.name, () => {
      const violations = violationsOf(rule);
      assert.deepEqual(violations, [], report(rule.name, violations));
    });
  }
});

describe('time is injected (DESIGN §7 rule 1)', () => {
  const LAYERS = ['domain', 'service', 'scheduler'];
  for (const layer of LAYERS) {
    it(`${layer}/ never reads the clock or starts a timer directly`, () => {
      const violations: string[] = [];
      for (const [file, source] of SOURCES) {
        if (!under(file, layer)) continue;
        for (const c of clockCallsOf(source)) violations.push(`${file}:${c.line} → ${c.call} — take \`now\` or a Clock instead`);
        for (const e of EDGES.filter((x) => x.from === file && /^(node:)?timers(\/|$)/.test(x.specifier))) {
          violations.push(`${describeEdge(e)} — timers come from the injected Clock`);
        }
      }
      assert.deepEqual(violations, [], report(`${layer}/ injects time`, violations));
    });
  }
});
