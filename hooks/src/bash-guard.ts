// What a Bash command would do to the experiment: does it run hand-made git
// that moves or rewrites history (the engine owns git), does it write a file
// that judges the metric or belongs to the engine, and does it drive the
// engine (which is how a session claims the loop)?
//
// Best effort by design: the shell is Turing-complete, so the guard looks at
// what a command visibly does (words, redirections, cd, git -C, wrappers such
// as env/sudo/xargs, sh -c, eval, $(…), heredocs fed to a shell) and lets
// through what it cannot know (a path held in an unknown variable).
import fs from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { canonical, GLOB_CHARS, gitConfigDenial, gitConfigFiles, globDenial, inDir, isWritableState, linkDenial, namedRels, outsideJudgeDenial, physical, REASONS, relOf, relToProject, treeDenial, withPathMemo, writeDenial, type Denial, type Policy } from './policy.ts';
import { compileScope, type Scope } from '../../scripts/lib/scope.ts';
import { lex, type Redir, type Word } from '../../scripts/lib/shell-lexer.ts';
import { DYNAMIC, literal, parseArgs, skipOptions, type Exp, type Options } from './guard-args.ts';
import { expandLeading, expandLong } from './long-options.ts';
import { destinationEffects, diffTargets, type Effect } from './dest-writers.ts';
import { MAX_SCRIPT_BYTES, REAL_IO, type GuardIO } from './guard-io.ts';
import { sedCall, sedEffects } from './sed-script.ts';
import { GIT_BUILTINS } from './git-commands.ts';
import { codeVariable, interpreterName, readsProgramFromInput, scriptKind, shellCall } from './shell-start.ts';

export interface GuardContext {
  policy: Policy;
  /** Directory the command starts in (the session's cwd). */
  cwd: string;
  /** HOME, CLAUDE_PROJECT_DIR, …: the variables a command may use in a path. */
  env: Record<string, string | undefined>;
  /** The plugin's own directory: its dist/*.mjs and scripts/*.ts are the engine. */
  pluginRoot: string | null;
  /** Sourced scripts and git aliases are read through this (default: the real files and git). */
  io?: GuardIO;
}

export interface BashVerdict {
  deny: Denial | null;
  /** The command runs init/run/log-experiment (or chain): the session drives the loop. */
  claims: boolean;
  /** Engine scripts it runs (base names without extension), in order. */
  engines: string[];
  /** Every part is on the allow list (engine commands, read-only commands, writes to the scratch area or notes). */
  safe: boolean;
  /** Why the guard could not analyse all of it, or null. */
  unsure: string | null;
  /** Files in the project it visibly writes (relative): the model's, for the attribution journal. */
  writes: string[];
  /** Directories in the project it makes (mkdir): what lands below them is the model's too. */
  dirs: string[];
  /** Part of it may write files the guard cannot name (a program, a script, a path known at run time). */
  opaque: boolean;
}

/** Engine entry points; running one of them makes a session the loop's owner. */
export const ENGINE_SCRIPT = /^(?:(?:init|run|log)-experiment|chain(?:-experiment)?|candidate)\.(?:mjs|ts)$/;

export const GIT_REASON = (sub: string): Denial =>
  `autoloop: the engine owns git while the loop runs; do not run "git ${sub}" by hand. Edit files in scope, then run run-experiment --description "…": the engine commits a keep and reverts anything else. Read-only git (status, diff, log, show) is fine.`;

export const GIT_UNKNOWN = (name: string, why: string): Denial =>
  `autoloop: the guard cannot tell what "git ${name}" does (${why}), and git may move history or rewrite files under the engine. Run the built-in git command itself; read-only git (status, diff, log, show) is fine.`;

/** Built-in git that moves HEAD, rewrites history, the index or the work tree, or changes what the engine's git runs. */
function gitDenied(sub: string, flags: string[]): boolean {
  const shortHas = (chars: string): boolean => flags.some((f) => /^-[a-zA-Z]+$/.test(f) && [...f.slice(1)].some((c) => chars.includes(c)));
  const longHas = (...names: string[]): boolean => flags.some((f) => names.includes(f.split('=')[0]!));
  const action = flags.find((f) => !f.startsWith('-'));
  switch (sub) {
    case 'config':
      return !flags.some((f) => /^(--get|--list$|-l$|--show|get$|list$)/.test(f));
    case 'apply':
      return !flags.some((f) => /^--(check|stat|numstat|summary)$/.test(f)) || longHas('--apply', '--index', '--cached');
    case 'worktree':
      return action !== 'list';
    case 'clean':
      return !(shortHas('n') || longHas('--dry-run'));
    case 'stash':
      return !(action === 'list' || action === 'show');
    case 'branch':
      return shortHas('dDmMfC') || longHas('--delete', '--move', '--force', '--copy');
    case 'tag':
      return shortHas('df') || longHas('--delete', '--force');
    case 'bisect':
      return !['log', 'view', 'visualize', 'help'].includes(action ?? '');
    case 'sparse-checkout':
      return action !== 'list';
    case 'merge-file':
      return !(shortHas('p') || longHas('--stdout'));
    case 'submodule':
      // add, update, deinit, absorbgitdirs, … change the index or the trees below; foreach runs commands
      return !['status', 'summary', undefined].includes(action);
    case 'fetch':
      // a refspec with a destination (HEAD~1:autoloop/x) moves a local branch; -u even the checked-out one
      return flags.some((f) => !f.startsWith('-') && f.includes(':')) || shortHas('u') || longHas('--update-head-ok');
  }
  return GIT_ALWAYS.has(sub);
}

const KNOWN_VARS = ['HOME', 'CLAUDE_PROJECT_DIR', 'CLAUDE_PLUGIN_ROOT', 'CLAUDE_PLUGIN_DATA', 'TMPDIR', 'USER'];
const SHELLS = new Set(['sh', 'bash', 'zsh', 'dash', 'ksh', 'ash', 'mksh']);
const RUNNERS = new Set(['node', 'tsx', 'bun', 'deno', 'npx', 'ts-node', 'nodejs']);
const RESERVED = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', '!', '{', '}', 'esac', 'coproc']);
const HEADERS = new Set(['for', 'select', 'case', 'function', '[[', '((']);
const GIT_ALWAYS = new Set([
  'commit', 'reset', 'checkout', 'switch', 'restore', 'rebase', 'merge', 'revert', 'cherry-pick',
  'push', 'pull', 'am', 'update-ref', 'filter-branch', 'filter-repo', 'replace',
  // they move HEAD, or rewrite the index or the working tree, under the engine
  'symbolic-ref', 'read-tree', 'checkout-index', 'update-index', 'fast-import', 'quiltimport', 'mergetool',
  // they update refs of a repository they are pointed at (`git send-pack . HEAD~1:refs/heads/autoloop/x`), rewrite
  // history, or run the configured diff tool
  'send-pack', 'receive-pack', 'http-push', 'replay', 'difftool',
]);
/**
 * `git -c KEY=VALUE` keys whose value git runs as a command (through a shell when it has
 * metacharacters): judged as shell code, as GIT_PAGER or GIT_EXTERNAL_DIFF are.
 */
const GIT_CODE_KEY =
  /^(core\.(pager|editor|sshcommand|askpass|fsmonitor|gitproxy|alternaterefscommand)|sequence\.editor|diff\.external|diff\.[^.]+\.(command|textconv)|pager\..+|interactive\.difffilter|merge\.[^.]+\.driver|filter\.[^.]+\.(clean|smudge|process)|credential\.(.+\.)?helper|gpg\.(.+\.)?program|uploadpack\.packobjectshook|(difftool|mergetool)\.[^.]+\.cmd|remote\.[^.]+\.(receivepack|uploadpack)|sendemail\.(smtpserver|tocmd|cccmd|sendmailcmd))$/;
/** Keys that bring in configuration or hooks the guard does not read. */
const GIT_HIDDEN_KEY = /^(include\.path|includeif\..+\.path|core\.hookspath)$/;
/** Inline programs: `node -e CODE`, `python3 -c CODE`, … may write any file or run git. */
const INLINE_CODE: Record<string, RegExp> = {
  // node takes -e and -p in a cluster: `node -pe CODE`.
  node: /^-[pe]{1,2}$|^--(eval|print)(=|$)/, nodejs: /^-[pe]{1,2}$|^--(eval|print)(=|$)/, bun: /^(-e|--eval|-p|--print)$/,
  deno: /^eval$/, python: /^-[a-zA-Z]*c/, python3: /^-[a-zA-Z]*c/, perl: /^-[a-zA-Z]*[eE]/, ruby: /^-[a-zA-Z]*e/, php: /^-r$/,
};
/** Text editors run from a command line (`ed -s f <<< …`, `ex -sc 'wq' f`, `vim -es`): they write what they open. */
const EDITORS = new Set(['ed', 'red', 'ex', 'vi', 'vim', 'nvim', 'view', 'emacs', 'nano', 'joe', 'mg', 'kak', 'micro']);
export const MAX_DEPTH = 8;
/** Script files one command may read (sourced, run, named by BASH_ENV) before the guard gives up: bounds fan-out. */
export const MAX_CODE_FILES = 32;
/** A path the shell hands a script through a pipe or its own input, not a file with a text. */
const STREAM_PATH = /^\/(dev\/(stdin|fd\/)|proc\/)/;
/** Aliases of aliases git follows before the guard gives up. */
export const MAX_ALIAS_HOPS = 8;

/**
 * Engine entry points the hook approves (init-experiment stays with the user: it can change the judges).
 * candidate: parallel mode's loop starts, lists and closes candidates with it, unattended.
 */
export const APPROVED_ENGINE = new Set(['status', 'report', 'run-experiment', 'log-experiment', 'control', 'chain', 'finalize', 'diagnose', 'candidate']);
/** chain flags that would replace a judge: left to the user. */
const JUDGE_FLAGS = /^--(command|checks)(=|$)/;
/** Commands that only read (their file operands must lie in the project or the plugin). */
const READERS = new Set([
  'cat', 'head', 'tail', 'wc', 'grep', 'egrep', 'fgrep', 'rg', 'ls', 'find', 'stat', 'file', 'du', 'diff', 'cmp', 'sort', 'uniq',
  'cut', 'tr', 'nl', 'md5sum', 'sha1sum', 'sha256sum', 'od', 'hexdump', 'jq', 'basename', 'dirname', 'realpath', 'readlink',
  'column', 'paste', 'comm', 'fold', 'expand',
]);
/** A program named by its path that is the system's own, so its name says what it does (/bin/cat). */
const SYSTEM_PROGRAM = /^\/(usr\/(local\/)?)?s?bin\/[^/]+$|^\/opt\/homebrew\/bin\/[^/]+$/;
/** Commands whose arguments are text, not files. */
const TEXT_ONLY = new Set(['echo', 'printf', 'pwd', 'true', 'false', 'date', 'seq', ':']);
const PATTERN_FIRST = new Set(['grep', 'egrep', 'fgrep', 'rg']);
const GIT_READ = new Set(['status', 'diff', 'log', 'show', 'rev-parse', 'ls-files', 'ls-tree', 'blame', 'grep', 'shortlog', 'describe', 'cat-file', 'rev-list', 'merge-base']);
const FIND_ACTIONS = /^-(exec|execdir|ok|okdir|delete|fprint|fprint0|fprintf|fls)$/;
/** Commands whose every write is a file named in their arguments (writes() below names them). */
const VISIBLE_WRITERS = new Set([
  'tee', 'rm', 'rmdir', 'unlink', 'shred', 'touch', 'truncate', 'chmod', 'chown', 'chgrp', 'cp', 'ln', 'install', 'mv', 'dd', 'sed', 'sort', 'mkdir',
]);
/** Builtins that only change the shell itself (dispatch() follows them). */
const SHELL_ONLY = new Set(['cd', 'pushd', 'popd', 'export', 'declare', 'typeset', 'local', 'readonly', 'eval']);

