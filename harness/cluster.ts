// A cluster of real nodes on one machine: a federation hub (bus/hub.ts) and N `infonet node run` child processes, each
// with its own data directory, embedded NATS leaf server (joined to the hub), peer HTTP port on 127.0.0.1, per-run
// random peer secret and configured peers (full mesh, or the edges given). Everything a run produces lives in one run
// directory:
//
//   <run>/hub/                 hub nats state and log
//   <run>/<name>/              node data directory (db/, node.key.json, nats/)
//   <run>/<name>.config.json   the node's config file (peers, secrets, ports; mode 600) — `node run --config` reads it
//   <run>/<name>.log           the node's stdout + stderr, appended across restarts
//   <run>/<name>.leaf.creds    the node's leaf credential issued by the hub (mode 600; docs/bus-auth.md)
//
// Readiness is asked on the bus (`node.status` through the hub), never assumed after a sleep. Node keys are created
// here before the first start, so node ids — and `nats://<node id>` peer URLs — are known up front.
//
// Faults: kill(name, 'SIGKILL') kills the node's whole process group (the node and its embedded nats-server), like a
// machine losing power; kill(name, 'SIGTERM') asks the node to stop gracefully (it stops its own server).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { InfonetClient } from '../bus/client.js';
import type { NodeStatus } from '../bus/commands.js';
import { connectBus } from '../bus/connect.js';
import { issueLeafCredential, startHub, type HubHandle } from '../bus/hub.js';
import { findNatsServer, freePort } from '../bus/nats-server.js';
import { loadOrCreateNodeKey } from '../node/infonet-node.js';
import { ONION_KEY_FILE } from '../transports/onion/onion-node.js';
import { loadOrCreateOnionKey } from '../transports/onion/onion-key.js';
import { loadOrCreateIdentity as loadOrCreateRnsIdentity } from '../transports/rns/identity-file.js';
import { INFONET_NODE_NAME, singleDestinationHash } from '../transports/rns/names.js';
import { joinTorrcLines, startTorNetwork, type TorNetwork } from './tor-network.js';
import { waitUntil } from './wait.js';

/** Repository root (this file is <root>/harness/cluster.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export type PeerTransport = 'http' | 'bus' | 'onion' | 'rns';
export type NodeState = 'running' | 'stopped' | 'killed' | 'exited';

export interface ClusterOptions {
  /** Number of nodes (named A, B, C, …) or explicit names. Default 3. */
  nodes?: number | string[];
  /** Run directory; default a fresh temp directory. */
  runDir?: string;
  /**
   * Undirected peer edges by node name; default: full mesh. A node's peers are its neighbours. Replication follows
   * these edges only, so a partial mesh exercises pull-from-peers (§10.2).
   */
  edges?: Array<[string, string]>;
  /**
   * How peers reach each other: `http://127.0.0.1:<port>` (default), `nats://<node id>` over the federation, or
   * `http://<onion>.onion` over a private Tor network started for the run in <run>/tor-net (issue 10, docs/onion.md):
   * every node runs its managed tor and publishes its onion service; peers are onion URLs only. `rns`: peers are
   * `rns://<destination hash>` only, every node runs an RNS TCP server interface and dials its neighbours' directly
   * (issue 11, docs/rns.md).
   */
  transport?: PeerTransport;
  /**
   * Transport 'rns' only: attach the nodes to these external Reticulum transport nodes (`host:port`, node i to entry
   * i mod n) instead of linking them directly, e.g. A to one transport node and C to another two hops away.
   */
  rnsConnect?: string[];
  /** Extra protocol settings for every node (MESH_* names), e.g. cap sizes. */
  env?: Record<string, string>;
  /** Log level of the node processes. Default 'info'. */
  logLevel?: string;
  /** Per-node readiness timeout. Default 30 s (first start on a busy 2-core machine). */
  readyTimeoutMs?: number;
  /** Bus request timeout of the harness clients. Default 5 s. */
  requestTimeoutMs?: number;
  /** Progress lines (node started, killed, …). */
  log?: (line: string) => void;
}

