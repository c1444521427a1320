// The plugin's MCP server (dist/mcp.mjs) over stdio, as Claude Code drives it:
// real server, real pre-started engine processes (zygotes), real repositories.
// Each call must land exactly as the same CLI call does.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { alive, baselineRepo, bundle, engine, git, ledger, processesIn, setValue, waitFor } from './helpers/engine.ts';
import { McpClient } from './helpers/mcp-client.ts';
import { parentMap } from '../scripts/lib/procs.ts';
import { tmpDir } from './helpers/tmp.ts';
import { TOOLS } from '../scripts/lib/mcp/tools.ts';
import { ENGINE_TOOL_PREFIX, engineOfTool } from '../hooks/src/mcp-tools.ts';

const server = () => path.join(path.dirname(bundle('status')), 'mcp.mjs');
const start = (cwd: string, file = server()) => new McpClient(file, { cwd });

/** A folder whose .autoloop/ makes the server start its zygote with the session. */
function loopDir(): string {
  const d = tmpDir('mcp-');
  fs.mkdirSync(path.join(d, '.autoloop'));
  return d;
}

/** Every live descendant of pid (the server's zygotes and what they started). */
function descendants(pid: number): number[] {
  const parents = parentMap();
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of parents) if (pp === p && !out.includes(c)) (out.push(c), walk(c));
  };
  walk(pid);
  return out.filter((p) => alive(p));
}

/** A bounded poll for processes that must end by themselves; survivors are killed so a failure leaves no orphans. */
async function survivors(pids: number[]): Promise<number[]> {
  const left = () => pids.filter((p) => alive(p));
  for (let i = 0; i < 400 && left().length; i++) await new Promise((r) => setTimeout(r, 25));
  const l = left();
  for (const p of l) process.kill(p, 'SIGKILL');
  return l;
}

/** The ledger's results without what differs between any two runs (times, durations). */
const results = (repo: string) =>
  ledger(repo)
    .filter((l) => l.type === 'result')
    .map((l) => ({ run: l.run_id, verdict: l.verdict, primary: l.primary, description: l.description, files: l.files }));

