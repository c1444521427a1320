// --watch: redraw as the ledger grows. fs.watch on the experiment directory
// gives prompt updates; a 1 s poll of the ledger's size and mtime catches what
// fs.watch misses (network filesystems, editors that replace files, platforms
// without inotify). Redraws are debounced and drawn in place (cursor home,
// each line followed by clear-to-end-of-line, then clear-to-end-of-screen), so
// the screen never flashes blank. Ctrl+C, q or SIGTERM restore the terminal.
import fs from 'node:fs';
import { termination } from '../reduce.ts';
import { chainUsedUp } from '../chain.ts';
import { chartDotColumns } from './chart.ts';
import { activityNow, changeStamp, chainTrail, loadExperiment, viewModel, refreshExperiment, type Loaded } from './load.ts';
import { renderTerminal } from './terminal.ts';
import { clipCells, sanitize } from './text.ts';
import { listExperiments, readActive } from '../experiment.ts';
import { experimentPaths, repoPaths } from '../paths.ts';

export const ENTER = '\x1b[?1049h\x1b[?25l';
export const LEAVE = '\x1b[?25h\x1b[?1049l';
const HOME = '\x1b[H';
const EOL = '\x1b[K';
const EOS = '\x1b[J';

export interface WatchOptions {
  root: string;
  slug: string;
  /**
   * The slug was not named (--experiment): follow the active experiment. A chain makes its
   * follow-up the active one, and a watch left overnight showed the terminated parent for good.
   */
  follow?: boolean;
  color: boolean;
  /** Draw in place with escape sequences (a terminal, or forced colour); otherwise append frames. */
  control: boolean;
  width?: number;
  stdout: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
  debounceMs?: number;
  pollMs?: number;
  /** Redraw at least this often (the time used ticks even when nothing is logged). */
  tickMs?: number;
}

/** A positive whole number of cells, else null (a terminal that reports 0, an unset or bad variable). */
function cells(n: number | string | undefined): number | null {
  const v = typeof n === 'string' ? Number.parseInt(n, 10) : n;
  return v !== undefined && Number.isInteger(v) && v > 0 ? v : null;
}

/**
 * The terminal's size. A pseudo-terminal whose size was never set (script, docker -t, ssh -t from a pipe)
 * reports 0 × 0: that was a frame one column wide, or one not fitted to any height that scrolled the
 * screen at every redraw. Then $COLUMNS / $LINES, else the 80 × 24 every terminal has at least.
 */
export function terminalSize(out: Pick<NodeJS.WriteStream, 'isTTY' | 'columns' | 'rows'>, env: NodeJS.ProcessEnv): { columns: number; rows: number | undefined } {
  if (!out.isTTY) return { columns: 100, rows: undefined };
  return { columns: cells(out.columns) ?? cells(env.COLUMNS) ?? 80, rows: cells(out.rows) ?? cells(env.LINES) ?? 24 };
}

/** The experiment active.json names now, when it differs from `slug` and exists; else null. */
export function activeSwitch(root: string, slug: string): string | null {
  const next = readActive(root)?.experiment;
  return next && next !== slug && listExperiments(root).includes(next) ? next : null;
}

function fileStamp(file: string): string {
  try {
    const s = fs.statSync(file);
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return '-';
  }
}

/** One frame's text (lines joined for drawing in place, or for appending). */
function frame(o: WatchOptions, loaded: Loaded, error: string | null): string {
  const out = o.stdout;
  const now = Date.now();
  const size = terminalSize(out, process.env);
  // One column is left free on a terminal: writing the last column puts the
  // cursor in a pending-wrap state where clear-to-end-of-line eats that cell.
  const width = Math.max(1, (o.width ?? size.columns) - (out.isTTY ? 1 : 0));
  const height = size.rows;
  const t = termination(loaded.state, loaded.config, now, () => chainUsedUp(o.root, o.slug));
  const model = viewModel(loaded, t, chainTrail(o.root, o.slug), now, chartDotColumns(width), { activity: activityNow(o.root, loaded), published: readActive(o.root) !== null });
  const lines = renderTerminal(model, { width, height: height !== undefined && error ? height - 1 : height, color: o.color });
  // Cut by cells, not UTF-16 units (a wide character or a split emoji wrapped the line).
  if (error) lines.push(`${o.color ? '\x1b[33m' : ''}${clipCells(sanitize(`watch: ${error}`), width)}${o.color ? '\x1b[0m' : ''}`);
  return lines.join(o.control ? `${EOL}\n` : '\n');
}

