// A quote-aware tokenizer for the Bash commands the model runs. It does not
// execute or fully parse the shell grammar: it splits a command into words
// (quotes removed, expansions kept as parts to resolve later), operators and
// redirections, and collects the text of every command substitution and the
// bodies of heredocs, so that the guard can look into them too.

/** A piece of a word: literal text (quoted or not), a variable, `~`, or something only known at run time. */
export type Part =
  | { k: 'lit'; s: string; q: boolean }
  | { k: 'var'; name: string }
  | { k: 'home' }
  /** src: what it was written as ($(…), `…`, ${…}), for a guard that asks what a word may name. */
  | { k: 'dyn'; src?: string };

export interface Word {
  kind: 'word';
  parts: Part[];
}
export interface Op {
  kind: 'op';
  op: string;
}
export interface Redir {
  kind: 'redir';
  op: string;
  fd: string | null;
  target: Word | null;
  /** Heredoc body, once read. */
  body: string | null;
}
export type Token = Word | Op | Redir;

export interface Lexed {
  tokens: Token[];
  /** Scripts that run as part of this one: $(…), `…`, <(…), >(…). */
  nested: string[];
}

const BREAK = new Set([' ', '\t', '\r', '\n', ';', '&', '|', '(', ')', '<', '>']);
const OPS = [';;&', ';;', ';&', '&&', '||', '|&', ';', '&', '|', '(', ')'];
const REDIRS = ['&>>', '&>', '<<<', '<<-', '<<', '<>', '<&', '>>', '>&', '>|', '<', '>'];

interface PendingHeredoc {
  redir: Redir;
  delim: string;
  stripTabs: boolean;
  expands: boolean;
}

class Lexer {
  private i = 0;
  readonly tokens: Token[] = [];
  readonly nested: string[] = [];
  private pending: PendingHeredoc[] = [];

  constructor(private readonly s: string) {}

