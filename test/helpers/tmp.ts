// Every temporary folder a test file makes through tmpDir is removed after
// that file (test/setup-tmp.ts): a suite run otherwise leaves a thousand
// repositories in /tmp. Node's built-ins only, since every file loads it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made: string[] = [];

/** A new folder under `parent` (the system's temp folder by default), by its real path. */
export function tmpDir(prefix = 'autoloop-test-', parent = os.tmpdir()): string {
  const d = fs.realpathSync(fs.mkdtempSync(path.join(parent, prefix)));
  made.push(d);
  return d;
}

export function cleanupTmp(): void {
  for (const d of made.splice(0)) {
    try {
      fs.rmSync(d, { recursive: true, force: true });
    } catch {
      // a folder a test made unreadable: left, never a failure of the test
    }
  }
}
