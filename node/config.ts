// Node configuration: one table (CONFIG_TABLE) lists every setting with its flag, environment variable, config-file
// key, default and meaning. docs/configuration.md is generated from this table (`renderConfigMarkdown`), and the test
// suite checks the two agree. Precedence: command-line flag > environment variable > config file > default.
//
// The Appendix B protocol settings (MESH_*) are environment-style names read by protocol/settings.ts `loadSettings`;
// here they can also come from the config file's "env" object (file < process env), so a node can be configured by a
// single JSON file.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ErrorCodes, InfonetError } from '../protocol/errors.js';
import { z } from 'zod';
import type { OnionConfig } from '../transports/onion/onion-node.js';
import { DURATION_BOUNDS, loadSettingsReport, type Env, type Settings } from '../protocol/settings.js';

export type ConfigKey =
  | 'data' | 'nats' | 'creds' | 'leaf' | 'leafCreds' | 'natsPort' | 'httpHost' | 'httpPort' | 'logLevel' | 'commandTimeoutMs' | 'quarantineCorrupt'
  | 'tor' | 'torControl' | 'torCookie' | 'torPasswordFile' | 'onionPort' | 'torTorrcExtra'
  | 'rns' | 'rnsTcpConnect' | 'rnsTcpListen' | 'rnsAnnounceIntervalS'
  | 'metricsPublicLoopback';

export interface ConfigRow {
  key: string;
  flag?: string;
  env?: string;
  /** Key in the JSON config file (dotted = nested). */
  file?: string;
  default: string;
  description: string;
}

