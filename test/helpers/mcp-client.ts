// A minimal MCP client over stdio for the tests and bench/engine.ts: starts the
// plugin's server (dist/mcp.mjs) as Claude Code would, sends JSON-RPC lines,
// and matches the answers to their requests by id.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ToolAnswer {
  text: string;
  isError: boolean;
}

export class McpClient {
  readonly child: ChildProcess;
  private next = 1;
  private pending = '';
  private readonly waiting = new Map<number, (m: Record<string, unknown>) => void>();
  /** Lines that were no answer to a request of ours (the tests check there are none). */
  readonly stray: string[] = [];
  readonly exited: Promise<number | null>;
  stderr = '';

  constructor(server: string, opts: { cwd: string; env?: NodeJS.ProcessEnv }) {
    this.child = spawn(process.execPath, [server], { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr?.on('data', (b: Buffer) => (this.stderr += b.toString()));
    this.child.stdout?.on('data', (b: Buffer) => this.onData(b));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  private onData(b: Buffer): void {
    this.pending += b.toString('utf8');
    for (let nl = this.pending.indexOf('\n'); nl >= 0; nl = this.pending.indexOf('\n')) {
      const line = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      const m = JSON.parse(line) as Record<string, unknown>;
      const done = typeof m.id === 'number' ? this.waiting.get(m.id) : undefined;
      if (done) {
        this.waiting.delete(m.id as number);
        done(m);
      } else this.stray.push(line);
    }
  }

  /** Send one raw line (malformed input tests). */
  sendLine(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

  notify(method: string, params?: unknown): void {
    this.sendLine(JSON.stringify({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) }));
  }

  /** A request and its id (the answer comes later). */
  request(method: string, params?: unknown): { id: number; answer: Promise<Record<string, unknown>> } {
    const id = this.next++;
    const answer = new Promise<Record<string, unknown>>((resolve) => this.waiting.set(id, resolve));
    this.sendLine(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }));
    return { id, answer };
  }

  async initialize(): Promise<Record<string, unknown>> {
    const r = await this.request('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'autoloop-test', version: '1' } }).answer;
    this.notify('notifications/initialized');
    return r;
  }

  /** tools/call: the text and whether it is an error result. */
  async call(name: string, args: string[]): Promise<ToolAnswer> {
    const m = await this.request('tools/call', { name, arguments: { args } }).answer;
    const result = m.result as { content: { text: string }[]; isError?: boolean } | undefined;
    if (!result) throw new Error(`tools/call ${name}: ${JSON.stringify(m.error)}`);
    return { text: result.content.map((c) => c.text).join(''), isError: result.isError === true };
  }

  /** Close stdin (as Claude Code does at the session's end) and wait for the exit. */
  async close(): Promise<number | null> {
    this.child.stdin?.end();
    return this.exited;
  }
}
