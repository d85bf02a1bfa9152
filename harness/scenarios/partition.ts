// Scenario "partition" (issue 8 item 6; spec §9.3 client loop item 2 [tightening], §9.6; docs/sync.md):
//
//   1. a hub and N ≥ 3 nodes (A, B, C, …), full mesh of peers, a short sync interval;
//   2. B is partitioned before anything happens: its process group is SIGKILLed (its hub leaf link and its peer
//      endpoint die with it), so B's chain stays EMPTY — the case that made the original wipe its peers' events;
//   3. events are appended on A, then (once A's reached C by sync) on C, by authors that are not node keys;
//      sealed DMs for Bob are deposited at A;
//   4. heal: B restarts on its data directory;
//   5. checks: every acknowledged event is on every node and the heads are equal, every acknowledged DM is in
//      Bob's mailbox on every node, no node ever lost an event (heights never went down — sampled while
//      healing), and the time from B answering to equal heads (reported against the sync interval).
//
// With the original §9.3 rule, A (< 20 events) asked the empty B, got `forked` and reset itself to genesis.
import { randomBytes } from 'node:crypto';
import type { DepositRequest } from '../../protocol/mailbox-rules.js';
import { generateDmKeypair, sealDm } from '../../protocol/dm-seal.js';
import { makeSenderProof } from '../../protocol/dm-sender-proof.js';
import { generateIdentity, type Identity } from '../../protocol/identity.js';
import { generateMsgId } from '../../protocol/mailbox-rules.js';
import { sha256Hex, type MailboxClaim } from '../../protocol/mailbox-keys.js';
import { Cluster, type PeerTransport } from '../cluster.js';
import { waitUntil } from '../wait.js';
import { deliveryCounts, formatMs, type ScenarioReport } from '../report.js';
import { errText, runScenarioCli, scenarioLog } from '../scenario-run.js';

