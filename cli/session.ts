// `infonet dm session …`: MLS DM sessions (spec §11.7) through the running node's local API.
import { callApi } from '../api/client.js';
import { parse, printJson, UsageError, writeOutput } from './args.js';
import { keyPackageFile, requireFlag, runVerbCommand, targetFrom, TARGET_OPTIONS } from './mls-target.js';

const USAGE = `usage: infonet dm session <verb> --data DIR [options]   (or --api URL --token-file FILE)

  key-package --alias A [--out FILE]            mls_key_package + welcome_dh_pub + recipient_id for an alias
  create --alias A --key-package FILE --text T  new session: the sealed Welcome rides the first DM (session_welcome)
  send --session ID --text T                    a later DM (format mls1)
  read --alias A [--session ID]                 poll, join sessions from Welcomes, decrypt
  reset                                         wipe this node's DM MLS state (gates are untouched)
`;

const OPTIONS = {
  ...TARGET_OPTIONS,
  alias: { type: 'string' }, out: { type: 'string' }, 'key-package': { type: 'string' }, text: { type: 'string' }, session: { type: 'string' },
} as const;

const need = requireFlag;

export async function sessionCommand(args: string[]): Promise<number> {
  return runVerbCommand(args, USAGE, async (verb, rest) => {
    const { values } = parse(rest, OPTIONS, false);
    const t = targetFrom(values);
    switch (verb) {
      case 'key-package':
        writeOutput(JSON.stringify(await callApi(t, 'dm_session.key_package', { alias: need(values.alias, '--alias') }), null, 2), values.out);
        return 0;
      case 'create': {
        const kp = keyPackageFile(need(values['key-package'], '--key-package'));
        printJson(await callApi(t, 'dm_session.create', { alias: need(values.alias, '--alias'), ...kp, text: need(values.text, '--text') }));
        return 0;
      }
      case 'send': printJson(await callApi(t, 'dm_session.send', { session_id: need(values.session, '--session'), text: need(values.text, '--text') })); return 0;
      case 'read': printJson(await callApi(t, 'dm_session.read', { alias: need(values.alias, '--alias'), ...(values.session ? { session_id: values.session } : {}) })); return 0;
      case 'reset': printJson(await callApi(t, 'dm_session.reset', {})); return 0;
      default:
        throw new UsageError(`unknown dm session command: ${verb}\n${USAGE}`);
    }
  });
}
