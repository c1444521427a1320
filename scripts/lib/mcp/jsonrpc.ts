// The few JSON-RPC messages of MCP over stdio (one JSON object a line), checked
// with zod/mini at the boundary. Written here rather than taken from
// @modelcontextprotocol/sdk: the server answers six methods, and the SDK (with
// its classic-zod schemas, ajv and an HTTP stack) would be most of the bundle
// and land dependencies in the plugin's install, which ships none.
import * as z from '../zod.ts';

export type Id = string | number;

const IdSchema = z.union([z.string(), z.number()]);
const Message = z.object({
  jsonrpc: z.literal('2.0'),
  id: z.optional(IdSchema),
  method: z.string(),
  params: z.optional(z.record(z.string(), z.unknown())),
});

/** A request (with an id) or a notification (without); responses from the client are not expected here. */
export type Incoming = z.infer<typeof Message>;

/** One line: the message, or the JSON-RPC error to answer with (id null: the line had none we could read). */
export function parseLine(line: string): { ok: true; msg: Incoming } | { ok: false; error: Outgoing } {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { ok: false, error: failure(null, -32700, 'parse error: a line that is not JSON') };
  }
  const r = Message.safeParse(raw);
  if (r.success) return { ok: true, msg: r.data };
  const id = IdSchema.safeParse((raw as { id?: unknown } | null)?.id);
  return { ok: false, error: failure(id.success ? id.data : null, -32600, 'invalid request: not a JSON-RPC 2.0 request') };
}

export type Outgoing = { jsonrpc: '2.0'; id: Id | null; result?: unknown; error?: { code: number; message: string } };

export const success = (id: Id, result: unknown): Outgoing => ({ jsonrpc: '2.0', id, result });
export const failure = (id: Id | null, code: number, message: string): Outgoing => ({ jsonrpc: '2.0', id, error: { code, message } });

/** notifications/cancelled: the request it cancels. */
export function cancelledId(params: Record<string, unknown> | undefined): Id | null {
  const r = IdSchema.safeParse(params?.requestId);
  return r.success ? r.data : null;
}
