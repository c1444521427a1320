// A scripted stand-in for the Anthropic Messages API (platform doc §10), so
// that the real `claude` CLI runs whole sessions offline. Every request is
// logged; a test's script decides each main-thread turn by looking at the
// request (usually its last message: a tool_result, a hook's feedback).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Block = { type: 'text'; text: string } | { type: 'tool_use'; name: string; input: Record<string, unknown>; id?: string };

export interface ContentBlock {
  type: string;
  text?: string;
  name?: string;
  id?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: string | ContentBlock[];
  is_error?: boolean;
}

export interface Message {
  role: 'user' | 'assistant' | 'system';
  content: string | ContentBlock[];
}

export interface ApiRequest {
  model?: string;
  system?: string | ContentBlock[];
  messages: Message[];
  tools?: { name: string }[];
  stream?: boolean;
}

/** Who sent a request: the session's main thread, a subagent (Agent tool), or the CLI itself (titles, summaries). */
export type Role = 'main' | 'subagent' | 'side';

export interface Logged {
  path: string;
  /** Size of the request body as sent, in bytes. */
  bytes: number;
  role: Role | null;
  body: ApiRequest | null;
  /** Set when this request was answered with a fault instead of a turn. */
  fault?: Fault;
}

export interface Turn {
  /** How many main-thread requests came before this one. */
  index: number;
  req: ApiRequest;
}

export type Script = (turn: Turn) => Block[] | Promise<Block[]>;

/**
 * A failure answered instead of a model turn: an HTTP error status (429 with
 * retry-after, 529 overloaded, 500…) with the API's error body, or a
 * connection dropped before any answer.
 */
export type Fault =
  | { kind: 'status'; status: number; headers?: Record<string, string>; type?: string; message?: string }
  | { kind: 'drop' };

export const rateLimited = (retryAfterS: number, headers: Record<string, string> = {}): Fault => ({
  kind: 'status',
  status: 429,
  headers: { 'retry-after': String(retryAfterS), ...headers },
  type: 'rate_limit_error',
  message: 'Number of request tokens has exceeded your per-minute rate limit',
});
export const overloaded = (): Fault => ({ kind: 'status', status: 529, type: 'overloaded_error', message: 'Overloaded' });
export const serverError = (): Fault => ({ kind: 'status', status: 500, type: 'api_error', message: 'Internal server error' });
export const dropped = (): Fault => ({ kind: 'drop' });

/** Which main-thread requests fail: `n` counts every main request, faulted ones included. */
export type FaultPlan = (req: ApiRequest, n: number) => Fault | null;

export interface MockOptions {
  script: Script;
  /** Answer for subagent requests (a text summary). */
  subagent?: (req: ApiRequest) => string;
  /** Override how requests are classified. */
  classify?: (req: ApiRequest) => Role;
  /**
   * Consulted before the script for each main-thread request; a fault answers
   * the request instead (the script is not called and its turn index does not
   * advance, so a script reads the same with or without faults).
   */
  faults?: FaultPlan;
  /**
   * Keep each request's parsed body in the log (default true). A long session
   * that reads what it needs in its script turns it off: hundreds of ever-growing
   * requests otherwise stay in the test worker's heap until the end.
   */
  keepBodies?: boolean;
}

export interface MockApi {
  url: string;
  log: Logged[];
  /** Main-thread requests the script answered, in order (faulted ones are left out). */
  main(): ApiRequest[];
  /** Errors thrown by the script (a failing script must fail the test, not hang the CLI). */
  errors: Error[];
  /** Faults answered so far, in order (with the main-request count they answered). */
  faulted: { n: number; fault: Fault }[];
  close(): Promise<void>;
}

// ---------- reading requests ----------

export function textOf(content: string | ContentBlock[] | undefined): string {
  if (content === undefined) return '';
  if (typeof content === 'string') return content;
  return content
    .map((b) => (b.type === 'text' ? (b.text ?? '') : b.type === 'tool_result' ? textOf(b.content) : ''))
    .join('\n');
}

export function systemText(req: ApiRequest): string {
  return textOf(req.system);
}

/** Everything the model was shown in this request, as one string (system prompt, messages, tool results). */
export function seenText(req: ApiRequest): string {
  return [systemText(req), ...req.messages.map((m) => textOf(m.content))].join('\n');
}

export function lastMessage(req: ApiRequest): Message | undefined {
  return req.messages[req.messages.length - 1];
}

export interface ToolResult {
  tool_use_id: string;
  text: string;
  is_error: boolean;
}

/** tool_result blocks sent since the model's last turn (the CLI may append system notes after them). */
export function lastToolResults(req: ApiRequest): ToolResult[] {
  let i = req.messages.length;
  while (i > 0 && req.messages[i - 1]!.role !== 'assistant') i--;
  return allToolResults({ messages: req.messages.slice(i) });
}

