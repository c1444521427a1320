// Taking forged lines out of the shared ledger (ledger-tail.ts decides which),
// by a candidate's guard after each command, or by the next ledger-locked call
// for a guard killed before it could (its seal is kept on disk while the
// command runs: ledger-seal.json in the run's folder, the ledger's length and
// the digest of its last bytes). The cut and the `tamper` note naming the lines
// cut are one atomic write: a kill never leaves the one without the other.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { currentTermination, eventLine, openExperiment, publishActive, readRunRecord, type Experiment } from '../experiment.ts';
import { readJsonOrNull, writeFileAtomic, writeJsonAtomic } from '../fsx.ts';
import { ledgerLineText } from '../ledger.ts';
import { runDir } from '../paths.ts';
import { checkpointFile } from '../state-cache.ts';
import { accountedFor, checkTail, lineId, REMOVED_NAMED, type TailCheck, type Witnesses } from './ledger-tail.ts';
import { readCandidate } from './store.ts';

export function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** What outside the ledger shows which engine wrote a line (ledger-tail.ts), for `candidate`'s command. */
export function witnessesOf(exp: Experiment, candidate: string | null): Witnesses {
  return { record: (id: string) => readRunRecord(exp, id), candidate: (id) => readCandidate(exp.paths, id), own: candidate };
}

/** How much of the ledger's end a candidate's guard keeps when it seals a command (as tamper.ts keeps for the serial loop). */
export const SEAL_WINDOW_BYTES = 1 << 20;

/**
 * The ledger's end when a command was sealed: its text from `start` (a line's start) on, the mark
 * the seal file keeps, the digest of the bytes just before `start`, and the date of its last line.
 */
export interface SealedWindow {
  start: number;
  text: string;
  mark: SealMark;
  before: string;
  lastTs: number | null;
}

/** The date of a ledger line (ms), null when it has none. */
function tsOf(line: string): number | null {
  try {
    const ts = (JSON.parse(line) as { ts?: unknown }).ts;
    const ms = typeof ts === 'string' ? Date.parse(ts) : NaN;
    return Number.isFinite(ms) ? ms : null;
  } catch {
    return null;
  }
}

/** Seal the ledger by its last SEAL_WINDOW_BYTES (from a line's start): a read that does not grow with the history. */
export function sealWindow(file: string, windowBytes = SEAL_WINDOW_BYTES): SealedWindow {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return { start: 0, text: '', mark: sealOf(''), before: digest(''), lastTs: null };
  }
  try {
    const size = fs.fstatSync(fd).size;
    let start = Math.max(0, size - windowBytes);
    let buf = readBytes(fd, start, size);
    if (start > 0) {
      const nl = buf.indexOf(0x0a);
      // One line longer than the window: the whole file.
      if (nl < 0 || nl === buf.length - 1) [start, buf] = [0, readBytes(fd, 0, size)];
      else [start, buf] = [start + nl + 1, buf.subarray(nl + 1)];
    }
    const text = buf.toString('utf8');
    const last = text.split('\n').filter((l) => l !== '').at(-1);
    const mark = { length: size, tail: digest(readAt(fd, Math.max(0, size - WINDOW), size)) };
    return { start, text, mark, before: digest(readAt(fd, Math.max(0, start - WINDOW), start)), lastTs: last === undefined ? null : tsOf(last) };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Lines appended since the seal that are all the engine's, each dated after the sealed lines (so no
 * copy of one of them, which checkTail would drop), and whole: the ledger is as it must be. Any
 * other tail is judged by checkTail on the whole text.
 */
function cleanTail(tail: string, w: SealedWindow, own: string, wit: Witnesses): boolean {
  if (!tail.endsWith('\n') || w.lastTs === null) return false;
  const lines = tail.slice(0, -1).split('\n');
  let sealed: Set<string> | null = null;
  for (const l of lines) {
    if (l === '' || !accountedFor(l, own, wit.record, wit)) return false;
    const ts = tsOf(l);
    if (ts === null || ts <= w.lastTs) return false;
    sealed ??= new Set(w.text.split('\n'));
    if (sealed.has(l)) return false;
  }
  return true;
}

