// The console's Gate directory actions (issue 13, docs/console.md): create a gate, make a key package, invite by key
// package, accept pending invitations, rotate, remove a member, read and post as the gate's member persona. Every
// action calls the node's MLS handler table — the same one the local API (`POST /api/v1/gate.*`, what the CLI uses)
// and the bus serve — so an action means exactly what the CLI command means. This module only picks the fields the
// page may send, bounds them, and turns the invitee's key-package JSON into the three fields `gate.invite` takes.
//
// The page authenticates with the console cookie, so a state-changing request must also prove it comes from the
// console page itself: a custom header (a cross-origin page cannot send one without a CORS preflight, which the node
// never grants) and, when the browser names one, an Origin equal to the node's own.
//
// Private content: `read` and `post` need the persona the page acts as, and it must be this node's member persona of
// the gate (gate.list's `persona`); posts are decrypted on the node and only then handed to the page.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import { apiErrorOf } from './local-api.js';

export type GateCommand = (body: unknown) => Promise<unknown>;
/** The node's MLS handler table (mls/mls-handlers.ts), or the part of it the console uses. */
export type GateCommands = Partial<Record<string, GateCommand>>;

/** The header the console page sends with every action (docs/console.md). */
export const CONSOLE_ACTION_HEADER = 'x-infonet-console';
/** Bound on one text field from the page (a key package JSON is ~1 KiB; a post ≤ 4 KiB by the MLS owner's rule). */
export const CONSOLE_FIELD_MAX = 16 * 1024;

const bad = (reason: string): never => {
  throw new InfonetError(ErrorCodes.BAD_INPUT, reason);
};

function body(v: unknown): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) return bad('body must be a JSON object');
  return v as Record<string, unknown>;
}

/** A string field from the page: absent → undefined, else a string of at most CONSOLE_FIELD_MAX characters (trimmed,
 *  except a post's text, which is the member's own words). */
function text(b: Record<string, unknown>, name: string, required = false, trim = true): string | undefined {
  const v = b[name];
  if (v === undefined || v === null || v === '') return required ? bad(`${name} is required`) : undefined;
  if (typeof v !== 'string') return bad(`${name} must be text`);
  if (v.length > CONSOLE_FIELD_MAX) return bad(`${name} is longer than ${CONSOLE_FIELD_MAX} characters`);
  return trim ? v.trim() : v;
}

