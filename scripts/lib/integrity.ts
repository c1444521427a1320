// Benchmark integrity: what judges the metric (the judged config fields and
// the protected files) is fingerprinted when a segment opens, re-checked on
// every run, and restored from judges/ after a run that changed it.
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { JUDGED_FIELDS, type Config, type Fingerprints } from './schema.ts';
import { readJsonOrNull, writeFileAtomic, writeJsonAtomic } from './fsx.ts';
import { compileScope, isInternal, listFiles, normalizeRel } from './scope.ts';

export const MISSING = 'missing';

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 of a regular file's bytes (symlinks followed), or null when there is no regular file. */
export function sha256File(abs: string): string | null {
  try {
    // stat first: opening a FIFO for reading would block forever.
    if (!fs.statSync(abs).isFile()) return null;
  } catch {
    return null;
  }
  let fd: number;
  try {
    fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
    }
    return h.digest('hex');
  } finally {
    fs.closeSync(fd);
  }
}

/** JSON with object keys sorted at every level, so equal values hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}

export function judgedConfigHash(config: Config): string {
  const picked: Record<string, unknown> = {};
  for (const k of JUDGED_FIELDS) picked[k] = config[k] ?? null;
  return sha256(canonicalJson(picked));
}

type Token = { kind: 'word'; value: string } | { kind: 'op'; value: string };

const OPS = ['&>>', '&&', '||', ';;', '>>', '>|', '>&', '<<', '<&', '<>', '&>', ';', '&', '|', '(', ')', '<', '>'];

/**
 * Split a shell command into words and operators: quotes, backslashes,
 * comments and redirections are understood; expansions are left as text.
 * Enough to find the file names a command mentions, not a shell.
 */
export function shellTokens(cmd: string): Token[] {
  const out: Token[] = [];
  let word = '';
  let inWord = false;
  let quoted = false;
  const flush = () => {
    if (inWord) out.push({ kind: 'word', value: word });
    word = '';
    inWord = false;
    quoted = false;
  };
  let i = 0;
  while (i < cmd.length) {
    const c = cmd[i] as string;
    if (c === '\\') {
      if (cmd[i + 1] === '\n') {
        i += 2; // line continuation
        continue;
      }
      if (i + 1 < cmd.length) word += cmd[i + 1];
      inWord = true;
      quoted = true;
      i += 2;
      continue;
    }
    if (c === "'") {
      const end = cmd.indexOf("'", i + 1);
      const stop = end === -1 ? cmd.length : end;
      word += cmd.slice(i + 1, stop);
      inWord = true;
      quoted = true;
      i = stop + 1;
      continue;
    }
    if (c === '"') {
      i++;
      while (i < cmd.length && cmd[i] !== '"') {
        const d = cmd[i] as string;
        if (d === '\\' && i + 1 < cmd.length && '"\\$`\n'.includes(cmd[i + 1] as string)) {
          if (cmd[i + 1] !== '\n') word += cmd[i + 1];
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
      i++; // closing quote
      inWord = true;
      quoted = true;
      continue;
    }
    if (c === '#' && !inWord) {
      while (i < cmd.length && cmd[i] !== '\n') i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      flush();
      if (c === '\n') out.push({ kind: 'op', value: ';' });
      i++;
      continue;
    }
    const op = OPS.find((o) => cmd.startsWith(o, i));
    if (op) {
      // `2>file`: the digits are a file descriptor, not a word.
      if ((op.startsWith('>') || op.startsWith('<')) && inWord && !quoted && /^\d+$/.test(word)) {
        word = '';
        inWord = false;
      }
      flush();
      out.push({ kind: 'op', value: op });
      i += op.length;
      continue;
    }
    word += c;
    inWord = true;
    i++;
  }
  flush();
  return out;
}

/** Redirections whose target is written (or is a descriptor), so it does not judge anything. */
const WRITE_REDIRECTS = new Set(['>', '>>', '>|', '&>', '&>>', '>&', '<&', '<>', '<<']);

/** The words of a command that could name a file the command reads. */
export function candidatePaths(cmd: string): string[] {
  const toks = shellTokens(cmd);
  const out: string[] = [];
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i] as Token;
    if (t.kind !== 'word') continue;
    const prev = toks[i - 1];
    if (prev && prev.kind === 'op' && WRITE_REDIRECTS.has(prev.value)) continue;
    out.push(t.value);
    // --config=bench/x.json and VAR=path name a file after the '='.
    const eq = t.value.indexOf('=');
    if (eq > 0 && eq < t.value.length - 1) out.push(t.value.slice(eq + 1));
  }
  return out;
}

function insideRoot(root: string, abs: string): string | null {
  const r = path.relative(root, abs);
  if (r === '' || r.startsWith('..') || path.isAbsolute(r)) return null;
  return normalizeRel(r.split(path.sep).join('/'));
}

function isEngineState(rel: string): boolean {
  if (!isInternal(rel)) return false;
  return !/^\.autoloop\/[^/]+$/.test(rel) || /^\.autoloop\/(active|session)\.json$/.test(rel);
}

