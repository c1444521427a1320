// Terminal text: styled segments, visible width and truncation. Lines are built
// as segments and only turned into escape sequences at the very end, so the
// width is measured on what the terminal shows, never on the escape codes.
import { sanitizeLine } from '../sanitize.ts';

export type Style = 'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'blue' | 'magenta' | 'cyan' | 'gray' | 'inverse';

export interface Seg {
  text: string;
  style?: readonly Style[];
}
export type Line = Seg[];

const SGR: Record<Style, string> = {
  bold: '1',
  dim: '2',
  inverse: '7',
  red: '31',
  green: '32',
  yellow: '33',
  blue: '34',
  magenta: '35',
  cyan: '36',
  gray: '90',
};

export const seg = (text: string, ...style: Style[]): Seg => (style.length ? { text, style } : { text });

/**
 * Text from the ledger (descriptions come from a model) on one line and with no
 * control characters: an ESC in a description must not reach the terminal, and
 * bidi overrides would reorder what follows.
 */
export function sanitize(s: string): string {
  return sanitizeLine(s).replace(/\s+/g, ' ').trim();
}

// East Asian Wide/Fullwidth blocks and the emoji planes take two cells.
const WIDE: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f],
  [0x231a, 0x231b],
  [0x2329, 0x232a],
  [0x23e9, 0x23ec],
  [0x23f0, 0x23f0],
  [0x23f3, 0x23f3],
  [0x25fd, 0x25fe],
  [0x2614, 0x2615],
  [0x2648, 0x2653],
  [0x267f, 0x267f],
  [0x2693, 0x2693],
  [0x26a1, 0x26a1],
  [0x26aa, 0x26ab],
  [0x26bd, 0x26be],
  [0x26c4, 0x26c5],
  [0x26ce, 0x26ce],
  [0x26d4, 0x26d4],
  [0x26ea, 0x26ea],
  [0x26f2, 0x26f5],
  [0x26fa, 0x26fd],
  [0x2705, 0x2705],
  [0x270a, 0x270b],
  [0x2728, 0x2728],
  [0x274c, 0x274c],
  [0x274e, 0x274e],
  [0x2753, 0x2755],
  [0x2757, 0x2757],
  [0x2795, 0x2797],
  [0x27b0, 0x27b0],
  [0x27bf, 0x27bf],
  [0x2b1b, 0x2b1c],
  [0x2b50, 0x2b50],
  [0x2b55, 0x2b55],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x16fe0, 0x18aff],
  [0x1b000, 0x1b2ff],
  [0x1f004, 0x1f004],
  [0x1f0cf, 0x1f0cf],
  [0x1f18e, 0x1f18e],
  [0x1f191, 0x1f19a],
  [0x1f200, 0x1f2ff],
  [0x1f300, 0x1f64f],
  [0x1f680, 0x1f6ff],
  [0x1f7e0, 0x1f7eb],
  [0x1f90c, 0x1f9ff],
  [0x1fa70, 0x1faff],
  [0x20000, 0x3fffd],
];

function isZeroWidth(cp: number): boolean {
  return (
    (cp >= 0x0300 && cp <= 0x036f) ||
    (cp >= 0x0483 && cp <= 0x0489) ||
    (cp >= 0x0591 && cp <= 0x05bd) ||
    (cp >= 0x0610 && cp <= 0x061a) ||
    (cp >= 0x064b && cp <= 0x065f) ||
    (cp >= 0x1ab0 && cp <= 0x1aff) ||
    (cp >= 0x1dc0 && cp <= 0x1dff) ||
    (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0x20d0 && cp <= 0x20ff) ||
    (cp >= 0xfe00 && cp <= 0xfe0f) ||
    (cp >= 0xfe20 && cp <= 0xfe2f) ||
    cp === 0xfeff ||
    (cp >= 0x1f3fb && cp <= 0x1f3ff) ||
    (cp >= 0xe0000 && cp <= 0xe01ef)
  );
}

/** Cells one code point takes in a terminal (0, 1 or 2). */
export function charWidth(cp: number): number {
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
  if (cp < 0x300) return 1;
  if (isZeroWidth(cp)) return 0;
  let lo = 0;
  let hi = WIDE.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = WIDE[mid] as readonly [number, number];
    if (cp < r[0]) hi = mid - 1;
    else if (cp > r[1]) lo = mid + 1;
    else return 2;
  }
  return 1;
}

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

const VS16 = 0xfe0f;

/** Characters with an emoji form U+FE0F can ask for: symbols, and the keycap bases (#, *, digits), ©, ®. */
function hasEmojiForm(cp: number): boolean {
  return cp >= 0x203c || cp === 0x23 || cp === 0x2a || (cp >= 0x30 && cp <= 0x39) || cp === 0xa9 || cp === 0xae;
}