/** Quotes, substitutions or heredocs left open: the lexer would guess, so the guard must not rely on it. */
export function unbalanced(src: string): boolean {
  let depth = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') i++;
    else if (c === "'") {
      const j = src.indexOf("'", i + 1);
      if (j < 0) return true;
      i = j;
    } else if (c === '"' || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      if (j >= src.length) return true;
      i = j;
    } else if (c === '#' && (i === 0 || /\s/.test(src[i - 1]!))) {
      const j = src.indexOf('\n', i);
      if (j < 0) break;
      i = j;
    } else if (c === '<' && src.startsWith('<<', i) && src[i + 2] !== '<') {
      // A heredoc body is text, not shell: skip to its closing line.
      const m = /^<<-?\s*(['"]?)([\w.-]+)\1/.exec(src.slice(i));
      if (!m) continue;
      const nl = src.indexOf('\n', i);
      if (nl < 0) return true;
      const end = new RegExp(`\\n\\t*${m[2]!.replace(/\./g, '\\.')}(\\n|$)`).exec(src.slice(nl));
      if (!end) return true;
      i = nl + end.index + end[0].length - 1;
    } else if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1); // case patterns close without opening
  }
  return depth !== 0;
}

/** Wrappers that only take options before the command they run (and `operands` words after them). */
const PLAIN_WRAPPERS = new Map<string, Options & { operands?: number }>([
  ['exec', { arg: 'a' }],
  ['setsid', {}],
  ...['nohup', 'chronic', 'unbuffer', 'caffeinate', 'doas', 'noglob'].map((w): [string, Options] => [w, { arg: 'u' }]),
  ['time', { arg: 'fo', long: ['--format', '--output'] }],
  ['nice', { arg: 'n', long: ['--adjustment'] }],
  ['ionice', { arg: 'cnpPu', long: ['--class', '--classdata'] }],
  ['stdbuf', { arg: 'ioe' }],
  // util-linux: a CPU mask or a priority before the command (with -p they run nothing)
  ['taskset', { operands: 1 }],
  ['chrt', { arg: 'T', long: ['--sched-runtime', '--sched-period', '--sched-deadline'], operands: 1 }],
  // (not its -w/--wd or -R/--root: they move where paths start, so the word after one is left as the program, unknown)
  ['unshare', { arg: 'SG', long: ['--setuid', '--setgid', '--propagation', '--map-user', '--map-group', '--map-users', '--map-groups'] }],
  ['timeout', { arg: 'sk', long: ['--signal', '--kill-after'], operands: 1 }], // + DURATION
  ['sudo', { arg: 'ugChprtTUD', long: ['--user', '--group', '--host', '--prompt', '--chdir'] }],
  ['xargs', { arg: 'adEeIiLlnPs', long: ['--arg-file', '--delimiter', '--max-args', '--max-procs', '--replace'] }],
  // tracers run the command after their options (-o FILE is a write, below); chroot after its new root
  ['strace', { arg: 'abeEIoOpPsSuUX', long: ['--output', '--expr', '--user', '--env', '--string-limit'] }],
  ['ltrace', { arg: 'aADeEFlnopsuwx', long: ['--output'] }],
  ['chroot', { long: ['--userspec', '--groups'], operands: 1 }],
]);
/** The directory sudo's -D/--chdir names among its options, if any (the last one wins). */
function sudoChdir(opts: Exp[]): Exp | undefined {
  let dir: Exp | undefined;
  opts.forEach((w, k) => {
    const t = w.text;
    if (t === '--chdir' || t === '-D') dir = opts[k + 1] ?? DYNAMIC;
    else if (t.startsWith('--chdir=')) dir = { ...w, text: t.slice('--chdir='.length) };
    else if (/^-[^-]*D./.test(t) && !/^-[^-D]*[ugChprtTU]/.test(t)) dir = { ...w, text: t.slice(t.indexOf('D') + 1) };
  });
  return dir;
}

/** env's options (expandLeading): -u, -C and -S take a value. */
const ENV_OPTIONS: Options = { arg: 'uCS', long: ['--unset', '--chdir', '--split-string'] };
/** Tracers' output file. */
const TRACE_OUT = /^(-o|--output)$/;

class Guard {
  private cwd: string | null;
  private readonly vars = new Map<string, string | null>();
  /** What the variables only known at run time were set from: the names a write through them may reach. */
  private readonly rawVars = new Map<string, string>();
  deny: Denial | null = null;
  claims = false;
  safe = true;
  unsure: string | null = null;
  /** It runs code only known at run time (eval "$X", sh -c "$(…)", a program or git subcommand from a variable): refused whatever its text. */
  blind = false;
  readonly engines: string[] = [];
  readonly written = new Set<string>();
  readonly dirs = new Set<string>();
  opaque = false;
  /** Every path it writes (canonical, in the project or not), and whether some write goes where only run time knows. */
  private readonly wrote: { path: string; tree: boolean }[] = [];
  private unknownWrite = false;
  /** A file it writes has a name only known at run time, written with a judge's, `.autoloop`'s or `.git`'s name (`> "$(pwd)/check.sh"`). */
  blindWrite = false;
  /** Some file it writes has a name only known at run time (the name may come from anywhere in the command: an array, a prefix assignment). */
  dynamicWrite = false;
  /** The text of every assignment in the command (NAME=value, also before a command or in a nested script). */
  readonly assigned: string[] = [];
  /** The current command sets variables that change which git config or programs git reads. */
  private gitConfigEnv = false;
  /** Where GIT_DIR / GIT_WORK_TREE, set by the command, point (null: only known at run time). */
  private gitRepoEnv: (string | null)[] = [];
  /**
   * Files it reads code or a diff from (canonical), which the command itself must not write; `late`:
   * a write to a path only known at run time came before, so it may have been this file.
   */
  private readonly codeFiles: { path: string; late: boolean }[] = [];
  /** Code read from outside the command (sourced files, git aliases): judged by mayHarm with it. */
  readonly extra: string[] = [];
  private readonly io: GuardIO;
  private codeReads = 0;
  private scope: Scope | null = null;
  /** Aliases the command defines (null: text only known at run time). */
  private readonly aliases = new Map<string, string | null>();
  /** git's configuration files (canonical), found once per command: every write outside the project is compared with them. */
  private gitFiles: string[] | null = null;

  constructor(private readonly ctx: GuardContext) {
    this.cwd = ctx.cwd;
    this.io = ctx.io ?? REAL_IO;
  }

  private gitConfig(): string[] {
    return (this.gitFiles ??= gitConfigFiles(this.ctx.env));
  }

  /** After the whole command: a code file it also writes (before or after, a loop may reorder) is not the text that was read. */
  finish(): void {
    if (this.deny) return;
    for (const f of this.codeFiles) {
      const hit = this.wrote.some((w) => w.path === f.path || (w.tree && f.path.startsWith(w.path + path.sep)));
      if (hit || f.late) return this.cannot(`it reads code from ${f.path}, which the same command ${hit ? 'writes' : 'may write'}`, true);
    }
  }

  script(src: string, depth: number): void {
    if (this.deny) return;
    if (depth > MAX_DEPTH) return this.cannot('it nests shells or substitutions too deeply');
    if (unbalanced(src)) this.cannot('its quotes, brackets or heredocs do not close');
    const { tokens, nested } = lex(src);
    const stack: (string | null)[] = [];
    let words: Word[] = [];
    let redirs: Redir[] = [];
    for (const t of tokens) {
      if (this.deny) return;
      if (t.kind === 'word') words.push(t);
      else if (t.kind === 'redir') redirs.push(t);
      else {
        this.simple(words, redirs, depth);
        if (t.op === '&') {
          this.safe = false; // a background job outlives the call
          this.opaque = true;
        }
        words = [];
        redirs = [];
        // ( … ) is a subshell: a cd inside it does not outlive it.
        if (t.op === '(') stack.push(this.cwd);
        if (t.op === ')' && stack.length) this.cwd = stack.pop()!;
      }
    }
    this.simple(words, redirs, depth);
    // $(…) and friends run in a subshell that starts where the command started.
    const cwd = this.cwd;
    for (const n of nested) {
      this.script(n, depth + 1);
      this.cwd = cwd;
    }
  }

  private cannot(why: string, blind = false): void {
    if (blind) this.blind = true;
    this.safe = false;
    this.opaque = true;
    this.unsure ??= why;
  }

  /** Inside the project (or the plugin, for reading its references)? */
  private readable(abs: string | null): boolean {
    if (abs === null) return false;
    if (abs === '/dev/null') return true;
    const c = canonical(abs);
    const root = this.ctx.pluginRoot;
    // c is canonical already: relOf would resolve it a second time.
    return relToProject(this.ctx.policy, c) !== null || (root !== null && (c === root || c.startsWith(root + path.sep)));
  }

  /** A path the model may write without asking: the scratch area or its notes. */
  private writableHere(abs: string | null): boolean {
    if (abs === null) return false;
    if (abs === '/dev/null') return true;
    const rel = relOf(this.ctx.policy, abs);
    return rel !== null && rel.startsWith('.autoloop/') && isWritableState(this.ctx.policy, rel);
  }

