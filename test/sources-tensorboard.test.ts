// The tensorboard source. No TensorBoard writer installs here (TensorFlow,
// tensorboard and tensorboardX are in neither Debian nor npm without a
// download), so two independent encoders stand in: a committed fixture made by
// Google's protobuf library (test/fixtures/sources/make-tfevents.py), and the
// small writer below, which lets the tests damage files on purpose.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stampFiles } from '../scripts/lib/sources/common.ts';
import { freshEventFiles, MAX_ENTRIES, TensorboardSourceSpec, tensorboardSource } from '../scripts/lib/sources/tensorboard.ts';
import { crc32c, maskedCrc32c, readEventFile } from '../scripts/lib/sources/tfevents.ts';
import type { SampleOutput } from '../scripts/lib/sources/types.ts';
import { cleanupTmp, PROJECT, tmpDir } from './helpers/repo.ts';

afterAll(cleanupTmp);

// ---- a minimal protobuf + TFRecord writer ----

function varint(n: bigint): number[] {
  let v = BigInt.asUintN(64, n);
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}
const key = (no: number, wire: number) => varint(BigInt(no * 8 + wire));
const bytesField = (no: number, body: number[]) => [...key(no, 2), ...varint(BigInt(body.length)), ...body];
const f32 = (v: number) => [...new Uint8Array(new Float32Array([v]).buffer)];
const f64 = (v: number) => [...new Uint8Array(new Float64Array([v]).buffer)];
const utf8 = (s: string) => [...Buffer.from(s, 'utf8')];

type Val = { tag: string; simple?: number; tensor?: number[] };

function event(step: number, wall: number, values: Val[]): number[] {
  const vals = values.flatMap((v) => {
    const body = [...bytesField(1, utf8(v.tag))];
    if (v.simple !== undefined) body.push(...key(2, 5), ...f32(v.simple));
    if (v.tensor) body.push(...bytesField(8, v.tensor));
    return bytesField(1, body);
  });
  return [...key(1, 1), ...f64(wall), ...key(2, 0), ...varint(BigInt(step)), ...bytesField(5, vals)];
}

/** TF2's C++ writer: dtype and raw little-endian bytes. */
const tensorContent = (dtype: number, raw: number[]) => [...key(1, 0), ...varint(BigInt(dtype)), ...bytesField(2, []), ...bytesField(4, raw)];
/** Python writers: packed float_val. */
const tensorFloatVal = (v: number) => [...key(1, 0), 1, ...bytesField(5, f32(v))];
/** A negative int64 as int64_val (a 10-byte varint). */
const tensorInt64 = (v: number) => [...key(1, 0), 9, ...key(10, 0), ...varint(BigInt(v))];

function frame(data: number[]): Buffer {
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(data.length));
  const c1 = Buffer.alloc(4);
  c1.writeUInt32LE(maskedCrc32c(len));
  const body = Buffer.from(data);
  const c2 = Buffer.alloc(4);
  c2.writeUInt32LE(maskedCrc32c(body));
  return Buffer.concat([len, c1, body, c2]);
}

function writeEvents(file: string, events: number[][]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.concat(events.map(frame)));
}

function sample(cwd: string, startedAtMs = Date.now() - 1000): SampleOutput {
  return { cwd, log: { file: path.join(cwd, 'none.log'), start: 0, end: 0 }, startedAtMs };
}

const spec = (extra: object) => TensorboardSourceSpec.parse({ kind: 'tensorboard', dir: 'runs', tag: 'val/loss', metric: 'val_loss', ...extra });

