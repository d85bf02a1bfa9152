// The node's one MLS owner (spec §11.8): it holds every gate group and DM session state of the node, runs every MLS
// operation one at a time (a serial command queue — MLS state is a ratchet, two concurrent operations on one group
// would fork it), persists the state after every change and restores it on start.
//
// Durability choice ("state first, pending marker, finalise"): an operation that both advances MLS state and puts
// events on the chain first writes the new state *and* the exact events it is about to append (a pending marker) in
// one fsync'd batch, then appends them, then clears the marker. After a crash the marker is finalised on start:
// events of the marker that are not in the chain yet are appended again (same bytes), the Welcome re-deposited
// (deposits are idempotent by msg_id). Writing the state first means a key or generation is never used twice after a
// crash (AES-GCM nonce reuse); a lost application post only leaves an unused generation, which receivers skip.
//
// Fail closed: a gate whose stored record does not open or whose state does not decode is *locked* — listed with the
// error, every operation on it refused with gate_locked — and never recreated; other gates work normally.
//
// Carriage of membership changes: a Commit is an MLS PrivateMessage of the old epoch, framed exactly like a post
// (§11.5 buckets, fragments when larger than one event) and appended as a `gate_message`; every member processes the
// gate's events in chain order, so commits and posts interleave as the chain orders them. The node skips its own
// events (it already applied them when it made them).
import { randomBytes } from 'node:crypto';
import type { ClientState } from 'ts-mls';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import type { ChainEvent } from '../protocol/event.js';
import type { DepositRequest, PolledMessage } from '../protocol/mailbox-rules.js';
import {
  frameForGate, normalizeGateId, parseGateCiphertext, senderRef, wrapDmPlaintext, MLS_WIRE_PREFIX, type GateDirectoryRecord,
} from '../protocol/mls-framing.js';
import { generateWelcomeKeypair, sealWelcome, unsealWelcome } from '../protocol/welcome-seal.js';
import { MlsRecordUnreadable, type MlsOp, type MlsStore } from '../store/mls-store.js';
import { DmSessions } from './dm-sessions.js';
import { GateIndex } from './gate-index.js';
import type { MlsHost } from './host.js';
import * as mls from './mls-engine.js';
import {
  b64, bad, checkBody, dec, enc, gateKey, parseInner, sha256Hex, unb64, viewKey, LIMITS,
  type GateRecord, type InnerMessage, type KeyPackageRecord, type Persona, type ViewEntry,
} from './records.js';

type GateSlot = { rec: GateRecord; state: ClientState } | { locked: string; gate_id: string };

export class MlsOwner {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly gates = new Map<string, GateSlot>();
  private readonly personas = new Map<string, Persona>();
  private readonly dm: DmSessions;
  private readonly directory: GateIndex;
  private closed = false;
  /** Records that failed to open at start (gate records are shown as locked gates). */
  readonly unreadable: string[] = [];

  private constructor(readonly store: MlsStore, readonly host: MlsHost) {
    this.directory = new GateIndex(host);
    this.dm = new DmSessions(store, host);
  }

  /** Restores every persona, gate and session; finalises pending commits; never recreates what fails to load. */
  static async open(store: MlsStore, host: MlsHost): Promise<MlsOwner> {
    const o = new MlsOwner(store, host);
    for (const p of await store.list<Persona>('p:')) if (p.value) o.personas.set(p.value.name, p.value); else o.unreadable.push(p.key);
    for (const g of await store.list<GateRecord>('g:')) {
      const id = g.key.slice(2);
      if (!g.value) {
        o.gates.set(id, { locked: g.error ?? 'unreadable', gate_id: id });
        o.unreadable.push(g.key);
        continue;
      }
      try {
        o.gates.set(id, { rec: g.value, state: mls.decodeState(g.value.state) });
      } catch (e) {
        o.gates.set(id, { locked: `stored MLS state does not load: ${(e as Error).message}`, gate_id: id });
      }
    }
    o.unreadable.push(...(await o.dm.load()));
    await o.serial(async () => {
      for (const [id, slot] of o.gates) {
        if (!('rec' in slot)) continue;
        try {
          if (!slot.rec.announced) await o.announce(slot);
          if (slot.rec.pending) await o.finalise(slot);
        } catch (e) {
          // Its state is ahead of the chain: using it would fork the group. Locked until a later start finalises it;
          // the node and the other gates start normally.
          o.gates.set(id, { locked: `pending commit could not be finalised: ${(e as Error).message}`, gate_id: id });
        }
      }
    });
    return o;
  }

