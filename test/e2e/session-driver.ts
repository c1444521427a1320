// What the whole-session tests share (sessions.test.ts, sessions-engine.test.ts):
// the pinned CLI installed once per file, fixtures cleaned after each test, and
// drive(): one session against a fresh scripted model.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, beforeAll, expect } from 'vitest';
import { ensureClaude } from './claude-cli.ts';
import { makeFixture, runSession, type Fixture, type Session, type SessionOptions } from './fixture.ts';
import { sinceLastAssistant, startMockApi, tool, type ApiRequest, type Logged, type MockOptions } from './mock-api.ts';

export const CONTEXT = 'SessionStart hook additional context: autoloop:';
export const FEEDBACK = 'Stop hook feedback';
export const SESSION_TIMEOUT = 600_000; // ends a hung session; not a speed check

export interface Driven {
  session: Session;
  /** Main-thread requests, in order. */
  main: ApiRequest[];
  log: Logged[];
}

export type DriveOptions = Omit<SessionOptions, 'claude' | 'apiUrl'> & Pick<MockOptions, 'script' | 'subagent'>;

/** Registers the file's hooks (install the CLI, clean fixtures) and returns its fixture and drive. */
export function sessionHarness(): { fixture: (opts?: Parameters<typeof makeFixture>[0]) => Fixture; drive: (o: DriveOptions) => Promise<Driven> } {
  let claude = '';
  const fixtures: Fixture[] = [];
  beforeAll(() => {
    claude = ensureClaude(); // installs the pinned CLI on first use
  }, 900_000);
  afterEach(() => {
    for (const f of fixtures.splice(0)) f.cleanup();
  });
  const fixture = (opts?: Parameters<typeof makeFixture>[0]): Fixture => {
    const f = makeFixture(opts);
    fixtures.push(f);
    return f;
  };
  const drive = async (o: DriveOptions): Promise<Driven> => {
    const api = await startMockApi({ script: o.script, subagent: o.subagent });
    try {
      const session = await runSession({ ...o, claude, apiUrl: api.url });
      if (api.errors.length) throw api.errors[0]!;
      expect(session.json, `claude printed no JSON result:\n${session.stdout}\n${session.stderr}`).not.toBeNull();
      return { session, main: api.main(), log: api.log };
    } finally {
      await api.close();
    }
  };
  return { fixture, drive };
}

export const read = (file: string) => tool('Read', { file_path: file });
export const edit = (file: string, old_string: string, new_string: string) => tool('Edit', { file_path: file, old_string, new_string, replace_all: false });
export const feedbackCount = (main: ApiRequest[]): number => main.filter((r) => sinceLastAssistant(r).includes(FEEDBACK)).length;
export const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
export const readJson = (file: string): Record<string, unknown> => JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
