// Reading TensorBoard event files without TensorFlow or a protobuf library.
// Framing (TFRecord): uint64 LE length, masked CRC32C of those 8 bytes, the
// data, masked CRC32C of the data. Data is an `Event` protobuf; only the
// fields that carry scalars are decoded:
//   Event     { double wall_time = 1; int64 step = 2; Summary summary = 5; }
//   Summary   { repeated Value value = 1; }
//   Value     { string tag = 1; float simple_value = 2; TensorProto tensor = 8; }
//   Tensor    { DataType dtype = 1; TensorShape tensor_shape = 2; bytes tensor_content = 4;
//               repeated float float_val = 5; double double_val = 6; int32 int_val = 7;
//               int64 int64_val = 10; int32 half_val = 13; }
// TF1 writes simple_value; TF2's tf.summary.scalar writes a rank-0 tensor.
import fs from 'node:fs';

// ---- CRC32C (Castagnoli, reflected polynomial 0x82F63B78) ----

// Made on the first checksum: most engine calls read no TensorBoard file.
let crcTable: Uint32Array | undefined;
function table(): Uint32Array {
  if (crcTable) return crcTable;
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return (crcTable = t);
}

export function crc32c(buf: Uint8Array): number {
  const t = table();
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = (t[(c ^ (buf[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masking, so a CRC stored inside data that is itself CRC'd stays distinct. */
export function maskedCrc32c(buf: Uint8Array): number {
  const c = crc32c(buf);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

// ---- protobuf wire format ----

type Field = { no: number; wire: 0; int: number } | { no: number; wire: 1 | 5; at: number } | { no: number; wire: 2; bytes: Uint8Array };

/** One varint at `pos`: [value, next position]. Values past 2^63 are read as
 *  negative int64 (how protobuf encodes negative int32/int64). */
function varintAt(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let mul = 1;
  const start = pos;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++] as number;
    if (i < 7) result += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) {
      if (i < 7) return [result, pos];
      // Past 49 bits a double loses precision: redo it exactly.
      let big = 0n;
      for (let k = pos - 1; k >= start; k--) big = (big << 7n) | BigInt((buf[k] as number) & 0x7f);
      return [Number(BigInt.asIntN(64, big)), pos];
    }
    mul *= 128;
  }
  throw new Error('varint too long');
}

/** Walk the fields of one message; throws on malformed input. */
function* fields(buf: Uint8Array): Generator<Field> {
  let pos = 0;
  while (pos < buf.length) {
    let key: number;
    [key, pos] = varintAt(buf, pos);
    const no = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) {
      let int: number;
      [int, pos] = varintAt(buf, pos);
      yield { no, wire, int };
    } else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      if (pos + size > buf.length) throw new Error('truncated fixed field');
      yield { no, wire, at: pos };
      pos += size;
    } else if (wire === 2) {
      let len: number;
      [len, pos] = varintAt(buf, pos);
      if (len < 0 || pos + len > buf.length) throw new Error('truncated length-delimited field');
      yield { no, wire, bytes: buf.subarray(pos, pos + len) };
      pos += len;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
}

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

const DT_FLOAT = 1;
const DT_DOUBLE = 2;
const DT_INT32 = 3;
const DT_INT64 = 9;
const DT_HALF = 19;

/** A float32 as the shortest decimal that reads back to it (0.9, not 0.8999999761581421). */
export function shortFloat32(x: number): number {
  if (!Number.isFinite(x)) return x;
  for (let p = 1; p <= 9; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === x) return y;
  }
  return x;
}

function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** Elements of a packed (or single, unpacked) repeated numeric field. */
function repeated(f: Field, size: 4 | 8, read: (v: DataView, at: number) => number, buf: Uint8Array): number[] {
  if (f.wire === 2) {
    const v = view(f.bytes);
    const out: number[] = [];
    for (let at = 0; at + size <= f.bytes.length; at += size) out.push(read(v, at));
    return out;
  }
  if (f.wire === 1 || f.wire === 5) return [read(view(buf), f.at)];
  return [];
}

function packedVarints(f: Field): number[] {
  if (f.wire === 0) return [f.int];
  if (f.wire !== 2) return [];
  const out: number[] = [];
  let pos = 0;
  while (pos < f.bytes.length) {
    let v: number;
    [v, pos] = varintAt(f.bytes, pos);
    out.push(v);
  }
  return out;
}

/** The single value of a rank-0 (or one-element) tensor, or null when it is not a numeric scalar. */
export function tensorScalar(buf: Uint8Array): number | null {
  let dtype = 0;
  let content: Uint8Array | null = null;
  const vals: number[] = [];
  for (const f of fields(buf)) {
    if (f.no === 1 && f.wire === 0) dtype = f.int;
    else if (f.no === 4 && f.wire === 2) content = f.bytes;
    else if (f.no === 5) vals.push(...repeated(f, 4, (v, at) => shortFloat32(v.getFloat32(at, true)), buf));
    else if (f.no === 6) vals.push(...repeated(f, 8, (v, at) => v.getFloat64(at, true), buf));
    else if (f.no === 7) vals.push(...packedVarints(f));
    else if (f.no === 10) vals.push(...packedVarints(f));
    else if (f.no === 13) vals.push(...packedVarints(f).map((h) => halfToNumber(h & 0xffff)));
  }
  if (content && content.length > 0) {
    const v = view(content);
    const size = dtype === DT_FLOAT || dtype === DT_INT32 ? 4 : dtype === DT_DOUBLE || dtype === DT_INT64 ? 8 : dtype === DT_HALF ? 2 : 0;
    if (size === 0 || content.length !== size) return null;
    if (dtype === DT_FLOAT) return shortFloat32(v.getFloat32(0, true));
    if (dtype === DT_DOUBLE) return v.getFloat64(0, true);
    if (dtype === DT_INT32) return v.getInt32(0, true);
    if (dtype === DT_INT64) return Number(v.getBigInt64(0, true));
    return halfToNumber(v.getUint16(0, true));
  }
  return vals.length === 1 ? (vals[0] as number) : null;
}

export interface ScalarEvent {
  tag: string;
  step: number;
  wallTime: number;
  value: number;
}

/** The scalar values of one Event record (none for other events). */
export function eventScalars(data: Uint8Array): ScalarEvent[] {
  let wallTime = 0;
  let step = 0;
  const summaries: Uint8Array[] = [];
  for (const f of fields(data)) {
    if (f.no === 1 && f.wire === 1) wallTime = view(data).getFloat64(f.at, true);
    else if (f.no === 2 && f.wire === 0) step = f.int;
    else if (f.no === 5 && f.wire === 2) summaries.push(f.bytes);
  }
  const out: ScalarEvent[] = [];
  for (const summary of summaries) {
    for (const f of fields(summary)) {
      if (f.no !== 1 || f.wire !== 2) continue;
      let tag = '';
      let value: number | null = null;
      for (const g of fields(f.bytes)) {
        if (g.no === 1 && g.wire === 2) tag = Buffer.from(g.bytes).toString('utf8');
        else if (g.no === 2 && g.wire === 5) value = shortFloat32(view(f.bytes).getFloat32(g.at, true));
        else if (g.no === 8 && g.wire === 2) value = tensorScalar(g.bytes);
      }
      if (value !== null) out.push({ tag, step, wallTime, value });
    }
  }
  return out;
}

// ---- TFRecord framing ----

/** Records larger than this are skipped unread (images, graphs: never scalars). */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;
const CHUNK = 1024 * 1024;

/** Reads a file sequentially through one buffer, so memory stays bounded. */
class Reader {
  private buf = Buffer.alloc(0);
  private filePos = 0;
  private eof = false;
  constructor(private readonly fh: fs.promises.FileHandle) {}

  /** Exactly n bytes, or null at (possibly truncated) end of file. */
  async take(n: number): Promise<Buffer | null> {
    while (this.buf.length < n && !this.eof) {
      const chunk = Buffer.alloc(Math.max(CHUNK, n - this.buf.length));
      const { bytesRead } = await this.fh.read(chunk, 0, chunk.length, this.filePos);
      if (bytesRead === 0) this.eof = true;
      this.filePos += bytesRead;
      this.buf = Buffer.concat([this.buf, chunk.subarray(0, bytesRead)]);
    }
    if (this.buf.length < n) return null;
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  async skip(n: number): Promise<void> {
    const inBuf = Math.min(n, this.buf.length);
    this.buf = this.buf.subarray(inBuf);
    this.filePos += n - inBuf;
  }
}

export interface FileScan {
  events: ScalarEvent[];
  warnings: string[];
}

/** Every scalar in one event file whose tag passes `want`. Damage stops the file with a warning. */
export async function readEventFile(file: string, want: (tag: string) => boolean): Promise<FileScan> {
  const events: ScalarEvent[] = [];
  const warnings: string[] = [];
  const fh = await fs.promises.open(file, 'r');
  try {
    const r = new Reader(fh);
    let badData = 0;
    for (;;) {
      const head = await r.take(12);
      if (!head) break; // end of file, or a record still being written
      const lenBytes = head.subarray(0, 8);
      if (maskedCrc32c(lenBytes) !== head.readUInt32LE(8)) {
        warnings.push('a record length failed its CRC check (the rest of the file was ignored)');
        break;
      }
      const len = Number(head.readBigUInt64LE(0));
      if (len > MAX_RECORD_BYTES) {
        await r.skip(len + 4);
        continue;
      }
      const body = await r.take(len + 4);
      if (!body) break;
      const data = body.subarray(0, len);
      if (maskedCrc32c(data) !== body.readUInt32LE(len)) {
        badData++;
        continue;
      }
      try {
        for (const e of eventScalars(data)) if (want(e.tag)) events.push(e);
      } catch (e) {
        warnings.push(`a record is not a valid Event (${(e as Error).message})`);
      }
    }
    if (badData > 0) warnings.push(`${badData} record(s) failed their CRC check and were skipped`);
  } finally {
    await fh.close();
  }
  return { events, warnings };
}
