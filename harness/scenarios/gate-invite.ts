// Scenario "gate-invite" (issue 12; spec §11; docs/mls.md):
//
//   1. a hub and 3 nodes (A, B, C), full mesh; Bob uses C, Carol uses B, Alice uses A;
//   2. Bob and Carol export key packages on their nodes' live APIs; then C goes down (SIGKILL): Bob is offline;
//   3. Alice creates gate "ops" on A and invites Bob and Carol: the commits go on the chain, the sealed Welcomes into
//      the DM mailbox path (replicated to B; C gets Bob's when it is back — push retry or pull-from-peers);
//   4. Carol accepts on B; C restarts and Bob accepts through C's live API;
//   5. Alice posts; the events replicate by sync; Bob and Carol decrypt every post;
//   6. Alice removes Carol and posts again: Bob decrypts, Carol cannot (her node has the events, but no keys);
//   7. C is SIGKILLed and restarted: Bob still reads the gate (state restored) and decrypts a post made afterwards.
// Every MLS operation goes through a running node's local API (never a data directory). The summary counts posts
// sent, decrypted per member, and failures.
import { apiTargetOf, callApi } from '../../api/client.js';
import { Cluster, type PeerTransport } from '../cluster.js';
import { waitUntil } from '../wait.js';
import type { ScenarioReport, TimelineEntry } from '../report.js';
import { errText, runScenarioCli, scenarioLog } from '../scenario-run.js';

export interface GateInviteOptions {
  posts?: number;
  transport?: PeerTransport;
  runDir?: string;
  keep?: boolean;
  stepTimeoutMs?: number;
  log?: (line: string) => void;
}

interface ReadMessage { body: string; sender: string; msg_id: string }