  run(): Lexed {
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (c === ' ' || c === '\t' || c === '\r') {
        this.i++;
      } else if (c === '\\' && s[this.i + 1] === '\n') {
        this.i += 2;
      } else if (c === '\n') {
        this.tokens.push({ kind: 'op', op: '\n' });
        this.i++;
        this.readHeredocBodies();
      } else if (c === '#') {
        while (this.i < s.length && s[this.i] !== '\n') this.i++;
      } else if ((c === '<' || c === '>') && s[this.i + 1] === '(') {
        // Process substitution: runs a command, stands for a file name.
        this.i += 2;
        this.nested.push(this.readMatching('('));
        this.tokens.push({ kind: 'word', parts: [{ k: 'dyn' }] });
      } else if (c === '<' || c === '>' || (c === '&' && s[this.i + 1] === '>')) {
        this.readRedir(null);
      } else if (';&|()'.includes(c)) {
        const op = OPS.find((o) => s.startsWith(o, this.i)) ?? c;
        this.i += op.length;
        this.tokens.push({ kind: 'op', op: op.startsWith(';') ? ';' : op });
      } else {
        const fd = /^\d+(?=[<>])/.exec(s.slice(this.i, this.i + 12));
        if (fd) {
          this.i += fd[0].length;
          this.readRedir(fd[0]);
        } else {
          const w = this.readWord();
          if (w) this.tokens.push(w);
          else this.i++; // cannot happen with BREAK handled above; never loop forever
        }
      }
    }
    return { tokens: this.tokens, nested: this.nested };
  }

  private readRedir(fd: string | null): void {
    const op = REDIRS.find((r) => this.s.startsWith(r, this.i))!;
    this.i += op.length;
    while (this.s[this.i] === ' ' || this.s[this.i] === '\t') this.i++;
    const target = this.readWord();
    const redir: Redir = { kind: 'redir', op, fd, target, body: null };
    this.tokens.push(redir);
    if ((op === '<<' || op === '<<-') && target) {
      const quoted = target.parts.some((p) => p.k === 'lit' && p.q);
      const delim = target.parts.map((p) => (p.k === 'lit' ? p.s : '')).join('');
      this.pending.push({ redir, delim, stripTabs: op === '<<-', expands: !quoted });
    }
  }

  private readHeredocBodies(): void {
    const s = this.s;
    for (const h of this.pending) {
      const lines: string[] = [];
      while (this.i < s.length) {
        let nl = s.indexOf('\n', this.i);
        if (nl < 0) nl = s.length;
        const line = s.slice(this.i, nl);
        this.i = nl + 1;
        if ((h.stripTabs ? line.replace(/^\t+/, '') : line) === h.delim) break;
        lines.push(line);
      }
      h.redir.body = lines.join('\n');
      // An unquoted delimiter means $(…) and `…` in the body run.
      if (h.expands) this.nested.push(...scanExpansions(h.redir.body));
    }
    this.pending = [];
  }

  /** Bash expands a tilde after the `=` of an assignment and after each `:` in its value (PATH=a:~/b). */
  private tildeInAssignment(start: number): boolean {
    const before = this.s.slice(start, this.i);
    return /^[A-Za-z_]\w*\+?=/.test(before) && /[=:]$/.test(before);
  }

  readWord(): Word | null {
    const s = this.s;
    const start = this.i;
    const parts: Part[] = [];
    const lit = (text: string, q: boolean): void => {
      const last = parts[parts.length - 1];
      if (last && last.k === 'lit' && last.q === q) last.s += text;
      else parts.push({ k: 'lit', s: text, q });
    };
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (BREAK.has(c)) break;
      if (c === '\\') {
        if (s[this.i + 1] === '\n') this.i += 2;
        else {
          if (this.i + 1 < s.length) lit(s[this.i + 1]!, true);
          this.i += 2;
        }
      } else if (c === "'") {
        let j = s.indexOf("'", this.i + 1);
        if (j < 0) j = s.length;
        lit(s.slice(this.i + 1, j), true);
        this.i = j + 1;
      } else if (c === '"') {
        this.i++;
        this.readDouble(parts, lit, true);
      } else if (c === '$') {
        this.readDollar(parts, lit, false);
      } else if (c === '`') {
        this.i++;
        const src = this.readBacktick();
        this.nested.push(src);
        parts.push({ k: 'dyn', src });
      } else if (c === '~' && (this.i === start || this.tildeInAssignment(start))) {
        if (this.i + 1 >= s.length || s[this.i + 1] === '/' || BREAK.has(s[this.i + 1]!)) parts.push({ k: 'home' });
        else {
          // ~+ ($PWD), ~- ($OLDPWD), ~user, ~+2: another directory, only known at run time.
          const from = this.i;
          while (this.i + 1 < s.length && !BREAK.has(s[this.i + 1]!) && !`/'"\\$\``.includes(s[this.i + 1]!)) this.i++;
          parts.push({ k: 'dyn', src: s.slice(from, this.i + 1) });
        }
        this.i++;
      } else {
        lit(c, false);
        this.i++;
      }
    }
    return this.i > start ? { kind: 'word', parts } : null;
  }

  /** Inside "…" (or a whole heredoc body when `untilQuote` is false). */
  readDouble(parts: Part[], lit: (t: string, q: boolean) => void, untilQuote: boolean): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (untilQuote && c === '"') {
        this.i++;
        lit('', true); // `""` is still a (quoted, empty) word
        return;
      }
      if (c === '\\' && '$`"\\\n'.includes(s[this.i + 1] ?? '')) {
        if (s[this.i + 1] !== '\n') lit(s[this.i + 1]!, true);
        this.i += 2;
      } else if (c === '$') {
        this.readDollar(parts, lit, true);
      } else if (c === '`') {
        this.i++;
        const src = this.readBacktick();
        this.nested.push(src);
        parts.push({ k: 'dyn', src });
      } else {
        lit(c, true);
        this.i++;
      }
    }
  }

  private readDollar(parts: Part[], lit: (t: string, q: boolean) => void, inDouble: boolean): void {
    const s = this.s;
    const next = s[this.i + 1] ?? '';
    if (next === "'" && !inDouble) {
      this.i += 2;
      lit(this.readAnsiC(), true);
    } else if (next === '"' && !inDouble) {
      this.i++; // $"…" is a translated "…"
    } else if (next === '(') {
      this.i += 2;
      const src = this.readMatching('(');
      this.nested.push(src);
      parts.push({ k: 'dyn', src });
    } else if (next === '{') {
      this.i += 2;
      const body = this.readMatching('{');
      const name = /^[A-Za-z_]\w*$/.exec(body);
      if (name) parts.push({ k: 'var', name: name[0] });
      else {
        this.nested.push(...scanExpansions(body));
        parts.push({ k: 'dyn', src: body });
      }
    } else if (/[A-Za-z_]/.test(next)) {
      const name = /^[A-Za-z_]\w*/.exec(s.slice(this.i + 1))![0];
      this.i += 1 + name.length;
      parts.push({ k: 'var', name });
    } else if (/[0-9@*#?$!-]/.test(next) && next !== '') {
      this.i += 2;
      parts.push({ k: 'dyn', src: next });
    } else {
      lit('$', inDouble);
      this.i++;
    }
  }

  private readAnsiC(): string {
    const s = this.s;
    let out = '';
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', e: '\x1b', f: '\f', v: '\v', '\\': '\\', "'": "'", '"': '"', '?': '?' };
    while (this.i < s.length && s[this.i] !== "'") {
      const c = s[this.i]!;
      if (c !== '\\') {
        out += c;
        this.i++;
        continue;
      }
      const e = s[this.i + 1] ?? '';
      const hex = /^x([0-9a-fA-F]{1,2})/.exec(s.slice(this.i + 1));
      const oct = /^([0-7]{1,3})/.exec(s.slice(this.i + 1));
      if (simple[e] !== undefined) {
        out += simple[e];
        this.i += 2;
      } else if (hex) {
        out += String.fromCharCode(parseInt(hex[1]!, 16));
        this.i += 1 + hex[0].length;
      } else if (oct) {
        out += String.fromCharCode(parseInt(oct[1]!, 8));
        this.i += 1 + oct[0].length;
      } else {
        out += `\\${e}`;
        this.i += 2;
      }
    }
    this.i++;
    return out;
  }

  /**
   * From just after an opening `(` or `{` to its match; returns the inside.
   * Inside `(…)` (a command) backticks and comments also hide brackets; inside
   * `${…}` (a parameter expansion) they do not.
   */
  private readMatching(open: '(' | '{'): string {
    const s = this.s;
    const start = this.i;
    const command = open === '(';
    const close = command ? ')' : '}';
    let depth = 1;
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (c === '\\') this.i += 2;
      else if (c === "'") this.skipPast("'");
      else if (c === '"') this.skipDouble();
      else if (command && c === '`') this.skipPast('`');
      else if (command && c === '#' && (this.i === start || /\s/.test(s[this.i - 1]!))) {
        while (this.i < s.length && s[this.i] !== '\n') this.i++;
      } else {
        if (c === open) depth++;
        if (c === close && --depth === 0) {
          this.i++;
          return s.slice(start, this.i - 1);
        }
        this.i++;
      }
    }
    return s.slice(start);
  }

  private readBacktick(): string {
    const s = this.s;
    let out = '';
    while (this.i < s.length && s[this.i] !== '`') {
      if (s[this.i] === '\\' && '`$\\'.includes(s[this.i + 1] ?? '')) {
        out += s[this.i + 1];
        this.i += 2;
      } else out += s[this.i++];
    }
    this.i++;
    return out;
  }

  private skipPast(q: string): void {
    const j = this.s.indexOf(q, this.i + 1);
    this.i = j < 0 ? this.s.length : j + 1;
  }

  private skipDouble(): void {
    this.i++;
    while (this.i < this.s.length && this.s[this.i] !== '"') this.i += this.s[this.i] === '\\' ? 2 : 1;
    this.i++;
  }
}

export function lex(src: string): Lexed {
  return new Lexer(src).run();
}

/** Command substitutions inside text that undergoes expansion (an unquoted heredoc, `${x:-$(…)}`). */
function scanExpansions(text: string): string[] {
  const lx = new Lexer(text);
  const parts: Part[] = [];
  lx.readDouble(parts, () => undefined, false);
  return lx.nested;
}
