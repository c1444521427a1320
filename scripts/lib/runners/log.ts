// The run's log file, as every runner writes it: output appended after a
// header line, and the bounded tail of a byte range read back for the model.
import fs from 'node:fs';
import path from 'node:path';
import { endsMidLine } from '../fsx.ts';

export const TAIL_MAX_LINES = 40;
export const TAIL_MAX_BYTES = 4096;

/** Open the log for appending and write the header on a line of its own. */
export function openLog(file: string, header: string | undefined): number {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'a+');
  if (header !== undefined) {
    // An earlier run may have ended mid-line: keep the header on its own line.
    const prefix = endsMidLine(fd) ? '\n' : '';
    fs.writeSync(fd, prefix + header + (header.endsWith('\n') ? '' : '\n'));
  }
  return fd;
}

/**
 * The end of the byte range [start, end) of a file: at most TAIL_MAX_LINES
 * lines and TAIL_MAX_BYTES bytes, starting on a line boundary when the window
 * holds one (else it is the end of one long line), never inside a UTF-8 character.
 */
export function readTail(file: string, start: number, end: number): string {
  const len = Math.min(TAIL_MAX_BYTES, Math.max(0, end - start));
  if (len === 0) return '';
  // One byte more when the window begins inside the range: it tells whether
  // the window's first line is whole.
  const extra = end - len > start ? 1 : 0;
  const buf = Buffer.alloc(len + extra);
  const fd = fs.openSync(file, 'r');
  let got = 0;
  try {
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, end - buf.length + got);
      if (n === 0) break;
      got += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  const fragmentFirst = extra === 1 && got > 0 && buf[0] !== 0x0a;
  let win = buf.subarray(extra, got);
  // Walk back over at most TAIL_MAX_LINES lines (a final "\n" ends the last
  // line; it does not start another one).
  let from = -1;
  let lines = 0;
  let i = win.length - 1;
  if (i >= 0 && win[i] === 0x0a) i--;
  for (; i >= 0; i--) {
    if (win[i] !== 0x0a) continue;
    if (++lines === TAIL_MAX_LINES) {
      from = i + 1;
      break;
    }
  }
  if (from < 0) {
    from = 0;
    if (fragmentFirst) {
      // Drop the partial first line when a whole line follows it.
      const nl = win.indexOf(0x0a);
      if (nl >= 0 && nl < win.length - 1) from = nl + 1;
    }
  }
  win = win.subarray(from);
  // Never start inside a multi-byte character (continuation bytes are 10xxxxxx).
  let k = 0;
  while (k < win.length && k < 3 && (win[k]! & 0xc0) === 0x80) k++;
  return win.subarray(k).toString('utf8');
}

