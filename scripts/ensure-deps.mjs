#!/usr/bin/env node
// Makes `npm start` / `npm test` self-sufficient on a fresh machine:
// installs npm dependencies when node_modules is missing or older than the lock file,
// and installs Debian's nats-server, tor and docker-compose when they are missing and we are root.
import { existsSync, statSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lock = join(root, 'package-lock.json');
const installed = join(root, 'node_modules', '.package-lock.json');

function run(cmd) {
  console.error(`[ensure-deps] ${cmd}`);
  execSync(cmd, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
}

const stale = !existsSync(installed) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(installed).mtimeMs + 1000);
if (stale) run(existsSync(lock) ? 'npm ci --no-audit --no-fund' : 'npm install --no-audit --no-fund');

function hasNatsServer() {
  if (existsSync('/usr/sbin/nats-server') || existsSync('/usr/bin/nats-server')) return true;
  try { execSync('command -v nats-server', { stdio: 'ignore', shell: '/bin/sh' }); return true; } catch { return false; }
}
// Debian packages by binary: nats-server (the bus), tor + tor-gencert (the onion transport and its private test
// network), docker-compose (the offline `config -q` check of compose/), chromium for `npm test` only. One apt-get run for whatever is missing.
function hasBinary(name) {
  if (['/usr/sbin', '/usr/bin', '/usr/local/bin'].some((d) => existsSync(join(d, name)))) return true;
  try { execSync(`command -v ${name}`, { stdio: 'ignore', shell: '/bin/sh' }); return true; } catch { return false; }
}
const wanted = [
  ['nats-server', hasNatsServer(), 'nats-server'],
  ['tor', hasBinary('tor') && hasBinary('tor-gencert'), 'tor'],
  ['docker-compose', hasBinary('docker-compose'), 'docker-compose'],
  // The browser tests (console, harness report) drive Debian's chromium through playwright-core: no browser download.
  ...(process.argv.includes('--test') ? [['chromium', hasBinary('chromium'), 'chromium']] : []),
];
const missing = wanted.filter(([, present]) => !present).map(([, , pkg]) => pkg);
if (missing.length) {
  if (process.getuid && process.getuid() === 0) {
    run(`apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing.join(' ')}`);
  } else {
    console.error(`[ensure-deps] missing: ${missing.join(', ')}: install with \`sudo apt-get install ${missing.join(' ')}\` (Debian) or put them on PATH.`);
  }
}