/** Node-level settings (read here). */
export const NODE_CONFIG: Record<ConfigKey, ConfigRow & { kind: 'string' | 'int' | 'bool' }> = {
  data: {
    key: 'data', flag: '--data DIR', env: 'INFONET_DATA', file: 'data', default: '(required)', kind: 'string',
    description: 'Data directory: LevelDB (`db/`), node key (`node.key.json`), embedded NATS state (`nats/`). One node per directory.',
  },
  nats: {
    key: 'nats', flag: '--nats URL', env: 'INFONET_NATS_URL', file: 'nats.url', default: '(embedded)', kind: 'string',
    description: 'Join an existing NATS server/cluster. Empty: start an embedded nats-server on a free loopback port with JetStream in `<data>/nats`.',
  },
  creds: {
    key: 'creds', flag: '--creds FILE', env: 'INFONET_NATS_CREDS', file: 'nats.creds', default: '(none)', kind: 'string',
    description: 'Credentials for --nats URL (nkey seed file or JSON {user, password}; docs/bus-auth.md). The embedded server needs none: its credentials are generated into `<data>/nats/auth/`.',
  },
  leaf: {
    key: 'leaf', flag: '--leaf URL', env: 'INFONET_LEAF', file: 'nats.leaf', default: '(none)', kind: 'string',
    description: 'Make the embedded server a leaf of this hub (`nats-leaf://HOST:PORT`, see `infonet hub run`). Comma-separated for several hubs. Ignored with --nats.',
  },
  leafCreds: {
    key: 'leafCreds', flag: '--leaf-creds FILE', env: 'INFONET_LEAF_CREDS', file: 'nats.leafCreds', default: '(none)', kind: 'string',
    description: 'Leaf credential issued by the hub (`infonet hub issue-leaf`); the leaf link presents it. Required by an authenticated hub.',
  },
  natsPort: {
    key: 'natsPort', flag: '--nats-port N', env: 'INFONET_NATS_PORT', file: 'nats.port', default: '0', kind: 'int',
    description: 'Client port of the embedded nats-server; 0 picks a free port.',
  },
  httpHost: {
    key: 'httpHost', flag: '--http-host HOST', env: 'INFONET_HTTP_HOST', file: 'http.host', default: '127.0.0.1', kind: 'string',
    description: 'Interface of the peer HTTP listener (replication, §9.1: loopback only unless behind a hidden service).',
  },
  httpPort: {
    key: 'httpPort', flag: '--http-port N', env: 'INFONET_HTTP_PORT', file: 'http.port', default: '0', kind: 'int',
    description: 'Port of the peer HTTP listener; 0 picks a free port.',
  },
  logLevel: {
    key: 'logLevel', flag: '--log-level LEVEL', env: 'INFONET_LOG_LEVEL', file: 'log.level', default: 'info', kind: 'string',
    description: 'pino log level: trace, debug, info, warn, error, fatal, silent. Logs go to stderr as JSON lines.',
  },
  quarantineCorrupt: {
    key: 'quarantineCorrupt', flag: '--quarantine-corrupt', env: 'INFONET_QUARANTINE_CORRUPT', file: 'store.quarantineCorrupt', default: 'false', kind: 'bool',
    description: 'A store that cannot be read on open (LevelDB refuses it, e.g. a missing CURRENT or MANIFEST, or a damaged table; or the chain fails its integrity check) is refused with the cause and every file kept. With this set it is moved aside (never deleted) to `<data>/db.quarantine.<unix>` and the node starts from genesis and re-syncs.',
  },
  commandTimeoutMs: {
    key: 'commandTimeoutMs', flag: '--timeout-ms N', env: 'INFONET_TIMEOUT_MS', default: '5000', kind: 'int',
    description: 'Request timeout of CLI commands that act on a running node (`infonet status`, `chain … --nats`; the flag on `status`).',
  },
  // Onion transport (issue 10, docs/onion.md).
  tor: {
    key: 'tor', flag: '--tor', env: 'INFONET_TOR', file: 'tor.managed', default: 'false', kind: 'bool',
    description: 'Start and supervise an embedded tor (DataDirectory, SocksPort, ControlPort under `<data>/tor`, cookie auth; restarted if it dies, reaped after a SIGKILL), publish the peer listener as an onion service with the key kept in `<data>/onion_key.json`, and reach onion peers through it. Needs Debian `tor`.',
  },
  torControl: {
    key: 'torControl', flag: '--tor-control HOST:PORT', env: 'INFONET_TOR_CONTROL', file: 'tor.control', default: '(none)', kind: 'string',
    description: "Use an operator's tor through its control port instead of a managed one (cookie auth, or --tor-password-file). The onion service lives as long as the node's control connection.",
  },
  torCookie: {
    key: 'torCookie', flag: '--tor-cookie FILE', env: 'INFONET_TOR_COOKIE', file: 'tor.cookie', default: '(from PROTOCOLINFO)', kind: 'string',
    description: "Control-port cookie file of the operator's tor.",
  },
  torPasswordFile: {
    key: 'torPasswordFile', flag: '--tor-password-file FILE', env: 'INFONET_TOR_PASSWORD_FILE', file: 'tor.passwordFile', default: '(none)', kind: 'string',
    description: "File holding the control-port password (HashedControlPassword) of the operator's tor; never logged.",
  },
  onionPort: {
    key: 'onionPort', flag: '--onion-port N', env: 'INFONET_ONION_PORT', file: 'tor.onionPort', default: '0', kind: 'int',
    description: 'Port of the dedicated 127.0.0.1 listener the onion service forwards to; every request arriving there is an onion caller (private). 0 picks a free port.',
  },
  torTorrcExtra: {
    key: 'torTorrcExtra', flag: '--tor-torrc-extra FILE', env: 'INFONET_TOR_TORRC_EXTRA', file: 'tor.torrcExtra', default: '(none)', kind: 'string',
    description: 'Extra torrc lines for the managed tor, e.g. a private test network (`infonet harness run … --transport onion` writes one).',
  },
  // RNS transport (issue 11, docs/rns.md).
  rns: {
    key: 'rns', flag: '--rns', env: 'MESH_RNS_ENABLED', file: 'rns.enabled', default: 'false', kind: 'bool',
    description: 'Run the native Reticulum endpoint (`infonet.node`, identity in `<data>/rns/identity`) and reach `rns://<destination hash>` peers over it. Implied by --rns-connect or --rns-listen. Without MESH_PUBLIC_PEER_URL the node advertises its `rns://` URL.',
  },
  rnsTcpConnect: {
    key: 'rnsTcpConnect', flag: '--rns-connect HOST:PORT[,…]', env: 'MESH_RNS_TCP_CONNECT', file: 'rns.connect', default: '(none)', kind: 'string',
    description: 'RNS TCP client interfaces: Reticulum transport nodes (`enable_transport = Yes`, no IFAC) or other infonet nodes\' --rns-listen. Reconnect with backoff; the node re-announces on every connect.',
  },
  rnsTcpListen: {
    key: 'rnsTcpListen', flag: '--rns-listen HOST:PORT', env: 'MESH_RNS_TCP_LISTEN', file: 'rns.listen', default: '(none)', kind: 'string',
    description: 'RNS TCP server interface so other infonet nodes can link directly (port 0 picks a free port).',
  },
  rnsAnnounceIntervalS: {
    key: 'rnsAnnounceIntervalS', flag: '--rns-announce-interval-s N', env: 'MESH_RNS_ANNOUNCE_INTERVAL_S', file: 'rns.announceIntervalS', default: '1800', kind: 'int',
    description: 'Periodic re-announce of the RNS destination (also sent at start, on every connect and when app data changes); 0 = only those.',
  },
  // Metrics (issue 13, docs/metrics.md).
  metricsPublicLoopback: {
    key: 'metricsPublicLoopback', flag: '--metrics-public-loopback', env: 'INFONET_METRICS_PUBLIC_LOOPBACK', file: 'metrics.publicLoopback', default: 'false', kind: 'bool',
    description: 'Serve `GET /metrics` on the local API (127.0.0.1 only) without the API token, for a local Prometheus without the token file. Default: the token is needed.',
  },
};

