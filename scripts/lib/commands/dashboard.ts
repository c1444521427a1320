// The dashboard command: watch an experiment in the terminal, or share it as one
// HTML page. It prints its own view (the terminal's carries colour, which
// emit() would strip).
//   dashboard [--experiment SLUG] [--cwd DIR] [--width N]   the terminal view, once
//   dashboard --watch                                      redraw as the ledger grows (q or Ctrl+C quits)
//   dashboard --json                                       the view model as data
//   dashboard --html FILE                                  a self-contained page (chart + run table)
import fs from 'node:fs';
import path from 'node:path';
import * as z from '../zod.ts';
import { CommonFlags, emit, resolveCwd } from '../cli.ts';
import { findRoot, readActive, requireSegment, resolveSlug } from '../experiment.ts';
import { UsageError } from '../errors.ts';
import { writeFileAtomic } from '../fsx.ts';
import { termination } from '../reduce.ts';
import { chainUsedUp } from '../chain.ts';
import { activityNow, chainTrail, loadExperiment, viewModel } from '../dashboard/load.ts';
import { chartDotColumns } from '../dashboard/chart.ts';
import { renderTerminal, TABLE_ROWS } from '../dashboard/terminal.ts';
import { HTML_BUCKETS, renderHtml } from '../dashboard/html.ts';
import { colorEnabled } from '../dashboard/text.ts';
import { watchDashboard } from '../dashboard/watch.ts';

export const DASHBOARD_USAGE = 'usage: dashboard [--experiment SLUG] [--cwd DIR] [--width N] [--watch | --json | --html FILE]\n--html FILE: the page, written into a folder that must exist (a missing folder is refused, never created).\n';

export const DASHBOARD_OPTIONS = {
  experiment: { type: 'string' },
  watch: { type: 'boolean', default: false },
  html: { type: 'string' },
  width: { type: 'string' },
} as const;

export const DashboardFlags = z.object({
  ...CommonFlags,
  experiment: z.optional(z.string()),
  watch: z.boolean(),
  html: z.optional(z.string().check(z.minLength(1))),
  width: z.optional(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(1000))),
});

/** The width to lay out for: --width, the terminal, $COLUMNS, else 100. */
function layoutWidth(flag: number | undefined): number {
  if (flag) return flag;
  if (process.stdout.isTTY && process.stdout.columns) return process.stdout.columns;
  const env = Number.parseInt(process.env.COLUMNS ?? '', 10);
  return Number.isFinite(env) && env >= 1 ? env : 100;
}

/**
 * Where --html writes, checked before any work: its folder must exist (a typo
 * in the path should not quietly grow a directory tree, as `>` or cp would not)
 * and the page must not be a directory.
 */
function htmlTarget(flag: string): string {
  const file = path.resolve(flag);
  const dir = path.dirname(file);
  let st: fs.Stats | null = null;
  try {
    st = fs.statSync(dir);
  } catch {
    st = null;
  }
  if (!st) throw new UsageError(`--html: no such directory: ${dir} (create it first)`);
  if (!st.isDirectory()) throw new UsageError(`--html: not a directory: ${dir}`);
  if (fs.statSync(file, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--html: ${file} is a directory; name the page's file`);
  return file;
}

/** Draw the dashboard once (terminal, --json or --html), or keep redrawing it (--watch). */
export async function dashboardCommand(f: z.infer<typeof DashboardFlags>): Promise<number | void> {
  if ([f.watch, f.json, f.html !== undefined].filter(Boolean).length > 1) throw new UsageError('--watch, --json and --html cannot be combined');
  const root = findRoot(resolveCwd(f.cwd));
  const slug = resolveSlug(root, f.experiment);
  const page = f.html === undefined ? null : htmlTarget(f.html);
  const color = colorEnabled(process.env, process.stdout.isTTY === true);

  if (f.watch) {
    return watchDashboard({
      root,
      slug,
      follow: f.experiment === undefined,
      color,
      control: process.stdout.isTTY === true || color,
      width: f.width,
      stdout: process.stdout,
      stdin: process.stdin,
    });
  }

  const loaded = loadExperiment(root, slug, undefined, { once: true });
  requireSegment({ root, paths: loaded.paths, state: loaded.state });
  const now = Date.now();
  const t = termination(loaded.state, loaded.config, now, () => chainUsedUp(root, slug));
  const width = layoutWidth(f.width);
  // The one-shot terminal view lists only its last TABLE_ROWS runs: the model reads back no more.
  const table = f.json || f.html !== undefined ? {} : { rowsCap: TABLE_ROWS, keepsCap: 0 };
  const model = viewModel(loaded, t, chainTrail(root, slug), now, f.html ? HTML_BUCKETS : chartDotColumns(width), { ...table, activity: activityNow(root, loaded), published: readActive(root) !== null });

  if (f.json) return emit(true, model, '');
  if (page !== null) {
    const file = page;
    // A view, rewritten by every call: replaced atomically (never torn), not fsynced (a page lost to a power cut is drawn again).
    try {
      writeFileAtomic(file, renderHtml(model), { durable: false });
    } catch (e) {
      // Named as the page, not as the temporary file the atomic write went through.
      throw new UsageError(`--html: cannot write ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return emit(false, null, `wrote ${file} (${model.segment_runs} run${model.segment_runs === 1 ? '' : 's'} in segment ${model.segment})`);
  }
  process.stdout.write(renderTerminal(model, { width, color }).join('\n') + '\n');
}
