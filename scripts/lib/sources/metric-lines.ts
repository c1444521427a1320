// The default metric source: `METRIC name=value` lines the benchmark prints,
// read from the sample's byte range of the run's log (stdout and stderr), with
// fixed buffers whatever the benchmark printed. Parsing is metrics.ts's.
import fs from 'node:fs';
import { metricLineName, metricLineText, parseMetricLine, parseMetrics, type MetricLineResult } from '../metrics.ts';
import type { MetricSource, SampleOutput, SourceReading } from './types.ts';

export const METRIC_MAX_LINES = 10_000;
/** Longer METRIC lines are cut here and marked, so a runaway line cannot fill memory. */
export const METRIC_MAX_LINE_BYTES = 1024;
export const METRIC_TRUNCATED_MARK = ' [truncated by watchdog]';

// A METRIC line starts after a line feed or a carriage return and ends at the
// next one: a terminal shows `progress 80%\rMETRIC loss=0.5` (a progress bar
// that returns to the start of its line, as tqdm's does) as a METRIC line, so
// it is one; CRLF ends lines too. Between the break and the word a terminal
// shows nothing of a UTF-8 byte order mark (the first bytes of a PowerShell or
// .NET program's output) or a colour code (`\x1b[32m`): up to
// METRIC_MAX_PREFIX_BYTES of them may come first. An indented METRIC line
// (spaces or tabs there too) does not start its line, but it was meant as one:
// it is kept marked, to be refused with its reason, so that an earlier value of
// its name does not stand as the result.
const WORD = Buffer.from('METRIC');
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
export const METRIC_MAX_PREFIX_BYTES = 64;
const isBreak = (b: number | undefined) => b === 0x0a || b === 0x0d;
/** Bytes carried from one chunk to the next: the break and prefix before a needle and a needle split across the boundary. */
const KEEP = WORD.length + METRIC_MAX_PREFIX_BYTES + 1;

/**
 * Where the prefix token ending just before i starts (a space or tab, a BOM,
 * an ANSI CSI code `ESC [ bytes 0x20-0x3f, final 0x40-0x7e`), or -1 if none ends there.
 */
function prefixTokenStart(view: Buffer, i: number): number {
  const b = view[i - 1];
  if (b === undefined) return -1;
  if (b === 0x20 || b === 0x09) return i - 1;
  if (i >= 3 && view[i - 3] === BOM[0] && view[i - 2] === BOM[1] && b === BOM[2]) return i - 3;
  if (b >= 0x40 && b <= 0x7e) {
    let j = i - 2;
    while (j >= 0 && (view[j] as number) >= 0x20 && (view[j] as number) <= 0x3f) j--;
    if (j >= 1 && view[j] === 0x5b && view[j - 1] === 0x1b) return j - 1;
  }
  return -1;
}

/** Whether the needle at `hit` starts a line (a break, then at most METRIC_MAX_PREFIX_BYTES of prefix), and whether indented. */
function startsLine(view: Buffer, hit: number): 'no' | 'yes' | 'indented' {
  let i = hit;
  let indented = false;
  while (!isBreak(view[i - 1])) {
    const t = prefixTokenStart(view, i);
    if (t < 0 || hit - t > METRIC_MAX_PREFIX_BYTES) return 'no';
    if (t === i - 1 && (view[t] === 0x20 || view[t] === 0x09)) indented = true;
    i = t;
  }
  return indented ? 'indented' : 'yes';
}

/** Marks a kept METRIC line that was indented (a line from the scanner otherwise starts with the word). */
export const METRIC_INDENTED_MARK = '[indented] ';

/**
 * The METRIC lines read so far: the one being read, cut to
 * METRIC_MAX_LINE_BYTES, and a ring of the last METRIC_MAX_LINES finished ones.
 */
class MetricLineRing {
  /** True between a needle and the end of its line. */
  inLine = false;
  /** The current line was indented. */
  indented = false;
  private ring: string[] = [];
  /** How many METRIC lines were printed, kept or not. */
  total = 0;
  private parts: Buffer[] = [];
  private partBytes = 0;
  private cut = false;

  /** Append bytes to the current line, up to the cap. */
  take(b: Buffer): void {
    const room = METRIC_MAX_LINE_BYTES - this.partBytes;
    if (b.length > room) this.cut = true;
    const piece = b.length > room ? b.subarray(0, room) : b;
    if (piece.length === 0) return;
    this.parts.push(Buffer.from(piece)); // copy: the read buffer is reused for the next chunk
    this.partBytes += piece.length;
  }

  /** End the current line and put it in the ring. */
  finish(): void {
    let line = Buffer.concat(this.parts).toString('utf8');
    if (this.cut) line += METRIC_TRUNCATED_MARK;
    if (this.indented) line = METRIC_INDENTED_MARK + line;
    this.ring[this.total % METRIC_MAX_LINES] = line;
    this.total++;
    this.parts = [];
    this.partBytes = 0;
    this.cut = false;
    this.inLine = false;
    this.indented = false;
  }

  /** The kept lines, oldest first. */
  lines(): string[] {
    if (this.total <= METRIC_MAX_LINES) return this.ring;
    const first = this.total % METRIC_MAX_LINES;
    return [...this.ring.slice(first), ...this.ring.slice(0, first)];
  }
}

/**
 * Feed buf[0, len) to the ring; returns how many bytes were moved to the
 * front of buf to be read again with the next chunk.
 */