  /** Runs `fn` after every earlier operation (the owner's one queue). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new InfonetError(ErrorCodes.UNAVAILABLE, 'MLS owner is stopping'));
    const p = this.tail.then(fn);
    this.tail = p.catch(() => undefined);
    return p;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.tail;
  }

  // ── personas and key packages ──────────────────────────────────────────────────────────────────────────────────

  private async persona(name: unknown): Promise<Persona> {
    const n = String(name ?? '').trim();
    if (!LIMITS.personaName.test(n)) bad('persona must be 1-64 characters of A-Z a-z 0-9 . _ @ -');
    let p = this.personas.get(n);
    if (!p) {
      const keys = await mls.newSignatureKeys();
      p = { name: n, sig_pub: keys.publicKey, sig_key: keys.signKey, recipient_id: `mls-${sha256Hex(keys.publicKey).slice(0, 32)}`, claim_token: randomBytes(24).toString('hex') };
      await this.store.write([{ key: `p:${n}`, value: p }]);
      this.personas.set(n, p);
    }
    return p;
  }

  /** §11.7: a key package for joining (gate) or for a DM session (alias), plus the X25519 welcome_dh_pub. */
  keyPackage(body: { persona?: unknown; alias?: unknown; purpose?: 'gate' | 'dm' }): Promise<Record<string, unknown>> {
    return this.serial(async () => {
      const purpose = body.purpose ?? 'gate';
      const p = await this.persona(body.persona ?? body.alias);
      const kp = await mls.newKeyPackage(p.name, { publicKey: p.sig_pub, signKey: p.sig_key });
      const dh = generateWelcomeKeypair();
      const rec: KeyPackageRecord = {
        persona: p.name, purpose, welcome_dh_pub: dh.publicHex, welcome_priv: dh.privateHex,
        public: kp.publicBytes, private: kp.privatePackage, created_at: this.host.now(),
      };
      const ops: MlsOp[] = [{ key: `k:${dh.publicHex}`, value: rec }];
      // Bounded: the oldest unused key packages of this persona go first.
      const mine = (await this.store.list<KeyPackageRecord>('k:')).filter((r) => r.value?.persona === p.name)
        .sort((a, b) => (a.value!.created_at - b.value!.created_at));
      for (const old of mine.slice(0, Math.max(0, mine.length - LIMITS.keyPackagesPerPersona + 1))) ops.push({ key: old.key, delete: true });
      await this.store.write(ops);
      return {
        ok: true, persona: p.name, alias: p.name, recipient_id: p.recipient_id,
        mls_key_package: b64(kp.publicBytes), welcome_dh_pub: dh.publicHex,
      };
    });
  }

  // ── gate directory (chain index) ───────────────────────────────────────────────────────────────────────────────

  private directoryRecord(gate: string): GateDirectoryRecord {
    const d = this.directory.get(gate);
    const slot = this.gates.get(gate);
    const base = { gate_id: gate, display_name: d?.display_name ?? '', rules: d?.rules ?? {} };
    if (slot && 'locked' in slot) {
      return { ...base, member: false, epoch: 0, member_count: 0, last_post_at: d?.last_at ?? null, waiting: d?.heights.length ?? 0, locked: slot.locked };
    }
    if (!slot) return { ...base, member: false, epoch: 0, member_count: 0, last_post_at: d?.last_at ?? null, waiting: d?.heights.length ?? 0 };
    const { rec, state } = slot;
    const cursor = rec.cursor;
    return {
      ...base,
      persona: rec.persona,
      display_name: base.display_name || rec.display_name,
      rules: d?.created_by ? base.rules : rec.rules,
      member: mls.isActive(state),
      epoch: mls.epochOf(state) + 1,
      member_count: mls.isActive(state) ? mls.memberIdentities(state).length : 0,
      last_post_at: Math.max(rec.last_post_at ?? 0, d?.last_at ?? 0) || null,
      waiting: d ? d.foreign.filter((h) => h >= cursor && h < this.directory.height).length : 0,
    };
  }

