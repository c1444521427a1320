// The statusline command: a Claude Code status line. Claude Code pipes its
// status-line JSON (cwd, workspace.current_dir, …) to stdin and shows the one
// line printed. No git, no ledger: .autoloop/active.json and the state cache
// only (dashboard/statusline.ts); nothing else is imported, to start fast.
import { dirFromInput, statusLineFor } from '../dashboard/statusline.ts';

async function readStdin(limitMs: number): Promise<string> {
  if (process.stdin.isTTY) return '';
  return new Promise((resolve) => {
    let data = '';
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      process.stdin.pause();
      resolve(data);
    };
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (c: string) => {
      data += c;
      if (data.length > 1_000_000) done();
    });
    process.stdin.on('end', done);
    process.stdin.on('error', done);
    // Claude Code closes stdin after the JSON; never hang if something does not. The wait is armed
    // after the event loop's first look at stdin: a process held off the CPU for longer than the
    // wait (a loaded machine) still reads the JSON that was already there, instead of nothing.
    setImmediate(() => {
      if (!finished) timer = setTimeout(done, limitMs);
    });
  });
}

/**
 * Only a writer that never closes stdin meets this wait (Claude Code closes it after the JSON), so
 * it can be long enough that a loaded machine's scheduling never cuts the JSON short.
 */
const STDIN_WAIT_MS = 3000;

/** Print the status line for the directory Claude Code names (else the cwd), or nothing. */
export async function statuslineCommand(): Promise<void> {
  // A closed pipe on the reader's side is not our failure either.
  process.stdout.on('error', () => undefined);
  let input: unknown = null;
  try {
    const text = await readStdin(STDIN_WAIT_MS);
    input = text.trim() ? (JSON.parse(text) as unknown) : null;
  } catch {
    input = null;
  }
  const line = statusLineFor(dirFromInput(input) ?? process.cwd());
  if (line) process.stdout.write(line + '\n');
}