function scanChunk(buf: Buffer, len: number, lines: MetricLineRing): number {
  const view = buf.subarray(0, len);
  let p = 0;
  for (;;) {
    if (lines.inLine) {
      const end = lineEnd(view, p);
      if (end < 0) {
        lines.take(view.subarray(p, len));
        return 0;
      }
      lines.take(view.subarray(p, end));
      lines.finish();
      p = end; // that break may begin the next needle
    } else {
      // Byte 0 is the virtual break before the range or a carried byte: a needle starts at 1 or later.
      const hit = view.indexOf(WORD, Math.max(p, 1));
      if (hit < 0) {
        // Carry the last bytes over: a needle (and the break before it) may straddle the chunk boundary.
        const from = Math.max(p, len - KEEP);
        buf.copyWithin(0, from, len);
        return len - from;
      }
      const starts = startsLine(view, hit);
      if (starts !== 'no') {
        lines.inLine = true;
        lines.indented = starts === 'indented';
        p = hit;
      } else {
        p = hit + 1;
      }
    }
  }
}

/** The first line feed or carriage return at or after p, or -1. */
function lineEnd(view: Buffer, p: number): number {
  const lf = view.indexOf(0x0a, p);
  const cr = view.indexOf(0x0d, p);
  return lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr);
}

/**
 * Lines in [start, end) of a file that start with "METRIC" (an indented one
 * marked with METRIC_INDENTED_MARK), streamed with one fixed buffer. Keeps the last METRIC_MAX_LINES lines (a later line supersedes
 * an earlier one), each cut to METRIC_MAX_LINE_BYTES. chunkBytes is for tests.
 */
export async function scanMetricLines(file: string, start: number, end: number, chunkBytes = 1 << 20): Promise<string[]> {
  return (await scanRing(file, start, end, chunkBytes)).lines();
}

async function scanRing(file: string, start: number, end: number, chunkBytes: number): Promise<MetricLineRing> {
  // The usual sample fits one chunk: read it at once, without the thread pool's three round trips.
  if (end - start <= chunkBytes) return scanRange(file, start, end);
  const buf = Buffer.alloc(Math.max(chunkBytes, WORD.length + 1) + KEEP);
  const lines = new MetricLineRing();
  const fh = await fs.promises.open(file, 'r');
  try {
    // A virtual "\n" before the range: its first line starts a line too.
    buf[0] = 0x0a;
    let have = 1;
    let pos = start;
    while (pos < end) {
      const want = Math.min(buf.length - have, end - pos);
      const { bytesRead } = await fh.read(buf, have, want, pos);
      if (bytesRead === 0) break; // file shrank under us; use what we have
      pos += bytesRead;
      have = scanChunk(buf, have + bytesRead, lines);
    }
    if (lines.inLine) lines.finish();
  } finally {
    await fh.close();
  }
  return lines;
}

/** scanMetricLines for a range that fits one chunk: one synchronous read into a buffer of its size. */
function scanRange(file: string, start: number, end: number): MetricLineRing {
  const len = Math.max(0, end - start);
  const buf = Buffer.allocUnsafe(len + 1);
  buf[0] = 0x0a; // the virtual "\n" before the range, as above
  let got = 0;
  const fd = fs.openSync(file, 'r');
  try {
    while (got < len) {
      const k = fs.readSync(fd, buf, 1 + got, len - got, start + got);
      if (k === 0) break; // file shrank under us; use what we have
      got += k;
    }
  } finally {
    fs.closeSync(fd);
  }
  const lines = new MetricLineRing();
  scanChunk(buf, 1 + got, lines);
  if (lines.inLine) lines.finish();
  return lines;
}

/** A line cut at METRIC_MAX_LINE_BYTES cannot be read: it says so, and takes its name's earlier value away as any unreadable last line does. */
function parseKeptLine(line: string): MetricLineResult | null {
  if (line.startsWith(METRIC_INDENTED_MARK)) {
    const shown = metricLineText(line.slice(METRIC_INDENTED_MARK.length));
    const warning = `ignored METRIC line ${JSON.stringify(`  ${shown.slice(0, 60)}${shown.length > 60 ? '...' : ''}`)}: indented (a METRIC line starts its line)`;
    const name = metricLineName(shown);
    return name === undefined ? { warning } : { name, warning };
  }
  if (!line.endsWith(METRIC_TRUNCATED_MARK)) return parseMetricLine(line);
  const warning = `ignored METRIC line ${JSON.stringify(`${line.slice(0, 60).trimEnd()}...`)}: longer than ${METRIC_MAX_LINE_BYTES} bytes`;
  const name = metricLineName(line);
  return name === undefined ? { warning } : { name, warning };
}

/** One value per metric and sample: a later line supersedes an earlier one. */
export async function readMetricLines(sample: SampleOutput): Promise<SourceReading> {
  let ring: MetricLineRing;
  try {
    ring = await scanRing(sample.log.file, sample.log.start, sample.log.end, 1 << 20);
  } catch {
    ring = new MetricLineRing(); // the log vanished or was truncated mid-run: nothing printed
  }
  const parsed = parseMetrics(ring.lines(), parseKeptLine);
  const metrics: Record<string, number[]> = {};
  for (const [k, v] of Object.entries(parsed.metrics)) metrics[k] = [v];
  // A metric printed only before the kept lines is missing: say why.
  const dropped = ring.total > METRIC_MAX_LINES ? [`read the last ${METRIC_MAX_LINES} of ${ring.total} METRIC lines; a metric printed only before them is not read`] : [];
  return { ok: true, metrics, warnings: [...dropped, ...parsed.warnings] };
}

export function metricLinesSource(): MetricSource {
  return { label: 'METRIC lines', read: readMetricLines };
}