/** Appendix B protocol settings (env names; also accepted in the config file under "env"). */
export const PROTOCOL_SETTINGS: ConfigRow[] = [
  ['MESH_INFONET_ALLOW_CLEARNET_SYNC', 'false', 'false ⇒ private transport required (§9.1).'],
  ['MESH_DM_HASHCHAIN_SPOOL_LIMIT', '2 (min 1)', 'Live chain-spool DMs per recipient (§5.5).'],
  ['MESH_DM_HASHCHAIN_SPOOL_SENDER_LIMIT', '1 (min 1)', 'Live chain-spool DMs per (sender, recipient) (§5.5).'],
  ['MESH_DM_HASHCHAIN_SPOOL_TTL_S', '3600', 'How long a spool entry counts (§5.5).'],
  ['MESH_INGEST_EVENT_MAX_AGE_S', '86400 (0 disables)', 'Ingest freshness bound (§3.4).'],
  ['MESH_DM_PENDING_PER_SENDER_LIMIT', '2 (min 1)', 'Relay per-sender cap per mailbox (§7.3).'],
  ['MESH_DM_REQUEST_MAILBOX_LIMIT', '12 (min 1)', 'Request mailbox capacity (§7.3).'],
  ['MESH_DM_SHARED_MAILBOX_LIMIT', '48 (min 1)', 'Shared mailbox capacity (§7.3).'],
  ['MESH_DM_SELF_MAILBOX_LIMIT', '12 (min 1)', 'Self / other mailbox capacity (§7.3).'],
  ['MESH_DM_MAX_MSG_BYTES', '8192', 'Max DM ciphertext length (§7.5).'],
  ['MESH_DM_NONCE_TTL_S', '300', 'Replay window for signed poll/send nonces.'],
  ['MESH_DM_NONCE_PER_AGENT_MAX', '256', 'Nonces remembered per agent.'],
  ['MESH_DM_NONCE_CACHE_MAX', '4096', 'Global nonce budget.'],
  ['MESH_DM_TOKEN_PEPPER', '(generated)', 'Per-node secret for mailbox keys; generated and persisted in the store at first start when unset (§7.2).'],
  ['MESH_DM_PERSIST_SPOOL', 'false', 'Not read by this node: mailboxes are always persisted (§7.10). Listed because Appendix B names it.'],
  ['MESH_PEER_PUSH_SECRET', '""', 'Global peer HMAC secret (§8.2).'],
  ['MESH_PEER_SECRETS', '""', '`url=secret,url=secret` per-peer secrets.'],
  ['MESH_RELAY_PEERS', '""', 'Comma list of push/sync peer URLs.'],
  ['MESH_PUBLIC_PEER_URL', '""', "This node's advertised URL."],
  ['MESH_SYNC_INTERVAL_S', '300', 'Sync cycle interval.'],
  ['MESH_SYNC_FAILURE_BACKOFF_S', '60', 'Sync failure ladder base (§9.6).'],
  ['MESH_SYNC_TIMEOUT_S', '5', 'Sync HTTP timeout.'],
  ['MESH_SYNC_MAX_PEERS_PER_CYCLE', '3', 'Peers per sync cycle.'],
  ['MESH_RELAY_PUSH_TIMEOUT_S', '10', 'Push timeout (onion min 180 for DM replication).'],
  ['MESH_RELAY_FAILURE_COOLDOWN_S', '120', 'Relay failure cooldown.'],
  ['MESH_BOOTSTRAP_SEED_FAILURE_COOLDOWN_S', '15', 'Seed failure cooldown.'],
  ['MESH_ARTI_ENABLED', 'false', 'Onion client.'],
  ['MESH_ARTI_SOCKS_PORT', '9050', 'Onion client SOCKS port.'],
  ['INFONET_ALLOW_LEGACY_NODE_ID', 'false', 'Accept the legacy 16-hex node id form (§1.2.2).'],
].map(([env, def, description]) => {
  // Durations (timers, windows) are clamped at load with a warning naming the setting (issue 8 item 4).
  const b = DURATION_BOUNDS[env];
  return { key: env, env, file: `env.${env}`, default: b ? `${def} (${b.min}..${b.max} s, clamped)` : def, description };
});

