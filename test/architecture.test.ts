// The layering holds (docs/design.md § Layers): no import cycles under scripts/
// and hooks/src/ (type-only imports included: a circle of types is still a
// circle for a reader), and no import running back up (a library module into
// an entry point, a command, the hooks or out of scripts/lib/); one module for
// each seam that must exist once; no function over 80 lines except the tables
// and reducers named below; and every entry point thin: short, importing only
// the cli helpers and its command module(s), with no branch but its answer to --help.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { functionLengths } from './helpers/function-lengths.ts';
import { branchesIn } from './helpers/branches.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const DIRS = ['scripts', 'hooks/src'];
const SPEC = /(?:^|\n)\s*(?:import|export)\b[^'";]*?\sfrom\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...tsFiles(rel));
    else if (e.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

/** file → the project files it imports (relative specifiers only). */
export function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of DIRS.flatMap(tsFiles)) {
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
    const deps: string[] = [];
    for (const m of text.matchAll(SPEC)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (!spec?.startsWith('.')) continue;
      deps.push(path.posix.normalize(path.posix.join(path.posix.dirname(file), spec.replace(/\.js$/, '.ts'))));
    }
    graph.set(file, deps);
  }
  return graph;
}

function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const d of graph.get(n) ?? []) {
      if (state.get(d) === 'open') found.push([...stack.slice(stack.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of [...graph.keys()].sort()) if (!state.has(n)) visit(n);
  return found;
}

const isEntry = (f: string): boolean => /^scripts\/[^/]+\.ts$/.test(f);

describe('architecture', () => {
  const graph = importGraph();

  it('reads the import graph', () => {
    expect(graph.get('scripts/run-experiment.ts')?.length).toBeGreaterThan(0);
    expect(graph.get('hooks/src/bash-guard.ts')).toContain('scripts/lib/shell-lexer.ts');
  });

  it('finds a cycle when there is one', () => {
    const g = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
    expect(cycles(g)).toEqual([['a', 'b', 'c', 'a']]);
  });

  it('has no import cycles', () => {
    expect(cycles(graph).map((c) => c.join(' → '))).toEqual([]);
  });

  it('has no library module importing an entry point or the hooks', () => {
    const bad: string[] = [];
    for (const [file, deps] of graph) {
      if (!file.startsWith('scripts/lib/')) continue;
      for (const d of deps) if (isEntry(d) || d.startsWith('hooks/')) bad.push(`${file} → ${d}`);
    }
    expect(bad).toEqual([]);
  });

  it('has no import running back up: the library below the commands, the hooks and the demo import no command; the library nothing outside it', () => {
    const isCommand = (f: string): boolean => f.startsWith('scripts/lib/commands/');
    const bad: string[] = [];
    for (const [file, deps] of graph) {
      for (const d of deps) {
        const up =
          (!isCommand(file) && !isEntry(file) && isCommand(d)) || // a command is above every module but an entry point
          (file.startsWith('hooks/') && isEntry(d)) ||
          (file.startsWith('scripts/lib/') && !d.startsWith('scripts/lib/')); // e.g. into scripts/demo/
        if (up) bad.push(`${file} → ${d}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('keeps classic zod out of every bundle (the engine imports zod/mini through scripts/lib/zod.ts)', () => {
    // Classic zod cannot be tree-shaken: one value import puts ~450 KB into a bundle (bench/engine.ts).
    const classic: string[] = [];
    for (const f of graph.keys()) {
      for (const m of fs.readFileSync(path.join(ROOT, f), 'utf8').matchAll(SPEC)) {
        const spec = m[1] ?? m[2] ?? m[3];
        if ((spec === 'zod' || spec?.startsWith('zod/v4/classic')) && !/^\s*(?:import|export)\s+type\b/.test(m[0])) classic.push(f);
      }
    }
    expect(classic).toEqual([]);
  });

  it('keeps the hooks bundle lean (no classic zod, no yaml in its import graph)', () => {
    const seen = new Set<string>();
    const heavy: string[] = [];
    const walk = (f: string): void => {
      if (seen.has(f)) return;
      seen.add(f);
      const text = fs.readFileSync(path.join(ROOT, f), 'utf8');
      for (const m of text.matchAll(SPEC)) {
        const spec = m[1] ?? m[2] ?? m[3];
        if (!spec || /^\s*(?:import|export)\s+type\b/.test(m[0])) continue; // erased from the bundle
        if (spec === 'zod' || spec === 'yaml' || spec === 'gray-matter') heavy.push(`${f} → ${spec}`);
        else if (spec.startsWith('.')) walk(path.posix.normalize(path.posix.join(path.posix.dirname(f), spec.replace(/\.js$/, '.ts'))));
      }
    };
    for (const f of graph.keys()) if (f.startsWith('hooks/src/')) walk(f);
    expect(heavy).toEqual([]);
  });

  describe('one of each', () => {
    const sources = [...graph.keys()];
    const text = new Map(sources.map((f) => [f, fs.readFileSync(path.join(ROOT, f), 'utf8')]));
    /** The files whose text matches re. */
    const holding = (re: RegExp): string[] => sources.filter((f) => re.test(text.get(f) ?? '')).sort();

    it('reads the process table in procs.ts only', () => {
      expect(holding(/readdirSync\('\/proc'\)|`\/proc\/\$\{/)).toEqual(['scripts/lib/procs.ts']);
    });

    it('has one crash point, faults.ts, under one variable', () => {
      expect(holding(/AUTOLOOP_CRASH_AT|process\.kill\(process\.pid/)).toEqual(['scripts/lib/faults.ts']);
    });

    it('runs git through gitcmd.ts only', () => {
      // hooks/src/guard-io.ts asks `git config --get alias.X` as the user's shell
      // would see it (the user's environment, on purpose: the guard judges what
      // that git would run), and scripts/demo/run.ts plays the user in its
      // temporary repository; neither is an engine command.
      expect(holding(/\bgitFile\(\)/)).toEqual(['hooks/src/guard-io.ts', 'scripts/lib/gitcmd.ts']);
      expect(holding(/\b(?:spawn|spawnSync|execFile|execFileSync)\(\s*'git'/)).toEqual(['scripts/demo/run.ts']);
    });

    it('has one shell lexer, shared by the Bash guard and the integrity checks', () => {
      expect(holding(/export function lex\b/)).toEqual(['scripts/lib/shell-lexer.ts']);
      expect(graph.get('hooks/src/bash-guard.ts')).toContain('scripts/lib/shell-lexer.ts');
      expect(graph.get('scripts/lib/integrity.ts')).toContain('scripts/lib/shell-lexer.ts');
    });

    it('decides whether a target is reached in goal.ts only', () => {
      expect(holding(/function reached\b|\bbest\s*[<>]=\s*(?:\w+\.)?target\b/)).toEqual(['scripts/lib/goal.ts']);
    });

    it('keeps the METRIC format out of the runners and the supervisor', () => {
      expect(holding(/METRIC/).filter((f) => /^scripts\/lib\/(runners|supervisor)\//.test(f))).toEqual([]);
    });

    it('has neither gray-matter nor simple-git (nothing reads the notes\' frontmatter; gitcmd.ts runs git)', () => {
      expect(holding(/['"](?:gray-matter|simple-git)['"]/)).toEqual([]);
      for (const manifest of ['package.json', 'dev/package.json']) {
        expect(fs.readFileSync(path.join(ROOT, manifest), 'utf8')).not.toMatch(/gray-matter|simple-git/);
      }
    });

    it('builds engine bundles with zod/mini only (no classic zod in the bundles as built)', () => {
      // Classic zod names its schema classes "ZodString", "ZodObject", …; zod/mini "ZodMiniString", ….
      const CLASSIC = /"Zod(?:String|Object|Number|Array|Type)"/;
      expect(fs.readFileSync(path.join(ROOT, 'node_modules/zod/v4/classic/schemas.js'), 'utf8')).toMatch(CLASSIC);
      const dist = process.env.AUTOLOOP_TEST_DIST; // test/global-build.ts: scripts/build.mjs, as users get it
      expect(dist).toBeTruthy();
      const bundles = fs.readdirSync(dist!).filter((f) => /\.(?:cjs|mjs)$/.test(f));
      const read = (f: string): string => fs.readFileSync(path.join(dist!, f), 'utf8');
      expect(bundles.filter((f) => read(f).includes('"ZodMiniObject"'))).toEqual(expect.arrayContaining(['run-experiment.cjs', 'log-experiment.cjs', 'status.cjs', 'init-experiment.cjs', 'chain.mjs']));
      expect(bundles.filter((f) => CLASSIC.test(read(f)))).toEqual([]);
    });
  });

  describe('thin entry points', () => {
    // scripts/<name>.ts is argv → one command → output. Its flag table, schema,
    // usage text and every decision live in its command module (scripts/lib/commands/),
    // where they can be read and tested without spawning the entry point.
    const ENTRY_LINES = 20;
    const entries = [...graph.keys()].filter(isEntry).sort();
    const specifiers = (f: string): string[] =>
      [...fs.readFileSync(path.join(ROOT, f), 'utf8').matchAll(SPEC)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');

    it('finds every entry point', () => {
      expect(entries).toContain('scripts/run-experiment.ts');
      expect(entries).toContain('scripts/statusline.ts');
      expect(entries.length).toBeGreaterThanOrEqual(14);
    });

    it(`keeps every entry point at most ${ENTRY_LINES} lines`, () => {
      const long = entries
        .map((f) => [f, fs.readFileSync(path.join(ROOT, f), 'utf8').trimEnd().split('\n').length] as const)
        .filter(([, n]) => n > ENTRY_LINES);
      expect(long.map(([f, n]) => `${f}: ${n} lines`)).toEqual([]);
    });

    // Practical because every entry point already has the same shape: the cli
    // helpers (parseFlags, main, emit, usage) and the command module that owns
    // its flags. Anything else (zod, the experiment, node:*, a package) would be
    // a schema or a decision at the top. scripts/demo.ts is a development tool
    // whose command lives in its own folder, scripts/demo/.
    const allowedImport = (entry: string, spec: string): boolean => {
      if (spec === './lib/cli.ts' || spec.startsWith('./lib/commands/')) return true;
      const own = `./${path.basename(entry, '.ts')}/`;
      return spec.startsWith(own);
    };

    it('sees an import an entry point must not have', () => {
      expect(allowedImport('scripts/status.ts', './lib/commands/status.ts')).toBe(true);
      expect(allowedImport('scripts/demo.ts', './demo/main.ts')).toBe(true);
      expect(allowedImport('scripts/status.ts', './lib/experiment.ts')).toBe(false);
      expect(allowedImport('scripts/status.ts', 'node:path')).toBe(false);
      expect(allowedImport('scripts/status.ts', './demo/main.ts')).toBe(false);
    });

    it('has every entry point import only the cli helpers and its command module(s)', () => {
      const bad = entries.flatMap((f) => specifiers(f).filter((s) => !allowedImport(f, s)).map((s) => `${f} → ${s}`));
      expect(bad).toEqual([]);
    });

    it('has no branch in an entry point but its answer to --help (or a missing command)', () => {
      const branches = branchesIn(ROOT, entries);
      // The counter sees the branches it must (checked on a command module, which has them).
      expect(branchesIn(ROOT, ['scripts/lib/commands/run-experiment.ts']).map((b) => b.kind)).toEqual(expect.arrayContaining(['if', '?:', 'throw', 'for', '??']));
      const ifs = new Map<string, number>();
      for (const b of branches.filter((x) => x.kind === 'if')) ifs.set(b.file, (ifs.get(b.file) ?? 0) + 1);
      const bad = [
        ...branches.filter((b) => b.kind !== 'if').map((b) => `${b.file}:${b.line} ${b.kind}`),
        ...[...ifs].filter(([, n]) => n > 1).map(([f, n]) => `${f}: ${n} ifs`),
      ];
      expect(bad).toEqual([]);
    });
  });

  describe('function length', () => {
    const LIMIT = 80;
    /** Functions allowed over the limit, and why: tables and reducers read best whole. */
    const ALLOWED: Record<string, string> = {
      'scripts/lib/reduce.ts applyLine': 'the reducer: one case per ledger line type, read as a whole',
    };
    const all = functionLengths(ROOT, DIRS.flatMap(tsFiles));

    it('measures functions from the syntax tree', () => {
      const byName = (file: string, name: string) => all.find((f) => f.file === file && f.name === name)?.lines;
      expect(all.length).toBeGreaterThan(500);
      expect(byName('scripts/lib/reduce.ts', 'applyLine')).toBeGreaterThan(LIMIT);
      // runNumber is three lines: its signature, its return, its brace.
      expect(byName('scripts/lib/reduce.ts', 'runNumber')).toBe(3);
    });

    it(`has no function over ${LIMIT} lines outside the tables and reducers allowed`, () => {
      const over = all.filter((f) => f.lines > LIMIT).map((f) => `${f.file} ${f.name}`);
      const unexplained = over.filter((k) => !(k in ALLOWED));
      expect(unexplained.map((k) => `${k}: ${all.find((f) => `${f.file} ${f.name}` === k)?.lines} lines`)).toEqual([]);
      // An entry that no longer needs its exception is removed.
      expect(Object.keys(ALLOWED).filter((k) => !over.includes(k))).toEqual([]);
    });
  });
});