export interface ClusterNode {
  name: string;
  id: string;
  dataDir: string;
  configFile: string;
  logFile: string;
  httpPort: number;
  /** This node's advertised peer URL (MESH_PUBLIC_PEER_URL). */
  peerUrl: string;
  /** Names of its peers. */
  peers: string[];
  /** Port of its RNS TCP server interface (transport 'rns' with direct links), else 0. */
  rnsPort: number;
  /** The external Reticulum transport node it attaches to (transport 'rns' with rnsConnect), else ''. */
  rnsConnect: string;
  /** Its leaf credential, issued by the hub (<run>/<name>.leaf.creds). */
  leafCreds: string;
  /** Its operator credential (exists once the node started): `--creds` for CLI commands against this node. */
  operatorCreds: string;
  state: NodeState;
  pid?: number;
  /** Starts of this node so far (1 after the first start). */
  starts: number;
}

interface Proc {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const NODE_NAMES = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';


// Process groups of every node still running when this process exits are killed, so an aborted run never leaks nodes.
const liveGroups = new Set<number>();
let exitHook = false;
function trackGroup(pid: number): void {
  liveGroups.add(pid);
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const g of liveGroups) {
      try {
        process.kill(-g, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
}

export function peerUrlOf(transport: PeerTransport, httpPort: number, nodeId: string): string {
  return transport === 'bus' ? `nats://${nodeId}` : `http://127.0.0.1:${httpPort}`;
}

export class Cluster {
  readonly nodes = new Map<string, ClusterNode>();
  private readonly procs = new Map<string, Proc>();
  private readonly clients = new Map<string, InfonetClient>();
  private stopped = false;
  /** The run's private Tor network (transport 'onion'). */
  torNet?: TorNetwork;

  private constructor(
    readonly runDir: string,
    readonly hub: HubHandle,
    /** Harness connection to the hub: every node is reachable from here over the leaf links. */
    readonly nc: NatsConnection,
    private readonly opts: Required<Pick<ClusterOptions, 'transport' | 'logLevel' | 'readyTimeoutMs' | 'requestTimeoutMs'>> & {
      env: Record<string, string>;
      log: (line: string) => void;
    },
    private readonly ownRunDir: boolean,
  ) {}

  /** Starts the hub and every node, and resolves once each node answers `node.status` through the hub. */
  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    findNatsServer(); // fail early, with install instructions, when nats-server is missing
    const names = Array.isArray(options.nodes)
      ? options.nodes
      : Array.from({ length: options.nodes ?? 3 }, (_, i) => NODE_NAMES[i] ?? `N${i}`);
    if (names.length === 0) throw new Error('a cluster needs at least one node');
    if (new Set(names).size !== names.length || names.some((n) => !/^[A-Za-z0-9_-]+$/.test(n))) {
      throw new Error(`node names must be distinct tokens [A-Za-z0-9_-]: ${names.join(', ')}`);
    }
    const ownRunDir = !options.runDir;
    const runDir = resolve(options.runDir ?? mkdtempSync(join(tmpdir(), 'infonet-harness-')));
    mkdirSync(runDir, { recursive: true });
    const log = options.log ?? (() => undefined);
    const transport = options.transport ?? 'http';

    const neighbours = new Map(names.map((n) => [n, new Set<string>()]));
    const edges = options.edges ?? names.flatMap((a, i) => names.slice(i + 1).map((b) => [a, b] as [string, string]));
    for (const [a, b] of edges) {
      if (!neighbours.has(a) || !neighbours.has(b) || a === b) throw new Error(`bad edge ${a}-${b}`);
      neighbours.get(a)!.add(b);
      neighbours.get(b)!.add(a);
    }

    // Node keys first: the hub issues each node's leaf credential (bound to its node id) before it starts.
    const hubDir = join(runDir, 'hub');
    const prepared = names.map((name) => {
      const dataDir = join(runDir, name);
      mkdirSync(dataDir, { recursive: true });
      const id = loadOrCreateNodeKey(dataDir).nodeId; // the node reads the same key file at start
      // Onion addresses come from keys the nodes keep in their data directories: known before any tor runs.
      const onionUrl = transport === 'onion' ? loadOrCreateOnionKey(join(dataDir, ONION_KEY_FILE)).url : '';
      // Likewise the RNS identity (<data>/rns/identity) fixes the node's rns:// URL before it starts.
      const rnsUrl = transport === 'rns' ? `rns://${singleDestinationHash(INFONET_NODE_NAME, loadOrCreateRnsIdentity(dataDir).hash).toString('hex')}` : '';
      return { name, dataDir, id, onionUrl: onionUrl || rnsUrl, leafCreds: issueLeafCredential(hubDir, { name, nodeId: id, out: join(runDir, `${name}.leaf.creds`) }) };
    });
    let torNet: TorNetwork | undefined;
    if (transport === 'onion') {
      log(`starting a private Tor network in ${join(runDir, 'tor-net')} (authorities, relays; 127.0.0.1 only)`);
      torNet = await startTorNetwork({ dir: join(runDir, 'tor-net') });
      writeFileSync(join(runDir, 'tor-net.torrc'), joinTorrcLines(torNet).join('\n') + '\n');
      log(`tor network ready after ${torNet.readyAfterMs} ms`);
    }
    const hub = await startHub({ dataDir: hubDir, serverName: 'harness-hub', monitor: true }).catch(async (e: unknown) => {
      await torNet?.stop();
      throw e;
    });
    let nc: NatsConnection | undefined;
    let cluster: Cluster | undefined;
    try {
      // The harness is the hub's administrator: it may command every node (a node's own credentials may not).
      nc = await connectBus(hub.clientUrl, { creds: hub.adminCreds, name: 'infonet-harness', options: { maxReconnectAttempts: -1 } });
      cluster = new Cluster(runDir, hub, nc, {
        transport, log, env: options.env ?? {}, logLevel: options.logLevel ?? 'info',
        // Onion nodes bootstrap their tor before they answer.
        readyTimeoutMs: options.readyTimeoutMs ?? (transport === 'onion' ? 180_000 : 30_000), requestTimeoutMs: options.requestTimeoutMs ?? 5000,
      }, ownRunDir);
      cluster.torNet = torNet;
      const secrets = new Map<string, string>();
      for (const { name, dataDir, id, onionUrl, leafCreds } of prepared) {
        const httpPort = await freePort();
        secrets.set(name, randomBytes(32).toString('hex'));
        const external = transport === 'rns' && options.rnsConnect?.length ? options.rnsConnect[cluster.nodes.size % options.rnsConnect.length] : '';
        const rnsPort = transport === 'rns' && !external ? await freePort() : 0;
        cluster.nodes.set(name, {
          name, id, dataDir, httpPort, rnsPort, rnsConnect: external, peerUrl: onionUrl || peerUrlOf(transport, httpPort, id), leafCreds,
          operatorCreds: join(dataDir, 'nats', 'auth', 'operator.nk'),
          configFile: join(runDir, `${name}.config.json`), logFile: join(runDir, `${name}.log`),
          peers: [...neighbours.get(name)!], state: 'stopped', starts: 0,
        });
      }
      for (const n of cluster.nodes.values()) cluster.writeConfig(n, secrets);
      await Promise.all(names.map((n) => cluster!.startNode(n)));
      return cluster;
    } catch (e) {
      if (cluster) await cluster.stopAll({ keep: true }).catch(() => undefined);
      else {
        await nc?.close().catch(() => undefined);
        await hub.stop();
        await torNet?.stop();
      }
      throw e;
    }
  }

  /**
   * The node's config file: data dir, leaf remote, HTTP port, and under "env" its peers (MESH_RELAY_PEERS), its own
   * URL (MESH_PUBLIC_PEER_URL) and the peer secrets it needs (MESH_PEER_SECRETS: its own and its neighbours' — a node
   * never learns the secret of a node it is not peered with). Written mode 600: it holds secrets.
   */
  private writeConfig(n: ClusterNode, secrets: Map<string, string>): void {
    const peerNodes = n.peers.map((p) => this.nodes.get(p)!);
    const secretList = [n, ...peerNodes].map((x) => `${x.peerUrl}=${secrets.get(x.name)}`).join(',');
    const config = {
      data: n.dataDir,
      nats: { leaf: this.hub.leafUrl, leafCreds: n.leafCreds },
      http: { host: '127.0.0.1', port: n.httpPort },
      log: { level: this.opts.logLevel },
      ...(this.torNet ? { tor: { managed: true, torrcExtra: join(this.runDir, 'tor-net.torrc') } } : {}),
      // RNS: one direct TCP link per edge (the node that sorts later dials); an endpoint is not a transport node.
      ...(n.rnsPort ? { rns: { listen: `127.0.0.1:${n.rnsPort}`, connect: peerNodes.filter((p) => p.name < n.name).map((p) => `127.0.0.1:${p.rnsPort}`).join(',') } } : {}),
      ...(n.rnsConnect ? { rns: { connect: n.rnsConnect } } : {}),
      env: {
        // Onion sync answers come through circuits: the 5 s default would fail a cold first request (§8.3.4 spirit).
        ...(this.torNet ? { MESH_SYNC_TIMEOUT_S: '60' } : {}),
        ...this.opts.env,
        MESH_RELAY_PEERS: peerNodes.map((p) => p.peerUrl).join(','),
        MESH_PUBLIC_PEER_URL: n.peerUrl,
        MESH_PEER_SECRETS: secretList,
      },
    };
    writeFileSync(n.configFile, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  }

  node(name: string): ClusterNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node named ${name}`);
    return n;
  }

  /** A bus client for the node (over the harness's hub connection). */
  client(name: string): InfonetClient {
    let c = this.clients.get(name);
    if (!c) this.clients.set(name, (c = new InfonetClient(this.nc, this.node(name).id, this.opts.requestTimeoutMs)));
    return c;
  }

  status(name: string): Promise<NodeStatus> {
    return this.client(name).status();
  }

  /**
   * Which transports carried the run (issue 10): per running node its peers' transport kinds, and the peer requests
   * answered over onion (pushes, acks, pulls, sync pages). With `--transport onion` every peer is an onion URL.
   */
  async transportSummary(): Promise<{ peersByKind: Record<string, number>; onionAnswers: number; text: string }> {
    const peersByKind: Record<string, number> = {};
    let onionAnswers = 0;
    for (const n of this.running()) {
      const st = await this.status(n.name).catch(() => undefined);
      for (const p of st?.transports?.peers ?? []) peersByKind[p.transport] = (peersByKind[p.transport] ?? 0) + 1;
      onionAnswers += (st?.transports?.onion as { answered?: number } | undefined)?.answered ?? 0;
    }
    const kinds = Object.entries(peersByKind).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
    return { peersByKind, onionAnswers, text: `peer links by kind: ${kinds}; peer requests answered over onion: ${onionAnswers}` };
  }

  running(): ClusterNode[] {
    return [...this.nodes.values()].filter((n) => n.state === 'running');
  }

  private async startNode(name: string): Promise<void> {
    const n = this.node(name);
    if (this.procs.has(name)) throw new Error(`node ${name} is already running`);
    // The child's environment carries no MESH_*/INFONET_* settings of the caller: the config file is the whole
    // configuration, so a run is reproducible from its run directory.
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!/^(MESH_|INFONET_)/.test(k)) env[k] = v;
    const fd = openSync(n.logFile, 'a');
    writeSync(fd, `\n=== harness: start #${n.starts + 1} of node ${name} (${n.id}) at ${new Date().toISOString()} ===\n`);
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'cli', 'main.ts'), 'node', 'run', '--config', n.configFile], {
        cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => {
      child.once('exit', (code, signal) => r({ code, signal }));
      child.once('error', () => r({ code: null, signal: null }));
    });
    const proc: Proc = { child, exited };
    this.procs.set(name, proc);
    n.pid = child.pid;
    n.starts++;
    if (child.pid) trackGroup(child.pid);
    void exited.then((x) => {
      if (child.pid) liveGroups.delete(child.pid);
      if (this.procs.get(name) === proc) {
        this.procs.delete(name);
        if (n.state === 'running') {
          n.state = 'exited';
          if (!this.stopped) this.opts.log(`node ${name} exited unexpectedly (code ${x.code}, signal ${x.signal}); see ${n.logFile}`);
        }
      }
    });
    n.state = 'running';
    const t0 = Date.now();
    const client = this.client(name);
    const status = await Promise.race([
      waitUntil(() => client.request('node.status', undefined, 1000), this.opts.readyTimeoutMs, `node ${name} to answer node.status on the bus`, 50),
      exited.then((x) => {
        throw new Error(`node ${name} exited during start-up (code ${x.code}, signal ${x.signal}); see ${n.logFile}`);
      }),
    ]);
    if (status.node_id !== n.id) throw new Error(`node ${name} answered as ${status.node_id}, expected ${n.id}`);
    // Onion runs: a restarted node must come back at the same onion address (its key lives in its data directory).
    const onion = this.torNet ? (status.transports?.onion as { url?: string } | undefined)?.url : undefined;
    if (this.torNet && onion !== n.peerUrl) throw new Error(`node ${name} published ${onion ?? 'no onion'}, expected ${n.peerUrl}`);
    this.opts.log(`node ${name} up in ${Date.now() - t0} ms: ${n.id}, peer url ${n.peerUrl}, height ${status.height}${n.starts > 1 ? ` (restart #${n.starts - 1})` : ''}`);
  }

  /**
   * SIGKILL: the node's process group (node + embedded nats-server) dies at once, nothing is flushed. SIGTERM: the
   * node stops gracefully. Resolves when the node process has exited.
   */
  async kill(name: string, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const n = this.node(name);
    const proc = this.procs.get(name);
    if (!proc || !n.pid) throw new Error(`node ${name} is not running`);
    n.state = signal === 'SIGKILL' ? 'killed' : 'stopped';
    try {
      if (signal === 'SIGKILL') process.kill(-n.pid, 'SIGKILL');
      else proc.child.kill('SIGTERM');
    } catch {
      /* already gone */
    }
    const x = await proc.exited;
    if (signal === 'SIGTERM') {
      // A graceful stop also stops the embedded server; make sure nothing of the group is left either way.
      try {
        process.kill(-n.pid, 'SIGKILL');
      } catch {
        /* group empty */
      }
    }
    this.opts.log(`node ${name} ${signal === 'SIGKILL' ? 'killed (SIGKILL, process group)' : 'stopped (SIGTERM)'}: exit code ${x.code}, signal ${x.signal}`);
    return x;
  }

  /** Starts a stopped or killed node again on the same data directory, ports and configuration. */
  async restart(name: string): Promise<void> {
    const n = this.node(name);
    if (n.state === 'running') throw new Error(`node ${name} is running`);
    await this.startNode(name);
  }

  /** Stops every running node (SIGTERM, then SIGKILL after `graceMs`), the hub, and removes a temp run dir unless kept. */
  async stopAll(opts: { keep?: boolean; graceMs?: number } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all([...this.procs.entries()].map(async ([name, proc]) => {
      const n = this.node(name);
      n.state = 'stopped';
      proc.child.kill('SIGTERM');
      let t: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([proc.exited.then(() => false), new Promise<boolean>((r) => (t = setTimeout(() => r(true), opts.graceMs ?? 10_000)))]);
      clearTimeout(t);
      if (n.pid) {
        try {
          process.kill(-n.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      if (timedOut) await proc.exited;
    }));
    if (!this.nc.isClosed()) await this.nc.close().catch(() => undefined);
    await this.hub.stop();
    await this.torNet?.stop();
    if (this.ownRunDir && !opts.keep && existsSync(this.runDir)) rmSync(this.runDir, { recursive: true, force: true });
  }
}