/** The onion settings (tor … torTorrcExtra) are declared once, in OnionConfig, which the onion node reads. */
export interface NodeConfig extends OnionConfig {
  data: string;
  /** Empty = embedded server. */
  nats: string;
  /** Credentials file for `nats` ('' = none). */
  creds: string;
  /** Leaf remotes for the embedded server. */
  leaf: string[];
  /** Leaf credential file for the remotes ('' = none). */
  leafCreds: string;
  natsPort: number;
  httpHost: string;
  httpPort: number;
  logLevel: string;
  commandTimeoutMs: number;
  quarantineCorrupt: boolean;
  rns: boolean;
  rnsTcpConnect: string;
  rnsTcpListen: string;
  rnsAnnounceIntervalS: number;
  metricsPublicLoopback: boolean;
  /** Merged environment for the protocol settings (file "env" < process env). */
  env: Env;
  settings: Settings;
  /** Settings that were clamped or unreadable, one line each naming the setting (node run logs them at warn). */
  warnings: string[];
  /** Where each value came from (for `node run` start-up logging). */
  sources: Record<ConfigKey, 'flag' | 'env' | 'file' | 'default'>;
}

export type ConfigFlags = Partial<Record<ConfigKey, string | number | undefined>>;

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function fileValue(file: Record<string, unknown>, dotted: string): unknown {
  let cur: unknown = file;
  for (const k of dotted.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

// The config file's shape, derived from the table: every row's dotted `file` key, nested; unknown keys are refused
// (a typo must not silently fall back to a default). "env" holds Appendix B settings by name.
const fileScalar = z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]);
function configFileSchema(): z.ZodType<Record<string, unknown>> {
  type Tree = { [k: string]: Tree | true };
  const tree: Tree = {};
  for (const r of Object.values(NODE_CONFIG)) {
    if (!r.file) continue;
    const parts = r.file.split('.');
    let cur = tree;
    for (const p of parts.slice(0, -1)) cur = (cur[p] ??= {}) as Tree;
    cur[parts[parts.length - 1]] = true;
  }
  const build = (t: Tree): z.ZodType => z.strictObject(Object.fromEntries(Object.entries(t).map(([k, v]) => [k, (v === true ? fileScalar : build(v)).nullish()])));
  const shape = Object.fromEntries(Object.entries(tree).map(([k, v]) => [k, (v === true ? fileScalar : build(v)).nullish()]));
  return z.strictObject({ ...shape, env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).nullish()).nullish() }) as z.ZodType<Record<string, unknown>>;
}

