// `infonet console url --data DIR` (issue 13, docs/console.md): the ready-to-open console link of the running node,
// token included (like a notebook server's link). Reads <data>/api.json + api.token; never opens the database.
import { apiTargetOf } from '../api/client.js';
import { isInfonetError } from '../protocol/errors.js';
import { parse, UsageError } from './args.js';

export const CONSOLE_USAGE = `usage:
  infonet console url --data DIR     print the console link (with the node's API token) of the node running on DIR`;

export async function consoleCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  try {
    if (sub !== 'url') {
      process.stderr.write(CONSOLE_USAGE + '\n');
      return sub === '--help' || sub === '-h' ? 0 : 2;
    }
    const { values } = parse(rest, { data: { type: 'string' } });
    if (!values.data) throw new UsageError('give --data DIR of the running node');
    const { url, token } = apiTargetOf(values.data);
    console.log(`${url}/console/?token=${encodeURIComponent(token)}`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    if (isInfonetError(e)) {
      process.stderr.write(`error: ${e.reason}\n`);
      return 1;
    }
    throw e;
  }
}
