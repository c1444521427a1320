// The ledger: one JSON object per line, append-only. Reading validates each
// line; a torn last line (a kill mid-write) or a corrupt line is reported and
// skipped, never fatal. Reads can resume from a byte offset so that callers
// with a cached state only parse what was appended since.
import fs from 'node:fs';
import * as z from './zod.ts';
import { ConfigLine, EventLine, LedgerLine, ResultLine } from './schema.ts';
import { appendLineDurable, appendLineDurableLater } from './fsx.ts';

export interface LedgerRead {
  lines: LedgerLine[];
  warnings: string[];
  /** Byte offset just after the last complete line that was read. */
  end: number;
  /** Byte offset where each of `lines` starts (same order). */
  starts: number[];
  /** Complete lines skipped as unreadable (not JSON, or not a ledger line), and where the first was; a torn last line is not counted (not read past). */
  skipped: number;
  firstSkipped: number | null;
}

export interface ReadOptions {
  /** Skip a raw line (bytes [start, end) of buf) before parsing it, e.g. events a reader does not need. */
  skip?: (buf: Buffer, start: number, end: number) => boolean;
  /** A faster exact check tried before zod; null means "let zod decide". */
  fast?: (raw: Record<string, unknown>) => LedgerLine | null;
}

export function readLedger(file: string, from = 0, opts: ReadOptions = {}): LedgerRead {
  let buf: Buffer;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      if (from > size) from = 0; // the file was replaced: start over
      buf = Buffer.alloc(size - from);
      fs.readSync(fd, buf, 0, buf.length, from);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { lines: [], warnings: [], end: 0, starts: [], skipped: 0, firstSkipped: null };
    throw e;
  }
  const lines: LedgerLine[] = [];
  const starts: number[] = [];
  const warnings: string[] = [];
  let skipped = 0;
  let firstSkipped: number | null = null;
  const skip = (at: number) => {
    skipped++;
    firstSkipped ??= at;
  };
  let pos = 0;
  while (pos < buf.length) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl === -1) {
      warnings.push(`ledger: torn last line at byte ${from + pos} skipped (an earlier write was interrupted)`);
      break;
    }
    const start = pos;
    pos = nl + 1;
    if (opts.skip?.(buf, start, nl)) continue;
    const text = buf.toString('utf8', start, nl).trim();
    if (!text) continue;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      warnings.push(`ledger: line at byte ${from + start} is not JSON; skipped`);
      skip(from + start);
      continue;
    }
    const quick = opts.fast && typeof raw === 'object' && raw !== null ? opts.fast(raw as Record<string, unknown>) : null;
    if (quick) {
      lines.push(quick);
      starts.push(from + start);
      continue;
    }
    const parsed = lineSchema((raw as { type?: unknown } | null)?.type).safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      warnings.push(`ledger: invalid line at byte ${from + start} skipped (${issue ? issue.path.join('.') + ': ' + issue.message : 'bad shape'})`);
      skip(from + start);
      continue;
    }
    lines.push(parsed.data);
    starts.push(from + start);
  }
  return { lines, warnings, end: from + pos, starts, skipped, firstSkipped };
}

/** Validate and append one line durably. */
export function appendLedger(file: string, line: LedgerLine, opts: { durable?: boolean } = {}): void {
  appendLineDurable(file, ledgerLineText(line), opts);
}

/** Validate and append one line now, fsynced in the background: awaited before what must follow it on disk (fsx.ts appendLineDurableLater). */
export function appendLedgerLater(file: string, line: LedgerLine): Promise<void> {
  return appendLineDurableLater(file, ledgerLineText(line));
}

/** A ledger line as appended (checked), without its newline: for a writer that rewrites the ledger with it. */
export function ledgerLineText(line: LedgerLine): string {
  return JSON.stringify(lineSchema(line.type).parse(line));
}

/**
 * The schema of a line's own kind, by its `type`: the union would build every
 * kind's schema to check one line, the config line's among them (the whole
 * Config, a third of the schemas a keep built for the result and event lines
 * it writes and reads back). Any other `type` gets the union (its message
 * names the kinds); a known kind's issues are the same as the union's.
 */
function lineSchema(type: unknown): z.ZodMiniType<LedgerLine> {
  if (type === 'result') return ResultLine;
  if (type === 'event') return EventLine;
  if (type === 'config') return ConfigLine;
  return LedgerLine;
}

export function nowIso(): string {
  return new Date().toISOString();
}
