// MLS DM sessions (spec §11.7), held by the MLS owner and run inside its queue. A session is a two-member group
// `dm:<session id>`. The initiator's first DM carries the sealed Welcome as `session_welcome` (with the session id,
// its own recipient id and a reply token) and the first message as `mls1` ciphertext; the responder joins and
// answers into the `shared` mailbox named by that token, and tells the initiator its own token in the answer —
// contact acceptance moves the pair from `request` to `shared` delivery. Messages are SBP1-wrapped, the MLS message
// length-prefixed into a §11.5 bucket.
import { randomBytes } from 'node:crypto';
import type { ClientState } from 'ts-mls';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import type { MailboxClaim } from '../protocol/mailbox-keys.js';
import type { PolledMessage } from '../protocol/mailbox-rules.js';
import { padToBucket, unpadBucket, wrapDmPlaintext, MLS_WIRE_PREFIX } from '../protocol/mls-framing.js';
import { sealWelcome } from '../protocol/welcome-seal.js';
import type { MlsOp, MlsStore } from '../store/mls-store.js';
import type { MlsHost } from './host.js';
import * as mls from './mls-engine.js';
import {
  b64, bad, checkBody, dec, dmViewKey, enc, parseInner, sessionKey, sha256Hex, unb64,
  type InnerMessage, type KeyPackageRecord, type Persona, type SessionRecord,
} from './records.js';

type Session = { rec: SessionRecord; state: ClientState };

