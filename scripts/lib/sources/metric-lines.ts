// The default metric source: `METRIC name=value` lines the benchmark prints,
// read from the sample's byte range of the run's log (stdout and stderr), with
// fixed buffers whatever the benchmark printed. Parsing is metrics.ts's.
import fs from 'node:fs';
import { parseMetrics } from '../metrics.ts';
import type { MetricSource, SampleOutput, SourceReading } from './types.ts';

export const METRIC_MAX_LINES = 10_000;
/** Longer METRIC lines are cut here and marked, so a runaway line cannot fill memory. */
export const METRIC_MAX_LINE_BYTES = 1024;
export const METRIC_TRUNCATED_MARK = ' [truncated by watchdog]';

const NEEDLE = Buffer.from('\nMETRIC');

/**
 * Lines in [start, end) of a file that start with "METRIC", streamed with one
 * fixed buffer. Keeps the last METRIC_MAX_LINES lines (a later line supersedes
 * an earlier one), each cut to METRIC_MAX_LINE_BYTES. chunkBytes is for tests.
 */
export async function scanMetricLines(
  file: string,
  start: number,
  end: number,
  chunkBytes = 1 << 20,
): Promise<string[]> {
  const keep = NEEDLE.length - 1; // bytes that may hold the start of a split needle
  const buf = Buffer.alloc(Math.max(chunkBytes, NEEDLE.length) + keep);
  const ring: string[] = [];
  let total = 0;
  let parts: Buffer[] = [];
  let partBytes = 0;
  let cut = false;
  let inLine = false;

  const take = (b: Buffer): void => {
    const room = METRIC_MAX_LINE_BYTES - partBytes;
    if (b.length > room) cut = true;
    const piece = b.length > room ? b.subarray(0, room) : b;
    if (piece.length === 0) return;
    parts.push(Buffer.from(piece)); // copy: buf is reused for the next chunk
    partBytes += piece.length;
  };
  const finish = (): void => {
    let line = Buffer.concat(parts).toString('utf8');
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (cut) line += METRIC_TRUNCATED_MARK;
    ring[total % METRIC_MAX_LINES] = line;
    total++;
    parts = [];
    partBytes = 0;
    cut = false;
    inLine = false;
  };

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
      const len = have + bytesRead;
      let p = 0;
      for (;;) {
        if (inLine) {
          const nl = buf.indexOf(0x0a, p);
          if (nl < 0 || nl >= len) {
            take(buf.subarray(p, len));
            have = 0;
            break;
          }
          take(buf.subarray(p, nl));
          finish();
          p = nl; // that "\n" may begin the next needle
        } else {
          const hit = buf.subarray(0, len).indexOf(NEEDLE, p);
          if (hit < 0) {
            // Carry the last bytes over: a needle may straddle the chunk boundary.
            const from = Math.max(p, len - keep);
            buf.copyWithin(0, from, len);
            have = len - from;
            break;
          }
          inLine = true;
          p = hit + 1;
        }
      }
    }
    if (inLine) finish();
  } finally {
    await fh.close();
  }
  if (total <= METRIC_MAX_LINES) return ring;
  const first = total % METRIC_MAX_LINES;
  return [...ring.slice(first), ...ring.slice(0, first)];
}

/** One value per metric and sample: a later line supersedes an earlier one. */
export async function readMetricLines(sample: SampleOutput): Promise<SourceReading> {
  let lines: string[];
  try {
    lines = await scanMetricLines(sample.log.file, sample.log.start, sample.log.end);
  } catch {
    lines = []; // the log vanished or was truncated mid-run: nothing printed
  }
  const parsed = parseMetrics(lines);
  const metrics: Record<string, number[]> = {};
  for (const [k, v] of Object.entries(parsed.metrics)) metrics[k] = [v];
  return { ok: true, metrics, warnings: parsed.warnings };
}

export function metricLinesSource(): MetricSource {
  return { label: 'METRIC lines', read: readMetricLines };
}
