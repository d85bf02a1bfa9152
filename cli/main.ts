// The `infonet` command line. Each command lives in its own module; this file only dispatches.
import { chainCommand, keygenCommand } from './chain.js';

const USAGE = `infonet — node for a private mesh network (signed hashchain, private gates, offline DMs)

usage: infonet <command> [options]

  keygen [--out FILE]                 new Ed25519 identity (seed hex, public_key, node_id)
  chain validate|ingest|export|append the hashchain (run "infonet chain" for details)
  dm keygen|seal|open|deposit|poll|count   offline DMs (run "infonet dm" for details)
  node run --data DIR [--nats URL] [--leaf URL] [--config FILE]
                                      run a node on the bus (embedded nats-server by default)
  hub run --data DIR [--port N] [--leaf-port N]
                                      a federation hub that nodes join with --leaf
  status --nats URL [--node ID]       status of one node, or of every node discovered on the bus
  record --out FILE [--nats URL]      record bus traffic until Ctrl-C
  replay FILE [--nats URL] [--speed original|max|N]
                                      re-issue recorded commands (into a fresh node by default), report differences
  gate create|invite|accept|post|read|rotate|remove|list|show|export|import
                                      private MLS gates through the running node (run "infonet gate")
  harness run SCENARIO [options]      multi-node runs on this machine (run "infonet harness" for details)
  demo                                the demo run by "npm start" (the offline-recipient scenario)
  console url --data DIR              the operator console link (token included) of a running node

  Commands that act on a data directory also accept --nats URL --node ID to act on a running node.
  Configuration: docs/configuration.md
`;

type Command = (args: string[]) => Promise<number>;

const commands: Record<string, () => Promise<Command>> = {
  keygen: async () => keygenCommand,
  chain: async () => chainCommand,
  dm: async () => (await import('./dm.js')).dmCommand,
  node: async () => (await import('./node.js')).nodeCommand,
  hub: async () => (await import('./hub.js')).hubCommand,
  status: async () => (await import('./node.js')).statusCommand,
  record: async () => (await import('./record.js')).recordCliCommand,
  replay: async () => (await import('./record.js')).replayCliCommand,
  gate: async () => (await import('./gate.js')).gateCommand,
  harness: async () => (await import('./harness.js')).harnessCommand,
  demo: async () => (await import('./demo.js')).demoCommand,
  console: async () => (await import('./console.js')).consoleCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`unknown command: ${name}\n${USAGE}`);
    return 2;
  }
  return (await load())(rest);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e) => { process.stderr.write(`fatal: ${(e as Error)?.stack ?? e}\n`); process.exitCode = 2; },
);
