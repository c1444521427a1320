// The words of a command after expansion, and getopt-style parsing of a
// command's arguments: shared by the Bash guard and the writers it knows.

/** A word after expansion. */
export interface Exp {
  text: string;
  /** Part of it is only known at run time ($(…), $1, an unknown variable). */
  dynamic: boolean;
  /** Unquoted *, ?, [ or {a,b}: the shell expands it to matching names. */
  glob: boolean;
  /** NAME=value at the start of a command. */
  assign: string | null;
  /** The text with what is only known at run time as it was written ($(…), ${X:-y}, a loop's words): what it may name. */
  raw?: string;
}

export interface Options {
  /** Short options that take a value (attached or the next word). */
  arg?: string;
  /** Short options that swallow the rest of their cluster but never the next word (sed -i.bak). */
  suffix?: string;
  /** Long options that take the next word as value when written without `=`. */
  long?: string[];
}

export interface Parsed {
  operands: Exp[];
  /** Option name ("t", "--target-directory", "i") → value ('' for a flag). */
  opts: Map<string, string>;
}

/** getopt-style split of a command's arguments into options and operands. */
export function parseArgs(args: Exp[], spec: Options = {}): Parsed {
  const operands: Exp[] = [];
  const opts = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    const t = w.text;
    if (t === '--') {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (t.startsWith('--') && t.length > 2) {
      const eq = t.indexOf('=');
      if (eq > 0) opts.set(t.slice(0, eq), t.slice(eq + 1));
      else if (spec.long?.includes(t)) opts.set(t, args[++i]?.text ?? '');
      else opts.set(t, '');
      continue;
    }
    if (t.startsWith('-') && t.length > 1 && !w.dynamic) {
      for (let k = 1; k < t.length; k++) {
        const c = t[k]!;
        if (spec.suffix?.includes(c)) {
          opts.set(c, t.slice(k + 1));
          break;
        }
        if (spec.arg?.includes(c)) {
          opts.set(c, k + 1 < t.length ? t.slice(k + 1) : (args[++i]?.text ?? ''));
          break;
        }
        opts.set(c, '');
      }
      continue;
    }
    operands.push(w);
  }
  return { operands, opts };
}

/** Index of the first operand (the wrapped command), skipping options. */
export function skipOptions(args: Exp[], from: number, spec: Options = {}): number {
  let i = from;
  while (i < args.length) {
    const t = args[i]!.text;
    if (t === '--') return i + 1;
    if (!t.startsWith('-') || t.length < 2) return i;
    if (t.startsWith('--')) i += !t.includes('=') && spec.long?.includes(t) ? 2 : 1;
    else {
      const body = t.slice(1);
      const argAt = [...body].findIndex((c) => spec.arg?.includes(c));
      i += argAt >= 0 && argAt === body.length - 1 ? 2 : 1;
    }
  }
  return i;
}

export const literal = (text: string): Exp => ({ text, dynamic: false, glob: false, assign: null });
export const DYNAMIC: Exp = { text: '', dynamic: true, glob: false, assign: null };
