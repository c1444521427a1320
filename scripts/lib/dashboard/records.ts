// The run index's records (runs.idx): 32 bytes each, little-endian: kind,
// verdict, status, flags (1: rebaseline), segment (u32), then float64s: the
// line's ledger offset, the primary (NaN: none) and the run number.
import os from 'node:os';
import { RunStatus, Verdict } from '../schema.ts';
import type { LedgerRead } from '../ledger.ts';

export const REC = 32;
export const RESULT = 1;
export const COMMITTED = 2;
export const END = 3;
const VERDICTS = Verdict.options;
const STATUSES = RunStatus.options;

/**
 * The records as arrays: per record i, its float64s at f64[4i+1..4i+3]
 * (offset, primary, run number), its segment at u32[8i+1] and its first four
 * bytes as one little-endian word at u32[8i] (header()). Views over the
 * buffer itself when the machine is little-endian (as the file is) and the
 * buffer is aligned; a copy otherwise. Reading 100,000 records this way is a
 * plain loop, where Buffer.readDoubleLE was a call per field.
 */
export interface RecordViews {
  buf: Buffer;
  count: number;
  f64: Float64Array;
  u32: Uint32Array;
}

const NATIVE_LE = os.endianness() === 'LE';

/** A record's first four bytes (kind, verdict, status, flags) as u32[8i] holds them. */
export function header(kind: number, verdict: number, status: number, flags: number): number {
  return (kind | (verdict << 8) | (status << 16) | (flags << 24)) >>> 0;
}

export function recordViews(buf: Buffer): RecordViews {
  const count = Math.floor(buf.length / REC);
  if (NATIVE_LE && buf.byteOffset % 8 === 0) {
    return { buf, count, f64: new Float64Array(buf.buffer, buf.byteOffset, count * 4), u32: new Uint32Array(buf.buffer, buf.byteOffset, count * 8) };
  }
  const f64 = new Float64Array(count * 4);
  const u32 = new Uint32Array(f64.buffer);
  if (NATIVE_LE) new Uint8Array(f64.buffer).set(buf.subarray(0, count * REC));
  else {
    for (let i = 0; i < count; i++) {
      u32[i * 8] = buf.readUInt32LE(i * REC);
      u32[i * 8 + 1] = buf.readUInt32LE(i * REC + 4);
      for (let k = 1; k < 4; k++) f64[i * 4 + k] = buf.readDoubleLE(i * REC + k * 8);
    }
  }
  return { buf, count, f64, u32 };
}


/** The records for what a ledger read found, closed by an END record. */
export function recordsOf(read: LedgerRead): Buffer {
  const out: Buffer[] = [];
  const rec = (kind: number, offset: number, runNo: number, segment = 0, verdict = 0, status = 0, flags = 0, primary = Number.NaN) => {
    const b = Buffer.alloc(REC);
    b[0] = kind;
    b[1] = verdict;
    b[2] = status;
    b[3] = flags;
    b.writeUInt32LE(segment, 4);
    b.writeDoubleLE(offset, 8);
    b.writeDoubleLE(primary, 16);
    b.writeDoubleLE(runNo, 24);
    out.push(b);
  };
  read.lines.forEach((l, k) => {
    const at = read.starts[k] as number;
    if (l.type === 'result') {
      const p = l.primary !== null && Number.isFinite(l.primary) ? l.primary : Number.NaN;
      rec(RESULT, at, Number(l.run_id.slice(1)), l.segment, VERDICTS.indexOf(l.verdict), STATUSES.indexOf(l.status), l.rebaseline ? 1 : 0, p);
    } else if (l.type === 'event' && l.event === 'committed' && l.run_id && typeof l.data.commit === 'string') {
      rec(COMMITTED, at, Number(l.run_id.slice(1)));
    }
  });
  rec(END, read.end, 0);
  return Buffer.concat(out);
}


/**
 * Do the ledger offsets of records [0, to) of `v` only grow? An END holds
 * the scan's end, which the next line starts at or after: an END and the
 * record after it may equal what precedes them. The last offset, or null.
 */
export function offsetsGrow(v: RecordViews, to: number): number | null {
  // Locals, and the usual record (not an END, nor after one) first: a 100,000-record loop that runs once, mostly before it is optimised.
  const { f64, buf } = v;
  let prev = -1;
  let afterEnd = false;
  for (let i = 0; i < to; i++) {
    const off = f64[i * 4 + 1] as number;
    if (off > prev && !afterEnd && buf[i * REC] !== END) {
      prev = off;
      continue;
    }
    const end = buf[i * REC] === END;
    if (end || afterEnd ? off < prev : off <= prev) return null;
    prev = off;
    afterEnd = end;
  }
  return prev;
}