/** What a check after a command found: nothing to do, lines to cut, or a ledger rewritten before the sealed window (not put back). */
export type WindowCheck = null | TailCheck | 'rewritten';

/**
 * As checkLedger, from the sealed window: the ledger is read from the window's start on (the bytes
 * before it are checked by the digest of their end, as tamper.ts trusts what lies before its tail),
 * and whole only when a line appended since is not plainly the engine's.
 */
export function checkLedgerWindow(exp: Experiment, w: SealedWindow, runId: string, candidate: string | null): WindowCheck {
  return checkWindow(exp.paths.ledger, w, runId, witnessesOf(exp, candidate));
}

/** checkLedgerWindow on a ledger file, with the witnesses given. */
export function checkWindow(file: string, w: SealedWindow, own: string, wit: Witnesses): WindowCheck {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    if (w.start > 0) return 'rewritten';
    const t = checkTail(w.text, '', own, wit.record, wit);
    return t.forged ? t : null;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size < w.start || digest(readAt(fd, Math.max(0, w.start - WINDOW), w.start)) !== w.before) return 'rewritten';
    const now = readAt(fd, w.start, size);
    if (now.startsWith(w.text) && (now.length === w.text.length || cleanTail(now.slice(w.text.length), w, own, wit))) return null;
    const prefix = readAt(fd, 0, w.start);
    const t = checkTail(prefix + w.text, prefix + now, own, wit.record, wit);
    return t.forged ? t : null;
  } finally {
    fs.closeSync(fd);
  }
}

/** The ledger as it must be after `runId`'s command, given its text when sealed; null: it is as it must be. */
export function checkLedger(exp: Experiment, before: string, runId: string, candidate: string | null): TailCheck | null {
  const w = witnessesOf(exp, candidate);
  const t = checkTail(before, readText(exp.paths.ledger), runId, w.record, w);
  return t.forged ? t : null;
}

/** The ledger rewritten as the check says, with the note of what was cut, in one atomic write; the state rebuilt. */
export function cutLedger(exp: Experiment, t: TailCheck, runId: string, segment: number, during: string): void {
  const ledger = path.relative(exp.root, exp.paths.ledger);
  // Its run's segment: the state folded the forged lines (one may open a segment).
  const note = { ...eventLine(exp, 'tamper', { during, files: [ledger], ledger_removed: t.removed.slice(0, REMOVED_NAMED).map(lineId) }, runId), segment };
  // The caches folded the forged lines: gone first (a kill after the write must not leave them), rebuilt from the ledger.
  fs.rmSync(exp.paths.state, { force: true });
  fs.rmSync(checkpointFile(exp.paths), { force: true });
  const body = t.text === '' || t.text.endsWith('\n') ? t.text : `${t.text}\n`;
  const text = `${body}${ledgerLineText(note)}\n`;
  // The seal learns the cut first: a guard killed after the cut but before it drops its seal leaves
  // a note of its own run that the late check (which treats the run as its own) must not cut.
  const kept = readSealFile(exp, runId);
  if (kept) writeJsonAtomic(sealFile(exp, runId), { length: kept.length, tail: kept.tail, next: sealOf(text) }, { durable: false });
  writeFileAtomic(exp.paths.ledger, text, { durable: true });
  Object.assign(exp, openExperiment(exp.root, exp.paths.slug));
  publishActive(exp, currentTermination(exp));
}

const TAIL_BYTES = 64; // characters
/** Of the text's last characters: no copy of a long ledger per command. */
const digest = (text: string): string => createHash('sha256').update(text.slice(-TAIL_BYTES)).digest('hex');
const sealFile = (exp: Pick<Experiment, 'paths'>, runId: string): string => path.join(runDir(exp.paths, runId).dir, 'ledger-seal.json');

/** The runs whose seals this process keeps: its own guard cuts for them. */
const mine = new Set<string>();

export function sealIsMine(runId: string): boolean {
  return mine.has(runId);
}

