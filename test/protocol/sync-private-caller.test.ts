import { includePrivateEvents, isLoopbackHost, isOnionHost } from '../../protocol/private-caller.js';

const PRIVATE = { allowClearnetSync: false };

describe('T57 redaction decision (private mode)', () => {
  test.each([
    ['public client', '203.0.113.10', {}, false],
    ['loopback client', '127.0.0.1', {}, true],
    ['loopback + public X-Forwarded-For', '127.0.0.1', { 'x-forwarded-for': '198.51.100.44' }, false],
    ['loopback + Forwarded for=unknown', '127.0.0.1', { forwarded: 'for=unknown' }, false],
    ['loopback + loopback/onion XFF chain', '127.0.0.1', { 'X-Forwarded-For': '127.0.0.1, abc.onion:80' }, true],
    ['loopback + mixed XFF chain', '127.0.0.1', { 'x-forwarded-for': '127.0.0.1, 198.51.100.44' }, false],
    ['loopback + empty XFF entry', '127.0.0.1', { 'x-forwarded-for': '127.0.0.1,,' }, false],
    ['loopback + Forwarded quoted v6 loopback', '127.0.0.1', { forwarded: 'for="[::1]:4711";proto=http' }, true],
    ['loopback + Forwarded second hop public', '127.0.0.1', { forwarded: 'for=127.0.0.1, for=192.0.2.60' }, false],
    ['loopback + Forwarded without for=', '127.0.0.1', { forwarded: 'proto=https' }, false],
    ['loopback + malformed Forwarded', '127.0.0.1', { forwarded: 'garbage' }, false],
    ['repeated XFF lines', '127.0.0.1', { 'x-forwarded-for': ['127.0.0.1', '198.51.100.44'] }, false],
    ['IPv6 loopback client', '::1', {}, true],
    ['IPv4-mapped loopback client', '::ffff:127.0.0.1', {}, true],
    ['IPv4-mapped public client', '::ffff:203.0.113.10', {}, false],
    ['no address', undefined, {}, false],
  ])('%s', (_name, remoteAddress, headers, expected) => {
    expect(includePrivateEvents({ remoteAddress, headers, ...PRIVATE })).toBe(expected);
  });
});

test('T58 clearnet-allowed mode never serves private events', () => {
  expect(includePrivateEvents({ remoteAddress: '127.0.0.1', headers: {}, allowClearnetSync: true })).toBe(false);
});

test('T60 Host header not trusted', () => {
  for (const host of ['localhost:8000', 'x.onion']) {
    expect(includePrivateEvents({ remoteAddress: '203.0.113.10', headers: { host }, ...PRIVATE })).toBe(false);
  }
});

test('isLoopbackHost / isOnionHost (§9.5.2)', () => {
  for (const h of ['localhost', 'LOCALHOST:8000', 'ip6-localhost', '127.0.0.1', '127.255.0.9:80', '::1', '[::1]', '[::1]:8000', '0:0:0:0:0:0:0:1']) {
    expect(isLoopbackHost(h)).toBe(true);
  }
  for (const h of ['128.0.0.1', '127.0.0.1.evil.example', '127.1', '::2', 'localhost.example', 'unknown', '', '127.0.0.1:x']) {
    expect(isLoopbackHost(h)).toBe(false);
  }
  expect(isOnionHost('abc.onion')).toBe(true);
  expect(isOnionHost('ABC.ONION:8000')).toBe(true);
  expect(isOnionHost('abc.onion.example')).toBe(false);
  expect(isOnionHost('.onion')).toBe(false);
});