/** Every tool_result the model has received so far in this conversation. */
export function allToolResults(req: ApiRequest): ToolResult[] {
  return req.messages.flatMap((m) =>
    typeof m.content === 'string'
      ? []
      : m.content.filter((b) => b.type === 'tool_result').map((b) => ({ tool_use_id: b.tool_use_id ?? '', text: textOf(b.content), is_error: b.is_error === true })),
  );
}

/** Text of the trailing user message(s) after the last assistant turn (hook feedback lands there). */
export function sinceLastAssistant(req: ApiRequest): string {
  const out: string[] = [];
  for (let i = req.messages.length - 1; i >= 0 && req.messages[i]!.role !== 'assistant'; i--) out.unshift(textOf(req.messages[i]!.content));
  return out.join('\n');
}

/** Number of assistant turns so far. */
export const assistantTurns = (req: ApiRequest): number => req.messages.filter((m) => m.role === 'assistant').length;

// ---------- answering ----------

export const text = (t: string): Block => ({ type: 'text', text: t });
export const tool = (name: string, input: Record<string, unknown>): Block => ({ type: 'tool_use', name, input });
export const bash = (command: string, description = 'run a command'): Block => tool('Bash', { command, description });

let ids = 0;

function answerFault(res: http.ServerResponse, fault: Fault): void {
  if (fault.kind === 'drop') {
    res.socket?.destroy(); // no status line, no body: the client sees a reset connection
    return;
  }
  const body = { type: 'error', error: { type: fault.type ?? 'api_error', message: fault.message ?? `HTTP ${fault.status}` } };
  res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
  res.end(JSON.stringify(body));
}

function sse(res: http.ServerResponse, blocks: Block[], model: string): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const send = (type: string, data: Record<string, unknown>): void => {
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  };
  send('message_start', {
    message: { id: `msg_mock_${++ids}`, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } },
  });
  blocks.forEach((b, index) => {
    if (b.type === 'text') {
      send('content_block_start', { index, content_block: { type: 'text', text: '' } });
      send('content_block_delta', { index, delta: { type: 'text_delta', text: b.text } });
    } else {
      send('content_block_start', { index, content_block: { type: 'tool_use', id: b.id ?? `toolu_mock_${++ids}`, name: b.name, input: {} } });
      send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(b.input) } });
    }
    send('content_block_stop', { index });
  });
  const stop = blocks.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn';
  send('message_delta', { delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: 5 } });
  send('message_stop', {});
  res.end();
}

/**
 * Main thread vs subagent vs the CLI's own side requests. Subagent requests
 * carry `cc_is_subagent=true` in the system prompt's billing line (seen with
 * 2.1.329); side requests (titles, summaries) come without tools.
 */
export function defaultClassify(req: ApiRequest): Role {
  if (/cc_is_subagent=true/.test(systemText(req))) return 'subagent';
  if (!req.tools || req.tools.length === 0) return 'side';
  return 'main';
}

export async function startMockApi(opts: MockOptions): Promise<MockApi> {
  const log: Logged[] = [];
  const errors: Error[] = [];
  const classify = opts.classify ?? defaultClassify;
  const faulted: { n: number; fault: Fault }[] = [];
  let mainCount = 0;
  let mainRequests = 0;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const url = req.url ?? '';
        let body: ApiRequest | null = null;
        const raw = Buffer.concat(chunks);
        const bytes = raw.length;
        try {
          body = JSON.parse(raw.toString('utf8')) as ApiRequest;
        } catch {
          body = null;
        }
        const isMessages = req.method === 'POST' && /^\/v1\/messages(\?|$)/.test(url);
        if (!isMessages || !body || !Array.isArray(body.messages)) {
          log.push({ path: url, bytes, role: null, body });
          // Token counting and anything else: a small, valid JSON answer.
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(url.includes('count_tokens') ? { input_tokens: 10 } : {}));
          return;
        }
        const role = classify(body);
        log.push({ path: url, bytes, role, body: opts.keepBodies === false ? null : body });
        if (role === 'main' && opts.faults) {
          const n = mainRequests++;
          const fault = opts.faults(body, n);
          if (fault) {
            faulted.push({ n, fault });
            log[log.length - 1]!.fault = fault;
            answerFault(res, fault);
            return;
          }
        }
        const model = body.model ?? 'claude-mock';
        let blocks: Block[];
        try {
          if (role === 'main') blocks = await opts.script({ index: mainCount++, req: body });
          else if (role === 'subagent') blocks = [text(opts.subagent ? opts.subagent(body) : 'SUBAGENT-REPORT: nothing notable.')];
          else blocks = [text('Mock session')];
        } catch (err) {
          errors.push(err instanceof Error ? err : new Error(String(err)));
          blocks = [text(`MOCK SCRIPT ERROR: ${String(err)}`)];
        }
        if (blocks.length === 0) blocks = [text('(done)')];
        sse(res, blocks, model);
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    errors,
    faulted,
    main: () => log.filter((l) => l.role === 'main' && l.body && !l.fault).map((l) => l.body!),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