export interface PartitionOptions {
  /** Nodes in the cluster (≥ 3). Default 3. */
  nodes?: number;
  /** Events appended on each writing node (A and C) while B is cut off. Default 5 (a short chain, < 20). */
  events?: number;
  /** DMs deposited at A while B is cut off. Default 5. */
  dms?: number;
  transport?: PeerTransport;
  /** MESH_SYNC_INTERVAL_S of every node. Default 2. */
  syncIntervalS?: number;
  /** SIGKILL and restart A while B is cut off (its outbox still holds B's pushes). Default true. */
  crashWriter?: boolean;
  /** Keep B cut off at least this long (s) so the other nodes' failure ladders climb, as in issue 8's 45 s runs. */
  partitionS?: number;
  runDir?: string;
  keep?: boolean;
  /** Upper bound for each waiting step. Default 60 s. */
  stepTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface PartitionResult {
  ok: boolean;
  report: ScenarioReport;
}

const msg = (text: string) => ({ message: text, destination: 'broadcast', channel: 'LongFast', priority: 'normal', ephemeral: false });
/** An event's identity independent of its chain position (author + signature): a re-linked event keeps it. */
const signedId = (e: { node_id: string; signature: string }): string => `${e.node_id}|${e.signature}`;

export async function runPartition(opts: PartitionOptions = {}): Promise<PartitionResult> {
  const t0 = Date.now();
  const nodes = opts.nodes ?? 3;
  const perWriter = opts.events ?? 5;
  const dms = opts.dms ?? 5;
  const interval = opts.syncIntervalS ?? 2;
  const stepTimeout = opts.stepTimeoutMs ?? 60_000;
  if (!Number.isInteger(nodes) || nodes < 3) throw new Error('partition needs at least 3 nodes (A and C write, B is cut off)');
  if (!Number.isInteger(perWriter) || perWriter < 1 || perWriter > 200) throw new Error('--events must be an integer in 1..200');
  if (!Number.isInteger(dms) || dms < 0 || dms > 200) throw new Error('--dms must be an integer in 0..200');
  const out = opts.log ?? ((l: string) => console.log(l));
  const { step, check, checks } = scenarioLog(t0, out);

  const env = {
    MESH_SYNC_INTERVAL_S: String(interval),
    MESH_DM_PENDING_PER_SENDER_LIMIT: String(Math.max(2, dms)),
    MESH_DM_REQUEST_MAILBOX_LIMIT: String(Math.max(12, dms + 4)),
  };
  step('cluster', `starting a hub and ${nodes} nodes (full mesh over ${opts.transport ?? 'http'} peers, sync interval ${interval} s)`);
  const cluster = await Cluster.start({ nodes, runDir: opts.runDir, transport: opts.transport, env, logLevel: 'info', log: (l) => step('cluster', l) });
  const names = [...cluster.nodes.keys()];
  const [A, B, C] = names;
  const notes: Array<[string, string]> = [];
  const acked = new Set<string>();
  const depositIds: string[] = [];
  let healMs = Number.NaN;
  let sampling = false;
  try {
    // 2. B cut off before anything is written: its chain stays empty.
    await cluster.kill(B, 'SIGKILL');
    const tKill0 = Date.now();
    step('partition', `${B} cut off (SIGKILL of its process group: hub leaf link and peer endpoint gone); its chain stays empty`);

    // 3. Writes on both sides of nothing: A first, C once A's events reached it (no concurrent fork between them).
    const heightOf = async (n: string): Promise<number> => (await cluster.status(n)).height;
    const headOf = async (n: string): Promise<string> => (await cluster.status(n)).head;
    const append = async (n: string, author: Identity, label: string): Promise<void> => {
      for (let i = 0; i < perWriter; i++) {
        const ev = await cluster.client(n).appendSigned(author, 'message', msg(`${label} ${i + 1}/${perWriter} ${randomBytes(4).toString('hex')}`));
        acked.add(signedId(ev.event));
      }
    };
    const writerA = generateIdentity();
    const writerC = generateIdentity();
    await append(A, writerA, `written at ${A}`);
    await waitUntil(async () => (await headOf(C)) === (await headOf(A)), stepTimeout, `${C} to pull ${A}'s events`, 50);
    await append(C, writerC, `written at ${C}`);
    await waitUntil(async () => (await headOf(A)) === (await headOf(C)), stepTimeout, `${A} to pull ${C}'s events`, 50);
    step('append', `${perWriter} events at ${A}, then ${perWriter} at ${C}: ${acked.size} acknowledged, ${A} and ${C} level at height ${await heightOf(A)}`);

    const bob = { id: generateIdentity(), dm: generateDmKeypair(), token: randomBytes(24).toString('base64url') };
    const claims: MailboxClaim[] = [{ type: 'requests', token: bob.token }];
    const alice = generateIdentity();
    const rejected: string[] = [];
    for (let i = 0; i < dms; i++) {
      const ciphertext = sealDm(`partition dm ${i + 1}: ${randomBytes(6).toString('hex')}`, bob.dm.public_key);
      const msg_id = generateMsgId(Date.now() / 1000);
      const t = {
        delivery_class: 'request' as const, recipient_id: bob.id.nodeId,
        sender_token_hash: sha256Hex(`infonet-dm-sender|${alice.nodeId}|${bob.id.nodeId}`),
      };
      const req: DepositRequest = { sender_id: alice.nodeId, ciphertext, msg_id, ...t, sender_proof: makeSenderProof(alice.seed, { ...t, msg_id, ciphertext }) };
      try {
        depositIds.push((await cluster.client(A).dmDeposit(req)).msg_id);
      } catch (e) {
        rejected.push(errText(e));
      }
    }
    check(`${A} accepts every DM while ${B} is cut off`, rejected.length === 0, rejected.length ? `${rejected.length} refused, first: ${rejected[0]}` : `${dms}/${dms} accepted`);

    // Recovery (issue 10): A is SIGKILLed mid-run with its pushes for B still queued in its outbox, C writes while A is
    // down, and A restarts on its data directory (an onion run checks it comes back at the same onion address) and
    // catches up by sync. Replicas are not
    // re-replicated, so Bob's DMs can reach B only by A draining that outbox after its restart.
    if (opts.crashWriter ?? true) {
      const before = await heightOf(A);
      await cluster.kill(A, 'SIGKILL');
      step('crash', `${A} SIGKILLed with ${dms} DM push(es) for ${B} queued in its outbox`);
      await append(C, generateIdentity(), `written at ${C} while ${A} is down`);
      await cluster.restart(A);
      await waitUntil(async () => (await headOf(A)) === (await headOf(C)), stepTimeout, `${A} to catch up ${C}'s events by sync after its restart`, 50);
      step('crash', `${A} back at ${await heightOf(A)} events, level with ${C} by sync`);
      const after = await heightOf(A);
      check(`${A} restarts on its data directory with every acknowledged event`, after >= before, `height ${before} before the SIGKILL, ${after} after the restart`);
    }

    // The partition lasts as long as asked (a scenario duration, not a synchronisation wait).
    const holdMs = (opts.partitionS ?? 0) * 1000 - (Date.now() - tKill0);
    if (holdMs > 0) {
      step('partition', `holding ${B} cut off for ${opts.partitionS} s in all`);
      await new Promise((r) => setTimeout(r, holdMs));
    }

    // 4. Heal. While healing, sample every live node's height: it must never go down (no reset wipes history).
    const lowest = new Map<string, number>();
    for (const n of names.filter((x) => x !== B)) lowest.set(n, await heightOf(n));
    const floor = new Map(lowest);
    sampling = true;
    const shrunk: string[] = [];
    const sampler = (async () => {
      while (sampling) {
        for (const n of names.filter((x) => x !== B)) {
          const h = await heightOf(n).catch(() => -1);
          if (h >= 0 && h < floor.get(n)!) shrunk.push(`${n} ${floor.get(n)} → ${h}`);
          if (h > floor.get(n)!) floor.set(n, h);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const tHeal = Date.now();
    await cluster.restart(B);
    const tUp = Date.now();
    step('heal', `${B} back on its data directory (${formatMs(tUp - tHeal)} to answer)`);

    let converged = true;
    try {
      await waitUntil(async () => {
        const heads = await Promise.all(names.map(headOf));
        return heads.every((h) => h === heads[0]) && (await heightOf(B)) >= acked.size;
      }, stepTimeout, 'every head to be equal', 50);
      healMs = Date.now() - tUp;
    } catch {
      converged = false;
    }
    const heads = await Promise.all(names.map(async (n) => `${n} ${(await heightOf(n))}@${(await headOf(n)).slice(0, 10)}`));
    check('heads equal on every node after the heal', converged, `${heads.join(', ')}${converged ? `, ${formatMs(healMs)} after ${B} answered (${(healMs / 1000 / interval).toFixed(1)} sync intervals)` : ''}`);

    const missing: string[] = [];
    const everywhere = new Set(acked);
    for (const n of names) {
      const have = new Set((await cluster.client(n).exportAll()).map(signedId));
      const lost = [...acked].filter((id) => !have.has(id));
      for (const id of lost) everywhere.delete(id);
      if (lost.length) missing.push(`${n} lacks ${lost.length}`);
    }
    check('every acknowledged event is on every node', missing.length === 0, missing.length ? missing.join(', ') : `${acked.size}/${acked.size} on each of ${names.length} nodes`);

    let dmsEverywhere = true;
    const dmCounts = new Map<string, number>();
    try {
      await waitUntil(async () => {
        for (const n of names) {
          const ids = new Set((await cluster.client(n).dmPendingIds(bob.id, claims)).msg_ids);
          dmCounts.set(n, depositIds.filter((id) => ids.has(id)).length);
        }
        return [...dmCounts.values()].every((v) => v === depositIds.length);
      }, stepTimeout, 'every DM on every node', 100);
    } catch {
      dmsEverywhere = false;
    }
    const dmMs = Date.now() - tUp;
    check('every acknowledged DM is in bob\'s mailbox on every node', dmsEverywhere,
      `${[...dmCounts].map(([n, v]) => `${n} ${v}/${depositIds.length}`).join(', ')}${dmsEverywhere ? `, ${formatMs(dmMs)} after ${B} answered` : ''}`);

    sampling = false;
    await sampler;
    check('no node lost events while healing (heights never went down)', shrunk.length === 0, shrunk.length ? shrunk.slice(0, 5).join('; ') : 'monotonic on every node');

    for (const n of names) {
      const st = (await cluster.status(n).catch(() => undefined)) as { inbound?: { sync?: Record<string, unknown> } } | undefined;
      const s = st?.inbound?.sync;
      if (s) notes.push([`sync ${n}`, Object.entries(s).filter(([, v]) => typeof v !== 'object').map(([k, v]) => `${k}=${String(v)}`).join(' ')]);
      const m = s?.metrics as Record<string, number> | undefined;
      const nonzero = m ? Object.entries(m).filter(([, v]) => v !== 0) : [];
      if (nonzero.length) notes.push([`sync metrics ${n}`, nonzero.map(([k, v]) => `${k}=${v}`).join(' ')]);
    }
    notes.push(['transports', (await cluster.transportSummary()).text]);
    notes.unshift(['setup', `${nodes} nodes, ${opts.transport ?? 'http'} peers, sync interval ${interval} s, ${perWriter} events at ${A} and at ${C}, ${dms} DMs at ${A}, ${B} cut off from the start${opts.partitionS ? ` for ${opts.partitionS} s` : ''}`]);
    // "Delivered" = an acknowledged event present on every node.
    const counts = deliveryCounts([...acked], [...everywhere]);
    const report: ScenarioReport = {
      scenario: 'partition', nodes, counts, latenciesMs: Number.isFinite(healMs) ? [healMs] : [], latencyOf: `${B} answering → equal heads`,
      checks, totalMs: Date.now() - t0, notes, ...(opts.keep ? { runDir: cluster.runDir } : {}),
    };
    return { ok: checks.every((c) => c.ok), report };
  } finally {
    sampling = false;
    await cluster.stopAll({ keep: opts.keep });
  }
}

/** Runs the partition scenario and prints its report; the exit code (0 only if every check holds). */
export async function runPartitionCli(opts: PartitionOptions, out: (l: string) => void = (l) => console.log(l)): Promise<number> {
  return runScenarioCli((log) => runPartition({ ...opts, log }), out);
}
