// Who may publish and subscribe to what on the bus (docs/bus-auth.md). Pure: the policy as data, rendered into the
// nats-server config by bus/nats-server.ts. NATS evaluates deny before allow, and anything not allowed is denied, so
// each role lists exactly what it needs.
//
// Subjects (bus/subjects.ts, transports/bus-peer-protocol.ts): infonet.<node>.cmd.>  commands to one node,
// infonet.<node>.evt.>  its events, infonet.<node>.peer.>  its peer routes (HMAC-authenticated on top, §8.2),
// _INBOX.>  request replies, $SRV.>  micro-service discovery, $JS.API.> / infonet_rec.>  the recorder's JetStream.

export interface SubjectPermissions {
  publish: string[];
  subscribe: string[];
}

/** Roles on a node's embedded server. */
export type NodeRole = 'service' | 'operator' | 'peer';
export const NODE_ROLES: readonly NodeRole[] = ['service', 'operator', 'peer'];

/**
 * - service: the node process itself — answers its commands and peer routes, publishes its events, calls other
 *   nodes' peer routes (bus transport), answers discovery. It may command itself, never another node.
 * - operator: the CLI / harness of this node — its commands, what passes through its server (events, the recorder),
 *   discovery, and the recorder's JetStream.
 * - peer: another node that connects as a plain client — only this node's peer routes.
 */
export function nodeRolePermissions(nodeToken: string, role: NodeRole): SubjectPermissions {
  const n = `infonet.${nodeToken}`;
  switch (role) {
    case 'service':
      return { publish: [`${n}.cmd.>`, `${n}.evt.>`, 'infonet.*.peer.>', '_INBOX.>'], subscribe: [`${n}.cmd.>`, `${n}.peer.>`, '_INBOX.>', '$SRV.>'] };
    case 'operator':
      return {
        publish: [`${n}.cmd.>`, '$SRV.>', '$JS.API.>', 'infonet_rec.>'],
        // `infonet.>` so the recorder's default works; on this server that is only this node's traffic and its own
        // calls to peers (a hub forwards a leaf nothing else), all of which the operator can read in <data> anyway.
        subscribe: ['infonet.>', '_INBOX.>'],
      };
    case 'peer':
      return { publish: [`${n}.peer.>`], subscribe: ['_INBOX.>'] };
  }
}

/**
 * A node's leaf link as the hub sees it (publish = what the leaf may send into the hub, subscribe = what the hub
 * forwards to it): its own subjects, other nodes' peer routes, replies and discovery. Never another node's commands
 * or events, whatever credentials exist on the leaf's own server.
 */
export function leafLinkPermissions(nodeToken: string): SubjectPermissions {
  const n = `infonet.${nodeToken}`;
  return { publish: [`${n}.evt.>`, 'infonet.*.peer.>', '_INBOX.>'], subscribe: [`${n}.cmd.>`, `${n}.peer.>`, '_INBOX.>', '$SRV.>'] };
}

/** The hub's (or a harness's) administrator: every subject. */
export const ADMIN_PERMISSIONS: SubjectPermissions = { publish: ['>'], subscribe: ['>'] };

export type AuthUser =
  | { nkey: string; permissions?: SubjectPermissions }
  | { user: string; password: string; permissions?: SubjectPermissions };

const q = (s: string): string => JSON.stringify(s);
const AUTH_TIMEOUT_S = 10;

function renderPermissions(p: SubjectPermissions): string {
  const list = (xs: string[]) => `[${xs.map(q).join(', ')}]`;
  return `permissions: { publish: { allow: ${list(p.publish)} }, subscribe: { allow: ${list(p.subscribe)} } }`;
}

/** The `authorization { users: [...] }` block of a nats-server config. */
export function renderAuthorization(users: readonly AuthUser[]): string {
  const lines = users.map((u) => {
    const who = 'nkey' in u ? `nkey: ${q(u.nkey)}` : `user: ${q(u.user)}, password: ${q(u.password)}`;
    return `    { ${who}${u.permissions ? `, ${renderPermissions(u.permissions)}` : ''} }`;
  });
  // timeout: seconds a client has to authenticate. The default (2 s) is too short on a loaded 2-core machine: nkey
  // clients sign the server's nonce in JS, and connections made in a burst timed out ("Authentication Timeout").
  return `authorization {\n  timeout: ${AUTH_TIMEOUT_S}\n  users: [\n${lines.join('\n')}\n  ]\n}\n`;
}