  list(): Promise<{ gates: GateDirectoryRecord[] }> {
    return this.serial(async () => {
      await this.directory.refresh();
      const ids = new Set<string>([...this.directory.gates(), ...this.gates.keys()]);
      return { gates: [...ids].sort().map((g) => this.directoryRecord(g)) };
    });
  }

  show(gate: unknown): Promise<GateDirectoryRecord & { members?: string[] }> {
    return this.serial(async () => {
      const id = normalizeGateId(gate);
      await this.directory.refresh();
      if (!this.directory.has(id) && !this.gates.has(id)) throw new InfonetError(ErrorCodes.NOT_FOUND, `unknown gate ${id}`);
      const slot = this.gates.get(id);
      const r = this.directoryRecord(id);
      return slot && 'rec' in slot && mls.isActive(slot.state) ? { ...r, members: mls.memberIdentities(slot.state) } : r;
    });
  }

  // ── gates ──────────────────────────────────────────────────────────────────────────────────────────────────────

  private slot(gate: string): { rec: GateRecord; state: ClientState } {
    const s = this.gates.get(gate);
    if (!s) throw new InfonetError(ErrorCodes.NOT_FOUND, `this node is not in gate ${gate}`);
    if ('locked' in s) throw new InfonetError(ErrorCodes.GATE_LOCKED, `gate ${gate} is locked: ${s.locked}`);
    return s;
  }

  private member(gate: string): { rec: GateRecord; state: ClientState } {
    const s = this.slot(gate);
    if (!mls.isActive(s.state)) throw new InfonetError(ErrorCodes.NOT_MEMBER, `this node was removed from gate ${gate}`);
    return s;
  }

  private put(slot: { rec: GateRecord; state: ClientState }, extra: MlsOp[] = []): Promise<void> {
    slot.rec.state = mls.encodeState(slot.state);
    return this.store.write([{ key: gateKey(slot.rec.gate_id), value: slot.rec }, ...extra]);
  }

  create(body: { gate?: unknown; gate_id?: unknown; display_name?: unknown; rules?: unknown; persona?: unknown }): Promise<Record<string, unknown>> {
    return this.serial(async () => {
      const id = normalizeGateId(body.gate_id ?? body.gate);
      await this.directory.refresh();
      if (this.gates.has(id) || this.directory.get(id)?.created_by) bad(`gate ${id} already exists`);
      const rules = body.rules === undefined ? {} : body.rules;
      if (!rules || typeof rules !== 'object' || Array.isArray(rules)) bad('rules must be an object');
      const displayName = [...String(body.display_name ?? id)].slice(0, 64).join('');
      const p = await this.persona(body.persona ?? 'default');
      const state = await mls.newGroup(id, p.name, { publicKey: p.sig_pub, signKey: p.sig_key });
      const rec: GateRecord = {
        gate_id: id, display_name: displayName, rules: rules as Record<string, unknown>, persona: p.name, created_at: this.host.now(),
        announced: false, joined_epoch: mls.epochOf(state), cursor: this.host.chainLength(), state: new Uint8Array(),
        last_post_at: null, views: 0, failed: 0, stale: 0, fragments: {},
      };
      const slot = { rec, state };
      await this.put(slot);
      this.gates.set(id, slot);
      const ev = await this.announce(slot);
      return { ok: true, gate_id: id, epoch: mls.epochOf(state) + 1, event_id: ev.event_id };
    });
  }

  /** The public directory event (Appendix D gate_create); the MLS group itself never leaves the node. */
  private async announce(slot: { rec: GateRecord; state: ClientState }): Promise<ChainEvent> {
    const ev = await this.host.append('gate_create', { gate_id: slot.rec.gate_id, display_name: slot.rec.display_name, rules: slot.rec.rules });
    slot.rec.announced = true;
    await this.put(slot);
    return ev;
  }

  private gatePayload(gate: string, persona: string, ciphertext: string, mlsEpoch: number, msgId: string): Record<string, unknown> {
    return {
      gate, ciphertext, nonce: b64(randomBytes(12)), sender_ref: senderRef(persona, msgId), format: 'mls1',
      epoch: mlsEpoch + 1, transport_lock: 'private_strong',
    };
  }