/**
 * What makes a redraw due: fs.watch on the experiment's directory, a poll of
 * the ledger's size and mtime, and a periodic tick. Returns what stops them.
 */
function redrawSources(o: WatchOptions, schedule: () => void): () => void {
  let watcher: fs.FSWatcher | null = null;
  let watched = '';
  // The experiment's folder, watched again when the experiment changes (following a chain).
  const watchDir = () => {
    const dir = experimentPaths(o.root, o.slug).dir;
    if (dir === watched) return;
    watcher?.close();
    watched = dir;
    try {
      watcher = fs.watch(dir, { persistent: true }, schedule);
      watcher.on('error', () => {
        watcher?.close();
        watcher = null;
      });
    } catch {
      watcher = null; // the poll below is enough
    }
  };
  watchDir();
  // The lock too: a run starting or ending shows within a poll, not at the next tick;
  // and active.json when following: a chain's switch shows within a poll.
  const probe = () => changeStamp(o.root, o.slug) + `|${fileStamp(repoPaths(o.root).lock)}` + (o.follow ? `|${fileStamp(repoPaths(o.root).active)}` : '');
  let stamp = probe();
  const intervals = [
    setInterval(() => {
      watchDir();
      const s = probe();
      if (s !== stamp) {
        stamp = s;
        schedule();
      }
    }, o.pollMs ?? 1000),
    setInterval(schedule, o.tickMs ?? 10_000),
  ];
  return () => {
    for (const i of intervals) clearInterval(i);
    watcher?.close();
  };
}

/** The experiment brought up to date; or, following, the one active.json names now, read afresh. */
function reload(o: WatchOptions, loaded: Loaded): Loaded {
  const next = o.follow ? activeSwitch(o.root, loaded.slug) : null;
  return next ? loadExperiment(o.root, next) : refreshExperiment(o.root, loaded);
}

/** Resolves with the exit code when the user quits. */
export function watchDashboard(opts: WatchOptions): Promise<number> {
  const o = { ...opts };
  let loaded: Loaded = loadExperiment(o.root, o.slug);
  let lastFrame = '';
  let error: string | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopSources: () => void = () => {};
  const out = o.stdout;

  const draw = () => {
    timer = null;
    try {
      loaded = reload(o, loaded);
      o.slug = loaded.slug; // following: a chain's follow-up, whose folder the poll watches from now on
      error = null;
    } catch (e) {
      // Keep showing the last good frame; say why it is stale.
      error = (e as Error).message.split('\n')[0] ?? 'error';
    }
    const body = frame(o, loaded, error);
    if (body === lastFrame) return;
    lastFrame = body;
    out.write(o.control ? `${HOME}${body}${EOL}${EOS}` : `${body}\n\n`);
  };
  const schedule = () => {
    if (timer) return;
    timer = setTimeout(draw, o.debounceMs ?? 120);
  };

  return new Promise<number>((resolve) => {
    let done = false;
    const stop = () => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      stopSources();
      out.off('resize', onResize);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.off('exit', restore);
      if (o.stdin.isTTY) {
        o.stdin.setRawMode(false);
        o.stdin.off('data', onKey);
        o.stdin.pause();
      }
      restore();
      resolve(0);
    };
    const restore = () => {
      if (o.control) out.write(LEAVE);
    };
    const onResize = () => {
      lastFrame = '';
      schedule();
    };
    const onKey = (b: Buffer) => {
      const k = b.toString('utf8');
      if (k === 'q' || k === 'Q' || k === '\x03' || k === '\x04') stop();
      else if (k === 'r') onResize();
    };

    if (o.control) out.write(ENTER);
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    // A crash must not leave the terminal in the alternate screen with no cursor.
    process.on('exit', restore);
    out.on('resize', onResize);
    if (o.stdin.isTTY) {
      o.stdin.setRawMode(true);
      o.stdin.on('data', onKey);
      o.stdin.resume();
    }
    stopSources = redrawSources(o, schedule);
    draw();
  });
}
