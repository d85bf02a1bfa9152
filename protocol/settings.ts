// Every environment setting of the node (spec Appendix B), read in this one place.
// Rule for numbers (§5.5): an empty or unparsable value falls back to the default; a value below the
// minimum is raised to the minimum. The README's configuration table mirrors SETTINGS_DOC below.

export type Env = Readonly<Record<string, string | undefined>>;

export function intSetting(env: Env, name: string, def: number, min?: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return def;
  const n = Number(raw.trim());
  if (!Number.isFinite(n)) return def;
  const v = Math.trunc(n);
  return min !== undefined && v < min ? min : v;
}

/**
 * A setting that becomes a timer or a time window (issue 8 item 4): its value is clamped to a documented [min, max]
 * — max well under Node's timer limit (2^31 − 1 ms ≈ 24.8 days; a longer delay fires after 1 ms) — and every clamp
 * is reported as a warning naming the setting (the caller logs it: this module does no I/O).
 */
export interface DurationBounds {
  min: number;
  max: number;
}

/** Bounds of every duration setting, in seconds (docs/configuration.md shows them). */
export const DURATION_BOUNDS: Readonly<Record<string, DurationBounds>> = {
  MESH_DM_HASHCHAIN_SPOOL_TTL_S: { min: 60, max: 7 * 86400 },
  MESH_DM_NONCE_TTL_S: { min: 30, max: 86400 },
  MESH_SYNC_INTERVAL_S: { min: 1, max: 86400 },
  MESH_SYNC_FAILURE_BACKOFF_S: { min: 0, max: 86400 },
  MESH_SYNC_TIMEOUT_S: { min: 1, max: 3600 },
  MESH_RELAY_PUSH_TIMEOUT_S: { min: 1, max: 3600 },
  MESH_RELAY_FAILURE_COOLDOWN_S: { min: 0, max: 86400 },
  MESH_BOOTSTRAP_SEED_FAILURE_COOLDOWN_S: { min: 0, max: 86400 },
};

export function durationSetting(env: Env, name: string, def: number, warnings: string[]): number {
  const b = DURATION_BOUNDS[name];
  const raw = env[name];
  const n = raw === undefined || raw.trim() === '' ? def : Number(raw.trim());
  if (!Number.isFinite(n)) {
    warnings.push(`${name}=${JSON.stringify(raw)} is not a number; using the default ${def}`);
    return def;
  }
  const v = Math.trunc(n);
  if (v < b.min || v > b.max) {
    const c = v < b.min ? b.min : b.max;
    warnings.push(`${name}=${v} is outside ${b.min}..${b.max} s; clamped to ${c}`);
    return c;
  }
  return v;
}

export function boolSetting(env: Env, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return def;
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  return def;
}

export function stringSetting(env: Env, name: string, def = ''): string {
  const raw = env[name];
  return raw === undefined ? def : raw.trim();
}

export interface SpoolCapSettings {
  /** MESH_DM_HASHCHAIN_SPOOL_LIMIT: live chain-spool entries per recipient mailbox. */
  limit: number;
  /** MESH_DM_HASHCHAIN_SPOOL_SENDER_LIMIT: live entries per (sender, recipient mailbox). */
  senderLimit: number;
  /** MESH_DM_HASHCHAIN_SPOOL_TTL_S: how long an entry counts. */
  ttlS: number;
}

export interface ChainSettings {
  spool: SpoolCapSettings;
  /** MESH_INGEST_EVENT_MAX_AGE_S: ingest freshness bound, 0 disables. */
  ingestMaxAgeS: number;
  /** Opt-in to the legacy 16-hex node id form (§1.2.2). Off by default. */
  allowLegacyNodeId: boolean;
}

export interface RelaySettings {
  messageTtlS: number;
  requestMailboxLimit: number;
  sharedMailboxLimit: number;
  selfMailboxLimit: number;
  pendingPerSenderLimit: number;
  maxMsgBytes: number;
  pollBatch: number;
  nonceTtlS: number;
  noncePerAgentMax: number;
  nonceCacheMax: number;
  /** MESH_DM_TOKEN_PEPPER; empty means "generate and persist at first start". */
  tokenPepper: string;
}