/** Validates a parsed config file; BAD_INPUT naming the file and the first offending key. */
export function checkConfigFile(v: unknown, where: string): Record<string, unknown> {
  const r = configFileSchema().safeParse(v);
  if (r.success) return r.data;
  const i = r.error.issues[0];
  const key = i.path.length ? i.path.join('.') : '(top level)';
  const why = i.code === 'unrecognized_keys' ? `unknown key(s) ${i.keys.map((k) => JSON.stringify(k)).join(', ')}` : i.message;
  throw new InfonetError(ErrorCodes.BAD_INPUT, `config file ${where}: ${key}: ${why}`);
}

/** Reads a JSON config file (BAD_INPUT with the file name on any problem). */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InfonetError(ErrorCodes.BAD_INPUT, `cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new InfonetError(ErrorCodes.BAD_INPUT, `config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InfonetError(ErrorCodes.BAD_INPUT, `config file ${path} must hold a JSON object`);
  return checkConfigFile(v, path);
}

/** Resolves the node configuration: flags > env > file > default. */
export function resolveConfig(opts: { flags?: ConfigFlags; env?: Env; file?: Record<string, unknown>; configPath?: string } = {}): NodeConfig {
  const env = opts.env ?? process.env;
  const file = opts.file ? checkConfigFile(opts.file, '(object)') : opts.configPath ? readConfigFile(opts.configPath) : {};
  const flags = opts.flags ?? {};
  const sources = {} as NodeConfig['sources'];
  const raw = {} as Record<ConfigKey, string>;
  for (const [k, row] of Object.entries(NODE_CONFIG) as [ConfigKey, (typeof NODE_CONFIG)[ConfigKey]][]) {
    const f = flags[k];
    const e = row.env ? env[row.env] : undefined;
    const fv = row.file ? fileValue(file, row.file) : undefined;
    if (f !== undefined && f !== '') { raw[k] = String(f); sources[k] = 'flag'; }
    else if (e !== undefined && e.trim() !== '') { raw[k] = e.trim(); sources[k] = 'env'; }
    else if (fv !== undefined && fv !== null && fv !== '') {
      raw[k] = Array.isArray(fv) ? fv.map(String).join(',') : String(fv);
      sources[k] = 'file';
    } else { raw[k] = ''; sources[k] = 'default'; }
  }
  const int = (k: ConfigKey): number => {
    const s = raw[k] || NODE_CONFIG[k].default;
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new InfonetError(ErrorCodes.BAD_INPUT, `${NODE_CONFIG[k].flag?.split(' ')[0] ?? k} must be a non-negative integer, got ${JSON.stringify(s)}`);
    return n;
  };
  const bool = (k: ConfigKey): boolean => {
    const s = (raw[k] || NODE_CONFIG[k].default).toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(s)) return true;
    if (['0', 'false', 'no', 'off'].includes(s)) return false;
    throw new InfonetError(ErrorCodes.BAD_INPUT, `${NODE_CONFIG[k].flag?.split(' ')[0] ?? k} must be true or false, got ${JSON.stringify(s)}`);
  };
  const logLevel = raw.logLevel || 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new InfonetError(ErrorCodes.BAD_INPUT, `log level must be one of ${LOG_LEVELS.join(', ')}`);
  const fileEnv = fileValue(file, 'env');
  const mergedEnv: Record<string, string | undefined> = {};
  if (fileEnv && typeof fileEnv === 'object' && !Array.isArray(fileEnv)) {
    for (const [k, v] of Object.entries(fileEnv as Record<string, unknown>)) if (v !== undefined && v !== null) mergedEnv[k] = String(v);
  }
  for (const [k, v] of Object.entries(env)) if (v !== undefined) mergedEnv[k] = v;
  const { settings, warnings } = loadSettingsReport(mergedEnv);
  const natsPort = int('natsPort');
  const httpPort = int('httpPort');
  if (natsPort > 65535 || httpPort > 65535 || int('onionPort') > 65535) throw new InfonetError(ErrorCodes.BAD_INPUT, 'ports must be ≤ 65535');
  return {
    data: raw.data ? resolve(raw.data) : '',
    nats: raw.nats,
    creds: raw.creds ? resolve(raw.creds) : '',
    leafCreds: raw.leafCreds ? resolve(raw.leafCreds) : '',
    leaf: raw.leaf ? raw.leaf.split(',').map((s) => s.trim()).filter(Boolean) : [],
    natsPort,
    httpHost: raw.httpHost || '127.0.0.1',
    httpPort,
    logLevel,
    commandTimeoutMs: int('commandTimeoutMs'),
    quarantineCorrupt: bool('quarantineCorrupt'),
    tor: bool('tor'),
    torControl: raw.torControl,
    torCookie: raw.torCookie ? resolve(raw.torCookie) : '',
    torPasswordFile: raw.torPasswordFile ? resolve(raw.torPasswordFile) : '',
    onionPort: int('onionPort'),
    torTorrcExtra: raw.torTorrcExtra ? resolve(raw.torTorrcExtra) : '',
    rns: bool('rns'),
    rnsTcpConnect: raw.rnsTcpConnect,
    rnsTcpListen: raw.rnsTcpListen,
    rnsAnnounceIntervalS: int('rnsAnnounceIntervalS'),
    metricsPublicLoopback: bool('metricsPublicLoopback'),
    env: mergedEnv,
    settings,
    warnings,
    sources,
  };
}

