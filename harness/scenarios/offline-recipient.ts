// Scenario "offline recipient" (issue 5; the seed's end-to-end flow, spec §7, §8.3, §10.1):
//
//   1. a hub and N ≥ 3 nodes (A, B, C, …), full mesh of peers, per-run secrets;
//   2. Bob is offline: he only has his keys (an Ed25519 identity = his mailbox id, an X25519 DM keypair);
//   3. Alice seals DMs to Bob's public key and deposits them at node A, each with her sender proof;
//   4. A replicates: every copy becomes visible on B and C (timed by C's dm_deposited events);
//      B holds Alice's full quota for Bob's mailbox, so B refuses one more from her;
//   5. A is killed (SIGKILL of its process group: no goodbye, nothing flushed);
//   6. Bob comes online at C, polls, and decrypts every message with his own secret key;
//   7. C's acks prune the copies on B; Bob polling B gets nothing twice;
//   8. Alice's quota is free again on every surviving node: each accepts a full quota from her (and refuses one more),
//      Bob collects those too, and the copies are pruned everywhere again;
//   9. (reported, not checked) A restarts on its data directory; the acks its peers kept retrying prune its copies.
//
// The per-sender cap is set to the number of DMs for this run (MESH_DM_PENDING_PER_SENDER_LIMIT, default 2 in the
// spec) so that Alice's burst is exactly her quota and steps 4 and 8 test the cap, not just the counts.
import { randomBytes } from 'node:crypto';
import type { Subscription } from 'rxjs';
import type { InfonetClient } from '../../bus/client.js';
import type { DepositRequest, PolledMessage } from '../../protocol/mailbox-rules.js';
import { generateDmKeypair, openDm, sealDm } from '../../protocol/dm-seal.js';
import { makeSenderProof } from '../../protocol/dm-sender-proof.js';
import { ErrorCodes, isInfonetError } from '../../protocol/errors.js';
import { generateIdentity, type Identity } from '../../protocol/identity.js';
import { generateMsgId } from '../../protocol/mailbox-rules.js';
import { sha256Hex, type MailboxClaim } from '../../protocol/mailbox-keys.js';
import { Cluster, type PeerTransport } from '../cluster.js';
import { waitUntil } from '../wait.js';
import { deliveryCounts, formatMs, percentile, type ScenarioReport, type TimelineEntry } from '../report.js';
import { errText, scenarioLog } from '../scenario-run.js';

