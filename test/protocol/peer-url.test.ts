import { isPrivateTransport, normalizePeerUrl, parsePeerList, transportKind } from '../../protocol/peer-url.js';

describe('normalizePeerUrl (§8.1)', () => {
  test.each([
    ['HTTPS://Good.Example:443/', 'https://good.example'],
    ['http://abc.onion:80/api/', 'http://abc.onion/api'],
    ['http://abc.onion:8000', 'http://abc.onion:8000'],
    ['https://x.example:8443/p/', 'https://x.example:8443/p'],
    ['  https://x.example//  ', 'https://x.example'],
    ['good.example', ''],
    ['ftp://x', 'ftp://x'],
  ])('A.6 %j → %j', (input, expected) => {
    expect(normalizePeerUrl(input)).toBe(expected);
  });

  test.each([
    ['https://h.example/p?q=1#frag', 'https://h.example/p'],
    ['https://user:pw@H.example:444', 'https://h.example:444'],
    ['http://h.example:443', 'http://h.example:443'],
    ['https://h.example:80', 'https://h.example:80'],
    ['http://[::1]:8000/', 'http://[::1]:8000'],
    ['http://h.example:notaport', ''],
    ['http://h.example:70000', ''],
    ['localhost:8000', ''],
    ['http://', ''],
    ['', ''],
  ])('edge %j → %j', (input, expected) => {
    expect(normalizePeerUrl(input)).toBe(expected);
  });

  test('is idempotent', () => {
    for (const u of ['HTTPS://Good.Example:443/', 'http://[::1]:8000/x/', 'nats://!sb_ab', 'rns://' + 'a'.repeat(32)]) {
      const once = normalizePeerUrl(u);
      expect(normalizePeerUrl(once)).toBe(once);
    }
  });
});

describe('transportKind', () => {
  test.each([
    ['http://abc.onion', 'onion'],
    ['http://abc.onion:8000/api', 'onion'],
    ['https://good.example', 'clearnet'],
    ['http://good.example', 'clearnet'],
    ['https://abc.onion', 'clearnet'],
    ['http://127.0.0.1:8000', 'loopback'],
    ['http://127.9.8.7', 'loopback'],
    ['http://localhost:3000', 'loopback'],
    ['https://localhost', 'loopback'],
    ['http://[::1]:8000', 'loopback'],
    ['http://128.0.0.1', 'clearnet'],
    ['rns://0123456789abcdef0123456789abcdef', 'rns'],
    ['rns://xyz', ''],
    ['nats://!sb_0123456789abcdef0123456789abcdef', 'bus'],
    ['ftp://x', ''],
    ['', ''],
  ])('%j → %j', (url, kind) => {
    expect(transportKind(url)).toBe(kind);
  });

  test('private transports are onion, rns, loopback and bus', () => {
    expect(['onion', 'rns', 'loopback', 'bus'].every(isPrivateTransport)).toBe(true);
    expect(isPrivateTransport('clearnet')).toBe(false);
    expect(isPrivateTransport('')).toBe(false);
  });
});

test('parsePeerList normalises, de-duplicates and drops empties', () => {
  expect(parsePeerList(' https://A.example/ ,, http://b.onion:80,https://a.example, junk ,')).toEqual([
    'https://a.example',
    'http://b.onion',
  ]);
  expect(parsePeerList('')).toEqual([]);
  expect(parsePeerList(undefined)).toEqual([]);
});