/** docs/configuration.md, generated from the tables above. */
export function renderConfigMarkdown(): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const lines = [
    '# Configuration',
    '',
    '<!-- generated from node/config.ts (renderConfigMarkdown); test/node/config.test.ts checks it is up to date -->',
    '',
    'A node reads its settings from, in order of precedence: **command-line flags** > **environment variables** >',
    '**the JSON config file** (`infonet node run --config FILE`) > **defaults**.',
    '',
    '## Node',
    '',
    '| setting | flag | env | config file key | default | meaning |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of Object.values(NODE_CONFIG)) {
    lines.push(`| ${r.key} | \`${r.flag}\` | \`${r.env}\` | ${r.file ? `\`${r.file}\`` : '—'} | ${esc(r.default)} | ${esc(r.description)} |`);
  }
  lines.push(
    '',
    '## Protocol (spec Appendix B)',
    '',
    'Environment variables, or the same names under `"env"` in the config file (the process environment wins).',
    '',
    '| env | default | meaning |',
    '| --- | --- | --- |',
  );
  for (const r of PROTOCOL_SETTINGS) lines.push(`| \`${r.env}\` | ${esc(r.default)} | ${esc(r.description)} |`);
  lines.push(
    '',
    '## Process environment of the CLI',
    '',
    '| variable | effect |',
    '| --- | --- |',
    '| `MALLOC_ARENA_MAX` | `infonet chain export`, `validate` and `ingest` re-run themselves with `MALLOC_ARENA_MAX=2` when it is unset (glibc\'s per-thread malloc arenas held ~110 MiB during a 1M-event ingest); set it yourself to choose another value. Other commands, `node run` included, keep the environment as given. |',
    '| `INFONET_MEM_TRACE=N` | `chain ingest` and `chain validate` print a memory sample (RSS split, V8 spaces, ArrayBuffers) to stderr every N events. |',
    '',
    '## Example config file',
    '',
    '```json',
    JSON.stringify({ data: '/var/lib/infonet', nats: { leaf: 'nats-leaf://hub.example:7422' }, http: { host: '127.0.0.1', port: 8787 }, log: { level: 'info' }, env: { MESH_DM_MAX_MSG_BYTES: '8192' } }, null, 2),
    '```',
    '',
  );
  return lines.join('\n');
}