  /** Appends the pending commit's events that are not in the chain yet, delivers its Welcome, clears the marker. */
  private async finalise(slot: { rec: GateRecord; state: ClientState }): Promise<string[]> {
    const pending = slot.rec.pending;
    if (!pending) return [];
    await this.directory.refresh();
    const mine = new Set<string>();
    for (const h of this.directory.get(slot.rec.gate_id)?.heights ?? []) {
      const [ev] = await this.host.readRange(h, 1);
      if (ev?.node_id === this.host.nodeId) mine.add(String((ev.payload as Record<string, unknown>).ciphertext));
    }
    const ids: string[] = [];
    for (const p of pending.payloads) {
      if (mine.has(String(p.ciphertext))) continue;
      ids.push((await this.host.append('gate_message', p)).event_id);
    }
    if (pending.deposit) await this.host.deposit(pending.deposit);
    delete slot.rec.pending;
    await this.put(slot);
    return ids;
  }

  private async commitToChain(slot: { rec: GateRecord; state: ClientState }, out: mls.CommitOut, deposit?: DepositRequest): Promise<string[]> {
    const oldEpoch = mls.epochOf(slot.state);
    const msgId = randomBytes(16).toString('hex');
    const payloads = frameForGate(out.commit).map((ct) => this.gatePayload(slot.rec.gate_id, slot.rec.persona, ct, oldEpoch, msgId));
    slot.state = out.state;
    slot.rec.pending = { payloads, ...(deposit ? { deposit } : {}) };
    await this.put(slot);
    return this.finalise(slot);
  }

  invite(body: { gate?: unknown; mls_key_package?: unknown; welcome_dh_pub?: unknown; recipient_id?: unknown }): Promise<Record<string, unknown>> {
    return this.serial(async () => {
      const id = normalizeGateId(body.gate);
      const slot = this.member(id);
      await this.process(slot);
      const kp = unb64(String(body.mls_key_package ?? ''));
      mls.decodeKeyPackage(kp);
      const dhPub = String(body.welcome_dh_pub ?? '');
      const recipient = String(body.recipient_id ?? '').trim();
      if (!recipient) bad('recipient_id is required (the invitee polls that mailbox)');
      const out = await mls.addMembers(slot.state, [kp]);
      const meta = enc.encode(JSON.stringify({ kind: 'gate_invite', gate_id: id, display_name: slot.rec.display_name, rules: slot.rec.rules }));
      const deposit: DepositRequest = {
        sender_id: this.host.nodeId,
        sender_token_hash: sha256Hex(`mls-invite|${id}|${this.host.nodeId}`),
        recipient_id: recipient,
        delivery_class: 'request',
        msg_id: randomBytes(16).toString('hex'),
        payload_format: 'mls1',
        ciphertext: MLS_WIRE_PREFIX + b64(sealWelcome(meta, dhPub)),
        session_welcome: b64(sealWelcome(out.welcome!, dhPub)),
      };
      const eventIds = await this.commitToChain(slot, out, deposit);
      return { ok: true, gate_id: id, epoch: mls.epochOf(slot.state) + 1, event_ids: eventIds, welcome_msg_id: deposit.msg_id };
    });
  }

  remove(body: { gate?: unknown; member?: unknown }): Promise<Record<string, unknown>> {
    return this.serial(async () => {
      const id = normalizeGateId(body.gate);
      const slot = this.member(id);
      await this.process(slot);
      const who = String(body.member ?? '');
      if (who === slot.rec.persona) bad('a member cannot remove itself here');
      const eventIds = await this.commitToChain(slot, await mls.removeMember(slot.state, who));
      return { ok: true, gate_id: id, epoch: mls.epochOf(slot.state) + 1, event_ids: eventIds, members: mls.memberIdentities(slot.state) };
    });
  }

  rotate(body: { gate?: unknown }): Promise<Record<string, unknown>> {
    return this.serial(async () => {
      const id = normalizeGateId(body.gate);
      const slot = this.member(id);
      await this.process(slot);
      const eventIds = await this.commitToChain(slot, await mls.rotate(slot.state));
      return { ok: true, gate_id: id, epoch: mls.epochOf(slot.state) + 1, event_ids: eventIds };
    });
  }