describe('tensorboard event files', () => {
  it('computes CRC32C as specified (check value of "123456789")', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  it('reads the fixture encoded by the protobuf library: simple_value, float_val tensors, tensor_content doubles', async () => {
    const scan = await readEventFile(path.join(PROJECT, 'test/fixtures/sources/tfevents-protobuf.bin'), () => true);
    expect(scan.warnings).toEqual([]);
    expect(scan.events.map((e) => [e.tag, e.step, e.value])).toEqual([
      ['loss', 1, 0.9],
      ['loss', 2, 0.5],
      ['loss', 3, 0.7],
      ['acc', 1, 0.25],
      ['acc', 2, 0.75],
      ['acc', 3, 0.5],
      ['lr', 2 ** 40, 0.001],
    ]);
  });

  it('picks last (highest step), min or max of a tag across the fresh files of a nested log dir', async () => {
    const dir = tmpDir();
    const s = sample(dir);
    writeEvents(path.join(dir, 'runs/2024_a/events.out.tfevents.1.host'), [
      event(1, 100, [{ tag: 'val/loss', simple: 2.5 }, { tag: 'train/loss', simple: 9 }]),
      event(3, 103, [{ tag: 'val/loss', tensor: tensorFloatVal(1.25) }]),
    ]);
    writeEvents(path.join(dir, 'runs/2024_a/validation/events.out.tfevents.2.host'), [
      event(2, 102, [{ tag: 'val/loss', tensor: tensorContent(2, f64(0.75)) }]),
    ]);
    expect(await tensorboardSource(spec({})).read(s)).toEqual({ ok: true, metrics: { val_loss: [1.25] }, warnings: [] });
    expect(await tensorboardSource(spec({ pick: 'min' })).read(s)).toMatchObject({ metrics: { val_loss: [0.75] } });
    expect(await tensorboardSource(spec({ pick: 'max' })).read(s)).toMatchObject({ metrics: { val_loss: [2.5] } });
    expect(await tensorboardSource(spec({ tag: 'train/loss', metric: 'tl' })).read(s)).toMatchObject({ metrics: { tl: [9] } });
  });

  it('ignores event files older than the sample', async () => {
    const dir = tmpDir();
    const old = path.join(dir, 'runs/old/events.out.tfevents.1.host');
    writeEvents(old, [event(9, 100, [{ tag: 'val/loss', simple: 0.01 }])]);
    const past = new Date(Date.now() - 60_000);
    fs.utimesSync(old, past, past);
    const s = sample(dir);
    expect(await tensorboardSource(spec({})).read(s)).toEqual({ ok: false, reason: 'tensorboard runs#val/loss: no event files written under runs by this sample' });
    writeEvents(path.join(dir, 'runs/new/events.out.tfevents.2.host'), [event(1, 200, [{ tag: 'val/loss', simple: 0.5 }])]);
    expect(await tensorboardSource(spec({ pick: 'min' })).read(s)).toMatchObject({ metrics: { val_loss: [0.5] } });
  });

  it('a long loop\'s log dir (PyTorch: one runs/<date>_<host>/ per training, over a thousand): only this sample\'s file is read', async () => {
    const dir = tmpDir();
    // Earlier trainings with more steps and a lower loss: read as this sample's, `last` would take theirs.
    for (let i = 0; i < 1200; i++) writeEvents(path.join(dir, `runs/old_${String(i).padStart(4, '0')}/events.out.tfevents.${i}.host`), [event(1000 + i, 100 + i, [{ tag: 'val/loss', simple: 0.01 }])]);
    const source = tensorboardSource(spec({}));
    const before = await stampFiles([source], dir);
    expect(before.size).toBe(1200);
    const s: SampleOutput = { ...sample(dir, Date.now() + 60_000), before };
    writeEvents(path.join(dir, 'runs/new/events.out.tfevents.9999.host'), [event(10, 300, [{ tag: 'val/loss', simple: 0.5 }])]);
    expect(await source.read(s)).toEqual({ ok: true, metrics: { val_loss: [0.5] }, warnings: [] });
  });

  it('more entries under the log dir than can be stamped fail the sample instead of passing for fresh', async () => {
    const dir = tmpDir();
    for (let i = 0; i < 30; i++) writeEvents(path.join(dir, `runs/d${i}/events.out.tfevents.${i}.host`), [event(1, 1, [{ tag: 'val/loss', simple: 0.5 }])]);
    expect(await freshEventFiles(path.join(dir, 'runs'), sample(dir), 60)).toHaveLength(30);
    expect(await freshEventFiles(path.join(dir, 'runs'), sample(dir), 59)).toBe("more than 59 entries under it: this sample's event files cannot be told from earlier ones (move old runs out)");
    expect(MAX_ENTRIES).toBeGreaterThanOrEqual(100_000);
  });

  it('skips a record whose data fails its CRC, stops at a bad length CRC, and reads up to a truncated tail', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'runs/events.out.tfevents.1.host');
    const good = frame(event(1, 1, [{ tag: 'val/loss', simple: 3 }]));
    const corrupt = frame(event(2, 2, [{ tag: 'val/loss', simple: 1 }]));
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 6) ^ 0xff, corrupt.length - 6); // a data byte
    const later = frame(event(3, 3, [{ tag: 'val/loss', simple: 2 }]));
    const truncated = frame(event(4, 4, [{ tag: 'val/loss', simple: 0 }])).subarray(0, 20);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, Buffer.concat([good, corrupt, later, truncated]));
    const r = await tensorboardSource(spec({ pick: 'min' })).read(sample(dir));
    expect(r).toEqual({
      ok: true,
      metrics: { val_loss: [2] },
      warnings: ['tensorboard runs#val/loss: runs/events.out.tfevents.1.host: 1 record(s) failed their CRC check and were skipped'],
    });
    const badLen = Buffer.from(good);
    badLen.writeUInt8(badLen.readUInt8(9) ^ 0x01, 9); // the length's CRC
    fs.writeFileSync(file, Buffer.concat([badLen, later]));
    const r2 = await tensorboardSource(spec({})).read(sample(dir));
    expect(r2.ok).toBe(false);
    expect(!r2.ok && r2.reason).toBe(
      'tensorboard runs#val/loss: 1 event file(s) hold no scalar tag "val/loss"; runs/events.out.tfevents.1.host: a record length failed its CRC check (the rest of the file was ignored)',
    );
  });

  it('reads int64 and half tensors, negative steps, and warns about NaN', async () => {
    const dir = tmpDir();
    writeEvents(path.join(dir, 'runs/events.out.tfevents.1.host'), [
      event(-1, 1, [{ tag: 'n', tensor: tensorInt64(-7) }]),
      event(0, 2, [{ tag: 'h', tensor: tensorContent(19, [0x00, 0x3c]) }]), // half 1.0
      event(5, 3, [{ tag: 'val/loss', simple: Number.NaN }]),
      event(6, 4, [{ tag: 'val/loss', simple: 4 }]),
    ]);
    const scan = await readEventFile(path.join(dir, 'runs/events.out.tfevents.1.host'), (t) => t !== 'val/loss');
    expect(scan.events.map((e) => [e.tag, e.step, e.value])).toEqual([
      ['n', -1, -7],
      ['h', 0, 1],
    ]);
    const r = await tensorboardSource(spec({ pick: 'max' })).read(sample(dir));
    expect(r).toEqual({ ok: true, metrics: { val_loss: [4] }, warnings: ['tensorboard runs#val/loss: ignored 1 non-finite value(s)'] });
  });

  it('pick last: NaN at the last step is no value (a training that diverged); NaN at an earlier step is dropped', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'runs/events.out.tfevents.1.host');
    writeEvents(file, [event(1, 1, [{ tag: 'val/loss', simple: 0.9 }]), event(2, 2, [{ tag: 'val/loss', simple: 0.8 }]), event(3, 3, [{ tag: 'val/loss', simple: Number.NaN }])]);
    expect(await tensorboardSource(spec({})).read(sample(dir))).toEqual({ ok: false, reason: 'tensorboard runs#val/loss: the value at the last step is not finite (earlier steps are not the result)' });
    expect(await tensorboardSource(spec({ pick: 'min' })).read(sample(dir))).toMatchObject({ ok: true, metrics: { val_loss: [0.8] } });
    writeEvents(file, [event(1, 1, [{ tag: 'val/loss', simple: Number.POSITIVE_INFINITY }]), event(2, 2, [{ tag: 'val/loss', simple: 0.8 }])]);
    expect(await tensorboardSource(spec({})).read(sample(dir))).toMatchObject({ ok: true, metrics: { val_loss: [0.8] } });
  });

  it('names the tags it saw when the configured one is absent', async () => {
    const dir = tmpDir();
    writeEvents(path.join(dir, 'runs/events.out.tfevents.1.host'), [event(1, 1, [{ tag: 'epoch_loss', simple: 1 }])]);
    const r = await tensorboardSource(spec({})).read(sample(dir));
    expect(r).toEqual({
      ok: false,
      reason: 'tensorboard runs#val/loss: 1 event file(s) hold no scalar tag "val/loss" (tags seen: "epoch_loss")',
    });
  });

  it('refuses a bad spec in one clear message', () => {
    const r = TensorboardSourceSpec.safeParse({ kind: 'tensorboard', dir: 'runs', tag: 'x', metric: 'm', pick: 'mean' });
    expect(!r.success && r.error.issues[0]?.message).toBe('must be one of last, min, max');
  });
});