export class DmSessions {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly store: MlsStore, private readonly host: MlsHost) {}

  get size(): number {
    return this.sessions.size;
  }

  /** Restores every stored session; returns the keys of records that do not load (never recreated). */
  async load(): Promise<string[]> {
    const unreadable: string[] = [];
    for (const s of await this.store.list<SessionRecord>('d:')) {
      if (!s.value) { unreadable.push(s.key); continue; }
      try {
        this.sessions.set(s.value.session_id, { rec: s.value, state: mls.decodeState(s.value.state) });
      } catch {
        unreadable.push(s.key);
      }
    }
    return unreadable;
  }

  /** The `shared` mailboxes a persona reads for its sessions. */
  claims(p: Persona): MailboxClaim[] {
    return [...this.sessions.values()].filter((s) => s.rec.alias === p.name).map((s) => ({ type: 'shared', token: s.rec.own_token }));
  }

  async create(p: Persona, body: { mls_key_package?: unknown; welcome_dh_pub?: unknown; recipient_id?: unknown; text?: unknown }): Promise<Record<string, unknown>> {
    const text = checkBody(body.text ?? ' ');
    const recipient = String(body.recipient_id ?? '').trim();
    if (!recipient) bad('recipient_id is required');
    const kp = unb64(String(body.mls_key_package ?? ''));
    mls.decodeKeyPackage(kp);
    const sessionId = randomBytes(16).toString('hex');
    const group = await mls.newGroup(`dm:${sessionId}`, p.name, { publicKey: p.sig_pub, signKey: p.sig_key });
    const out = await mls.addMembers(group, [kp]);
    const ownToken = randomBytes(24).toString('hex');
    const rec: SessionRecord = {
      session_id: sessionId, alias: p.name, peer_alias: '', peer_recipient_id: recipient, peer_token: '', own_token: ownToken,
      state: new Uint8Array(), views: 0,
    };
    const s = { rec, state: out.state };
    const sealed = sealWelcome(enc.encode(JSON.stringify({
      session_id: sessionId, from: p.name, reply_recipient_id: p.recipient_id, reply_token: ownToken, welcome: b64(out.welcome!),
    })), String(body.welcome_dh_pub ?? ''));
    this.sessions.set(sessionId, s);
    const msgId = await this.send(s, text, false, b64(sealed));
    return { ok: true, session_id: sessionId, msg_id: msgId };
  }

  /** Joins from a Welcome one of the persona's DM key packages opened; handles the first message it carried. */
  async join(p: Persona, kp: KeyPackageRecord, kpKey: string, welcome: Uint8Array, m: PolledMessage): Promise<string> {
    const meta = JSON.parse(dec.decode(welcome)) as { session_id: string; from: string; reply_recipient_id: string; reply_token: string; welcome: string };
    const state = await mls.join(unb64(meta.welcome), kp.public, kp.private);
    const rec: SessionRecord = {
      session_id: String(meta.session_id), alias: p.name, peer_alias: String(meta.from), peer_recipient_id: String(meta.reply_recipient_id),
      peer_token: String(meta.reply_token ?? ''), own_token: randomBytes(24).toString('hex'), state: mls.encodeState(state), views: 0,
    };
    const s = { rec, state };
    await this.store.write([{ key: sessionKey(rec.session_id), value: rec }, { key: kpKey, delete: true }]);
    this.sessions.set(rec.session_id, s);
    if (m.ciphertext) await this.incoming(m);
    // Contact acceptance (§11.7): our first reply tells the initiator which shared mailbox we read.
    await this.send(s, '', true);
    return rec.session_id;
  }

  /** Encrypts, stores (state first), deposits. `session_welcome` rides the first DM only. */
  private async send(s: Session, text: string, control: boolean, sessionWelcome?: string): Promise<string> {
    const msgId = randomBytes(16).toString('hex');
    const now = this.host.now();
    const inner: InnerMessage = { v: 1, id: msgId, from: s.rec.alias, body: text, ts: now, ...(control || sessionWelcome ? { reply_token: s.rec.own_token } : {}) };
    const sent = await mls.encryptApplication(s.state, wrapDmPlaintext(enc.encode(JSON.stringify(inner))));
    s.state = sent.state;
    const ops: MlsOp[] = [];
    if (!control) {
      const n = s.rec.views++;
      ops.push({ key: dmViewKey(s.rec.session_id, n), value: { n, msg_id: msgId, from: s.rec.alias, body: text, sent_at: now, own: true } });
    }
    s.rec.state = mls.encodeState(s.state);
    await this.store.write([{ key: sessionKey(s.rec.session_id), value: s.rec }, ...ops]);
    const shared = !!s.rec.peer_token;
    await this.host.deposit({
      sender_id: this.host.nodeId,
      sender_token_hash: sha256Hex(`mls-dm|${s.rec.session_id}|${s.rec.alias}`),
      ...(shared ? { recipient_token: s.rec.peer_token } : { recipient_id: s.rec.peer_recipient_id }),
      delivery_class: shared ? 'shared' : 'request',
      msg_id: msgId,
      payload_format: 'mls1',
      ciphertext: MLS_WIRE_PREFIX + b64(padToBucket(sent.message)),
      ...(sessionWelcome ? { session_welcome: sessionWelcome } : {}),
    });
    return msgId;
  }

  /** A polled `mls1` DM of a known session: decrypt, store; false when it is not one of ours. */
  async incoming(m: PolledMessage): Promise<boolean> {
    const ct = String(m.ciphertext ?? '');
    if (ct.slice(0, MLS_WIRE_PREFIX.length) !== MLS_WIRE_PREFIX) return false;
    const message = unpadBucket(unb64(ct.slice(MLS_WIRE_PREFIX.length)));
    const { groupId } = mls.peekPrivateMessage(message);
    if (!groupId.startsWith('dm:')) return false;
    const s = this.sessions.get(groupId.slice(3));
    if (!s) return false;
    const r = await mls.processMessage(s.state, message);
    s.state = r.state;
    const ops: MlsOp[] = [];
    if (r.kind === 'application') {
      const inner = parseInner(r.plaintext);
      if (inner.reply_token && !s.rec.peer_token) s.rec.peer_token = inner.reply_token;
      if (!s.rec.peer_alias) s.rec.peer_alias = inner.from;
      if (inner.body) {
        const n = s.rec.views++;
        ops.push({ key: dmViewKey(s.rec.session_id, n), value: { n, msg_id: inner.id, from: inner.from, body: inner.body, sent_at: inner.ts, own: false } });
      }
    }
    s.rec.state = mls.encodeState(s.state);
    await this.store.write([{ key: sessionKey(s.rec.session_id), value: s.rec }, ...ops]);
    return true;
  }

  async sendText(body: { session_id?: unknown; text?: unknown }): Promise<Record<string, unknown>> {
    const s = this.sessions.get(String(body.session_id ?? ''));
    if (!s) throw new InfonetError(ErrorCodes.NOT_FOUND, 'unknown DM session');
    const msgId = await this.send(s, checkBody(body.text), false);
    return { ok: true, session_id: s.rec.session_id, msg_id: msgId };
  }

  async read(p: Persona, sessionId?: unknown): Promise<Array<Record<string, unknown>>> {
    const out = [];
    for (const s of this.sessions.values()) {
      if (s.rec.alias !== p.name || (sessionId && s.rec.session_id !== sessionId)) continue;
      const rows = await this.store.list<Record<string, unknown>>(`dv:${s.rec.session_id}:`);
      out.push({ session_id: s.rec.session_id, peer: s.rec.peer_alias, shared: !!s.rec.peer_token, messages: rows.map((r) => r.value).filter(Boolean) });
    }
    return out;
  }

  /** mls-reset (§11.7): this node's DM MLS state — sessions, their messages, DM key packages — and only that. */
  async reset(): Promise<Record<string, unknown>> {
    const ops: MlsOp[] = [];
    for (const k of await this.store.keys('d:')) ops.push({ key: k, delete: true });
    for (const k of await this.store.keys('dv:')) ops.push({ key: k, delete: true });
    for (const r of await this.store.list<KeyPackageRecord>('k:')) if (r.value?.purpose === 'dm') ops.push({ key: r.key, delete: true });
    await this.store.write(ops);
    const n = this.sessions.size;
    this.sessions.clear();
    return { ok: true, sessions_wiped: n, records_deleted: ops.length };
  }
}
