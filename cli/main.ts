// The `infonet` command line. Each command lives in its own module; this file only dispatches.
import { chainCommand, keygenCommand } from './chain.js';

const USAGE = `infonet — node for a private mesh network (signed hashchain, private gates, offline DMs)

usage: infonet <command> [options]

  keygen [--out FILE]                 new Ed25519 identity (seed hex, public_key, node_id)
  chain validate|ingest|export|append the hashchain (run "infonet chain" for details)
  demo                                the demo run by "npm start"
`;

type Command = (args: string[]) => Promise<number>;

const commands: Record<string, () => Promise<Command>> = {
  keygen: async () => keygenCommand,
  chain: async () => chainCommand,
  demo: async () => (await import('./demo.js')).demoCommand,
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