function jsonObject(raw: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return bad(`${what} is not JSON`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return bad(`${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

/** The invitee's key package as `infonet gate key-package` prints it → the fields gate.invite takes. */
export function keyPackageFields(raw: string): { mls_key_package: string; welcome_dh_pub: string; recipient_id: string } {
  const what = 'the key package (the JSON `infonet gate key-package` prints)';
  const kp = jsonObject(raw, what);
  const out: Record<string, string> = {};
  for (const k of ['mls_key_package', 'welcome_dh_pub', 'recipient_id'] as const) {
    if (typeof kp[k] !== 'string' || kp[k] === '') return bad(`${what} has no ${k}`);
    out[k] = kp[k] as string;
  }
  return out as { mls_key_package: string; welcome_dh_pub: string; recipient_id: string };
}

interface Action {
  command: string;
  /** The command's body from the page's fields (only these fields pass). */
  args(b: Record<string, unknown>): Record<string, unknown>;
  /** Needs the gate's member persona on this node (private content). */
  asMember?: boolean;
}

const ACTIONS: Record<string, Action> = {
  create: {
    command: 'gate.create',
    args: (b) => {
      const rules = text(b, 'rules');
      return { gate_id: text(b, 'gate_id', true), display_name: text(b, 'display_name'), persona: text(b, 'persona') ?? 'default', rules: rules ? jsonObject(rules, 'rules') : {} };
    },
  },
  key_package: { command: 'gate.key_package', args: (b) => ({ persona: text(b, 'persona', true) }) },
  invite: { command: 'gate.invite', args: (b) => ({ gate: text(b, 'gate', true), ...keyPackageFields(text(b, 'key_package', true)!) }) },
  accept: { command: 'gate.accept', args: (b) => ({ persona: text(b, 'persona', true) }) },
  rotate: { command: 'gate.rotate', args: (b) => ({ gate: text(b, 'gate', true) }) },
  remove: { command: 'gate.remove', args: (b) => ({ gate: text(b, 'gate', true), member: text(b, 'member', true) }) },
  read: { command: 'gate.read', asMember: true, args: (b) => ({ gate: text(b, 'gate', true) }) },
  post: { command: 'gate.post', asMember: true, args: (b) => ({ gate: text(b, 'gate', true), text: text(b, 'text', true, false) }) },
};

export const CONSOLE_GATE_ACTIONS = Object.keys(ACTIONS);

/** Same-origin proof for a cookie-authenticated action (see the header comment). */
function fromConsolePage(req: FastifyRequest): boolean {
  if (req.headers[CONSOLE_ACTION_HEADER] !== '1') return false;
  const origin = req.headers.origin;
  return origin === undefined || origin === `http://${req.headers.host ?? ''}`;
}

export function registerConsoleGateRoutes(
  app: FastifyInstance,
  allowed: (req: FastifyRequest) => boolean,
  deny: (reply: FastifyReply) => FastifyReply,
  commands: GateCommands,
): void {
  const call = async (name: string, args: Record<string, unknown>): Promise<unknown> => {
    const fn = commands[name];
    if (!fn) throw new InfonetError(ErrorCodes.UNAVAILABLE, `${name} is not served by this node`);
    return fn(args);
  };
  const answer = async (reply: FastifyReply, command: string, run: () => Promise<unknown>): Promise<unknown> => {
    try {
      return { ok: true, result: await run() };
    } catch (e) {
      const { status, body: b } = apiErrorOf(e, command);
      return reply.code(status).send(b);
    }
  };

  // The directory and each persona's pending invitations, read together for the page.
  app.get('/console-api/gates', async (req, reply) => {
    if (!allowed(req)) return deny(reply);
    return answer(reply, 'gate.list', async () => {
      const [list, pending] = await Promise.all([call('gate.list', {}), commands['gate.pending'] ? call('gate.pending', {}) : { personas: [] }]);
      return { ...(list as object), ...(pending as object) };
    });
  });

  app.get('/console-api/gates/:gate', async (req, reply) => {
    if (!allowed(req)) return deny(reply);
    return answer(reply, 'gate.show', () => call('gate.show', { gate: (req.params as { gate: string }).gate }));
  });

  app.post('/console-api/gate/:action', async (req, reply) => {
    if (!allowed(req)) return deny(reply);
    const name = (req.params as { action: string }).action;
    const action = Object.prototype.hasOwnProperty.call(ACTIONS, name) ? ACTIONS[name] : undefined;
    if (!fromConsolePage(req)) {
      return reply.code(403).send({ ok: false, error: { code: ErrorCodes.PEER_AUTH, reason: `console actions need the ${CONSOLE_ACTION_HEADER} header and the node's own origin` } });
    }
    if (!action) return reply.code(404).send({ ok: false, error: { code: ErrorCodes.NOT_FOUND, reason: `unknown gate action ${name}` } });
    return answer(reply, action.command, async () => {
      const b = body(req.body);
      const args = action.args(b);
      if (action.asMember) await checkMemberPersona(call, String(args.gate), text(b, 'persona', true)!);
      return call(action.command, args);
    });
  });
}

/** Private content only for the gate's member persona on this node. */
async function checkMemberPersona(call: (name: string, args: Record<string, unknown>) => Promise<unknown>, gate: string, persona: string): Promise<void> {
  const g = (await call('gate.show', { gate })) as { member?: boolean; persona?: string };
  if (!g.member || g.persona !== persona) {
    throw new InfonetError(ErrorCodes.NOT_MEMBER, `persona ${persona} is not this node's member of gate ${gate}: its posts are shown only to the member persona`);
  }
}