export async function runGateInvite(opts: GateInviteOptions = {}): Promise<{ ok: boolean; report: ScenarioReport }> {
  const t0 = Date.now();
  const posts = opts.posts ?? 5;
  if (!Number.isInteger(posts) || posts < 1 || posts > 200) throw new Error('--posts must be an integer in 1..200');
  const stepTimeout = opts.stepTimeoutMs ?? 60_000;
  const out = opts.log ?? ((l: string) => console.log(l));
  const { step, check, checks } = scenarioLog(t0, out);
  const timeline: TimelineEntry[] = [];

  step('cluster', `starting a hub and 3 nodes (full mesh over ${opts.transport ?? 'http'} peers)`);
  const cluster = await Cluster.start({ nodes: 3, runDir: opts.runDir, transport: opts.transport, env: { MESH_SYNC_INTERVAL_S: '1' }, log: (l) => step('cluster', l) });
  const [A, B, C] = [...cluster.nodes.keys()];
  const api = (n: string) => apiTargetOf(cluster.nodes.get(n)!.dataDir);
  const call = <T = Record<string, unknown>>(n: string, cmd: string, body: unknown = {}) => callApi<T>(api(n), cmd, body);
  const sentBefore: string[] = [];
  const sentAfter: string[] = [];
  const latencies: number[] = [];
  let failures = 0;
  const notes: Array<[string, string]> = [];
  // A node answers node.status before the rest of its boot (onion service, MLS owner, local API) is done.
  const apiReady = (n: string) => waitUntil(() => call(n, 'gate.list'), stepTimeout, `${n}'s local API`, 100);
  try {
    for (const n of [A, B, C]) await apiReady(n);
    const bobKp = await call(C, 'gate.key_package', { persona: 'bob' });
    const carolKp = await call(B, 'gate.key_package', { persona: 'carol' });
    await cluster.kill(C, 'SIGKILL');
    timeline.push({ tMs: Date.now() - t0, node: C, kind: 'kill', detail: 'Bob offline' });
    step('offline', `key packages exported for bob@${C} and carol@${B}; ${C} killed: Bob is offline`);

    await call(A, 'gate.create', { gate_id: 'ops', display_name: 'Ops', rules: { invite_only: true }, persona: 'alice' });
    for (const kp of [bobKp, carolKp]) {
      await call(A, 'gate.invite', { gate: 'ops', mls_key_package: kp.mls_key_package, welcome_dh_pub: kp.welcome_dh_pub, recipient_id: kp.recipient_id });
    }
    step('invite', `alice@${A} created gate ops and invited bob and carol (Welcomes sealed into the mailbox path)`);

    await waitUntil(async () => ((await call<{ joined: string[] }>(B, 'gate.accept', { persona: 'carol' })).joined).includes('ops'), stepTimeout, 'Carol to accept on B', 250);
    step('accept', `carol accepted on ${B}`);
    await cluster.restart(C);
    timeline.push({ tMs: Date.now() - t0, node: C, kind: 'restart' });
    await waitUntil(async () => ((await call<{ joined: string[] }>(C, 'gate.accept', { persona: 'bob' })).joined).includes('ops'), stepTimeout, 'Bob to accept on C', 250);
    step('accept', `${C} back; bob accepted through ${C}'s live API`);

    const postAt = new Map<string, number>();
    for (let i = 0; i < posts; i++) {
      const r = await call<{ msg_id: string }>(A, 'gate.post', { gate: 'ops', text: `post ${i + 1}/${posts} for everyone` });
      sentBefore.push(r.msg_id);
      postAt.set(r.msg_id, Date.now());
    }
    step('post', `alice posted ${posts} posts`);
    const readIds = async (n: string): Promise<string[]> => (await call<{ messages: ReadMessage[] }>(n, 'gate.read', { gate: 'ops' })).messages.map((m) => m.msg_id);
    const seen = new Set<string>();
    await waitUntil(async () => {
      const ids = await readIds(C);
      for (const id of ids) if (!seen.has(id) && postAt.has(id)) { seen.add(id); latencies.push(Date.now() - postAt.get(id)!); }
      return sentBefore.every((id) => ids.includes(id));
    }, stepTimeout, 'Bob to decrypt every post', 100);
    await waitUntil(async () => { const ids = await readIds(B); return sentBefore.every((id) => ids.includes(id)); }, stepTimeout, 'Carol to decrypt every post', 100);
    const bobRead1 = (await readIds(C)).filter((id) => sentBefore.includes(id)).length;
    const carolRead1 = (await readIds(B)).filter((id) => sentBefore.includes(id)).length;
    check('bob and carol decrypt every post', bobRead1 === posts && carolRead1 === posts, `bob ${bobRead1}/${posts}, carol ${carolRead1}/${posts}`);

    await call(A, 'gate.remove', { gate: 'ops', member: 'carol' });
    for (let i = 0; i < 2; i++) sentAfter.push((await call<{ msg_id: string }>(A, 'gate.post', { gate: 'ops', text: `after carol left ${i + 1}` })).msg_id);
    step('remove', `alice removed carol and posted ${sentAfter.length} more`);
    await waitUntil(async () => { const ids = await readIds(C); return sentAfter.every((id) => ids.includes(id)); }, stepTimeout, 'Bob to decrypt the posts after the removal', 100);
    const heightA = (await cluster.status(A)).height;
    await waitUntil(async () => (await cluster.status(B)).height >= heightA, stepTimeout, `${B} to hold every event`, 100);
    const carolShow = await call<{ member: boolean; waiting: number }>(B, 'gate.read', { gate: 'ops' });
    const carolAfter = (await readIds(B)).filter((id) => sentAfter.includes(id)).length;
    check('removed member cannot read later posts', carolAfter === 0 && carolShow.member === false, `carol decrypted ${carolAfter}/${sentAfter.length} posts made after her removal; member=${String(carolShow.member)}`);
    const bobAfter = (await readIds(C)).filter((id) => sentAfter.includes(id)).length;
    check('remaining member reads after the removal', bobAfter === sentAfter.length, `bob ${bobAfter}/${sentAfter.length}`);

    await cluster.kill(C, 'SIGKILL');
    timeline.push({ tMs: Date.now() - t0, node: C, kind: 'kill' });
    await cluster.restart(C);
    timeline.push({ tMs: Date.now() - t0, node: C, kind: 'restart' });
    await apiReady(C); // api.json of the killed run is stale until the new API listens
    const restored = (await readIds(C)).filter((id) => sentBefore.includes(id) || sentAfter.includes(id)).length;
    const last = (await call<{ msg_id: string }>(A, 'gate.post', { gate: 'ops', text: 'after the restart' })).msg_id;
    sentAfter.push(last);
    await waitUntil(async () => (await readIds(C)).includes(last), stepTimeout, 'Bob to decrypt a post after the restart', 100);
    check('state restored after SIGKILL', restored === posts + 2, `bob's view after restart holds ${restored}/${posts + 2} posts and decrypts a new one`);
    notes.push(['posts sent', String(sentBefore.length + sentAfter.length)]);
    notes.push(['decrypted by bob', String((await readIds(C)).length)]);
    notes.push(['decrypted by carol', String((await readIds(B)).length)]);
    const list = await call<{ gates: Array<{ gate_id: string; epoch: number; member_count: number }> }>(A, 'gate.list');
    notes.push(['gate ops at A', JSON.stringify(list.gates.find((g) => g.gate_id === 'ops'))]);
  } catch (e) {
    failures++;
    check('scenario ran to the end', false, errText(e));
  } finally {
    await cluster.stopAll({ keep: opts.keep });
  }
  notes.push(['failures', String(failures)]);
  const sent = [...sentBefore, ...sentAfter];
  const report: ScenarioReport = {
    scenario: 'gate-invite', nodes: 3,
    counts: { sent: sent.length, delivered: latencies.length, duplicates: 0, lost: sentBefore.length - latencies.length },
    latenciesMs: latencies, latencyOf: 'post on A → decrypted by Bob on C', checks, totalMs: Date.now() - t0, notes, timeline,
    ...(opts.keep ? { runDir: cluster.runDir } : {}),
  };
  return { ok: checks.length > 0 && checks.every((c) => c.ok), report };
}

export async function runGateInviteCli(opts: GateInviteOptions, out: (l: string) => void = (l) => console.log(l)): Promise<number> {
  return runScenarioCli((log) => runGateInvite({ ...opts, log }), out);
}