export interface PeerSettings {
  allowClearnetSync: boolean;
  pushSecret: string;
  peerSecrets: string;
  relayPeers: string;
  publicPeerUrl: string;
  syncIntervalS: number;
  syncFailureBackoffS: number;
  syncTimeoutS: number;
  syncMaxPeersPerCycle: number;
  relayPushTimeoutS: number;
  relayFailureCooldownS: number;
  seedFailureCooldownS: number;
  artiEnabled: boolean;
  artiSocksPort: number;
}

export interface Settings {
  chain: ChainSettings;
  relay: RelaySettings;
  peers: PeerSettings;
}

export function loadSettings(env: Env = process.env): Settings {
  return loadSettingsReport(env).settings;
}

/** loadSettings, plus one warning per duration setting that was clamped or unreadable (node run logs them). */
export function loadSettingsReport(env: Env = process.env): { settings: Settings; warnings: string[] } {
  const warnings: string[] = [];
  const dur = (name: string, def: number): number => durationSetting(env, name, def, warnings);
  const settings: Settings = {
    chain: {
      spool: {
        limit: intSetting(env, 'MESH_DM_HASHCHAIN_SPOOL_LIMIT', 2, 1),
        senderLimit: intSetting(env, 'MESH_DM_HASHCHAIN_SPOOL_SENDER_LIMIT', 1, 1),
        ttlS: dur('MESH_DM_HASHCHAIN_SPOOL_TTL_S', 3600),
      },
      ingestMaxAgeS: intSetting(env, 'MESH_INGEST_EVENT_MAX_AGE_S', 86400, 0),
      allowLegacyNodeId: boolSetting(env, 'INFONET_ALLOW_LEGACY_NODE_ID', false),
    },
    relay: {
      messageTtlS: 3600,
      requestMailboxLimit: intSetting(env, 'MESH_DM_REQUEST_MAILBOX_LIMIT', 12, 1),
      sharedMailboxLimit: intSetting(env, 'MESH_DM_SHARED_MAILBOX_LIMIT', 48, 1),
      selfMailboxLimit: intSetting(env, 'MESH_DM_SELF_MAILBOX_LIMIT', 12, 1),
      pendingPerSenderLimit: intSetting(env, 'MESH_DM_PENDING_PER_SENDER_LIMIT', 2, 1),
      maxMsgBytes: intSetting(env, 'MESH_DM_MAX_MSG_BYTES', 8192, 1),
      pollBatch: 8,
      nonceTtlS: dur('MESH_DM_NONCE_TTL_S', 300),
      noncePerAgentMax: intSetting(env, 'MESH_DM_NONCE_PER_AGENT_MAX', 256, 1),
      nonceCacheMax: intSetting(env, 'MESH_DM_NONCE_CACHE_MAX', 4096, 1),
      tokenPepper: stringSetting(env, 'MESH_DM_TOKEN_PEPPER'),
    },
    peers: {
      allowClearnetSync: boolSetting(env, 'MESH_INFONET_ALLOW_CLEARNET_SYNC', false),
      pushSecret: stringSetting(env, 'MESH_PEER_PUSH_SECRET'),
      peerSecrets: stringSetting(env, 'MESH_PEER_SECRETS'),
      relayPeers: stringSetting(env, 'MESH_RELAY_PEERS'),
      publicPeerUrl: stringSetting(env, 'MESH_PUBLIC_PEER_URL'),
      syncIntervalS: dur('MESH_SYNC_INTERVAL_S', 300),
      syncFailureBackoffS: dur('MESH_SYNC_FAILURE_BACKOFF_S', 60),
      syncTimeoutS: dur('MESH_SYNC_TIMEOUT_S', 5),
      syncMaxPeersPerCycle: intSetting(env, 'MESH_SYNC_MAX_PEERS_PER_CYCLE', 3, 1),
      relayPushTimeoutS: dur('MESH_RELAY_PUSH_TIMEOUT_S', 10),
      relayFailureCooldownS: dur('MESH_RELAY_FAILURE_COOLDOWN_S', 120),
      seedFailureCooldownS: dur('MESH_BOOTSTRAP_SEED_FAILURE_COOLDOWN_S', 15),
      artiEnabled: boolSetting(env, 'MESH_ARTI_ENABLED', false),
      artiSocksPort: intSetting(env, 'MESH_ARTI_SOCKS_PORT', 9050, 1),
    },
  };
  return { settings, warnings };
}

export const defaultSettings = (): Settings => loadSettings({});