  post(body: { gate?: unknown; text?: unknown; epoch?: unknown }): Promise<Record<string, unknown>> {
    return this.serial(async () => {
      const id = normalizeGateId(body.gate);
      const text = checkBody(body.text);
      const slot = this.member(id);
      await this.process(slot);
      if (!mls.isActive(slot.state)) throw new InfonetError(ErrorCodes.NOT_MEMBER, `this node was removed from gate ${id}`);
      const current = mls.epochOf(slot.state) + 1;
      if (body.epoch !== undefined && body.epoch !== null && Number(body.epoch) !== current) {
        throw new InfonetError(ErrorCodes.GATE_STATE_STALE, `gate_state_stale: post claims epoch ${String(body.epoch)}, gate is at ${current}`, {
          // §11.2: the node's state is at current_epoch, the post expected expected_epoch.
          current_epoch: current, expected_epoch: Number(body.epoch),
        });
      }
      const msgId = randomBytes(16).toString('hex');
      const now = this.host.now();
      const inner: InnerMessage = { v: 1, id: msgId, from: slot.rec.persona, body: text, ts: now };
      const sent = await mls.encryptApplication(slot.state, wrapDmPlaintext(enc.encode(JSON.stringify(inner))));
      const payloads = frameForGate(sent.message).map((ct) => this.gatePayload(id, slot.rec.persona, ct, current - 1, msgId));
      slot.state = sent.state;
      slot.rec.last_post_at = now;
      const n = slot.rec.views++;
      const view: ViewEntry = {
        n, event_id: '', height: -1, sender: slot.rec.persona, sender_ref: String(payloads[0].sender_ref), sender_ref_ok: true,
        msg_id: msgId, body: text, sent_at: now, epoch: current, own: true,
      };
      // State (and our own copy of the post, sealed) first: a generation is never reused after a crash.
      await this.put(slot, [{ key: viewKey(id, n), value: view }]);
      const ids: string[] = [];
      for (const p of payloads) ids.push((await this.host.append('gate_message', p)).event_id);
      view.event_id = ids[ids.length - 1];
      await this.store.write([{ key: viewKey(id, n), value: view }]);
      return { ok: true, gate_id: id, epoch: current, event_ids: ids, msg_id: msgId, sender_ref: view.sender_ref, ciphertext_bytes: payloads.map((p) => String(p.ciphertext).length) };
    });
  }

  /** Decrypts the gate's new chain events in chain order (across epochs) and returns the local view. */
  read(body: { gate?: unknown; after?: unknown; limit?: unknown }): Promise<Record<string, unknown>> {
    return this.serial(async () => {
      const id = normalizeGateId(body.gate);
      const slot = this.slot(id);
      await this.process(slot);
      const after = Number.isSafeInteger(body.after) ? Number(body.after) : -1;
      const limit = Math.min(LIMITS.readPage, Number.isSafeInteger(body.limit) && Number(body.limit) > 0 ? Number(body.limit) : LIMITS.readPage);
      const rows = await this.store.list<ViewEntry>(`v:${id}:`, limit, viewKey(id, after + 1));
      const messages = rows.map((r) => r.value).filter((v): v is ViewEntry => !!v && v.n > after).slice(0, limit);
      return {
        ok: true, gate_id: id, member: mls.isActive(slot.state), epoch: mls.epochOf(slot.state) + 1,
        failed: slot.rec.failed, stale: slot.rec.stale, messages,
      };
    });
  }

