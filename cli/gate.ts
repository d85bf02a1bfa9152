// `infonet gate …`: private gates (MLS, issue 12) through the running node's local API. The CLI never opens a data
// directory a node owns: every command goes to the live node, except `import`, which restores a backup into a
// *stopped* node and refuses ("data directory in use") while one runs.
import { readFileSync } from 'node:fs';
import { callApi } from '../api/client.js';
import { importBackup } from '../mls/mls-backup.js';
import { parse, printJson, UsageError, writeOutput } from './args.js';
import { keyPackageFile, readSecret, requireFlag, runVerbCommand, targetFrom, TARGET_OPTIONS } from './mls-target.js';

const USAGE = `usage: infonet gate <verb> --data DIR [options]      (or --api URL --token-file FILE instead of --data)

  create --gate ID [--name NAME] [--rules JSON] [--persona P]   new gate (public gate_create; the group stays private)
  key-package --persona P [--out FILE]          a key package + welcome_dh_pub + recipient_id to give an inviter
  invite --gate ID --key-package FILE           Add + Commit; the sealed Welcome goes to the invitee's mailbox
  accept --persona P                            poll the persona's mailbox and join the gates it was invited to
  pending [--persona P]                         pending invitations per persona (counted, not taken)
  post --gate ID --text TEXT [--epoch N]        encrypted post (gate_state_stale if --epoch is not current)
  read --gate ID [--after N]                    decrypt the gate's events from the chain
  rotate --gate ID                              new epoch (empty commit)
  remove --gate ID --member P                   remove a member (it cannot read later posts)
  list | show --gate ID                         the gate directory (never plaintext)
  export --out FILE [--passphrase-file F]       encrypted backup of the node's MLS state (or INFONET_MLS_PASSPHRASE)
  import --data DIR --in FILE [--passphrase-file F]   restore a backup into a stopped node
`;

const OPTIONS = {
  ...TARGET_OPTIONS,
  gate: { type: 'string' }, name: { type: 'string' }, rules: { type: 'string' }, persona: { type: 'string' },
  out: { type: 'string' }, in: { type: 'string' }, 'key-package': { type: 'string' }, text: { type: 'string' },
  epoch: { type: 'string' }, after: { type: 'string' }, member: { type: 'string' }, 'passphrase-file': { type: 'string' },
} as const;

const need = requireFlag;

export async function gateCommand(args: string[]): Promise<number> {
  return runVerbCommand(args, USAGE, async (verb, rest) => {
    const { values } = parse(rest, OPTIONS, false);
    if (verb === 'import') {
      const text = readFileSync(need(values.in, '--in'), 'utf8');
      printJson(await importBackup(need(values.data, '--data'), text, readSecret(values['passphrase-file'], 'INFONET_MLS_PASSPHRASE')));
      return 0;
    }
    const t = targetFrom(values);
    const gate = values.gate;
    switch (verb) {
      case 'create': {
        let rules: unknown = {};
        if (values.rules) {
          try { rules = JSON.parse(values.rules); } catch { throw new UsageError('--rules must be a JSON object'); }
        }
        printJson(await callApi(t, 'gate.create', { gate_id: need(gate, '--gate'), display_name: values.name, rules, persona: values.persona }));
        return 0;
      }
      case 'key-package': {
        const kp = await callApi(t, 'gate.key_package', { persona: need(values.persona, '--persona') });
        writeOutput(JSON.stringify(kp, null, 2), values.out);
        return 0;
      }
      case 'invite': {
        const kp = keyPackageFile(need(values['key-package'], '--key-package'));
        printJson(await callApi(t, 'gate.invite', { gate: need(gate, '--gate'), ...kp }));
        return 0;
      }
      case 'accept': printJson(await callApi(t, 'gate.accept', { persona: need(values.persona, '--persona') })); return 0;
      case 'pending': printJson(await callApi(t, 'gate.pending', values.persona ? { persona: values.persona } : {})); return 0;
      case 'post': printJson(await callApi(t, 'gate.post', { gate: need(gate, '--gate'), text: need(values.text, '--text'), ...(values.epoch ? { epoch: Number(values.epoch) } : {}) })); return 0;
      case 'read': printJson(await callApi(t, 'gate.read', { gate: need(gate, '--gate'), ...(values.after ? { after: Number(values.after) } : {}) })); return 0;
      case 'rotate': printJson(await callApi(t, 'gate.rotate', { gate: need(gate, '--gate') })); return 0;
      case 'remove': printJson(await callApi(t, 'gate.remove', { gate: need(gate, '--gate'), member: need(values.member, '--member') })); return 0;
      case 'list': printJson(await callApi(t, 'gate.list', {})); return 0;
      case 'show': printJson(await callApi(t, 'gate.show', { gate: need(gate, '--gate') })); return 0;
      case 'export': {
        const r = await callApi<{ backup: string }>(t, 'mls.export', { passphrase: readSecret(values['passphrase-file'], 'INFONET_MLS_PASSPHRASE') });
        writeOutput(r.backup, need(values.out, '--out'));
        return 0;
      }
      default:
        throw new UsageError(`unknown gate command: ${verb}\n${USAGE}`);
    }
  });
}
