// How a shell starts, as the Bash guard needs to know it: where its script
// comes from (-c text, a file operand, its standard input), whether it reads
// start-up files first, what kind of file a path run as a program is, and
// which variables make a shell run code. Pure: the guard reads the files.
import type { Exp } from './guard-args.ts';

export interface ShellCall {
  /** Index (in args) of the -c text or the script file, or -1 when it reads its standard input. */
  at: number;
  inline: boolean;
  /** Why it reads start-up files the guard does not follow (a login or interactive shell, --rcfile), or null. */
  startup: string | null;
  /** zsh -f / --no-rcs: it skips ~/.zshenv. */
  noRcs: boolean;
}

/** Options of bash, sh, dash, zsh, ksh up to the script operand. */
export function shellCall(args: Exp[]): ShellCall {
  let inline = false;
  let startup: string | null = null;
  let noRcs = false;
  // -s: the script is the shell's input, and the words after the options are its arguments.
  let stdin = false;
  let i = 0;
  while (i < args.length) {
    const t = args[i]!.text;
    if (t === '--' || t === '-') return { at: i + 1 < args.length && (inline || !stdin) ? i + 1 : -1, inline, startup, noRcs };
    if (!/^[-+]/.test(t) || t.length < 2) break;
    if (t === '--login') startup ??= 'a login shell';
    else if (t === '--rcfile' || t === '--init-file') startup ??= `${t} names a start-up file`;
    else if (t === '--no-rcs') noRcs = true;
    else if (/^-[a-zA-Z]+$/.test(t)) {
      if (t.includes('c')) inline = true;
      if (t.includes('l')) startup ??= 'a login shell';
      if (t.includes('i')) startup ??= 'an interactive shell';
      if (t.includes('f')) noRcs = true;
      if (t.includes('s')) stdin = true;
    }
    // -o NAME, -eO NAME, --rcfile FILE: the next word is the option's value.
    i += /^[-+][a-zA-Z]*[oO]$/.test(t) || t === '--rcfile' || t === '--init-file' ? 2 : 1;
  }
  return { at: i < args.length && (inline || !stdin) ? i : -1, inline, startup, noRcs };
}

const SHELL_NAMES = /^(sh|bash|zsh|dash|ksh|ash|mksh)$/;

/**
 * What runs a file executed by its path, from its first bytes: a shell (a
 * `#!` line naming one, directly or through env, or no `#!` line at all: the
 * calling shell runs a text file itself), or another program (a binary, or a
 * `#!` line naming python, node, make, …).
 */
export function scriptKind(head: string): 'shell' | 'program' {
  if (head.includes('\0') || head.startsWith('\x7fELF')) return 'program';
  if (!head.startsWith('#!')) return 'shell';
  const words = head.slice(2).split('\n')[0]!.trim().split(/\s+/);
  let k = 0;
  if (/(^|\/)env$/.test(words[0] ?? '')) {
    k = 1;
    while (k < words.length && (words[k]!.startsWith('-') || words[k]!.includes('='))) k++;
  }
  const prog = (words[k] ?? '').split('/').pop() ?? '';
  return SHELL_NAMES.test(prog) ? 'shell' : 'program';
}

/**
 * Variables that make a shell (or any shell a program starts) run code:
 * BASH_ENV names a file bash runs before its script; ZDOTDIR moves zsh's
 * start-up files; an exported function (BASH_FUNC_name%%) and the trace
 * prompt PS4 are shell code; PROMPT_COMMAND too, in an interactive shell;
 * git runs GIT_PAGER, PAGER, GIT_EXTERNAL_DIFF, GIT_EDITOR, … through a shell.
 * ENV is read only by interactive shells, which the guard refuses anyway.
 */
export function codeVariable(name: string): 'file' | 'dir' | 'code' | null {
  if (name === 'BASH_ENV') return 'file';
  if (name === 'ZDOTDIR') return 'dir';
  if (name === 'PS4' || name === 'PROMPT_COMMAND' || /^BASH_FUNC_/.test(name)) return 'code';
  // Command lines git hands to a shell: its pager, external diff, editors, ssh.
  if (/^(GIT_(PAGER|EXTERNAL_DIFF|EDITOR|SEQUENCE_EDITOR|SSH_COMMAND)|PAGER)$/.test(name)) return 'code';
  return null;
}

/** python3.12, python2, pypy3, …: one interpreter as far as the guard is concerned. */
export function interpreterName(prog: string): string {
  return /^(python|pypy)(\d+(\.\d+)*)?$/.test(prog) ? 'python3' : prog;
}

/** Per interpreter: short options whose value may be the next word, long ones likewise, and options that run something other than a script. */
const INTERPRETER_OPTIONS: Record<string, { arg: string; long: string[]; other: RegExp }> = {
  python3: { arg: 'WX', long: ['--check-hash-based-pycs'], other: /^-[a-zA-Z]*m|^--(version|help)$|^-[a-zA-Z]*[hV]/ },
  node: { arg: 'rC', long: ['--require', '--import', '--loader', '--experimental-loader', '--conditions', '--input-type', '--env-file', '--title'], other: /^--(test|run|version|help|check|watch|v8-options)$|^-[a-zA-Z]*[hvc]$/ },
  perl: { arg: 'IC', long: [], other: /^-[a-zA-Z]*[vVhc]$|^--(version|help)$/ },
  ruby: { arg: 'IrCE', long: [], other: /^-[a-zA-Z]*[vhc]$|^--(version|help)$/ },
  php: { arg: 'cdz', long: [], other: /^-[a-zA-Z]*[fSlivhm]/ },
};
INTERPRETER_OPTIONS.nodejs = INTERPRETER_OPTIONS.node!;

/**
 * Does the interpreter (its name after interpreterName) run the program on its standard input:
 * no script operand, or `-`, and no option that makes it do something else? Inline code (-c, -e)
 * is judged on its own; this is `python3 <<< '…'`, `echo '…' | node`, `perl - <<EOF`.
 */
export function readsProgramFromInput(prog: string, args: Exp[]): boolean {
  const spec = Object.hasOwn(INTERPRETER_OPTIONS, prog) ? INTERPRETER_OPTIONS[prog] : undefined;
  if (!spec) return false;
  for (let i = 0; i < args.length; i++) {
    const t = args[i]!.text;
    if (t === '-') return true;
    if (t === '--') return i + 1 >= args.length || args[i + 1]!.text === '-';
    if (!t.startsWith('-') || t.length < 2) return false;
    if (spec.other.test(t)) return false;
    if (t.startsWith('--')) {
      if (!t.includes('=') && spec.long.includes(t)) i++;
    } else if (spec.arg.includes(t.slice(-1)) && t.length === 2) i++;
  }
  return true;
}
