// What a sed invocation does beyond printing: the files its script writes
// (`w file`, `W file`, the `w file` flag of `s///`), the shell commands it runs
// (GNU `e command`), and whether it runs text the guard cannot see (`e` alone,
// the `e` flag of `s///`). A scanner of the script language, not an
// interpreter: addresses, labels and text arguments are skipped.
import type { Exp } from './guard-args.ts';

export interface SedEffects {
  writes: string[];
  runs: string[];
  /** Why the script cannot be judged, or null. */
  unsure: string | null;
  /** The unsure part runs code only known at run time. */
  blind: boolean;
}

export interface SedCall {
  /** Script texts given with -e/--expression, or the first operand. */
  scripts: Exp[];
  /** Script files given with -f/--file. */
  files: Exp[];
  /** The input files. */
  operands: Exp[];
  inPlace: boolean;
  /** --sandbox: e, r and w are refused by sed itself. */
  sandbox: boolean;
}

/** sed's arguments: every -e and -f (sed takes them all, in order), -i[SUFFIX], the operands. */
export function sedCall(args: Exp[]): SedCall {
  const call: SedCall = { scripts: [], files: [], operands: [], inPlace: false, sandbox: false };
  for (let k = 0; k < args.length; k++) {
    const w = args[k]!;
    const t = w.text;
    if (t === '--') {
      call.operands.push(...args.slice(k + 1));
      break;
    }
    const long = /^--(expression|file|in-place|sandbox|line-length)(?:=(.*))?$/s.exec(t);
    if (long) {
      const value = (): Exp => (long[2] !== undefined ? { ...w, text: long[2] } : (args[++k] ?? w));
      if (long[1] === 'expression') call.scripts.push(value());
      else if (long[1] === 'file') call.files.push(value());
      else if (long[1] === 'in-place') call.inPlace = true;
      else if (long[1] === 'sandbox') call.sandbox = true;
      else if (long[2] === undefined) k++;
      continue;
    }
    if (!t.startsWith('-') || t.length < 2 || w.dynamic || t.startsWith('--')) {
      if (!t.startsWith('--') || w.dynamic) call.operands.push(w);
      continue;
    }
    for (let c = 1; c < t.length; c++) {
      const ch = t[c]!;
      if (ch === 'i') {
        call.inPlace = true;
        break; // the rest is the backup suffix
      }
      if (ch === 'e' || ch === 'f' || ch === 'l') {
        const value = c + 1 < t.length ? { ...w, text: t.slice(c + 1) } : (args[++k] ?? w);
        if (ch === 'e') call.scripts.push(value);
        if (ch === 'f') call.files.push(value);
        break;
      }
    }
  }
  if (!call.scripts.length && !call.files.length && call.operands.length) call.scripts.push(call.operands.shift()!);
  return call;
}

const PLAIN = new Set([...'{}=dDgGhHnNpPxzF']);
const NUMBERED = new Set([...'lLqQ']);
const LABELLED = new Set([...'btT:v']);
const FLAG = /[gpiImMe0-9w]/;

class Scanner {
  private i = 0;
  readonly out: SedEffects = { writes: [], runs: [], unsure: null, blind: false };

  constructor(private readonly s: string) {}

  run(): SedEffects {
    const s = this.s;
    while (this.i < s.length && !this.out.unsure) {
      const c = s[this.i]!;
      if (/[\s;]/.test(c)) this.i++;
      else if (c === '#') this.line();
      else this.command();
    }
    return this.out;
  }

  private unsure(why: string, blind = false): void {
    this.out.unsure ??= why;
    if (blind) this.out.blind = true;
  }

  /** The rest of the line (a file name or a command: `;` is part of it). */
  private line(): string {
    const j = this.s.indexOf('\n', this.i);
    const end = j < 0 ? this.s.length : j;
    const t = this.s.slice(this.i, end);
    this.i = end + 1;
    return t;
  }

  private spaces(): void {
    while (this.i < this.s.length && /[ \t]/.test(this.s[this.i]!)) this.i++;
  }

