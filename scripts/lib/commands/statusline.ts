// The statusline command: a Claude Code status line. Claude Code pipes its
// status-line JSON (cwd, workspace.current_dir, …) to stdin and shows the one
// line printed. No git, no ledger: .autoloop/active.json and the state cache
// only (dashboard/statusline.ts); nothing else is imported, to start fast.
import { dirFromInput, statusLineFor } from '../dashboard/statusline.ts';

async function readStdin(limitMs: number): Promise<string> {
  if (process.stdin.isTTY) return '';
  return new Promise((resolve) => {
    let data = '';
    const done = () => {
      clearTimeout(timer);
      process.stdin.pause();
      resolve(data);
    };
    // Claude Code closes stdin after the JSON; never hang if something does not.
    const timer = setTimeout(done, limitMs);
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (c: string) => {
      data += c;
      if (data.length > 1_000_000) done();
    });
    process.stdin.on('end', done);
    process.stdin.on('error', done);
  });
}

/** Print the status line for the directory Claude Code names (else the cwd), or nothing. */
export async function statuslineCommand(): Promise<void> {
  // A closed pipe on the reader's side is not our failure either.
  process.stdout.on('error', () => undefined);
  let input: unknown = null;
  try {
    const text = await readStdin(500);
    input = text.trim() ? (JSON.parse(text) as unknown) : null;
  } catch {
    input = null;
  }
  const line = statusLineFor(dirFromInput(input) ?? process.cwd());
  if (line) process.stdout.write(line + '\n');
}