  /** Processes the gate's chain events from the cursor; one atomic write for state, cursor and new view entries. */
  private async process(slot: { rec: GateRecord; state: ClientState }): Promise<void> {
    await this.directory.refresh();
    const rec = slot.rec;
    const heights = (this.directory.get(rec.gate_id)?.foreign ?? []).filter((h) => h >= rec.cursor && h < this.directory.height);
    if (heights.length === 0) {
      if (rec.cursor < this.directory.height) { rec.cursor = this.directory.height; await this.put(slot); }
      return;
    }
    const views: MlsOp[] = [];
    for (const h of heights) {
      const [ev] = await this.host.readRange(h, 1);
      if (!ev || ev.node_id === this.host.nodeId) continue;
      const p = ev.payload as Record<string, unknown>;
      let message: Uint8Array | undefined;
      try {
        const unit = parseGateCiphertext(String(p.ciphertext));
        if (unit.kind === 'whole') message = unit.message;
        else message = this.collectFragment(rec, unit);
      } catch {
        rec.failed++;
        continue;
      }
      if (!message) continue;
      if (!mls.isActive(slot.state)) { rec.failed++; continue; }
      let claimed: { epoch: number };
      try {
        claimed = mls.peekPrivateMessage(message);
      } catch {
        rec.failed++;
        continue;
      }
      if (claimed.epoch < rec.joined_epoch) continue; // before this node joined: not ours to read
      const stale = Number(p.epoch ?? 0) !== claimed.epoch + 1;
      if (stale) rec.stale++;
      try {
        const r = await mls.processMessage(slot.state, message);
        slot.state = r.state;
        if (r.kind === 'application') {
          const inner = parseInner(r.plaintext);
          const n = rec.views++;
          const view: ViewEntry = {
            n, event_id: ev.event_id, height: h, sender: inner.from, sender_ref: String(p.sender_ref),
            sender_ref_ok: senderRef(inner.from, inner.id) === p.sender_ref, msg_id: inner.id, body: inner.body,
            sent_at: Number(ev.timestamp), epoch: claimed.epoch + 1, own: false, ...(stale ? { stale: true } : {}),
          };
          views.push({ key: viewKey(rec.gate_id, n), value: view });
        }
      } catch {
        rec.failed++;
      }
    }
    rec.cursor = this.directory.height;
    await this.put(slot, views);
  }

  private collectFragment(rec: GateRecord, unit: { id: string; index: number; count: number; bytes: Uint8Array }): Uint8Array | undefined {
    if (unit.count > LIMITS.fragmentsPerMessage) throw new Error('too many fragments');
    let f = rec.fragments[unit.id];
    if (!f) {
      const ids = Object.keys(rec.fragments);
      if (ids.length >= LIMITS.partialFragments) delete rec.fragments[ids[0]];
      f = rec.fragments[unit.id] = { count: unit.count, parts: {} };
    }
    f.parts[String(unit.index)] = unit.bytes;
    if (Object.keys(f.parts).length < f.count) return undefined;
    delete rec.fragments[unit.id];
    return Buffer.concat(Array.from({ length: f.count }, (_, i) => f.parts[String(i)] ?? new Uint8Array()));
  }

  // ── the persona's mailbox: gate invitations and DM sessions (§11.7) ────────────────────────────────────────────

  /** Polls the persona's mailboxes and handles every MLS message in them; returns what happened. */
  private async drainMailbox(p: Persona): Promise<{ joined: string[]; sessions: string[]; dm: number; ignored: number }> {
    const claims = [{ type: 'requests', token: p.claim_token }, ...this.dm.claims(p)].slice(0, 32);
    const out = { joined: [] as string[], sessions: [] as string[], dm: 0, ignored: 0 };
    for (let round = 0; round < 20; round++) {
      const { messages } = await this.host.poll(p.recipient_id, claims);
      if (messages.length === 0) break;
      for (const m of messages) {
        try {
          if (m.session_welcome) await this.acceptWelcome(p, m, out);
          else if (await this.dm.incoming(m)) out.dm++;
          else out.ignored++;
        } catch {
          out.ignored++; // not ours or damaged: counted, never fatal for the rest of the mailbox
        }
      }
    }
    return out;
  }