  /** Past the closing delimiter d (a backslash escapes the next character; in a regex, d is literal inside [...]). */
  private delimited(d: string, regex: boolean): boolean {
    const s = this.s;
    while (this.i < s.length && s[this.i] !== d) {
      if (s[this.i] === '\\') this.i += 2;
      else if (regex && s[this.i] === '[') this.bracket();
      else this.i++;
    }
    if (this.i >= s.length) return false;
    this.i++;
    return true;
  }

  /** A bracket expression: `]` first (after an optional `^`) is literal; [:class:], [=e=] and [.c.] nest. */
  private bracket(): void {
    const s = this.s;
    let j = this.i + 1;
    if (s[j] === '^') j++;
    if (s[j] === ']') j++;
    while (j < s.length && s[j] !== ']' && s[j] !== '\n') {
      const close = /^\[([:=.])/.exec(s.slice(j, j + 2)) ? s.indexOf(`${s[j + 1]}]`, j + 2) : -1;
      j = close >= 0 ? close + 2 : j + 1;
    }
    // An unclosed bracket is an ordinary character to the delimiter search.
    this.i = j < s.length && s[j] === ']' ? j + 1 : this.i + 1;
  }

  private address(): boolean {
    const s = this.s;
    const m = /^(?:\d+(?:~\d+)?|\$|[+~]\d+)/.exec(s.slice(this.i));
    if (m) this.i += m[0].length;
    else if (s[this.i] === '/' || s[this.i] === '\\') {
      if (s[this.i] === '\\') this.i++;
      const d = s[this.i++];
      if (d === undefined || !this.delimited(d, true)) return false;
      while (/[IM]/.test(s[this.i] ?? '')) this.i++;
    }
    return true;
  }

  private command(): void {
    const s = this.s;
    if (!this.address()) return this.unsure('a sed address does not close');
    this.spaces();
    if (s[this.i] === ',') {
      this.i++;
      this.spaces();
      if (!this.address()) return this.unsure('a sed address does not close');
    }
    this.spaces();
    while (s[this.i] === '!') {
      this.i++;
      this.spaces();
    }
    const c = s[this.i++];
    if (c === undefined) return;
    if (PLAIN.has(c)) return;
    if (NUMBERED.has(c)) {
      this.spaces();
      while (/\d/.test(s[this.i] ?? '')) this.i++;
      return;
    }
    if (LABELLED.has(c)) {
      while (this.i < s.length && !/[;\n]/.test(s[this.i]!)) this.i++;
      return;
    }
    if (c === 'a' || c === 'i' || c === 'c') {
      // Text to the end of the line, continued by a trailing backslash.
      while (this.i < s.length && this.line().endsWith('\\'));
      return;
    }
    if ('rRwW'.includes(c)) {
      this.spaces();
      const file = this.line();
      if (c === 'w' || c === 'W') this.out.writes.push(file);
      return;
    }
    if (c === 'e') {
      this.spaces();
      const cmd = this.line().trim();
      if (cmd) this.out.runs.push(cmd);
      else this.unsure('a sed e command runs its input as a shell command', true);
      return;
    }
    if (c === 's' || c === 'y') return this.substitute(c);
    this.unsure(`sed command "${c}" is not one the guard knows`);
  }

  private substitute(c: string): void {
    const d = this.s[this.i++];
    if (d === undefined || d === '\n' || d === '\\' || !this.delimited(d, c === 's') || !this.delimited(d, false)) return this.unsure(`a sed ${c} command does not close`);
    if (c === 'y') return;
    while (FLAG.test(this.s[this.i] ?? '')) {
      const f = this.s[this.i++];
      if (f === 'e') return this.unsure('the e flag of s runs the result as a shell command', true);
      if (f === 'w') {
        this.spaces();
        this.out.writes.push(this.line());
        return;
      }
    }
  }
}

/** The effects of one sed script. */
export function sedEffects(script: string): SedEffects {
  return new Scanner(script).run();
}