describe('the MCP server', () => {
  it('has the tools the hooks know, each running the engine command they count it as', () => {
    for (const t of TOOLS) expect(engineOfTool(`${ENGINE_TOOL_PREFIX}${t.name}`)).toBe(t.entry);
    expect(engineOfTool(`${ENGINE_TOOL_PREFIX}constructor`)).toBeNull();
  });

  it('answers initialize and tools/list: run, log, status, each taking the CLI\'s arguments', async () => {
    const c = start(tmpDir('mcp-'));
    const init = await c.initialize();
    expect(init.result).toMatchObject({ protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'autoloop' } });
    const list = (await c.request('tools/list').answer).result as { tools: { name: string; inputSchema: unknown }[] };
    expect(list.tools.map((t) => t.name)).toEqual(['run', 'log', 'status']);
    expect((await c.request('ping').answer).result).toEqual({});
    expect((await c.request('no/such').answer).error).toMatchObject({ code: -32601 });
    c.sendLine('not json');
    expect(await c.close()).toBe(0);
    expect(c.stray.map((l) => JSON.parse(l) as unknown)).toEqual([{ jsonrpc: '2.0', id: null, error: { code: -32700, message: expect.any(String) } }]);
  });

  it('makes a keep and a discard that land in git and the ledger exactly as the CLI\'s', async () => {
    const viaMcp = baselineRepo('100');
    const viaCli = baselineRepo('100');
    const c = start(viaMcp);
    await c.initialize();
    const outputs: string[][] = [];
    for (const [value, what] of [['90', 'lower'], ['95', 'higher']]) {
      setValue(viaMcp, value!);
      setValue(viaCli, value!);
      const m = await c.call('run', ['--description', what!]);
      const r = engine('run-experiment', ['--description', what!], viaCli);
      expect(m.isError, m.text).toBe(false);
      expect(r.code, r.stderr).toBe(0);
      outputs.push([m.text, r.stdout + r.stderr]);
    }
    expect(await c.close()).toBe(0);
    // The answers differ only in durations and commit ids.
    const shape = (t: string) => t.replace(/\b[0-9a-f]{7,40}\b/g, '<sha>').replace(/\d+(\.\d+)?\s?(ms|s)\b/g, '<t>');
    for (const [m, r] of outputs) expect(shape(m!)).toBe(shape(r!));
    expect(results(viaMcp)).toEqual(results(viaCli));
    expect(results(viaMcp).slice(-2).map((l) => l.verdict)).toEqual(['keep', 'discard']);
    expect(git(viaMcp, 'rev-parse', 'HEAD^{tree}')).toBe(git(viaCli, 'rev-parse', 'HEAD^{tree}'));
    expect(git(viaMcp, 'log', '--format=%s%n%b')).toBe(git(viaCli, 'log', '--format=%s%n%b'));
    expect(fs.readFileSync(path.join(viaMcp, 'src', 'value.txt'), 'utf8')).toBe('90');
  });

  it('gives a bad argument the CLI\'s one-line error as an error result, and goes on serving', async () => {
    const repo = baselineRepo('100');
    const c = start(repo);
    await c.initialize();
    const cli = engine('run-experiment', ['--bogus'], repo);
    const m = await c.call('run', ['--bogus', '--cwd', repo]);
    expect(m).toEqual({ text: `${cli.stderr}exit ${cli.code}\n`, isError: true });
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);
    const typed = (await c.request('tools/call', { name: 'run', arguments: { args: '--bogus' } }).answer).result as { content: { text: string }[]; isError: boolean };
    expect(typed.isError).toBe(true);
    expect(typed.content[0]!.text.trim().split('\n')).toHaveLength(1);
    expect((await c.request('tools/call', { name: 'nope', arguments: {} }).answer).error).toMatchObject({ code: -32602 });
    const status = await c.call('status', []);
    expect(status.isError, status.text).toBe(false);
    expect(await c.close()).toBe(0);
  });

  it('runs a call on bundles loaded ahead: their schemas built before it (counted by the CLI, not by the call)', async () => {
    const repo = baselineRepo('100');
    const counts = (file: string): Record<string, number> =>
      Object.fromEntries(fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => [l.split(' ')[0], Number(l.split(' ')[1])]));
    const viaCli = path.join(tmpDir('mcp-count-'), 'cli');
    expect(engine('status', [], repo, { AUTOLOOP_COUNT_IO: viaCli }).code).toBe(0);
    expect(counts(viaCli).schema).toBeGreaterThan(0);
    const viaMcp = path.join(tmpDir('mcp-count-'), 'mcp');
    const c = new McpClient(server(), { cwd: repo, env: { ...process.env, AUTOLOOP_COUNT_IO: viaMcp } });
    await c.initialize();
    const a = await c.call('status', []);
    expect(a.isError).toBe(false);
    expect(a.text).toMatch(/exp/);
    // The call counted its own work (a git process), and no schema: they were built while it waited.
    expect(counts(viaMcp).git).toBeGreaterThan(0);
    expect(counts(viaMcp).schema ?? 0).toBe(0);
    expect(await c.close()).toBe(0);
  });

  it('answers a call once it has told its exit code, while its process is still taking itself down', async () => {
    const repo = baselineRepo('100');
    // Each call's process stops itself after its answer is out (AUTOLOOP_STOP_AT): a long teardown.
    const c = new McpClient(server(), { cwd: repo, env: { ...process.env, AUTOLOOP_STOP_AT: 'zygote:teardown' } });
    await c.initialize();
    const ok = await c.call('status', []);
    expect(ok).toMatchObject({ isError: false });
    expect(ok.text).toMatch(/exp/);
    expect(ok.text).not.toContain('\u0000');
    const bad = await c.call('status', ['--no-such-flag']);
    expect(bad.isError).toBe(true);
    expect(bad.text).toMatch(/no-such-flag/);
    expect(bad.text).not.toContain('autoloop-exit');
    // Both are still there, stopped; the server's end takes them (a stopped process dies of SIGKILL).
    const stopped = descendants(c.child.pid!).filter((p) => fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.startsWith('T'));
    expect(stopped.length).toBeGreaterThanOrEqual(2);
    for (const p of stopped) process.kill(p, 'SIGKILL');
    expect(await c.close()).toBe(0);
  });

  it('kills a cancelled call\'s whole tree: a benchmark that ignores SIGTERM and forks children', async () => {
    const repo = baselineRepo('100', ['--timeout', '600', '--grace', '0.2']);
    setValue(repo, '1 slow');
    const c = start(loopDir()); // not in the repository: processesIn(repo) is the call's tree only
    await c.initialize();
    // The zygote started with the session becomes the call's engine (its cwd stays the server's).
    await waitFor(() => descendants(c.child.pid!).length > 0);
    const [engineProcess] = descendants(c.child.pid!);
    const call = c.request('tools/call', { name: 'run', arguments: { args: ['--cwd', repo] } });
    let answered = false;
    void call.answer.then(() => (answered = true));
    await waitFor(() => fs.existsSync(path.join(repo, '.pids')) && fs.readFileSync(path.join(repo, '.pids'), 'utf8').trim().split('\n').length >= 3);
    const tree = [engineProcess!, ...processesIn(repo)];
    expect(tree.length).toBeGreaterThanOrEqual(4); // the engine and the benchmark's three processes
    c.notify('notifications/cancelled', { requestId: call.id, reason: 'the user pressed Esc' });
    expect(await survivors(tree)).toEqual([]);
    expect(processesIn(repo)).toEqual([]);
    // The engine ended the run as a SIGTERM of the CLI does: recorded as interrupted; a cancelled request gets no answer.
    const rec = JSON.parse(fs.readFileSync(path.join(repo, '.autoloop', 'experiments', 'exp', 'runs', 'r0002', 'result.json'), 'utf8')) as { phase: string };
    expect(rec.phase).toBe('interrupted');
    expect((await c.request('ping').answer).result).toEqual({});
    expect(answered).toBe(false);
    expect(await c.close()).toBe(0);
  });

  it('leaves no process behind when it ends: closed stdin, or killed with SIGKILL (the idle zygote dies with it)', async () => {
    for (const how of ['close', 'SIGKILL'] as const) {
      const c = start(loopDir());
      await c.initialize();
      await waitFor(() => descendants(c.child.pid!).length > 0);
      const kids = descendants(c.child.pid!);
      if (how === 'close') expect(await c.close()).toBe(0);
      else {
        c.child.kill('SIGKILL');
        await c.exited;
      }
      expect(await survivors(kids)).toEqual([]);
    }
  });

  it('starts no engine process with a session outside any loop; the first call starts one', async () => {
    const c = start(tmpDir('mcp-'));
    await c.initialize();
    expect((await c.request('ping').answer).result).toEqual({});
    expect((await c.request('tools/list').answer).result).toBeTruthy();
    expect(descendants(c.child.pid!)).toEqual([]);
    const repo = baselineRepo('100');
    expect((await c.call('status', ['--cwd', repo])).text).toMatch(/exp/);
    await waitFor(() => descendants(c.child.pid!).length > 0); // the next call's, after the answer
    expect(await c.close()).toBe(0);
  });

  it('starts a fresh zygote when dist/ is rebuilt under it (a plugin update)', async () => {
    const dist = tmpDir('mcp-dist-');
    fs.cpSync(path.dirname(bundle('status')), dist, { recursive: true, verbatimSymlinks: true });
    const repo = baselineRepo('100');
    const c = start(repo, path.join(dist, 'mcp.mjs'));
    await c.initialize();
    expect((await c.call('status', [])).text).toMatch(/exp/);
    // The next zygote is up (it read the bundles) before the rebuild: a stale one would answer the old way.
    await waitFor(() => descendants(c.child.pid!).length > 0);
    await new Promise((r) => setTimeout(r, 500));
    const rebuilt = path.join(dist, 'status.cjs.new');
    fs.writeFileSync(rebuilt, "(function (exports, require, module, __filename, __dirname) {process.stdout.write('rebuilt\\n')\n})\n");
    fs.renameSync(rebuilt, path.join(dist, 'status.cjs'));
    expect(await c.call('status', [])).toEqual({ text: 'rebuilt\n', isError: false });
    expect(await c.close()).toBe(0);
  });
});