  private async acceptWelcome(p: Persona, m: PolledMessage, out: { joined: string[]; sessions: string[]; dm: number }): Promise<void> {
    const kps = (await this.store.list<KeyPackageRecord>('k:')).filter((r) => r.value?.persona === p.name);
    for (const k of kps) {
      const kp = k.value!;
      let welcome: Uint8Array;
      try {
        welcome = unsealWelcome(unb64(m.session_welcome), kp.welcome_priv);
      } catch {
        continue;
      }
      if (kp.purpose === 'gate') {
        const meta = JSON.parse(dec.decode(unsealWelcome(unb64(m.ciphertext.slice(MLS_WIRE_PREFIX.length)), kp.welcome_priv))) as { gate_id: string; display_name: string; rules: Record<string, unknown> };
        const state = await mls.join(welcome, kp.public, kp.private);
        const id = normalizeGateId(mls.groupIdOf(state));
        if (id !== meta.gate_id) throw new Error('Welcome is for another gate than announced');
        if (this.gates.has(id) && 'rec' in this.gates.get(id)! && mls.isActive((this.gates.get(id) as { state: ClientState }).state)) return;
        const rec: GateRecord = {
          gate_id: id, display_name: String(meta.display_name ?? id), rules: meta.rules ?? {}, persona: p.name, created_at: this.host.now(),
          announced: true, joined_epoch: mls.epochOf(state), cursor: 0, state: new Uint8Array(), last_post_at: null, views: 0, failed: 0,
          stale: 0, fragments: {},
        };
        const slot = { rec, state };
        await this.put(slot, [{ key: k.key, delete: true }]);
        this.gates.set(id, slot);
        out.joined.push(id);
      } else {
        out.sessions.push(await this.dm.join(p, kp, k.key, welcome, m));
      }
      return;
    }
    throw new Error('no key package of this persona opens the Welcome');
  }

  /**
   * Pending requests (invitations) per persona of this node, counted without taking them from the mailbox: what
   * `gate.accept` would find. Only existing personas (a name never seen is not created here).
   */
  pending(body: { persona?: unknown }): Promise<{ personas: Array<{ persona: string; pending: number }> }> {
    return this.serial(async () => {
      const only = body.persona === undefined || body.persona === null ? undefined : String(body.persona).trim();
      const list = [...this.personas.values()].filter((p) => only === undefined || p.name === only).sort((a, b) => a.name.localeCompare(b.name));
      const personas: Array<{ persona: string; pending: number }> = [];
      for (const p of list.slice(0, LIMITS.pendingPersonas)) {
        personas.push({ persona: p.name, pending: await this.host.count(p.recipient_id, [{ type: 'requests', token: p.claim_token }]) });
      }
      return { personas };
    });
  }

  accept(body: { persona?: unknown }): Promise<Record<string, unknown>> {
    return this.serial(async () => {
      const p = await this.persona(body.persona);
      const r = await this.drainMailbox(p);
      return { ok: true, persona: p.name, joined: r.joined, sessions: r.sessions, dm_messages: r.dm, ignored: r.ignored };
    });
  }

  // ── DM sessions (§11.7) ────────────────────────────────────────────────────────────────────────────────────────

  // ── DM sessions (§11.7, mls/dm-sessions.ts), in the same queue ────────────────────────────────────────────────

  sessionCreate(body: { alias?: unknown; mls_key_package?: unknown; welcome_dh_pub?: unknown; recipient_id?: unknown; text?: unknown }): Promise<Record<string, unknown>> {
    return this.serial(async () => this.dm.create(await this.persona(body.alias), body));
  }

  sessionSend(body: { session_id?: unknown; text?: unknown }): Promise<Record<string, unknown>> {
    return this.serial(() => this.dm.sendText(body));
  }

  sessionRead(body: { alias?: unknown; session_id?: unknown }): Promise<Record<string, unknown>> {
    return this.serial(async () => {
      const p = await this.persona(body.alias);
      const drained = await this.drainMailbox(p);
      return { ok: true, alias: p.name, joined: drained.sessions, sessions: await this.dm.read(p, body.session_id) };
    });
  }

  /** mls-reset (§11.7): wipes this node's DM MLS state only. */
  sessionReset(): Promise<Record<string, unknown>> {
    return this.serial(() => this.dm.reset());
  }

  // ── backup ─────────────────────────────────────────────────────────────────────────────────────────────────────

  /** Every MLS record, opened (the caller seals it under a passphrase). Runs in the queue: a consistent cut. */
  snapshotRecords(): Promise<Array<[string, unknown]>> {
    return this.serial(async () => {
      const rows = await this.store.list<unknown>('');
      return rows.filter((r) => r.value !== undefined).map((r) => [r.key, r.value] as [string, unknown]);
    });
  }

  status(): { gates: number; locked: number; sessions: number; personas: number } {
    let locked = 0;
    for (const s of this.gates.values()) if ('locked' in s) locked++;
    return { gates: this.gates.size, locked, sessions: this.dm.size, personas: this.personas.size };
  }
}

export { MlsRecordUnreadable };