  private expand(w: Word): Exp {
    let text = '';
    let raw = '';
    let dynamic = false;
    let glob = false;
    for (const p of w.parts) {
      if (p.k === 'lit') {
        text += p.s;
        raw += p.s;
        if (!p.q && /[*?[]|\{[^}]*,[^}]*\}/.test(p.s)) glob = true;
      } else if (p.k === 'var') {
        const v = this.variable(p.name);
        if (v === null) dynamic = true;
        else text += v;
        raw += v ?? this.rawVars.get(p.name) ?? '';
      } else if (p.k === 'home') {
        const home = this.ctx.env.HOME;
        if (home) text += home;
        else dynamic = true;
        raw += home ?? '';
      } else {
        dynamic = true;
        // $1, ${1}: what `set --` gave it
        raw += p.src !== undefined && /^\d$/.test(p.src) ? (this.rawVars.get(p.src) ?? '') : (p.src ?? '');
      }
    }
    const first = w.parts[0];
    const m = first && first.k === 'lit' && !first.q ? /^([A-Za-z_]\w*)(\[[^\]]*\])?\+?=/.exec(first.s) : null;
    if (m) this.assigned.push(raw || text);
    return { text, dynamic, glob, assign: m ? m[1]! : null, raw };
  }

  private variable(name: string): string | null {
    if (this.vars.has(name)) return this.vars.get(name) ?? null;
    if (name === 'PWD') return this.cwd;
    if (KNOWN_VARS.includes(name)) return this.ctx.env[name] ?? null;
    return null;
  }

  private setVar(w: Exp): void {
    if (!w.assign) return;
    const value = w.text.slice(w.text.indexOf('=') + 1);
    this.vars.set(w.assign, w.dynamic ? null : value);
    this.rawVars.set(w.assign, w.raw ?? value);
  }

  /** A variable set to a value only known at run time, with the text it came from (`for f in a b`, `read f <<< a`). */
  /** A name bash assigns through (read 'a[$(…)]', printf -v): the subscript is arithmetic, whose $(…) runs. */
  private subscript(name: string, depth: number): void {
    const m = /^[A-Za-z_]\w*\[(.*)\]$/s.exec(name);
    if (m && /[$`]/.test(m[1]!)) this.script(`: ${m[1]!}`, depth + 1);
  }

  private setUnknown(name: string, from: Exp[]): void {
    this.vars.set(name, null);
    this.rawVars.set(name, from.map((f) => f.raw ?? f.text).join(' '));
  }

  private simple(raw: Word[], redirs: Redir[], depth: number): void {
    let words = raw.map((w) => this.expand(w));
    while (words.length && RESERVED.has(words[0]!.text)) words = words.slice(1);
    // for NAME in WORDS: NAME takes each of them in turn.
    if (words[0]?.text === 'for' && words[1] && /^[A-Za-z_]\w*$/.test(words[1].text)) this.setUnknown(words[1].text, words.slice(3));
    if (words.length && HEADERS.has(words[0]!.text)) words = [];
    for (const r of redirs) this.redirect(r);
    let i = 0;
    while (i < words.length && words[i]!.assign) this.codeVar(words[i++]!, depth);
    if (i > 0) this.safe = false; // PATH=…, NODE_OPTIONS=…: changes what runs
    if (i === words.length) {
      // Only assignments: they stay set for the rest of the script.
      words.forEach((w) => this.setVar(w));
      return;
    }
    this.command(words.slice(i), redirs, depth, words.slice(0, i));
  }

  private redirect(r: Redir): void {
    if (!r.target) return;
    const t = this.expand(r.target);
    if (r.op === '<') {
      if (!this.readable(this.resolve(t))) this.safe = false;
      return;
    }
    if (!['>', '>>', '>|', '&>', '&>>', '<>', '>&'].includes(r.op)) return;
    if (r.op === '>&' && /^(\d+|-)$/.test(t.text)) return; // fd duplication, not a file
    if (!this.writableHere(t.glob ? null : this.resolve(t))) this.safe = false;
    this.target(t, false);
  }

  private resolve(w: Exp, base: string | null = this.cwd): string | null {
    if (w.dynamic || w.text === '') return null;
    if (path.isAbsolute(w.text)) return path.normalize(w.text);
    return base === null ? null : path.resolve(base, w.text);
  }

  /**
   * Does a pattern in the text a run-time path came from take a judge, the engine's state or git's
   * data (for f in *.sh; do echo > $f; done, f=$(ls check*))? The shell expands it where the command runs.
   */
  private globsGuarded(raw: string, base: string | null, tree: boolean): boolean {
    return raw.split(/[\s()'"`;|&<>=]+/).some((t) => {
      if (!GLOB_CHARS.test(t) || t.includes('$')) return false;
      const abs = this.resolve(literal(t), base);
      return abs !== null && globDenial(this.ctx.policy, abs, tree) !== null;
    });
  }

  /** Check one file the command would write (tree: it may remove or move a whole directory). */
  private target(w: Exp, tree: boolean, base: string | null = this.cwd): void {
    if (this.deny) return;
    const resolved = this.resolve(w, base);
    // /proc/self/cwd/…, /proc/<pid>/root/…: where they lead is the writing process's business.
    const abs = resolved !== null && /^\/proc\//.test(resolved) ? null : resolved;
    if (abs === null) {
      this.opaque = true; // only known at run time
      this.unknownWrite = true;
      if (namesGuarded(w.raw ?? w.text, this.ctx.policy) || this.globsGuarded(w.raw ?? w.text, base, tree)) this.blindWrite = true;
      this.dynamicWrite = true;
      return;
    }
    const policy = this.ctx.policy;
    if (w.glob && GLOB_CHARS.test(w.text)) {
      this.unknownWrite = true;
      this.deny = globDenial(policy, abs, tree) ?? globGitConfig(abs, this.gitConfig(), tree);
      return;
    }
    const c = canonical(abs);
    // A `..` after a link steps out of where the link leads (src/link/../check.sh, src/link -> ../bench):
    // the file the kernel opens is judged too.
    let moved = false;
    if (/(^|\/)\.\.(\/|$)/.test(w.text) && (path.isAbsolute(w.text) || base !== null)) {
      const phys = physical(path.isAbsolute(w.text) ? w.text : `${base}/${w.text}`);
      moved = phys !== c;
      if (moved) this.target({ ...w, text: phys }, tree, base);
      if (this.deny) return;
    }
    this.wrote.push({ path: c, tree });
    // A judge that is a link out of the project, written by its own name.
    for (const named of namedRels(policy, abs)) {
      this.deny = tree ? treeDenial(policy, named) : writeDenial(policy, named);
      if (this.deny) return;
    }
    const rel = relToProject(policy, c);
    if (rel !== null && !tree && rel !== '' && !moved) this.written.add(rel);
    if (rel === null) {
      // Outside the project, unless it holds the project (rm -rf ..), is where a judge links to or beside it, or is git's configuration.
      if (tree && (policy.projectDir + path.sep).startsWith(c === path.sep ? c : c + path.sep)) this.deny = treeDenial(policy, '');
      this.deny ??= outsideJudgeDenial(policy, abs, tree) ?? gitConfigDenial(c, this.gitConfig(), tree);
      return;
    }
    this.deny = (tree ? treeDenial(policy, rel) : writeDenial(policy, rel)) ?? this.outsideScope(rel, c) ?? (tree ? null : linkDenial(policy, c));
  }

  /**
   * A file that exists outside the scope is denied as the Edit tool denies it: it may be what the
   * benchmark runs without naming it (a module bench.sh imports), and a change there is measured as
   * it is, never reverted. New files there (a log, a build output) are not. Directories are not judged.
   */
  private outsideScope(rel: string, abs: string): Denial | null {
    const policy = this.ctx.policy;
    if (rel === '' || inDir(rel, '.autoloop')) return null;
    this.scope ??= compileScope(policy.scope, []);
    if (this.scope.inScope(rel)) return null;
    try {
      if (fs.statSync(abs).isDirectory()) return null;
    } catch {
      return null; // missing (or unreadable): a new file
    }
    return REASONS.scope(rel, policy.scope);
  }

  /** Strip env prefixes and wrappers (env, sudo, xargs, timeout, …) down to the command that runs. */
  private unwrap(words: Exp[]): { words: Exp[]; dir: string | null | undefined; xargs: boolean; argFiles: Exp[] } {
    let dir: string | null | undefined;
    let xargs = false;
    const argFiles: Exp[] = [];
    for (let guard = 0; guard < 16 && words.length; guard++) {
      let i = 0;
      while (i < words.length && words[i]!.assign) i++;
      words = words.slice(i);
      if (!words.length) break;
      const prog = path.basename(words[0]!.text);
      const plain = PLAIN_WRAPPERS.get(prog);
      let next: number;
      if (plain) {
        words = expandLeading(words, plain);
        next = skipOptions(words, 1, plain) + (plain.operands ?? 0);
        // chroot: every absolute path after it starts at the new root, which the guard does not follow.
        if (prog === 'chroot') {
          this.cannot('chroot moves where its command\'s paths lead', true);
          return { words: [], dir, xargs, argFiles };
        }
        // sudo -D DIR (--chdir): the command starts there, as with env -C.
        if (prog === 'sudo') {
          const at = sudoChdir(words.slice(1, next));
          if (at !== undefined) dir = this.resolve(at);
        }
        // tracers and GNU time (/usr/bin/time -o FILE) write their -o file
        if (prog === 'strace' || prog === 'ltrace' || prog === 'time') {
          words.slice(1, next).forEach((w, k, opts) => {
            if (TRACE_OUT.test(w.text)) this.target(opts[k + 1] ?? DYNAMIC, false);
            else if (/^-o./.test(w.text) || w.text.startsWith('--output=')) this.target({ ...w, text: w.text.slice(w.text.startsWith('-o') ? 2 : 9) }, false);
          });
        }
      }
      else if (prog === 'env') {
        words = expandLeading(words, ENV_OPTIONS);
        const e = this.unwrapEnv(words);
        if (e.dir !== undefined) dir = e.dir;
        if (e.run) return { words: e.run, dir, xargs, argFiles };
        next = e.next;
      } else if (prog === 'command' || prog === 'builtin') {
        if (words.slice(1).some((w) => /^-[a-zA-Z]*[vV]/.test(w.text))) return { words: [], dir, xargs, argFiles }; // a lookup, runs nothing
        next = skipOptions(words, 1);
      } else if (prog === 'busybox') next = 1;
      else if (prog === 'flock') {
        // flock [opts] FILE cmd … or flock [opts] FILE -c 'cmd'
        const spec = { arg: 'wEc', long: ['--timeout', '--conflict-exit-code', '--command'] };
        words = expandLeading(words, spec);
        // -c CMD / --command CMD / --command=CMD, before the file or after it
        const c = words.findIndex((w, k) => k > 0 && (w.text === '-c' || w.text === '--command' || w.text.startsWith('--command=')));
        // -c hands its text to sh -c: judged as that shell's script (its redirections and operators too).
        if (c >= 0) return { words: this.viaShell(words[c]!.text.startsWith('--command=') ? [{ ...words[c]!, text: words[c]!.text.slice(10) }] : words.slice(c + 1, c + 2)), dir, xargs, argFiles };
        const at = skipOptions(words, 1, spec) + 1;
        next = at;
      } else if (prog === 'watch') {
        // procps watch: -n, -q and -s take a value; -d takes one only attached (-d=permanent).
        const spec = { arg: 'nqs', long: ['--interval', '--equexit', '--shotsfile'] };
        words = expandLeading(words, spec);
        next = skipOptions(words, 1, spec);
        // Unless -x, watch joins its arguments with spaces and runs that line with sh -c.
        if (!words.slice(1, next).some((w) => /^(-[bcCdeghprtw]*x|--exec)$/.test(w.text))) return { words: this.viaShell(words.slice(next)), dir, xargs, argFiles };
      } else return { words, dir, xargs, argFiles };
      if (prog === 'xargs') {
        xargs = true;
        // xargs -a FILE: the arguments are that file's text.
        words.slice(1, next).forEach((w, k, opts) => {
          const t = w.text;
          if (t === '-a' || t === '--arg-file') argFiles.push(opts[k + 1] ?? DYNAMIC);
          else if (/^-a./.test(t)) argFiles.push({ ...w, text: t.slice(2) });
          else if (t.startsWith('--arg-file=')) argFiles.push({ ...w, text: t.slice('--arg-file='.length) });
        });
      }
      words = words.slice(next);
    }
    return { words, dir, xargs, argFiles };
  }

  /** env's own words: where the command starts, a -C directory, or the command line an -S string holds. */
  private unwrapEnv(words: Exp[]): { next: number; dir?: string | null; run?: Exp[] } {
    let dir: string | null | undefined;
    let next = 1;
    while (next < words.length) {
      const t = words[next]!.text;
      if (t === '--') return { next: next + 1, dir };
      if (t === '-C' || t === '--chdir') {
        dir = this.resolve(words[next + 1] ?? DYNAMIC);
        next += 2;
      } else if (t.startsWith('--chdir=') || /^-[a-zA-Z]*C./.test(t)) {
        // -Cdir, --chdir=dir (and -iCdir: C ends its cluster)
        dir = this.resolve({ ...words[next]!, text: t.startsWith('--') ? t.slice('--chdir='.length) : t.slice(t.indexOf('C') + 1) });
        next++;
      } else if (t === '-S' || t === '--split-string') return { next, dir, run: this.split(words.slice(next + 1)) };
      else if (t === '-u' || t === '--unset') next += 2;
      else if (/^-[a-zA-Z]*S./.test(t) || t.startsWith('--split-string=')) {
        // -S'cmd args' or --split-string=…: the string is the command line.
        const text = t.startsWith('--') ? t.slice(t.indexOf('=') + 1) : t.slice(t.indexOf('S') + 1);
        return { next, dir, run: this.split([{ ...words[next]!, text }, ...words.slice(next + 1)]) };
      } else if (t.startsWith('-') || words[next]!.assign || /^[^=]+=/.test(t)) next++; // env takes any NAME=value, even BASH_FUNC_f%%=…
      else break;
    }
    return { next, dir };
  }

  /**
   * The command a wrapper hands to sh -c (watch, flock -c): its words joined by spaces, as the
   * wrapper joins them, become that shell's script. Never approved: the wrapper is no reader.
   */
  private viaShell(words: Exp[]): Exp[] {
    this.safe = false;
    const script: Exp = { text: words.map((w) => w.text).join(' '), dynamic: words.some((w) => w.dynamic), glob: false, assign: null };
    return [literal('sh'), literal('-c'), script];
  }

  /** Re-split a string that env -S splits into words (no shell reads it). */
  private split(words: Exp[]): Exp[] {
    const text = words.map((w) => w.text).join(' ');
    const sub = lex(text).tokens;
    return sub.flatMap((t) => (t.kind === 'word' ? [this.expand(t)] : []));
  }

  private command(all: Exp[], redirs: Redir[], depth: number, prefix: Exp[] = []): void {
    const { words, dir, xargs, argFiles } = this.unwrap(all);
    const gitVar = (name: string | null | undefined): boolean => !!name && /^(GIT_(CONFIG|DIR|WORK_TREE|EXEC_PATH|CEILING)|HOME$|XDG_CONFIG_HOME$)/.test(name);
    this.gitConfigEnv = [...prefix, ...all].some((w) => gitVar(w.assign ?? /^([A-Za-z_]\w*)=/.exec(w.text)?.[1])) || [...this.vars.keys()].some(gitVar);
    // GIT_DIR / GIT_WORK_TREE name the repository and the tree git works on, whatever -C says.
    const repoVar = /^GIT_(DIR|WORK_TREE)=/;
    this.gitRepoEnv = [
      ...[...prefix, ...all].filter((w) => repoVar.test(w.text)).map((w) => this.resolve({ ...w, text: w.text.slice(w.text.indexOf('=') + 1) })),
      ...[...this.vars].filter(([k]) => k === 'GIT_DIR' || k === 'GIT_WORK_TREE').map(([, v]) => (v === null ? null : this.resolve(literal(v)))),
    ];
    // Wrappers change how (or as whom) a command runs; only a bare `time` is approved.
    const wrapped = all.length - words.length;
    if (wrapped > 1 || (wrapped === 1 && all[0]!.text !== 'time') || dir !== undefined) this.safe = false;
    if (!words.length || words[0]!.dynamic) {
      if (words.length) this.cannot('the program it runs is only known at run time', true);
      return;
    }
    // env BASH_ENV=… cmd, env 'BASH_FUNC_f%%=…' cmd: variables that run code.
    for (const w of all.slice(0, wrapped)) if (/^[A-Za-z_][^=]*=/.test(w.text)) this.codeVar(w, depth);
    const prog = path.basename(words[0]!.text);
    const args = expandLong(prog, words.slice(1));
    // Claude Code's shell expands aliases (its snapshot sets expand_aliases): one this command defined runs its text.
    const alias = wrapped === 0 ? this.aliases.get(words[0]!.text) : undefined;
    if (alias !== undefined) return this.aliasCall(words[0]!.text, alias, args, depth);
    const saved = this.cwd;
    if (dir !== undefined) this.cwd = dir; // env -C: only for this command
    try {
      const engine = this.engine(prog, words);
      if (engine) {
        if (!this.approvedEngine(words)) this.safe = false;
        // The plugin's own scripts are never denied; a file that only bears an engine script's name
        // (./src/run-experiment.mjs, a shell script) is judged as any command.
        if (engine === 'ours') return;
      }
      // Another Claude session is not this loop's: the hooks neither guard nor approve it (references/permissions.md).
      if (prog === 'claude' || (['npx', 'bunx', 'pnpx'].includes(prog) && args.some((a) => /^@anthropic-ai\/claude-code(@|$)/.test(a.text)))) {
        return this.cannot('it starts another Claude session, which the loop\'s hooks do not guard', true);
      }
      if (words[0]!.text.includes('/')) {
        this.execPath(words[0]!, depth);
        // src/cat, /tmp/x/cat: a program that only bears a reader's name may do anything
        if (!SYSTEM_PROGRAM.test(path.normalize(words[0]!.text))) this.safe = false;
      }
      this.unseen(prog, args, xargs, argFiles);
      this.programOnInput(prog, args, redirs);
      const readOnly = this.readOnly(prog, args);
      if (this.safe && !readOnly) this.safe = false;
      if (!readOnly && !this.seesWrites(prog, args)) {
        this.opaque = true;
        this.opaqueState(args);
      }
      this.dispatch(prog, args, redirs, depth);
      this.helpers(prog, args, depth);
    } finally {
      if (dir !== undefined) this.cwd = saved;
    }
  }

  /**
   * A program the guard cannot follow (gcc -o F, sqlite3 ".output F", yq -i, a formatter) handed a path
   * into the engine's state may write it, and a ledger rewritten between runs is believed (a baseline
   * made 50 from 10 had a change measured 20 kept): any word, or piece of one, that names the state is
   * refused. Judges are left to the fingerprints: a run by hand names them (python3 bench.py), and one
   * changed makes the next run invalid, its log putting it back.
   */
  private opaqueState(args: Exp[]): void {
    const policy = this.ctx.policy;
    // Only a piece that spells the state's name, or any piece where the command runs inside it, can lead
    // there (each is a realpath: 8x the guard's time on such a command when every piece was one).
    const here = this.cwd === null || !this.cwd.includes('.autoloop') ? null : relOf(policy, this.cwd);
    const inState = here !== null && inDir(here, '.autoloop');
    for (const a of args) {
      if (this.deny || a.dynamic) return;
      for (const piece of a.text.split(/[\s=:,;'"()]+/)) {
        if (piece === '' || piece.startsWith('-') || (!inState && !piece.includes('.autoloop'))) continue;
        const abs = this.resolve(literal(piece));
        const rel = abs === null ? null : relOf(policy, abs);
        if (rel === null || !inDir(rel, '.autoloop') || isWritableState(policy, rel)) continue;
        this.deny = REASONS.state(rel, policy.writable);
        return;
      }
    }
  }

  /** What the guard cannot follow: an inline program, arguments that xargs reads from its input. */
  private unseen(prog: string, args: Exp[], xargs: boolean, argFiles: Exp[]): void {
    // Own keys only: a command named valueOf or constructor is no table entry.
    const inline = Object.hasOwn(INLINE_CODE, interpreterName(prog)) ? INLINE_CODE[interpreterName(prog)] : undefined;
    const k = inline ? args.findIndex((a) => inline.test(a.text)) : -1;
    if (k >= 0) {
      // Judged on the program's own text: reading a judge (perl -ne 'print' bench.sh) is fine.
      const flag = args[k]!.text;
      const code = flag.startsWith('--') && flag.includes('=') ? args[k]! : args[k + 1];
      const text = code?.dynamic ? '' : (code?.text ?? '');
      if (code?.dynamic) this.cannot('an inline program only known at run time', true);
      else if (mayHarm(text, this.ctx.policy)) this.deny ??= UNSURE_REASON('an inline program may write a judge or run git');
      this.safe = false;
      this.opaque = true;
    }
    // awk's system(), print > file and print | cmd; gawk -i inplace rewrites the files it reads.
    if (/^[gmn]?awk$/.test(prog) && args.some((a) => /system\s*\(|[>|]/.test(a.text))) this.cannot('an awk program may write files or run commands');
    if (/^g?awk$/.test(prog) && args.some((a, k) => /^(-i|--include(=|$))/.test(a.text) && /inplace/.test(a.text + ' ' + (args[k + 1]?.text ?? '')))) {
      this.cannot('awk -i inplace rewrites the files it reads');
    }
    // Editors write the files they open, by commands in their arguments or their input.
    if (EDITORS.has(prog)) this.cannot(`${prog} may write the files it opens`);
    if (!xargs) return;
    for (const f of argFiles) {
      const abs = f.dynamic || f.glob ? null : this.resolve(f);
      const text = abs === null ? null : this.io.readScript(abs);
      if (text === null) this.cannot('xargs reads its arguments from a file the guard cannot read', true);
      else this.extra.push(text);
    }
    if (prog === 'git' || SHELLS.has(prog) || Object.hasOwn(INLINE_CODE, interpreterName(prog))) this.cannot(`xargs runs ${prog} with arguments only known at run time`, true);
    else if (VISIBLE_WRITERS.has(prog)) this.cannot(`xargs hands ${prog} file names only known at run time`);
  }

  /**
   * An interpreter that runs the program on its input (python3 <<< '…', echo '…' | node): a
   * heredoc, here-string or pipe puts that program in the command's text, which the verdict then
   * judges as it judges inline code. `< file` runs a script file, as `python3 file` does.
   */
  private programOnInput(prog: string, args: Exp[], redirs: Redir[]): void {
    if (!readsProgramFromInput(interpreterName(prog), args)) return;
    const input = [...redirs].reverse().find((r) => (r.fd === null || r.fd === '0') && ['<', '<<', '<<-', '<<<'].includes(r.op));
    if (input?.op === '<') return;
    this.cannot(`${prog} runs the program on its input`);
  }

  /** `node <plugin>/dist/X.mjs …` or `npx tsx <plugin>/scripts/X.ts …`, X approved, no runtime options. */
  private approvedEngine(words: Exp[]): boolean {
    const root = this.ctx.pluginRoot;
    const runner = words[0]!.text;
    let at: number;
    let dir: string;
    let ext: string;
    if (runner === 'node') [at, dir, ext] = [1, 'dist', '.mjs'];
    else if (runner === 'npx' && words[1]?.text === 'tsx') [at, dir, ext] = [2, 'scripts', '.ts'];
    else return false;
    const script = words[at];
    const abs = script && !script.glob ? this.resolve(script) : null;
    if (!root || !abs || !abs.endsWith(ext) || canonical(path.dirname(abs)) !== path.join(root, dir)) return false;
    const name = path.basename(abs, ext);
    if (!APPROVED_ENGINE.has(name)) return false;
    const args = words.slice(at + 1);
    if (name === 'chain' && (args.some((a) => JUDGE_FLAGS.test(a.text)) || this.scopeTakesJudge(args))) return false;
    const k = args.findIndex((a) => a.text === '--cwd' || a.text.startsWith('--cwd='));
    if (k < 0) return true;
    const a = args[k]!;
    const d = this.resolve(a.text.includes('=') ? { ...a, text: a.text.slice('--cwd='.length) } : (args[k + 1] ?? DYNAMIC));
    return d !== null && relOf(this.ctx.policy, d) !== null;
  }

  /**
   * chain --scope that covers one of the loop's judges: a file named in the scope is mutable in the
   * follow-up (a mutable entry point), so the model would be free to rewrite the benchmark. The user's.
   */
  private scopeTakesJudge(args: Exp[]): boolean {
    const scopes = args.flatMap((a, k) => (a.text === '--scope' ? [args[k + 1] ?? DYNAMIC] : a.text.startsWith('--scope=') ? [{ ...a, text: a.text.slice('--scope='.length) }] : []));
    return scopes.some((sc) => {
      if (sc.dynamic) return true;
      const scope = compileScope([sc.text], []);
      // A glob judge (--protect 'bench/**') is taken when the scope covers its literal head.
      return this.ctx.policy.protect.some((p) => scope.inScope(p.replace(/^\.\//, '').replace(/\/?[^/]*[*?[\]{}!()].*$/, '') || '.'));
    });
  }

  /** Is this simple command on the read-only list (or a write to the scratch area)? */
  private readOnly(prog: string, args: Exp[]): boolean {
    if (this.cwd === null || relOf(this.ctx.policy, this.cwd) === null) return false;
    // date -s / --set sets the clock; file -C / --compile writes NAME.mgc where it runs
    if (prog === 'date' || prog === 'file') {
      const [short, long] = prog === 'date' ? ['s', '--set'] : ['C', '--compile'];
      if (args.some((a) => a.dynamic || a.text.split('=')[0] === long || (/^-[a-zA-Z]/.test(a.text) && a.text.includes(short)))) return false;
    }
    // printf -v NAME sets a variable: PATH (what `cat` then runs), or a[$(…)] whose subscript bash runs as code
    if (prog === 'printf' && args[0] && (args[0].dynamic || args[0].text.startsWith('-v'))) return false;
    if (TEXT_ONLY.has(prog)) return true;
    if (prog === 'cd' || prog === 'pushd') return args.every((a) => a.text.startsWith('-') || this.readable(this.resolve(a)));
    if (prog === 'git') return this.readOnlyGit(args);
    if (prog === 'mkdir' || prog === 'rm') {
      const ops = args.filter((a) => !/^-[a-zA-Z]+$/.test(a.text));
      return ops.length > 0 && ops.every((a) => !a.glob && this.inScratch(this.resolve(a)));
    }
    if (!READERS.has(prog)) return false;
    if (prog === 'find' && args.some((a) => FIND_ACTIONS.test(a.text))) return false;
    if (prog === 'sort' && args.some((a) => /^(-[a-zA-Z]*o|--output|--compress-program)/.test(a.text))) return false;
    if (prog === 'rg' && args.some((a) => /^--(pre|hostname-bin)(=|$)/.test(a.text))) return false;
    let ops = args.filter((a) => a.dynamic || !a.text.startsWith('-'));
    if (prog === 'uniq' && ops.length > 1) return false;
    if (PATTERN_FIRST.has(prog) && !args.some((a) => /^(-[a-zA-Z]*[ef]|--regexp|--file)/.test(a.text))) ops = ops.slice(1);
    return ops.every((a) => !a.dynamic && this.readable(this.resolve(a)));
  }

  /** Does the guard name every file this command may write (a shell's inline script is looked into)? */
  private seesWrites(prog: string, args: Exp[]): boolean {
    if (VISIBLE_WRITERS.has(prog) || SHELL_ONLY.has(prog)) return true;
    if (prog === 'find') return !args.some((a) => /^-f(print|ls)/.test(a.text));
    if (prog === 'git') return false;
    return SHELLS.has(prog) && args.some((a) => /^-[a-zA-Z]*c/.test(a.text));
  }

  /** mkdir: the directories it makes, relative to the project. */
  private madeDirs(args: Exp[]): void {
    for (const d of parseArgs(args, { arg: 'm', long: ['--mode'] }).operands) {
      const abs = d.glob ? null : this.resolve(d);
      const rel = abs === null ? null : relToProject(this.ctx.policy, canonical(abs));
      if (abs === null) this.opaque = true;
      else if (rel) this.dirs.add(rel);
    }
  }

  private inScratch(abs: string | null): boolean {
    const rel = abs === null ? null : relOf(this.ctx.policy, abs);
    const s = this.ctx.policy.scratch;
    return rel !== null && (rel === s || rel.startsWith(`${s}/`));
  }

  /** Read-only git in this repository, with no option that runs or writes something else. */
  private readOnlyGit(args: Exp[]): boolean {
    let i = 0;
    while (i < args.length && args[i]!.text.startsWith('-')) {
      const t = args[i]!.text;
      if (t === '--no-pager') i++;
      else if (t === '-C' && this.readable(this.resolve(args[i + 1] ?? DYNAMIC))) i += 2;
      else return false;
    }
    const sub = args[i]?.text ?? '';
    const rest = expandLong(sub, args.slice(i + 1), 'git');
    // --no-index reads files outside the repository, which no reader may (readable()).
    if (rest.some((a) => a.dynamic || /^--(output|ext-diff|textconv|filters|exec|upload-pack|no-index)/.test(a.text))) return false;
    // git grep -O runs a pager program on the files it found.
    if (sub === 'grep' && rest.some((a) => /^(--open-files-in-pager|-[a-zA-Z]*O)/.test(a.text))) return false;
    if (GIT_READ.has(sub)) return true;
    if (sub === 'branch') return rest.every((a) => ['--list', '-a', '-r', '-v', '-vv', '--show-current', '--all', '--remotes'].includes(a.text));
    if (sub === 'stash') return rest[0]?.text === 'list' || rest[0]?.text === 'show';
    return false;
  }

  /** Is this an invocation of an engine script (ours: the plugin's own)? Marks the claim. */
  private engine(prog: string, words: Exp[]): 'ours' | 'named' | null {
    let script: Exp | undefined;
    if (RUNNERS.has(prog)) {
      const i = skipOptions(words, 1, { arg: 'rCe', long: ['--require', '--import', '--loader', '--experimental-loader', '--conditions', '--eval'] });
      const opts = words.slice(1, i).map((w) => w.text);
      if (opts.some((o) => o === '-e' || o === '--eval' || o === '-p' || o === '--print')) return null;
      let j = i;
      while (j < words.length && ['tsx', 'run', 'exec', 'ts-node'].includes(words[j]!.text)) j++;
      script = words[j];
    } else script = words[0];
    if (!script || script.dynamic) return null;
    const base = path.basename(script.text);
    const name = base.replace(/\.(mjs|ts)$/, '');
    const root = this.ctx.pluginRoot;
    const abs = this.resolve(script);
    // Resolve the directory, not the file: an engine bundle may itself be a link.
    const dir = root && abs && /\.(mjs|ts)$/.test(base) ? canonical(path.dirname(abs)) : null;
    const ours = dir !== null && (dir === path.join(root!, 'dist') || dir === path.join(root!, 'scripts'));
    if (ENGINE_SCRIPT.test(base)) {
      this.claims = true;
      this.engines.push(name);
      return ours ? 'ours' : 'named';
    }
    if (ours) this.engines.push(name);
    return ours ? 'ours' : null;
  }

  private dispatch(prog: string, args: Exp[], redirs: Redir[], depth: number): void {
    if (this.launchers(prog, args, redirs, depth)) return;
    switch (prog) {
      case 'cd':
      case 'pushd': {
        const ops = args.filter((a) => !/^-[LPe@]+$/.test(a.text));
        if (!ops.length) this.cwd = this.ctx.env.HOME ?? null;
        else if (ops[0]!.text === '-') this.cwd = null;
        // With CDPATH set, the shell may look for a relative name in other directories first.
        else if (this.ctx.env.CDPATH && !/^(\/|\.\.?(\/|$))/.test(ops[0]!.text)) this.cwd = null;
        else this.cwd = this.resolve(ops[0]!);
        return;
      }
      case 'popd':
        this.cwd = null;
        return;
      case 'export':
      case 'declare':
      case 'typeset':
      case 'local':
      case 'readonly':
        for (const a of args) {
          const w = a.assign ? a : { ...a, assign: /^([A-Za-z_]\w*)=/.exec(a.text)?.[1] ?? null };
          this.codeVar(w, depth);
          this.setVar(w);
        }
        return;
      case 'git':
        return this.git(args, depth);
      case 'eval':
        if (args.some((a) => a.dynamic)) this.cannot('eval runs text only known at run time', true);
        return this.script(args.map((a) => a.text).join(' '), depth + 1);
      case 'source':
      case '.':
        return this.source(args, depth);
      case 'sed':
        return this.sed(args, depth);
      case 'patch':
        return this.patch(args, redirs);
      case 'trap':
        if (args[0] && !args[0].text.startsWith('-')) {
          if (args[0].dynamic) this.cannot('a trap runs text only known at run time', true);
          else this.script(args[0].text, depth + 1);
        }
        return;
      case 'find':
        return this.find(args, redirs, depth);
      case 'mkdir':
        return this.madeDirs(args);
    }
    if (SHELLS.has(prog)) return this.shell(prog, args, redirs, depth);
    this.writes(prog, args, depth);
  }

  /**
   * `su -c CMD`, `runuser -c CMD` / `runuser -u USER -- cmd …`, `script -c CMD [FILE]`: the command is judged
   * as shell code; without one, su and runuser start a login shell (its start-up files are not read).
   */
  private commandOption(prog: string, args: Exp[], redirs: Redir[], depth: number): void {
    const p = parseArgs(args, { arg: prog === 'script' ? 'cOITBE' : 'cugGsw', long: ['--command', '--log-out', '--log-in', '--log-io', '--log-timing', '--user', '--group', '--shell'] });
    if (prog === 'script') {
      // script writes what it records: FILE (default ./typescript) and its --log-* files.
      const outs = ['O', 'I', 'B', 'T', '--log-out', '--log-in', '--log-io', '--log-timing'].flatMap((o) => (p.opts.has(o) ? [literal(p.opts.get(o)!)] : []));
      for (const o of outs.length ? outs : [p.operands[0] ?? literal('typescript')]) this.target(o, false);
    }
    const code = p.opts.get('c') ?? p.opts.get('--command');
    if (code !== undefined) {
      const w = args.find((a) => a.text === code);
      if (w?.dynamic) return this.cannot(`${prog} -c runs text only known at run time`, true);
      return this.script(code, depth + 1);
    }
    if (prog === 'script') return;
    // runuser -u USER [--] cmd args: the command itself.
    const dash = args.findIndex((a) => a.text === '--');
    if (prog === 'runuser' && p.opts.has('u') && p.operands.length) return this.command(dash >= 0 ? args.slice(dash + 1) : p.operands, redirs, depth);
    this.cannot(`${prog} starts a login shell whose start-up files the guard does not read`, true);
  }

  /** `alias name=value …`: remembered, so that a later use is judged as the text it expands to. */
  private defineAliases(args: Exp[]): void {
    for (const a of args) {
      const eq = a.text.indexOf('=');
      if (eq <= 0) continue;
      this.aliases.set(a.text.slice(0, eq), a.dynamic ? null : a.text.slice(eq + 1));
    }
  }

  private aliasCall(name: string, value: string | null, args: Exp[], depth: number): void {
    if (value === null) return this.cannot(`the alias ${name} runs text only known at run time`, true);
    this.extra.push(value);
    const rest = args.map((r) => (r.dynamic ? '"$__autoloop_unknown"' : `'${r.text.replace(/'/g, `'\\''`)}'`));
    // An alias used inside its own text is not expanded again (bash's rule); the guard stops the same way.
    const saved = this.aliases.get(name);
    this.aliases.delete(name);
    this.script([value, ...rest].join(' '), depth + 1);
    this.aliases.set(name, saved ?? null);
  }

  /** Builtins and launchers that set variables or run a command of their own; true when handled. */
  private launchers(prog: string, args: Exp[], redirs: Redir[], depth: number): boolean {
    switch (prog) {
      case 'alias':
        this.defineAliases(args);
        return true;
      case 'su':
      case 'runuser':
      case 'script':
        this.commandOption(prog, args, redirs, depth);
        return true;
      case 'at':
      case 'batch': {
        // at reads the commands it schedules from -f FILE or its input.
        const f = parseArgs(args, { arg: 'fqtm' }).opts.get('f');
        const input = [...redirs].reverse().find((r) => (r.fd === null || r.fd === '0') && ['<<', '<<-', '<<<', '<'].includes(r.op));
        const t = input?.op === '<<<' && input.target ? this.expand(input.target) : DYNAMIC;
        if (f !== undefined) this.runFile(literal(f), depth, `${prog} runs`);
        else if (input?.op === '<') this.runFile(input.target ? this.expand(input.target) : DYNAMIC, depth, `${prog} runs`);
        else if (input && input.body !== null && input.op !== '<<<') this.script(input.body, depth + 1);
        else if (t.dynamic) this.cannot(`${prog} runs commands from its input`, true);
        else this.script(t.text, depth + 1);
        return true;
      }
      case 'parallel':
      case 'sem':
      case 'systemd-run':
        this.cannot(`${prog} builds or starts its commands where the guard cannot follow`);
        return true;
      case 'set': {
        // set -- a b: the positional parameters $1, $2, …
        const at = args.findIndex((a) => a.text === '--');
        const values = at >= 0 ? args.slice(at + 1) : args[0] && !/^[-+]/.test(args[0].text) ? args : [];
        values.forEach((v, k) => this.setUnknown(String(k + 1), [v]));
        return true;
      }
      case 'read':
      case 'mapfile':
      case 'readarray': {
        // read F <<< check.sh: F holds what the input says.
        const from = redirs.flatMap((r) => (r.body !== null ? [literal(r.body)] : r.target ? [this.expand(r.target)] : []));
        for (const a of parseArgs(args, { arg: 'adinNptuCcOs' }).operands) {
          this.subscript(a.text, depth);
          this.setUnknown(a.text, from);
        }
        return true;
      }
      case 'printf': {
        const p = parseArgs(args, { arg: 'v' });
        const name = p.opts.get('v');
        if (name !== undefined) {
          this.subscript(name, depth);
          this.setUnknown(name, p.operands);
        }
        return false;
      }
    }
    return false;
  }

  /** `. file` / `source file`: the file's current text runs in this shell, so it is judged as part of the command. */
  private source(args: Exp[], depth: number): void {
    const file = args[0]?.text === '--' ? args[1] : args[0];
    if (!file) return;
    const text = this.codeText(file, 'it sources', (name) => this.sourcePath(name));
    if (text !== null) this.script(text, depth + 1);
  }

  /**
   * A script file a new shell runs (`bash x.sh`, `./x.sh`, BASH_ENV=x.sh): its
   * current text is judged as part of the command; its cd and variables end with it.
   */
  private runFile(file: Exp, depth: number, what: string, lookup = false): void {
    const text = this.codeText(file, what, (name) => this.scriptPath(name, lookup));
    if (text === null) return;
    const [cwd, vars] = [this.cwd, new Map(this.vars)];
    this.script(text, depth + 1);
    this.cwd = cwd;
    this.vars.clear();
    vars.forEach((v, k) => this.vars.set(k, v));
  }

  /** The current text of a file run as code, recorded so the command must not write it; null (and refused) when it cannot be read. */
  private codeText(file: Exp, what: string, find: (name: string) => string | null): string | null {
    if (file.dynamic || file.glob || STREAM_PATH.test(file.text)) {
      this.cannot(`${what} a script only known at run time`, true);
      return null;
    }
    if (this.codeReads++ >= MAX_CODE_FILES) {
      this.cannot(`it runs more than ${MAX_CODE_FILES} script files`, true);
      return null;
    }
    const abs = find(file.text);
    const text = abs === null ? null : this.io.readScript(abs);
    if (abs === null || text === null) {
      this.cannot(`${what} ${file.text}, which the guard cannot read (missing, not a file, or over ${MAX_SCRIPT_BYTES / 1024} KiB)`, true);
      return null;
    }
    this.codeFiles.push({ path: canonical(abs), late: this.unknownWrite });
    this.extra.push(text);
    return text;
  }

  /** Where `bash x.sh` finds its script: the path as given; a bare name not found here, on PATH (bash's own lookup). */
  private scriptPath(name: string, lookup: boolean): string | null {
    const here = this.resolve(literal(name));
    if (!lookup || name.includes('/') || (here !== null && this.io.fileHead(here) !== null)) return here;
    for (const dir of (this.ctx.env.PATH ?? '').split(path.delimiter)) {
      if (path.isAbsolute(dir) && this.io.fileHead(path.join(dir, name)) !== null) return path.join(dir, name);
    }
    return here;
  }

  /** `./x.sh`, `tools/run`: a shell script run by its path is read like `bash x.sh`; a binary or another interpreter's script is a program. */
  private execPath(file: Exp, depth: number): void {
    const abs = file.dynamic ? null : this.resolve(file);
    const head = abs === null ? null : this.io.fileHead(abs);
    if (head !== null && scriptKind(head) === 'program') return;
    this.runFile(file, depth, 'it runs');
  }

  /** Variables that make a shell run code (shell-start.ts): the code is judged, or the command refused. */
  private codeVar(w: Exp, depth: number): void {
    const name = w.assign ?? /^([^=\s]+)=/.exec(w.text)?.[1];
    const kind = name ? codeVariable(name) : null;
    if (!kind) return;
    const value: Exp = { ...w, text: w.text.slice(w.text.indexOf('=') + 1), assign: null };
    if (kind === 'dir') return this.cannot(`${name} makes zsh run start-up files from another directory`, true);
    if (value.dynamic) return this.cannot(`${name} holds code only known at run time`, true);
    if (kind === 'code') return this.script(value.text.replace(/^\(\)\s*/, ''), depth + 1);
    if (value.text !== '') this.runFile(value, depth, `${name} names`);
  }

  /** Programs that readers start: rg --pre, sort --compress-program, git grep -O (a pager). */
  private helpers(prog: string, args: Exp[], depth: number): void {
    const opt = prog === 'rg' ? /^--(pre|hostname-bin)(=|$)/ : prog === 'sort' ? /^--compress-program(=|$)/ : prog === 'git' ? /^(--open-files-in-pager(=|$)|-[a-zA-Z]*O)/ : null;
    const g = prog === 'git' ? args.findIndex((a) => a.text === 'grep') : -1;
    if (!opt || (prog === 'git' && g < 0)) return;
    // git grep's options in full (git grep --open=CMD is --open-files-in-pager=CMD)
    if (g >= 0) args = [...args.slice(0, g + 1), ...expandLong('grep', args.slice(g + 1), 'git')];
    args.forEach((a, k) => {
      if (!opt.test(a.text)) return;
      const attached = a.text.startsWith('--') ? a.text.includes('=') : !a.text.endsWith('O');
      const value = attached ? { ...a, text: a.text.slice(a.text.startsWith('--') ? a.text.indexOf('=') + 1 : a.text.indexOf('O') + 1) } : prog === 'git' ? null : args[k + 1];
      this.safe = false;
      this.opaque = true;
      if (!value || (!value.dynamic && value.text === '')) return;
      // git hands its pager to a shell; rg and sort start the program itself.
      if (prog !== 'git') this.command([value], [], depth);
      else if (value.dynamic) this.cannot('git grep -O runs a pager only known at run time', true);
      else this.script(value.text, depth + 1);
    });
  }

  /** Where bash finds a sourced name: a path as given; a bare name on PATH first, then here. */
  private sourcePath(name: string): string | null {
    if (!name.includes('/')) {
      for (const dir of (this.ctx.env.PATH ?? '').split(path.delimiter)) {
        if (path.isAbsolute(dir) && this.io.readScript(path.join(dir, name)) !== null) return path.join(dir, name);
      }
    }
    return this.resolve(literal(name));
  }

  /** sed: -i writes its operands; its script may write files (w) or run commands (e). */
  private sed(args: Exp[], depth: number): void {
    const call = sedCall(args);
    if (call.inPlace) call.operands.forEach((o) => this.target(o, false));
    if (call.sandbox) return;
    const texts: string[] = [];
    for (const s of call.scripts) {
      if (s.dynamic) this.cannot('a sed script only known at run time');
      else texts.push(s.text);
    }
    for (const f of call.files) {
      const abs = f.text === '-' ? null : this.resolve(f);
      const text = abs === null ? null : this.io.readScript(abs);
      if (abs === null || text === null) {
        this.cannot(`sed reads its script from ${f.dynamic ? 'a path only known at run time' : f.text}, which the guard cannot read`, true);
        continue;
      }
      this.codeFiles.push({ path: canonical(abs), late: this.unknownWrite });
      texts.push(text);
    }
    const fx = sedEffects(texts.join('\n'));
    if (fx.unsure) this.cannot(fx.unsure, fx.blind);
    for (const w of fx.writes) this.target(literal(w), false);
    for (const r of fx.runs) this.script(r, depth + 1);
  }

  /** patch writes its file operand or -o; else every file its diff names (from -i, < file or a heredoc). */
  private patch(args: Exp[], redirs: Redir[]): void {
    const p = parseArgs(args, { arg: 'pioBDdFrVYzg', long: ['--strip', '--input', '--output', '--directory', '--reject-file', '--backup-prefix', '--suffix'] });
    const opt = (short: string, long: string): string | undefined => p.opts.get(short) ?? p.opts.get(long);
    const rej = opt('r', '--reject-file');
    if (rej !== undefined && rej !== '-') this.target(literal(rej), false);
    if (p.opts.has('--dry-run')) return;
    const out = opt('o', '--output');
    if (out !== undefined) return out === '-' ? undefined : this.target(literal(out), false);
    if (p.operands.length) return this.target(p.operands[0]!, false);
    const diff = this.patchInput(opt('i', '--input'), redirs);
    if (diff === null) return this.cannot('patch reads a diff the guard cannot see', true);
    const dir = opt('d', '--directory');
    for (const name of diffTargets(diff, opt('p', '--strip'))) this.target(literal(dir === undefined ? name : path.join(dir, name)), false);
  }

  private patchInput(input: string | undefined, redirs: Redir[]): string | null {
    const fromFile = (w: Exp): string | null => {
      const abs = this.resolve(w);
      const text = abs === null ? null : this.io.readScript(abs);
      if (abs !== null && text !== null) this.codeFiles.push({ path: canonical(abs), late: this.unknownWrite });
      return text;
    };
    if (input !== undefined) return input === '-' ? null : fromFile(literal(input));
    for (const r of redirs) {
      if ((r.op === '<<' || r.op === '<<-') && r.body !== null) return r.body;
      if (r.op === '<<<' && r.target) return this.expand(r.target).dynamic ? null : this.expand(r.target).text;
      if (r.op === '<' && r.target) return fromFile(this.expand(r.target));
    }
    return null;
  }

  /** What a program that writes into a destination does (dest-writers.ts). */
  private effects(fx: Effect[], depth: number): void {
    for (const e of fx) {
      if (e.kind === 'write') this.target(e.path, e.tree);
      else if (e.kind === 'run') this.script(e.code.text, depth + 1);
      else this.cannot(e.why, e.blind);
    }
  }

  /** sh -c '…', bash x.sh, bash <<EOF … EOF, bash <<< '…', bash < x.sh: look at the script the shell will run. */
  private shell(prog: string, args: Exp[], redirs: Redir[], depth: number): void {
    const call = shellCall(args);
    if (call.startup) this.cannot(`${call.startup} runs start-up files (~/.profile, ~/.bashrc, $ENV) the guard does not read`, true);
    if (prog === 'zsh' && !call.noRcs) this.zshenv(depth);
    const src = call.at >= 0 ? args[call.at]! : null;
    if (call.inline) {
      if (src && !src.dynamic) this.script(src.text, depth + 1);
      else this.cannot('a shell runs a script only known at run time', true);
      return;
    }
    if (src) return this.runFile(src, depth, 'a shell runs', true);
    // No operand: the script is the shell's input (the last redirection of it wins).
    const input = [...redirs].reverse().find((r) => (r.fd === null || r.fd === '0') && ['<', '<<', '<<-', '<<<'].includes(r.op));
    if (!input || ((input.op === '<<' || input.op === '<<-') && input.body === null)) return this.cannot('a shell runs the script piped into it', true);
    if (input.op === '<<' || input.op === '<<-') return this.script(input.body!, depth + 1);
    const t = input.target ? this.expand(input.target) : DYNAMIC;
    if (input.op === '<') return this.runFile(t, depth, 'a shell runs');
    if (!t.dynamic) this.script(t.text, depth + 1);
    else this.cannot('a shell runs a script only known at run time', true);
  }

  /** zsh reads $ZDOTDIR/.zshenv (ZDOTDIR defaults to HOME) before any script, even a non-interactive one. */
  private zshenv(depth: number): void {
    const dir = this.ctx.env.ZDOTDIR ?? this.ctx.env.HOME;
    if (!dir) return this.cannot('zsh reads start-up files from a directory only known at run time', true);
    const file = path.join(dir, '.zshenv');
    if (this.io.fileHead(file) !== null) this.runFile(literal(file), depth, 'zsh runs');
  }

  /** find … -exec cmd {} ; runs cmd. */
  private find(args: Exp[], redirs: Redir[], depth: number): void {
    // -fprint FILE, -fprint0 FILE, -fls FILE, -fprintf FILE FORMAT: find writes FILE.
    args.forEach((a, k) => {
      if (/^-f(print0?|printf|ls)$/.test(a.text)) this.target(args[k + 1] ?? DYNAMIC, false);
    });
    let removes = args.some((a) => a.text === '-delete');
    for (let i = 0; i < args.length; i++) {
      if (!['-exec', '-execdir', '-ok', '-okdir'].includes(args[i]!.text)) continue;
      const sub: Exp[] = [];
      for (i++; i < args.length && args[i]!.text !== ';' && args[i]!.text !== '+'; i++) {
        sub.push(args[i]!.text.includes('{}') ? DYNAMIC : args[i]!);
      }
      if (sub.length) this.command(sub, redirs, depth);
      const prog = sub[0] && !sub[0].dynamic ? path.basename(sub[0].text) : '';
      if (VISIBLE_WRITERS.has(prog) || SHELLS.has(prog) || Object.hasOwn(INLINE_CODE, interpreterName(prog)) || prog === '') removes = true;
    }
    if (removes && !this.deny) this.findHits(args);
  }

  /** find … -delete (or -exec a writer on {}): refused when a judge below a start path passes its -name tests. */
  private findHits(args: Exp[]): void {
    const first = args.findIndex((a) => /^[-!(]/.test(a.text));
    const starts = first < 0 ? args : args.slice(0, first);
    const names = args.flatMap((a, k) => (/^-i?name$/.test(a.text) && args[k + 1] ? [{ pat: args[k + 1]!, fold: a.text === '-iname' }] : []));
    // Negations and alternatives: assume every file may match.
    const exact = !args.some((a) => ['!', '-not', '-o', '-or'].includes(a.text));
    const policy = this.ctx.policy;
    for (const start of starts.length ? starts : [{ ...DYNAMIC, dynamic: false, text: '.' }]) {
      const abs = this.resolve(start);
      if (abs === null) return this.cannot('find removes files below a path only known at run time');
      const root = canonical(abs);
      for (const rel of policy.protect) {
        if (GLOB_CHARS.test(rel)) continue;
        const file = path.join(policy.projectDir, rel);
        if (file !== root && !file.startsWith(root === path.sep ? root : root + path.sep)) continue;
        if (exact && !names.every((n) => n.pat.dynamic || globMatch(n.pat.text, path.basename(rel), n.fold))) continue;
        this.deny = writeDenial(policy, rel);
        return;
      }
    }
  }

  /** git's options before the subcommand: where it runs, and the index of the subcommand. */
  private gitGlobals(args: Exp[]): { dir: string | null; at: number; places: (string | null)[] } {
    let dir: string | null = this.cwd;
    let base: string | null = this.cwd;
    let gitDir: string | null | undefined;
    let workTree: string | null | undefined;
    let i = 0;
    const withValue = ['-c', '--namespace', '--exec-path', '--config-env', '--super-prefix', '--attr-source'];
    while (i < args.length) {
      const t = args[i]!.text;
      if (t === '-C') {
        dir = this.resolve(args[i + 1] ?? DYNAMIC, dir);
        base = dir;
        i += 2;
      } else if (t === '--work-tree' || t === '--git-dir' || t.startsWith('--work-tree=') || t.startsWith('--git-dir=')) {
        const eq = t.indexOf('=');
        const [opt, value] = eq < 0 ? [t, args[i + 1] ?? DYNAMIC] : [t.slice(0, eq), { ...args[i]!, text: t.slice(eq + 1) }];
        dir = this.gitDir(opt, value, dir);
        if (opt === '--git-dir') gitDir = dir;
        else workTree = dir;
        i += eq < 0 ? 2 : 1;
      } else if (withValue.includes(t)) i += 2;
      else if (t.startsWith('-')) i++;
      else break;
    }
    // Which repository and work tree git acts on: the repository is found from -C (or the cwd) unless
    // --git-dir names it; with --git-dir and no --work-tree, the work tree is the cwd.
    const places = [gitDir === undefined ? base : gitDir, workTree === undefined ? base : workTree];
    return { dir, at: i, places };
  }

  /** `git -c KEY=VALUE`, `--config-env=KEY=VAR`: a command git will run is judged; hidden configuration is refused. */
  private gitConfigArgs(globals: Exp[], depth: number): void {
    globals.forEach((g, k) => {
      const pair = g.text === '-c' ? globals[k + 1] : g.text.startsWith('--config-env=') ? { ...g, text: g.text.slice('--config-env='.length) } : g.text === '--config-env' ? globals[k + 1] : undefined;
      if (!pair || (k > 0 && (globals[k - 1]!.text === '-c' || globals[k - 1]!.text === '--config-env'))) return;
      const eq = pair.text.indexOf('=');
      const key = (eq < 0 ? pair.text : pair.text.slice(0, eq)).toLowerCase();
      const fromEnv = g.text !== '-c';
      if (GIT_HIDDEN_KEY.test(key)) return this.cannot(`git -c ${key} brings in configuration or hooks the guard does not read`, true);
      if (!GIT_CODE_KEY.test(key)) return;
      if (fromEnv || pair.dynamic) return this.cannot(`git -c ${key} runs a command only known at run time`, true);
      const value = eq < 0 ? '' : pair.text.slice(eq + 1);
      this.extra.push(value);
      this.script(value, depth + 1);
    });
  }

  private git(args: Exp[], depth: number, hops = 0): void {
    const { dir, at, places } = this.gitGlobals(args);
    this.gitConfigArgs(args.slice(0, at), depth);
    if (this.deny) return;
    const subWord = args[at];
    if (subWord?.dynamic) return this.cannot('the git subcommand is only known at run time', true);
    if (!subWord) return;
    const sub = subWord.text;
    const rest = expandLong(sub, args.slice(at + 1), 'git');
    if (!GIT_BUILTINS.has(sub) && !GIT_ALWAYS.has(sub)) return this.gitAlias(sub, args.slice(0, at), rest, dir, depth, hops);
    // Another repository (outside the project) is none of the loop's business: only when every
    // place that may name the repository or its work tree (--work-tree=/tmp, GIT_DIR=…) is outside it.
    if ([...places, ...this.gitRepoEnv].every((d) => d !== null && relOf(this.ctx.policy, d) === null)) return;
    const flags = rest.map((r) => r.text);
    if (gitDenied(sub, flags) || args.slice(0, at).some((a) => /^alias\./i.test(a.text))) {
      const amend = sub === 'commit' && flags.some((f) => f.split('=')[0] === '--amend') ? ' --amend' : '';
      this.deny = GIT_REASON(sub + amend);
      return;
    }
    const p = parseArgs(rest, { arg: sub === 'archive' || sub === 'format-patch' ? 'o' : '', long: ['--output', '--output-directory'] });
    // git diff --output=FILE, git archive -o FILE, git format-patch -o DIR write there
    for (const out of [p.opts.get('--output'), p.opts.get('--output-directory'), p.opts.get('o')]) if (out !== undefined) this.target(literal(out), false, dir);
    if (sub === 'bundle' && p.operands[0]?.text === 'create' && p.operands[1]) this.target(p.operands[1], false, dir);
    if (sub === 'rm' || sub === 'mv') {
      for (const op of p.operands) this.target(op, true, dir);
    }
  }

  /**
   * A subcommand git does not have built in: git runs a git-<name> program if
   * there is one, else the alias. An alias is judged as what it expands to (a
   * `!` alias as shell code run at the top of the repository); what cannot be
   * read, or is no alias at all, is refused.
   */
  private gitAlias(name: string, globals: Exp[], rest: Exp[], dir: string | null, depth: number, hops: number): void {
    const inProject = dir !== null && relOf(this.ctx.policy, dir) !== null;
    const unknown = (why: string): void => {
      if (dir === null || inProject) this.deny = GIT_UNKNOWN(name, why);
    };
    if (hops >= MAX_ALIAS_HOPS) return unknown('its aliases nest too deeply');
    // Configuration given on the command line or in the environment may define the alias differently.
    if (globals.some((g) => g.text === '-c' || /^--(exec-path|config-env)/.test(g.text)) || this.gitConfigEnv) return unknown('the command changes where git reads its configuration or programs');
    if (dir === null) return unknown('where it runs is only known at run time');
    if (this.io.gitProgram(name, this.ctx.env)) return unknown(`it runs the program git-${name}, which the guard cannot see`);
    const value = this.io.gitAlias(name, dir, this.ctx.env);
    if (value === undefined) return unknown('its alias could not be read');
    if (value === null || value.trim() === '') return unknown('it is neither a git command nor an alias');
    this.extra.push(value);
    if (value.startsWith('!')) {
      // git runs `sh -c '<alias> "$@"' <alias> <args>` at the top of the work tree.
      const args = rest.map((r) => (r.dynamic ? '"$__autoloop_unknown"' : `'${r.text.replace(/'/g, `'\\''`)}'`));
      const [cwd, vars] = [this.cwd, new Map(this.vars)];
      this.cwd = inProject ? this.ctx.policy.projectDir : dir;
      this.script([value.slice(1), ...args].join(' '), depth + 1);
      [this.cwd] = [cwd];
      this.vars.clear();
      vars.forEach((v, k) => this.vars.set(k, v));
      return;
    }
    const words = lex(value).tokens.flatMap((t) => (t.kind === 'word' ? [this.expand(t)] : []));
    this.git([...globals, ...words, ...rest], depth, hops + 1);
  }

  private gitDir(opt: string, value: Exp, dir: string | null): string | null {
    const abs = this.resolve(value, dir);
    if (abs === null) return null;
    return opt.startsWith('--git-dir') && path.basename(abs) === '.git' ? path.dirname(abs) : abs;
  }

  /**
   * ln, cp -l, cp -s: a link to a judge, the engine's state or .git (or to a directory holding one)
   * is a way to write it under another name (`ln ../check.sh src/x; echo > src/x`). A symbolic
   * link's target counts from the link's directory, so both readings are judged.
   */
  private linkSources(operands: Exp[], targetDir: string | undefined): void {
    const dest = targetDir !== undefined ? literal(targetDir) : operands.length > 1 ? operands[operands.length - 1]! : null;
    const sources = targetDir !== undefined || operands.length === 1 ? operands : operands.slice(0, -1);
    const destAbs = dest === null ? this.cwd : this.resolve(dest);
    const bases = [this.cwd, destAbs, destAbs === null ? null : path.dirname(destAbs)];
    const policy = this.ctx.policy;
    for (const src of sources) {
      for (const base of bases) {
        if (this.deny) return;
        const abs = this.resolve(src, base);
        if (abs !== null && src.glob) {
          this.deny = globDenial(policy, abs, true);
          continue;
        }
        if (abs === null) {
          if (namesGuarded(src.raw ?? src.text, policy)) this.blindWrite = true;
          continue;
        }
        const c = canonical(abs);
        const rel = relToProject(policy, c);
        if (rel !== null) this.deny = treeDenial(policy, rel);
        else if ((policy.projectDir + path.sep).startsWith(c === path.sep ? c : c + path.sep)) this.deny = treeDenial(policy, '');
        // A judge's target outside the project, a file beside it or its folder: a link to it is another name for them.
        else this.deny = outsideJudgeDenial(policy, abs, true);
      }
    }
  }

  /** Commands that write the files named in their arguments. */
  private writes(prog: string, args: Exp[], depth: number): void {
    const each = (ops: Exp[], tree = false): void => ops.forEach((o) => this.target(o, tree));
    // Each source lands at dest/<its name> (a pattern's name stays a pattern); one only known at run time, anywhere below dest.
    const into = (dest: Exp, srcs: Exp[], tree = false): void => {
      this.target(dest, false);
      for (const s of srcs) {
        if (dest.dynamic) return;
        if (s.dynamic) this.target({ ...dest, glob: false }, true);
        else this.target({ ...dest, glob: s.glob || dest.glob, text: path.join(dest.text, path.basename(s.text)) }, tree);
      }
    };
    switch (prog) {
      case 'tee':
        return each(parseArgs(args).operands);
      case 'rm':
      case 'rmdir':
      case 'unlink':
        return each(parseArgs(args).operands, true);
      case 'shred':
        return each(parseArgs(args, { arg: 'ns', long: ['--iterations', '--size', '--random-source'] }).operands);
      case 'touch':
        return each(parseArgs(args, { arg: 'rdt', long: ['--reference', '--date'] }).operands);
      case 'truncate':
        return each(parseArgs(args, { arg: 'sr', long: ['--size', '--reference'] }).operands);
      case 'chmod':
      case 'chown':
      case 'chgrp': {
        // chmod -w file: "-w" is the mode, not an option.
        const modeLike = prog === 'chmod' ? args.findIndex((a) => /^-[rwxXstugoa]+$/.test(a.text)) : -1;
        const rest = modeLike >= 0 ? args.filter((_, k) => k !== modeLike) : args;
        const p = parseArgs(rest, { long: ['--reference'] });
        const ops = p.opts.has('--reference') || modeLike >= 0 ? p.operands : p.operands.slice(1);
        return each(ops, p.opts.has('R') || p.opts.has('--recursive'));
      }
      case 'cp':
      case 'ln':
      case 'install': {
        const p = parseArgs(args, { arg: prog === 'install' ? 'tSmogC' : 'tS', long: ['--target-directory', '--suffix', '--mode', '--owner', '--group'] });
        if (prog === 'install' && p.opts.has('d')) return each(p.operands);
        const links = prog === 'ln' || ['l', 's', '--link', '--symbolic-link'].some((o) => p.opts.has(o));
        if (links) this.linkSources(p.operands, p.opts.get('t') ?? p.opts.get('--target-directory'));
        // cp -r into a directory that exists merges into it: anything below the copy may be replaced.
        const tree = prog === 'cp' && ['r', 'R', 'a', '--recursive', '--archive'].some((o) => p.opts.has(o));
        const t = p.opts.get('t') ?? p.opts.get('--target-directory');
        if (t !== undefined) return into(literal(t), p.operands, tree);
        if (prog === 'ln' && p.operands.length === 1) return into(literal(this.cwd ?? ''), p.operands);
        const dest = p.operands[p.operands.length - 1];
        if (!dest || p.operands.length < 2) return;
        return p.opts.has('T') ? this.target(dest, tree) : into(dest, p.operands.slice(0, -1), tree);
      }
      case 'mv': {
        const p = parseArgs(args, { arg: 'tS', long: ['--target-directory', '--suffix'] });
        const t = p.opts.get('t') ?? p.opts.get('--target-directory');
        each(p.operands, true); // the sources disappear
        if (t !== undefined) return into(literal(t), p.operands);
        const dest = p.operands[p.operands.length - 1];
        if (dest && p.operands.length >= 2 && !p.opts.has('T')) into(dest, p.operands.slice(0, -1));
        return;
      }
      case 'dd':
        return each(args.filter((a) => a.text.startsWith('of=')).map((a) => ({ ...a, text: a.text.slice(3) })));
      case 'perl': {
        const p = parseArgs(args, { arg: 'eEIMmx', suffix: 'il0' });
        if (!p.opts.has('i')) return;
        return each(p.opts.has('e') || p.opts.has('E') ? p.operands : p.operands.slice(1));
      }
      case 'curl':
      case 'wget':
      case 'sort': {
        const p = parseArgs(args, { arg: prog === 'wget' ? 'Oo' : 'o', long: ['--output', '--output-document'] });
        const out = prog === 'wget' ? (p.opts.get('O') ?? p.opts.get('--output-document')) : (p.opts.get('o') ?? p.opts.get('--output'));
        if (out !== undefined && out !== '-') this.target(literal(out), false);
        return;
      }
    }
    const fx = destinationEffects(prog, args);
    if (fx) this.effects(fx, depth);
  }
}

/** A pattern the shell expands (echo > ~/.gitconf*) to one of git's configuration files. */
function globGitConfig(absPattern: string, files: string[], tree: boolean): Denial | null {
  const m = picomatch(absPattern, { dot: true });
  const hit = files.find((f) => m(f) || (tree && path.dirname(f) !== f && ancestorsOf(f).some((a) => m(a))));
  return hit ? gitConfigDenial(hit, files, false) : null;
}

function ancestorsOf(file: string): string[] {
  const out: string[] = [];
  for (let d = path.dirname(file); d !== path.dirname(d); d = path.dirname(d)) out.push(d);
  return out;
}

/** find's -name test: a shell glob against one file name. */
function globMatch(glob: string, name: string, fold: boolean): boolean {
  const re = glob.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  try {
    return new RegExp(`^${re}$`, fold ? 'i' : '').test(name);
  } catch {
    return true; // a bracket the regex cannot take: assume it matches
  }
}

/** Could a command the guard could not follow touch what it protects? Judged on its text alone. */
function mayHarm(command: string, policy: Policy): boolean {
  if (/(^|[^\w-])git([^\w-]|$)|\.autoloop|\.git\b/.test(command)) return true;
  // An inline program that starts processes may spell git (or a judge's name) in pieces.
  if (/child_process|subprocess|os\.(system|popen|exec)|exec(Sync|FileSync)?\s*\(|spawn(Sync)?\s*\(|system\s*\(|`/.test(command)) return true;
  return policy.protect.some((p) => {
    const base = path.basename(p.replace(/[*?[\]{}!()].*$/, ''));
    return base !== '' && command.includes(base);
  });
}

/** Does the text name a judge, the engine's state or git's data (a write whose path is known only at run time may be one)? */
function namesGuarded(command: string, policy: Policy): boolean {
  if (/\.autoloop|\.git\b/.test(command)) return true;
  return policy.protect.some((p) => {
    const base = path.basename(p.replace(/[*?[\]{}!()].*$/, ''));
    return base !== '' && command.includes(base);
  });
}

/** The values of array assignments (a=(x y), a+=(z)), which the lexer reads as a word and a subshell. */
function arrayValues(command: string): string[] {
  return [...command.matchAll(/[A-Za-z_]\w*\+?=\(([^)]*)\)/g)].map((m) => m[1]!);
}

export const UNSURE_REASON = (why: string): Denial =>
  `autoloop: the guard cannot check this command (${why}) and it may run git or write a judge or the engine's state. Split it into simple commands without nested shells, eval or open quotes.`;

/** Decide on one Bash command. */
export function analyzeBash(command: string, ctx: GuardContext): BashVerdict {
  return withPathMemo(() => decide(command, ctx));
}

function decide(command: string, ctx: GuardContext): BashVerdict {
  const g = new Guard(ctx);
  g.script(command, 0);
  g.finish();
  // Fail closed: what the guard could not follow is refused when it could hurt (judged on every text it ran).
  const harm = (): boolean => [command, ...g.extra].some((t) => mayHarm(t, ctx.policy));
  const deny =
    g.deny ??
    (g.unsure && (g.blind || harm()) ? UNSURE_REASON(g.unsure) : null) ??
    // A name only known at run time in a command that assigns a judge's, .autoloop's or .git's name to a
    // variable (a=(check.sh); echo > ${a[0]}, f=check.sh bash -c 'echo > $f'): it may be that file.
    (g.blindWrite || (g.dynamicWrite && [...g.assigned, ...arrayValues(command)].some((t) => namesGuarded(t, ctx.policy)))
      ? UNSURE_REASON('it writes to a path only known at run time, which may be a judge')
      : null);
  return {
    deny,
    claims: g.claims,
    engines: g.engines,
    safe: g.safe && deny === null && g.unsure === null,
    unsure: g.unsure,
    writes: [...g.written],
    dirs: [...g.dirs],
    opaque: g.opaque,
  };
}
