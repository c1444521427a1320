// Programs that write into a destination named by an option or an operand,
// with files whose names the command line may not show: archives extracted
// into a directory (tar, unzip, cpio), trees copied (rsync), files
// (de)compressed in place. Each says what it writes: a path (tree: anything
// below it may change), a command line it runs, or why it cannot be known.
import path from 'node:path';
import { DYNAMIC, literal, parseArgs, type Exp } from './guard-args.ts';

export type Effect =
  | { kind: 'write'; path: Exp; tree: boolean }
  | { kind: 'run'; code: Exp }
  | { kind: 'cannot'; why: string; blind: boolean };

const here = literal('.');
const write = (p: Exp, tree: boolean): Effect => ({ kind: 'write', path: p, tree });
const join = (dir: Exp, name: string): Exp => ({ ...dir, text: path.join(dir.text, name), glob: false });
const patterned = (w: Exp): boolean => w.dynamic || w.glob || /[*?[]/.test(w.text);

/**
 * Extraction into dest: when members are named plainly, each lands at dest/member
 * (a whole tree if it is a directory); otherwise anything below dest may change.
 */
function extractInto(dests: Exp[], members: Exp[], exact: boolean): Effect[] {
  const plain = exact && members.length > 0 && !members.some(patterned);
  return dests.flatMap((d) => (plain ? members.map((m) => write(join(d, m.text), true)) : [write(d, true)]));
}

const TAR_ARG = 'fCbTXgNKVLHIF';
const TAR_LONG = [
  '--file', '--directory', '--files-from', '--exclude-from', '--blocking-factor', '--listed-incremental', '--newer', '--starting-file',
  '--label', '--tape-length', '--format', '--use-compress-program', '--info-script', '--new-volume-script', '--to-command', '--owner',
  '--group', '--mode', '--mtime', '--exclude', '--transform', '--xform', '--strip-components', '--record-size', '--suffix',
];

/** tar's old style (`tar xzf a.tar -C dir`): a first word of letters, whose value-taking letters take the next words. */
function tarWords(args: Exp[]): Exp[] {
  const first = args[0];
  if (!first || first.dynamic || !/^[A-Za-z]+$/.test(first.text)) return args;
  const out: Exp[] = [];
  let k = 1;
  for (const c of first.text) {
    out.push(literal(`-${c}`));
    if (TAR_ARG.includes(c)) out.push(args[k++] ?? DYNAMIC);
  }
  return [...out, ...args.slice(k)];
}

function tar(args: Exp[]): Effect[] {
  const words = tarWords(args);
  const p = parseArgs(words, { arg: TAR_ARG, long: TAR_LONG });
  const has = (...names: string[]): boolean => names.some((n) => p.opts.has(n));
  const out: Effect[] = [];
  const prog = p.opts.get('I') ?? p.opts.get('--use-compress-program') ?? p.opts.get('--to-command');
  if (prog) out.push({ kind: 'run', code: literal(prog) });
  const action = [...p.opts.entries()].find(([k]) => k === '--checkpoint-action')?.[1];
  if (action?.startsWith('exec=')) out.push({ kind: 'run', code: literal(action.slice(5)) });
  if (has('F', '--info-script', '--new-volume-script')) out.push({ kind: 'cannot', why: 'tar runs a script file between volumes', blind: true });
  const archive = p.opts.get('f') ?? p.opts.get('--file');
  if (has('c', 'r', 'u', 'A', '--create', '--append', '--update', '--catenate', '--concatenate', '--delete')) {
    if (archive !== undefined && archive !== '-') out.push(write(literal(archive), false));
    return out;
  }
  if (!has('x', '--extract', '--get') || has('O', '--to-stdout')) return out;
  if (has('P', '--absolute-names')) return [...out, { kind: 'cannot', why: 'tar -P extracts to absolute paths named in the archive', blind: true }];
  // -C is positional; every directory named may receive files.
  const dests: Exp[] = [];
  for (let k = 0; k < words.length; k++) {
    const t = words[k]!.text;
    if (t === '-C' || t === '--directory') dests.push(words[k + 1] ?? DYNAMIC);
    else if (t.startsWith('--directory=')) dests.push({ ...words[k]!, text: t.slice('--directory='.length) });
    else if (/^-[A-Za-z]*C./.test(t) && !t.startsWith('--')) dests.push({ ...words[k]!, text: t.slice(t.indexOf('C') + 1) });
  }
  const exact = !has('--wildcards', '--transform', '--xform', '--strip-components', 'T', '--files-from');
  return [...out, ...extractInto(dests.length ? dests : [here], p.operands, exact)];
}

function unzip(args: Exp[]): Effect[] {
  // -x takes the words after it (names to leave out) up to the next option.
  const kept: Exp[] = [];
  for (let k = 0; k < args.length; k++) {
    if (args[k]!.text !== '-x') kept.push(args[k]!);
    else while (args[k + 1] && !args[k + 1]!.text.startsWith('-')) k++;
  }
  const p = parseArgs(kept, { arg: 'dP' });
  if (['l', 't', 'v', 'z', 'Z', 'p', 'c'].some((o) => p.opts.has(o))) return [];
  const dest = p.opts.get('d');
  return extractInto([dest === undefined ? here : literal(dest)], p.operands.slice(1), !p.opts.has('j'));
}

function cpio(args: Exp[]): Effect[] {
  const p = parseArgs(args, { arg: 'DFOIEHMRC', long: ['--directory', '--file', '--format', '--pattern-file', '--message', '--owner', '--io-size'] });
  const has = (...names: string[]): boolean => names.some((n) => p.opts.has(n));
  if (has('p', '--pass-through')) {
    const dest = p.operands[p.operands.length - 1];
    return [write(dest ?? DYNAMIC, true)];
  }
  if (has('o', '--create')) {
    const f = p.opts.get('O') ?? p.opts.get('F') ?? p.opts.get('--file');
    return f !== undefined ? [write(literal(f), false)] : [];
  }
  if (!has('i', '--extract') || has('t', '--list')) return [];
  const dir = p.opts.get('D') ?? p.opts.get('--directory');
  return [write(dir === undefined ? here : literal(dir), true)];
}

const RSYNC_LONG = [
  '--rsh', '--rsync-path', '--filter', '--exclude', '--include', '--exclude-from', '--include-from', '--files-from', '--log-file', '--partial-dir',
  '--backup-dir', '--suffix', '--chmod', '--compare-dest', '--copy-dest', '--link-dest', '--temp-dir', '--password-file', '--timeout',
  '--bwlimit', '--max-size', '--min-size', '--port', '--out-format', '--log-file-format', '--info', '--debug', '--iconv', '--chown',
  '--usermap', '--groupmap', '--modify-window', '--max-delete', '--block-size', '--write-batch', '--only-write-batch', '--read-batch',
];

function rsync(args: Exp[]): Effect[] {
  const p = parseArgs(args, { arg: 'efTBM', long: RSYNC_LONG });
  const out: Effect[] = [];
  for (const k of ['--log-file', '--write-batch', '--only-write-batch']) {
    const f = p.opts.get(k);
    if (f !== undefined) out.push(write(literal(f), false));
  }
  if (p.operands.length < 2) return out; // one operand lists it
  const dest = p.operands[p.operands.length - 1]!;
  // host:path or rsync://: another machine's files.
  if (/^[^/]*:/.test(dest.text) && !dest.dynamic) return out;
  const srcs = p.operands.slice(0, -1);
  // A source ending in / (or .) copies its contents, --delete removes what it lacks, -R keeps whole paths: all of dest.
  const whole = [...p.opts.keys()].some((k) => k.startsWith('--delete') || k === 'R' || k === '--relative' || k === '--files-from');
  if (whole || srcs.some((s) => patterned(s) || /(^|\/)\.?$/.test(s.text))) return [...out, write(dest, true)];
  return [...out, write(dest, false), ...srcs.map((s) => write(join(dest, path.basename(s.text)), true))];
}

const COMPRESSORS: Record<string, { ext: string; keeps?: boolean; unpack?: boolean }> = {
  gzip: { ext: '.gz' }, pigz: { ext: '.gz' }, bzip2: { ext: '.bz2' }, xz: { ext: '.xz' }, lzma: { ext: '.lzma' }, zstd: { ext: '.zst', keeps: true },
  lz4: { ext: '.lz4', keeps: true }, gunzip: { ext: '.gz', unpack: true }, bunzip2: { ext: '.bz2', unpack: true }, unxz: { ext: '.xz', unpack: true },
  unlzma: { ext: '.lzma', unpack: true }, unzstd: { ext: '.zst', unpack: true, keeps: true },
};

/** gzip and friends replace each file with its (de)compressed twin: both names are written. */
function compress(prog: string, args: Exp[]): Effect[] {
  const spec = COMPRESSORS[prog]!;
  const p = parseArgs(args, { arg: 'So', long: ['--suffix', '--output'] });
  const has = (...names: string[]): boolean => names.some((n) => p.opts.has(n));
  if (has('c', 'l', 't', '--stdout', '--to-stdout', '--list', '--test')) return [];
  const out = p.opts.get('o') ?? p.opts.get('--output');
  if (out !== undefined) return [write(literal(out), false)];
  const unpack = spec.unpack || has('d', '--decompress', '--uncompress');
  const removes = spec.keeps ? has('--rm') : !has('k', '--keep');
  // -r walks directories: anything below each operand may be replaced.
  if (has('r', '--recursive')) return p.operands.map((f) => write(f, true));
  return p.operands.flatMap((f) => {
    const twin = unpack ? { ...f, text: f.text.endsWith(spec.ext) ? f.text.slice(0, -spec.ext.length) : f.text } : { ...f, text: f.text + spec.ext };
    return removes ? [write(twin, false), write(f, false)] : [write(twin, false)];
  });
}

/** 7z x / 7z e: into -o<dir> or here. */
function sevenZip(args: Exp[]): Effect[] {
  const cmd = args.find((a) => !a.text.startsWith('-'))?.text;
  if (cmd !== 'x' && cmd !== 'e') return [];
  const out = args.find((a) => a.text.startsWith('-o'));
  return [write(out ? { ...out, text: out.text.slice(2) } : here, true)];
}

/** What one of these programs writes, or null when prog is none of them. */
export function destinationEffects(prog: string, args: Exp[]): Effect[] | null {
  // jar takes tar's letters (jar xf a.jar -C dir).
  if (prog === 'tar' || prog === 'bsdtar' || prog === 'gtar' || prog === 'jar') return tar(args);
  if (prog === '7z' || prog === '7za' || prog === '7zr') return sevenZip(args);
  if (prog === 'unzip') return unzip(args);
  if (prog === 'cpio') return cpio(args);
  if (prog === 'rsync') return rsync(args);
  if (prog in COMPRESSORS) return compress(prog, args);
  return fileWriter(prog, args);
}

/** Programs that write a file named by an option or an operand (uniq IN OUT, zip ARCHIVE …, openssl -out FILE, …). */
function fileWriter(prog: string, args: Exp[]): Effect[] | null {
  const out = (opts: Map<string, string>, ...names: string[]): Effect[] => names.flatMap((n) => (opts.has(n) ? [write(literal(opts.get(n)!), false)] : []));
  switch (prog) {
    case 'sponge':
      // sponge [-a] FILE: writes FILE with its input
      return parseArgs(args).operands.map((o) => write(o, false));
    case 'rename':
    case 'prename':
    case 'file-rename':
      // rename EXPR FILES… (perl) or rename FROM TO FILES… (util-linux): the files go away under another name
      return parseArgs(args, { arg: 'e' }).operands.map((o) => write(o, true));
    case 'uniq': {
      const p = parseArgs(args, { arg: 'fsw', long: ['--skip-fields', '--skip-chars', '--check-chars', '--group', '--all-repeated'] });
      return p.operands[1] ? [write(p.operands[1], false)] : [];
    }
    case 'zip': {
      const p = parseArgs(args, { arg: 'bnOtxi', long: ['--output-file', '--temp-path', '--suffixes'] });
      return [...out(p.opts, 'O', '--output-file'), ...(p.operands[0] ? [write(p.operands[0], false)] : [])];
    }
    case 'openssl':
      // -out FILE (a single dash: openssl's own option style)
      return args.flatMap((a, k) => (a.text === '-out' || a.text === '-keyout' ? [write(args[k + 1] ?? DYNAMIC, false)] : []));
    case 'iconv':
    case 'base64': {
      const p = parseArgs(args, { arg: prog === 'iconv' ? 'fto' : 'iow', long: ['--output', '--from-code', '--to-code', '--input', '--wrap'] });
      return out(p.opts, 'o', '--output');
    }
    case 'setfacl':
    case 'chattr': {
      const p = parseArgs(args, { arg: prog === 'setfacl' ? 'mMxX' : 'vpP', long: ['--modify', '--modify-file', '--remove', '--remove-file', '--set', '--set-file'] });
      // chattr's +i / -i / =i are the mode, not options
      const ops = prog === 'chattr' ? args.filter((a) => !/^[-+=][aAcCdDeFijmPsStTux]+$/.test(a.text)) : p.operands;
      return ops.map((o) => write(o, false));
    }
    case 'sqlite3':
    case 'sqlite': {
      // single-dash options, some with a value; the first operand is the database, which it may write
      const valued = new Set(['-cmd', '-init', '-separator', '-newline', '-nullvalue', '-vfs', '-mmap', '-lookaside', '-pagecache', '-maxsize']);
      let k = 0;
      while (k < args.length && args[k]!.text.startsWith('-')) k += valued.has(args[k]!.text.replace(/^--/, '-')) ? 2 : 1;
      const db = args[k];
      return db && !args.some((a) => /^--?readonly$/.test(a.text)) ? [write(db, false)] : [];
    }
  }
  return null;
}

/**
 * The files a diff changes, as patch would name them: every --- / +++ / ***
 * header and git's rename/copy lines, less `strip` leading directories; with
 * no -p, every tail of each name (patch's default differs between versions).
 */
export function diffTargets(diff: string, strip: string | undefined): string[] {
  const names = new Set<string>();
  for (const m of diff.matchAll(/^(?:(?:\+\+\+|---|\*\*\*) |(?:rename|copy) (?:from|to) |Index: )(.+)$/gm)) {
    const raw = m[1]!.split('\t')[0]!.trim().replace(/^"(.*)"$/, '$1');
    if (raw === '' || raw === '/dev/null') continue;
    const parts = raw.split('/').filter((x, k) => x !== '' || k === 0);
    const n = strip === undefined ? null : Number.parseInt(strip, 10);
    if (n !== null && Number.isInteger(n)) {
      if (parts.length > n) names.add(parts.slice(n).join('/'));
    } else for (let k = 0; k < parts.length; k++) names.add(parts.slice(k).join('/'));
  }
  return [...names].filter((x) => x !== '');
}