export interface OfflineRecipientOptions {
  /** Nodes in the cluster (≥ 3). Default 3. */
  nodes?: number;
  /** DMs Alice sends while Bob is offline (= her per-sender quota for the run). Default 20. */
  dms?: number;
  /** Request mail (Bob's mailbox by recipient id, peppered per node) or shared mail (SHA-256 of Bob's token). */
  deliveryClass?: 'request' | 'shared';
  transport?: PeerTransport;
  /** Transport 'rns': external Reticulum transport nodes to attach the nodes to (Cluster option). */
  rnsConnect?: string[];
  /** Run directory (default a temp dir, removed at the end unless keep). */
  runDir?: string;
  keep?: boolean;
  /** Restart the killed node at the end and report whether its copies get pruned (not a check). Default true. */
  restartKilled?: boolean;
  /** Upper bound for each waiting step. Default 20 s. */
  stepTimeoutMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface OfflineRecipientResult {
  ok: boolean;
  report: ScenarioReport;
}

interface Party {
  id: Identity;
}

interface Bob extends Party {
  dm: ReturnType<typeof generateDmKeypair>;
  token: string;
  claims: MailboxClaim[];
}

/** What one deposit addresses, by delivery class. */
function target(cls: 'request' | 'shared', alice: Party, bob: Bob): Pick<DepositRequest, 'delivery_class' | 'recipient_id' | 'recipient_token' | 'sender_token_hash'> {
  return cls === 'request'
    ? { delivery_class: 'request', recipient_id: bob.id.nodeId, sender_token_hash: sha256Hex(`infonet-dm-sender|${alice.id.nodeId}|${bob.id.nodeId}`) }
    : { delivery_class: 'shared', recipient_token: bob.token };
}

function sealedDeposit(cls: 'request' | 'shared', alice: Party, bob: Bob, plaintext: string): DepositRequest {
  const ciphertext = sealDm(plaintext, bob.dm.public_key);
  const msg_id = generateMsgId(Date.now() / 1000);
  const t = target(cls, alice, bob);
  return { sender_id: alice.id.nodeId, ciphertext, msg_id, ...t, sender_proof: makeSenderProof(alice.id.seed, { ...t, msg_id, ciphertext }) };
}

const isCap = (e: unknown): boolean => isInfonetError(e) && e.code === ErrorCodes.RELAY_SENDER_CAP;

export async function runOfflineRecipient(opts: OfflineRecipientOptions = {}): Promise<OfflineRecipientResult> {
  const t0 = Date.now();
  const nodes = opts.nodes ?? 3;
  const dms = opts.dms ?? 20;
  const cls = opts.deliveryClass ?? 'request';
  const stepTimeout = opts.stepTimeoutMs ?? 20_000;
  if (!Number.isInteger(nodes) || nodes < 3) throw new Error('offline-recipient needs at least 3 nodes (A sends, B holds a copy, C serves Bob)');
  if (!Number.isInteger(dms) || dms < 1 || dms > 500) throw new Error('--dms must be an integer in 1..500');
  const out = opts.log ?? ((l: string) => console.log(l));
  const { step, check, checks } = scenarioLog(t0, out);

  const env = {
    MESH_DM_PENDING_PER_SENDER_LIMIT: String(dms),
    MESH_DM_REQUEST_MAILBOX_LIMIT: String(Math.max(12, dms + 4)),
    MESH_DM_SHARED_MAILBOX_LIMIT: String(Math.max(48, dms + 4)),
  };
  // Inbound replicate-envelope requests are rate limited per client (§8.4.6: 60/min); over HTTP every loopback peer is
  // the same client address (127.0.0.1), over the bus each peer URL is its own client. Past that budget replication
  // waits on Retry-After (≈ 30 s) and the run measures the rate limit, not replication.
  const perClient = (opts.transport ?? 'http') === 'http' ? dms * (nodes - 1) + 1 : dms + 1;
  if (perClient > 60) {
    step('note', `~${perClient} replica pushes per node and client within a minute exceed the inbound limit of 60/min (§8.4.6): expect Retry-After stalls`);
  }
  step('cluster', `starting a hub and ${nodes} nodes (full mesh over ${opts.transport ?? 'http'} peers, per-run secrets, per-sender cap ${dms})`);
  const cluster = await Cluster.start({
    nodes, runDir: opts.runDir, transport: opts.transport, ...(opts.rnsConnect ? { rnsConnect: opts.rnsConnect } : {}), env, logLevel: 'info',
    log: (l) => step('cluster', l),
  });
  const names = [...cluster.nodes.keys()];
  const [A, B, C] = names;
  const others = names.filter((n) => n !== A);
  const subs: Subscription[] = [];
  const sentText = new Map<string, string>();
  const sentAt = new Map<string, number>();
  const received: string[] = [];
  const mismatched: string[] = [];
  /** First time each msg_id was seen deposited on each node (harness clock, ms). */
  const seen = new Map<string, Map<string, number>>(others.map((n) => [n, new Map()]));
  const notes: Array<[string, string]> = [];
  let latencies: number[] = [];
  // For report.html (harness/report-files.ts): what happened when, each delivery on C, counters per node.
  const timeline: TimelineEntry[] = [];
  let deliveries: NonNullable<ScenarioReport['deliveries']> = [];
  const nodeCounters: Record<string, Record<string, number>> = {};
  try {
    const alice: Party = { id: generateIdentity() };
    const bobToken = randomBytes(24).toString('base64url');
    const bob: Bob = {
      id: generateIdentity(), dm: generateDmKeypair(), token: bobToken,
      claims: cls === 'request' ? [{ type: 'requests', token: bobToken }] : [{ type: 'shared', token: bobToken }],
    };
    step('keys', `alice ${alice.id.nodeId}; bob ${bob.id.nodeId} (offline), DM key ${bob.dm.public_key.slice(0, 12)}…, ${cls} mail`);

    // Watch every node but A for deposits. The subscription reaches each leaf before the status request that follows
    // it on the same leaf link, so once every node has answered, no event can be missed.
    for (const n of others) {
      subs.push(cluster.client(n).events$('dm_deposited').subscribe((e) => {
        const m = seen.get(n)!;
        if (!m.has(e.body.msg_id)) m.set(e.body.msg_id, Date.now());
      }));
    }
    await cluster.nc.flush();
    await Promise.all(others.map((n) => cluster.status(n)));

    // 3. Alice → A, Bob offline.
    const a = cluster.client(A);
    const rejected: string[] = [];
    for (let i = 0; i < dms; i++) {
      const text = `dm ${i + 1}/${dms} from alice to bob: ${randomBytes(8).toString('hex')}`;
      const req = sealedDeposit(cls, alice, bob, text);
      sentAt.set(req.msg_id!, Date.now());
      try {
        const r = await a.dmDeposit(req);
        if (r.duplicate) rejected.push(`${req.msg_id}: unexpected duplicate`);
        sentText.set(r.msg_id, text);
      } catch (e) {
        sentAt.delete(req.msg_id!);
        rejected.push(errText(e));
      }
      if ((i + 1) % Math.max(1, Math.ceil(dms / 4)) === 0 || i + 1 === dms) step('send', `alice → ${A}: ${i + 1}/${dms} sealed DMs deposited`);
    }
    check(`${A} accepts every DM from alice`, rejected.length === 0 && sentText.size === dms, rejected.length ? `${rejected.length} refused, first: ${rejected[0]}` : `${dms}/${dms} accepted`);
    const ids = [...sentText.keys()];

    // 4. Replication A → everyone.
    const visibleOn = (n: string): number => ids.filter((id) => seen.get(n)!.has(id)).length;
    let replicated = true;
    try {
      await waitUntil(() => {
        return others.every((n) => visibleOn(n) === ids.length);
      }, stepTimeout, 'every copy to reach every peer', 10);
    } catch {
      replicated = false;
    }
    step('replicate', others.map((n) => `${n} ${visibleOn(n)}/${ids.length}`).join(', '));
    latencies = ids.filter((id) => seen.get(C)!.has(id)).map((id) => seen.get(C)!.get(id)! - sentAt.get(id)!);
    deliveries = ids.filter((id) => seen.get(C)!.has(id))
      .map((id) => ({ tMs: seen.get(C)!.get(id)! - t0, latencyMs: seen.get(C)!.get(id)! - sentAt.get(id)!, transport: opts.transport ?? 'http' }));
    const bLat = ids.filter((id) => seen.get(B)!.has(id)).map((id) => seen.get(B)!.get(id)! - sentAt.get(id)!);
    check(`${A} replicates every DM to every peer`, replicated, others.map((n) => `${n} ${visibleOn(n)}/${ids.length}`).join(', ') +
      (replicated ? `, p50 to ${B} ${formatMs(percentile(bLat, 50))}` : ''));

    const probeText = new Map<string, string>();
    try {
      const extra = sealedDeposit(cls, alice, bob, 'one more than the quota');
      const r = await cluster.client(B).dmDeposit(extra);
      probeText.set(r.msg_id, 'one more than the quota');
      check(`${B} holds alice's full quota for bob (refuses one more)`, false, 'the extra DM was accepted');
    } catch (e) {
      check(`${B} holds alice's full quota for bob (refuses one more)`, isCap(e), errText(e).slice(0, 90));
    }

    // 5. A dies.
    await cluster.kill(A, 'SIGKILL');
    timeline.push({ tMs: Date.now() - t0, node: A, kind: 'kill', detail: 'SIGKILL' });
    const survivors = names.filter((n) => n !== A);

    // 6. Bob online at C.
    const pollAll = async (c: InfonetClient): Promise<PolledMessage[]> => {
      const got: PolledMessage[] = [];
      for (let round = 0; round < 1000; round++) {
        const r = await c.dmPoll(bob.id, bob.claims, 100);
        got.push(...r.messages);
        if (!r.has_more) break;
      }
      return got;
    };
    const open = (msgs: PolledMessage[], expected: Map<string, string>): number => {
      let ok = 0;
      for (const m of msgs) {
        received.push(m.msg_id);
        try {
          if (openDm(m.ciphertext, bob.dm.secret_key) === expected.get(m.msg_id)) ok++;
          else mismatched.push(m.msg_id);
        } catch {
          mismatched.push(m.msg_id);
        }
      }
      return ok;
    };
    const atC = await pollAll(cluster.client(C));
    const openedC = open(atC, sentText);
    step('bob', `online at ${C}: polled ${atC.length} message(s), decrypted ${openedC} with his own key`);

    // 7. Acks prune the copies on B (and every other survivor).
    const pending = async (n: string): Promise<number> => (await cluster.client(n).dmPendingIds(bob.id, bob.claims)).msg_ids.length;
    const pruneWait = async (nodesToCheck: string[]): Promise<Map<string, number>> => {
      const left = new Map<string, number>();
      try {
        await waitUntil(async () => {
          for (const n of nodesToCheck) left.set(n, await pending(n));
          return [...left.values()].every((v) => v === 0);
        }, stepTimeout, 'acks to prune the copies', 50);
      } catch {
        /* reported below */
      }
      return left;
    };
    const tPrune = Date.now();
    const leftAfterC = await pruneWait(survivors.filter((n) => n !== C));
    check(`acks from ${C} prune the copies on ${survivors.filter((n) => n !== C).join(', ')}`, [...leftAfterC.values()].every((v) => v === 0),
      [...leftAfterC].map(([n, v]) => `${n} ${v} left`).join(', ') + ` after ${formatMs(Date.now() - tPrune)}`);
    const atB = await pollAll(cluster.client(B));
    open(atB, new Map([...sentText, ...probeText]));
    check(`bob polling ${B} afterwards gets nothing twice`, atB.length === 0, `${atB.length} message(s)`);

    // 8. Alice's quota is free again on every surviving node.
    const quota: string[] = [];
    let quotaOk = true;
    for (const n of survivors) {
      const c = cluster.client(n);
      let accepted = 0;
      let firstErr = '';
      for (let i = 0; i < dms; i++) {
        const text = `quota probe ${i + 1} on ${n}: ${randomBytes(6).toString('hex')}`;
        try {
          const r = await c.dmDeposit(sealedDeposit(cls, alice, bob, text));
          probeText.set(r.msg_id, text);
          accepted++;
        } catch (e) {
          firstErr ||= errText(e);
        }
      }
      let capHolds = false;
      try {
        await c.dmDeposit(sealedDeposit(cls, alice, bob, 'over quota'));
      } catch (e) {
        capHolds = isCap(e);
      }
      const got = await pollAll(c);
      const opened = open(got, probeText);
      const left = await pruneWait(survivors);
      const ok = accepted === dms && capHolds && opened === accepted && [...left.values()].every((v) => v === 0);
      quotaOk &&= ok;
      quota.push(`${n} ${accepted}/${dms}${capHolds ? '' : ' (cap not enforced!)'}${firstErr ? ` [${firstErr.slice(0, 60)}]` : ''}`);
      step('quota', `${n}: alice deposits ${accepted}/${dms} (then refused: ${capHolds}); bob collects ${opened}; pending elsewhere ${[...left.values()].reduce((x, y) => x + y, 0)}`);
    }
    check(`alice's quota is free again on every surviving node`, quotaOk, quota.join(', '));

    // The offline batch is the headline; the quota probes are counted too (a duplicate there is just as wrong).
    const counts = deliveryCounts(ids, received.filter((id) => !probeText.has(id)));
    const probes = deliveryCounts([...probeText.keys()], received.filter((id) => probeText.has(id)));
    check('bob decrypts every DM and the plaintexts match', mismatched.length === 0 && openedC === ids.length, `${openedC}/${ids.length} opened${mismatched.length ? `, ${mismatched.length} mismatched` : ''}`);
    check('nothing lost, nothing duplicated', counts.lost === 0 && counts.duplicates === 0 && probes.lost === 0 && probes.duplicates === 0,
      `offline batch: delivered ${counts.delivered}/${counts.sent}, duplicates ${counts.duplicates}, lost ${counts.lost}; ` +
      `quota probes: delivered ${probes.delivered}/${probes.sent}, duplicates ${probes.duplicates}, lost ${probes.lost}`);
    notes.push(['quota probes', `${probes.sent} sent, ${probes.delivered} delivered, ${probes.duplicates} duplicates, ${probes.lost} lost`]);

    // Epilogue (reported, not a check): A comes back on the same data directory. It still holds the copies it had at
    // the crash; its peers kept retrying their acks (durable outbox, backoff), which prune them once A answers.
    if (opts.restartKilled ?? true) {
      const tRestart = Date.now();
      await cluster.restart(A);
      timeline.push({ tMs: Date.now() - t0, node: A, kind: 'restart' });
      const onA = await pruneWait([A]);
      const left = onA.get(A) ?? -1;
      const text = left === 0
        ? `0 copies for bob ${formatMs(Date.now() - tRestart)} after the restart (peers' acks retried until A answered)`
        : `${left} copies for bob still pending ${formatMs(Date.now() - tRestart)} after the restart (acks retried with backoff; the 1 h TTL bounds them)`;
      step('restart', `${A}: ${text}`);
      notes.push([`${A} restarted`, text]);
    }

    // Replication metrics from node status (§8.3 names), where the node reports them.
    for (const n of survivors) {
      const st = (await cluster.status(n).catch(() => undefined)) as { replication?: { metrics?: Record<string, unknown> } } | undefined;
      const metrics = st?.replication?.metrics;
      if (metrics && typeof metrics === 'object') {
        nodeCounters[n] = Object.fromEntries(Object.entries(metrics).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
        const keep = Object.entries(metrics).filter(([k, v]) => typeof v === 'number' && /^dm_(replication|replica|ack|pull)/.test(k) && v !== 0);
        if (keep.length) notes.push([`metrics ${n}`, keep.map(([k, v]) => `${k}=${v}`).join(' ')]);
      }
    }
    notes.push(['transports', (await cluster.transportSummary()).text]);
    notes.unshift(['setup', `${nodes} nodes, ${cls} mail, per-sender cap ${dms}, ${opts.transport ?? 'http'} peers, ${A} killed with SIGKILL`]);
    const report: ScenarioReport = {
      scenario: 'offline-recipient', nodes, counts, latenciesMs: latencies, latencyOf: `deposit at ${A} → visible on ${C}`,
      checks, totalMs: Date.now() - t0, notes, ...(opts.keep ? { runDir: cluster.runDir } : {}),
      timeline, deliveries, transportCounts: { [opts.transport ?? 'http']: deliveries.length }, nodeCounters,
    };
    return { ok: checks.every((c) => c.ok), report };
  } finally {
    for (const s of subs) s.unsubscribe();
    await cluster.stopAll({ keep: opts.keep });
  }
}