/** A ledger text's seal: its length and the digest of its last characters. */
interface SealMark {
  length: number;
  tail: string;
}
const sealOf = (text: string | SealMark): SealMark => (typeof text === 'string' ? { length: Buffer.byteLength(text), tail: digest(text) } : { length: text.length, tail: text.tail });

/** The seal file: the mark when the command was sealed, and (its guard's cut made) the mark of the ledger it wrote. */
function readSealFile(exp: Experiment, runId: string): (SealMark & { next?: SealMark }) | null {
  const raw = readJsonOrNull(sealFile(exp, runId)) as { length?: unknown; tail?: unknown; next?: { length?: unknown; tail?: unknown } } | null;
  const mark = (v: { length?: unknown; tail?: unknown } | null | undefined): SealMark | null => (v && typeof v.length === 'number' && typeof v.tail === 'string' ? { length: v.length, tail: v.tail } : null);
  const first = mark(raw);
  if (!first) return null;
  const next = mark(raw?.next);
  return next ? { ...first, next } : first;
}

/** Kept while a candidate's command runs: what the ledger was when it was sealed (its text, or its mark). */
export function keepSeal(exp: Experiment, runId: string, text: string | SealMark): void {
  mine.add(runId);
  writeJsonAtomic(sealFile(exp, runId), sealOf(text), { durable: false });
}

export function sealKept(exp: Pick<Experiment, 'paths'>, runId: string): boolean {
  return fs.existsSync(sealFile(exp, runId));
}

export function dropSeal(exp: Experiment, runId: string): void {
  mine.delete(runId);
  fs.rmSync(sealFile(exp, runId), { force: true });
}

/** The ledger's text when `runId`'s command was sealed, if a seal is kept and the ledger still starts with it (else null). */
export function keptSeal(exp: Experiment, runId: string): string | null {
  const seal = readSealFile(exp, runId);
  if (!seal) return null;
  const ledger = fs.readFileSync(exp.paths.ledger);
  // Its guard's cut made (and so its note written): checked from there on.
  for (const m of seal.next ? [seal.next, seal] : [seal]) {
    const prefix = ledger.subarray(0, m.length);
    if (prefix.length !== m.length) continue;
    const text = prefix.toString('utf8');
    if (digest(text) === m.tail) return text;
  }
  return null;
}

/** Bytes read before a seal's offset to check its digest: its last TAIL_BYTES characters take at most 3 bytes each, and a character cut at the window's start. */
const WINDOW = 4 * TAIL_BYTES;

function readBytes(fd: number, start: number, end: number): Buffer {
  const buf = Buffer.alloc(Math.max(0, end - start));
  let got = 0;
  while (got < buf.length) {
    const n = fs.readSync(fd, buf, got, buf.length - got, start + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

const readAt = (fd: number, start: number, end: number): string => readBytes(fd, start, end).toString('utf8');

/**
 * As keptSeal, read from the seal's offset (verified.ts, on every ledger-locked call): the text
 * appended since the seal, and the sealed text read only when asked. The digest is checked on the
 * last bytes before the offset: those characters decode the same as at the end of the whole prefix.
 */
export function sealedTail(exp: Experiment, runId: string): { tail: string; sealed: () => string } | null {
  const seal = readSealFile(exp, runId);
  if (!seal) return null;
  let fd: number;
  try {
    fd = fs.openSync(exp.paths.ledger, 'r');
  } catch {
    return null;
  }
  try {
    const size = fs.fstatSync(fd).size;
    // Its guard's cut made (and so its note written): checked from there on.
    for (const m of seal.next ? [seal.next, seal] : [seal]) {
      if (size < m.length || digest(readAt(fd, Math.max(0, m.length - WINDOW), m.length)) !== m.tail) continue;
      const tail = readAt(fd, m.length, size);
      const length = m.length;
      return { tail, sealed: () => fs.readFileSync(exp.paths.ledger).subarray(0, length).toString('utf8') };
    }
    return null;
  } finally {
    fs.closeSync(fd);
  }
}