export function resolveProtected(root: string, config: Config): string[] {
  const found = new Set<string>();
  for (const cmd of [config.command, config.checks]) {
    if (!cmd) continue;
    for (const word of candidatePaths(cmd)) {
      if (word === '' || word.startsWith('-')) continue;
      const rel = insideRoot(root, path.resolve(root, word));
      // A benchmark script kept under .autoloop/ (as setup suggests) is a judge
      // too; only the engine's own state is not.
      if (rel === null || isEngineState(rel)) continue;
      try {
        if (fs.statSync(path.join(root, rel)).isFile()) found.add(rel);
      } catch {
        // not a file: an interpreter, a flag value, a glob...
      }
    }
  }
  if (config.protect.length) {
    const s = compileScope(config.protect, []);
    const isFile = (rel: string) => {
      try {
        return fs.statSync(path.join(root, rel)).isFile();
      } catch {
        return false;
      }
    };
    for (const rel of listFiles(root, s.bases, (r) => s.inScope(r) && isFile(r))) found.add(rel);
  }
  return [...found].sort();
}

export function fingerprint(root: string, config: Config, files: string[]): Fingerprints {
  const out: Record<string, string> = {};
  for (const f of [...new Set(files)].sort()) out[f] = sha256File(path.join(root, f)) ?? MISSING;
  return { config: judgedConfigHash(config), files: out };
}

export function changedFingerprints(a: Fingerprints, b: Fingerprints): string[] {
  const changed: string[] = [];
  if (a.config !== b.config) changed.push('config');
  const names = [...new Set([...Object.keys(a.files), ...Object.keys(b.files)])].sort();
  for (const n of names) if (a.files[n] !== b.files[n]) changed.push(n);
  return changed;
}

// judges/manifest.json names the copy directory, so that a save killed half-way
// leaves the previous manifest and its copies intact.
const JudgesManifest = z.object({
  version: z.literal(1),
  dir: z.string().regex(/^files-[a-z0-9-]+$/),
  files: z.record(z.string(), z.object({ sha256: z.string(), mode: z.number().int() })),
});
type JudgesManifest = z.infer<typeof JudgesManifest>;

function manifestPath(judgesDir: string): string {
  return path.join(judgesDir, 'manifest.json');
}

function readManifest(judgesDir: string): JudgesManifest | null {
  const parsed = JudgesManifest.safeParse(readJsonOrNull(manifestPath(judgesDir)));
  return parsed.success ? parsed.data : null;
}

function safeJoin(base: string, rel: string): string | null {
  const n = normalizeRel(rel);
  return n === null ? null : path.join(base, n);
}

export function saveJudges(root: string, judgesDir: string, files: string[]): void {
  const dir = `files-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const manifest: JudgesManifest = { version: 1, dir, files: {} };
  for (const f of [...new Set(files)].sort()) {
    const src = safeJoin(root, f);
    const dst = safeJoin(path.join(judgesDir, dir), f);
    if (!src || !dst) continue;
    let data: Buffer;
    let mode: number;
    try {
      if (!fs.statSync(src).isFile()) throw new Error('not a file');
      data = fs.readFileSync(src);
      mode = fs.statSync(src).mode & 0o7777;
    } catch {
      manifest.files[f] = { sha256: MISSING, mode: 0 };
      continue;
    }
    writeFileAtomic(dst, data);
    manifest.files[f] = { sha256: sha256(data), mode };
  }
  const old = readManifest(judgesDir);
  writeJsonAtomic(manifestPath(judgesDir), manifest);
  if (old && old.dir !== dir) fs.rmSync(path.join(judgesDir, old.dir), { recursive: true, force: true });
}

export function restoreJudges(root: string, judgesDir: string, files: string[]): string[] {
  const manifest = readManifest(judgesDir);
  if (!manifest) return [];
  const restored: string[] = [];
  for (const f of [...new Set(files)].sort()) {
    const entry = manifest.files[f];
    const abs = safeJoin(root, f);
    if (!entry || !abs) continue;
    const now = sha256File(abs);
    if (entry.sha256 === MISSING) {
      // It did not exist when the segment opened; a file there now was planted.
      if (now !== null) {
        fs.rmSync(abs, { force: true });
        restored.push(f);
      }
      continue;
    }
    if (now === entry.sha256) {
      let mode: number | null = null;
      try {
        mode = fs.statSync(abs).mode & 0o7777;
      } catch {
        mode = null;
      }
      if (mode !== null && mode !== entry.mode) {
        fs.chmodSync(abs, entry.mode);
        restored.push(f);
      }
      continue;
    }
    const copy = safeJoin(path.join(judgesDir, manifest.dir), f);
    if (!copy) continue;
    const data = fs.readFileSync(copy);
    if (sha256(data) !== entry.sha256) throw new Error(`judges: the saved copy of ${f} is damaged; open a new segment with init-experiment`);
    writeFileAtomic(abs, data);
    fs.chmodSync(abs, entry.mode);
    restored.push(f);
  }
  return restored;
}