/**
 * The characters of s with their cells, a character and the U+FE0F that follows
 * it as one: the selector asks for the emoji form, two cells ("⚠️"), where the
 * character alone takes one (counted as one, a line of them ran past the width).
 */
function* cellUnits(s: string): Generator<{ text: string; width: number }> {
  let text = '';
  let width = 0;
  let emoji = false;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp === VS16 && text) {
      text += ch;
      if (width === 1 && emoji) width = 2;
      continue;
    }
    if (text) yield { text, width };
    text = ch;
    width = charWidth(cp);
    emoji = hasEmojiForm(cp);
  }
  if (text) yield { text, width };
}

/** Visible width of a string (escape sequences count for nothing). */
export function visibleWidth(s: string): number {
  let w = 0;
  for (const u of cellUnits(stripAnsi(s))) w += u.width;
  return w;
}

/** The longest prefix of s that fits in n cells. */
function takeCells(s: string, n: number): { text: string; width: number } {
  let w = 0;
  let out = '';
  for (const u of cellUnits(s)) {
    if (w + u.width > n) break;
    out += u.text;
    w += u.width;
  }
  return { text: out, width: w };
}

/** Fit plain text in n cells, ending with … when something was cut. */
export function clipCells(s: string, n: number): string {
  if (n <= 0) return '';
  if (visibleWidth(s) <= n) return s;
  return takeCells(s, n - 1).text + '…';
}

export function lineWidth(line: Line): number {
  let w = 0;
  for (const s of line) w += visibleWidth(s.text);
  return w;
}

/** Cut a line to `width` cells; a cut line ends with …. */
export function clipLine(line: Line, width: number): Line {
  if (lineWidth(line) <= width) return line;
  const out: Line = [];
  let room = Math.max(0, width - 1);
  for (const s of line) {
    if (room <= 0) break;
    const t = takeCells(s.text, room);
    if (t.text) out.push({ ...s, text: t.text });
    room -= t.width;
    if (t.text.length < s.text.length) break;
  }
  if (width > 0) out.push(seg('…', 'dim'));
  return out;
}

/**
 * A line too wide for `width`, broken at spaces into at most `max` lines, the
 * later ones indented by `indent` cells (the last is clipped when rendered):
 * a narrow terminal still shows the end of a line (the gain, the baseline).
 */
export function flowLine(line: Line, width: number, indent: number, max = 3): Line[] {
  if (lineWidth(line) <= width) return [line];
  const out: Line[] = [];
  let cur: Line = [];
  let w = 0;
  for (const s of line) {
    for (const text of s.text.match(/\s+|\S+\s*/g) ?? []) {
      const tw = visibleWidth(text);
      if (w + tw > width && w > (out.length ? indent : 0) && out.length < max - 1) {
        out.push(trimEnd(cur));
        cur = indent ? [seg(' '.repeat(indent))] : [];
        w = indent;
        if (!text.trim()) continue;
      }
      cur.push({ ...s, text });
      w += tw;
    }
  }
  out.push(trimEnd(cur));
  return out;
}

function trimEnd(line: Line): Line {
  const last = line.at(-1);
  if (last) line[line.length - 1] = { ...last, text: last.text.trimEnd() };
  return line;
}

/** Pad (or clip) plain text to exactly n cells. */
export function padCells(s: string, n: number, align: 'left' | 'right' = 'left'): string {
  const c = clipCells(s, n);
  const gap = ' '.repeat(Math.max(0, n - visibleWidth(c)));
  return align === 'left' ? c + gap : gap + c;
}

/** Render a line as a string: clipped to width, with SGR codes only when colour is on. */
export function renderLine(line: Line, width: number, color: boolean): string {
  if (!color) return clipLine(line, width).map((s) => s.text).join('');
  let out = '';
  let code = '';
  let text = '';
  const flush = () => {
    if (text) out += code ? `\x1b[${code}m${text}\x1b[0m` : text;
    text = '';
  };
  // Neighbouring segments of the same style share one escape sequence.
  for (const s of clipLine(line, width)) {
    const c = s.style?.length ? s.style.map((x) => SGR[x]).join(';') : '';
    if (c !== code) {
      flush();
      code = c;
    }
    text += s.text;
  }
  flush();
  return out;
}

/**
 * Colours: never with NO_COLOR (non-empty, per no-color.org), always with
 * FORCE_COLOR (unless 0/false), otherwise only on a terminal that is not dumb.
 */
export function colorEnabled(env: Readonly<Record<string, string | undefined>>, isTTY: boolean): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  return isTTY && env.TERM !== 'dumb';
}
