// Configuration: precedence flags > env > file > default, validation, and docs/configuration.md generated from the table.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderConfigMarkdown, resolveConfig } from '../../node/config.js';
import { DURATION_BOUNDS } from '../../protocol/settings.js';

test('defaults', () => {
  const c = resolveConfig({ env: {}, file: {} });
  expect(c).toMatchObject({ data: '', nats: '', leaf: [], natsPort: 0, httpHost: '127.0.0.1', httpPort: 0, logLevel: 'info', commandTimeoutMs: 5000 });
  expect(c.settings.relay.maxMsgBytes).toBe(8192);
  expect(c.sources.httpHost).toBe('default');
});

test('precedence: flag > env > file > default; protocol settings from file env < process env', () => {
  const file = { http: { port: 1111, host: '127.0.0.2' }, log: { level: 'debug' }, nats: { leaf: ['nats-leaf://h:1', 'nats-leaf://h:2'] }, env: { MESH_DM_MAX_MSG_BYTES: '100', MESH_DM_SHARED_MAILBOX_LIMIT: '7' } };
  const env = { INFONET_HTTP_PORT: '2222', MESH_DM_MAX_MSG_BYTES: '200' };
  const c = resolveConfig({ env, file, flags: { httpPort: '3333' } });
  expect(c.httpPort).toBe(3333);
  expect(c.sources.httpPort).toBe('flag');
  expect(resolveConfig({ env, file }).httpPort).toBe(2222);
  expect(resolveConfig({ env: {}, file }).httpPort).toBe(1111);
  expect(c.httpHost).toBe('127.0.0.2');
  expect(c.logLevel).toBe('debug');
  expect(c.leaf).toEqual(['nats-leaf://h:1', 'nats-leaf://h:2']);
  expect(c.settings.relay.maxMsgBytes).toBe(200);
  expect(c.settings.relay.sharedMailboxLimit).toBe(7);
});

test('bad values are typed BAD_INPUT errors', () => {
  expect(() => resolveConfig({ env: {}, flags: { httpPort: 'x' } })).toThrow(/--http-port must be a non-negative integer/);
  expect(() => resolveConfig({ env: {}, flags: { logLevel: 'loud' } })).toThrow(/log level/);
  expect(() => resolveConfig({ env: {}, configPath: '/nonexistent/infonet.json' })).toThrow(/cannot read config file/);
});

test('docs/configuration.md is generated from the table and up to date', () => {
  expect(readFileSync(join(__dirname, '..', '..', 'docs', 'configuration.md'), 'utf8')).toBe(renderConfigMarkdown());
});

test('timeouts are clamped at load to a documented range, with a warning naming the setting (issue 8 item 4)', () => {
  const c = resolveConfig({ env: { MESH_SYNC_TIMEOUT_S: '2147484', MESH_RELAY_PUSH_TIMEOUT_S: '99999999', MESH_SYNC_INTERVAL_S: '0', MESH_SYNC_FAILURE_BACKOFF_S: 'soon' } });
  expect(c.settings.peers.syncTimeoutS).toBe(3600);
  expect(c.settings.peers.relayPushTimeoutS).toBe(3600);
  expect(c.settings.peers.syncIntervalS).toBe(1);
  expect(c.settings.peers.syncFailureBackoffS).toBe(60);
  expect(c.warnings).toEqual(expect.arrayContaining([
    expect.stringMatching(/^MESH_SYNC_TIMEOUT_S=2147484 is outside 1\.\.3600 s; clamped to 3600$/),
    expect.stringMatching(/^MESH_RELAY_PUSH_TIMEOUT_S=99999999 .* clamped to 3600$/),
    expect.stringMatching(/^MESH_SYNC_INTERVAL_S=0 .* clamped to 1$/),
    expect.stringMatching(/^MESH_SYNC_FAILURE_BACKOFF_S="soon" is not a number/),
  ]));
  // every duration bound stays well under Node's timer limit (2^31 − 1 ms)
  for (const b of Object.values(DURATION_BOUNDS)) expect(b.max * 1000).toBeLessThan(2 ** 31 - 1);
  expect(resolveConfig({ env: {} }).warnings).toEqual([]);
});

test('the config file is checked against the table: unknown keys and wrong types are refused by name', () => {
  expect(() => resolveConfig({ env: {}, file: { htpp: { port: 1 } } })).toThrow(/config file .*: \(top level\): unknown key\(s\) "htpp"/);
  expect(() => resolveConfig({ env: {}, file: { nats: { leaf: 'x', lef: 'y' } } })).toThrow(/nats: unknown key\(s\) "lef"/);
  expect(() => resolveConfig({ env: {}, file: { http: { port: { deep: 1 } } } })).toThrow(/http\.port/);
  const c = resolveConfig({ env: {}, file: { nats: { creds: '/x/op.nk', leafCreds: '/x/leaf.creds' } } });
  expect(c).toMatchObject({ creds: '/x/op.nk', leafCreds: '/x/leaf.creds' });
});
