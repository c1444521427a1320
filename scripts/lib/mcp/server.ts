// The plugin's MCP server (stdio): Claude Code starts it with the session and
// stops it with the session (stdin closes). Each tools/call runs one engine
// command in a pre-started zygote (zygotes.ts), exactly as the CLI would run
// it; the server itself runs no engine code, so a call's locks, crash points,
// signals and exit code stay the CLI's.
import { cancelledId, failure, parseLine, success, type Id, type Incoming, type Outgoing } from './jsonrpc.ts';
import { toolCall, toolList, toolResult } from './tools.ts';
import { Zygotes } from './zygotes.ts';
import fs from 'node:fs';
import path from 'node:path';
import { STATE_DIR } from '../paths.ts';

/** Whether dir or a folder above it holds autoloop's state (an experiment was set up there). */
export function hasLoopState(dir: string): boolean {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, STATE_DIR))) return true;
    if (path.dirname(d) === d) return false;
  }
}

/** The protocol revisions this server speaks (their messages are the same for what it uses); the newest first. */
const VERSIONS = ['2025-06-18', '2025-03-26', '2024-11-05'];

export function serve(dist: string, version: string): void {
  const zygotes = new Zygotes(dist);
  const calls = new Map<Id, AbortController>();
  const send = (m: Outgoing): void => void process.stdout.write(`${JSON.stringify(m)}\n`);

  const onCall = async (id: Id, params: Incoming['params']) => {
    const c = toolCall(params);
    if ('error' in c) return send(c.known ? success(id, { content: [{ type: 'text', text: `${c.error}\n` }], isError: true }) : failure(id, -32602, c.error));
    const ctl = new AbortController();
    calls.set(id, ctl);
    const outcome = await zygotes.call(c.entry, c.argv, ctl.signal);
    calls.delete(id);
    // A cancelled request gets no answer (the client has stopped waiting for it).
    if (!ctl.signal.aborted) send(success(id, toolResult(outcome)));
  };

  const onMessage = (msg: Incoming): void => {
    const { id, method, params } = msg;
    if (id === undefined) {
      if (method === 'notifications/cancelled') {
        const which = cancelledId(params);
        if (which !== null) calls.get(which)?.abort();
      }
      return; // notifications/initialized and any other notification: nothing to answer
    }
    switch (method) {
      case 'initialize': {
        const asked = typeof params?.protocolVersion === 'string' ? params.protocolVersion : '';
        // Every session of a user with the plugin starts this server: a zygote (a Node process)
        // waits only where a loop can call it; elsewhere the first call starts one.
        if (hasLoopState(process.cwd())) zygotes.warm();
        return send(success(id, { protocolVersion: VERSIONS.includes(asked) ? asked : VERSIONS[0], capabilities: { tools: {} }, serverInfo: { name: 'autoloop', version } }));
      }
      case 'ping':
        return send(success(id, {}));
      case 'tools/list':
        return send(success(id, toolList()));
      case 'tools/call':
        return void onCall(id, params);
      default:
        return send(failure(id, -32601, `method not found: ${method}`));
    }
  };

  let closing = false;
  const end = () => {
    if (closing) return;
    closing = true;
    for (const ctl of calls.values()) ctl.abort();
    void zygotes.close().then(() => process.exit(0));
  };
  let pending = '';
  process.stdin.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (!line) continue;
      const r = parseLine(line);
      if (r.ok) onMessage(r.msg);
      else send(r.error);
    }
  });
  process.stdin.once('end', end);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(sig, end);
}
