// The console's Gate directory page (issue 13, docs/console.md): every gate the node knows, each persona's pending
// invitations, and the actions a member has — create, key package, invite by key package, accept, rotate, remove,
// read/post as the member persona. Every action goes to /console-api/gate/<action>, which calls the node's MLS
// handler table (the same as `POST /api/v1/gate.*` and the CLI). The page refetches when the node pushes a status over
// the SSE stream (and right after its own actions): no polling loop.
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';

const html = htm.bind(h);

/** Calls a gate action; resolves to the result, rejects with "code: reason" from the node's typed error. */
async function act(action, fields, signal) {
  const r = await fetch('/console-api/gate/' + action, {
    method: 'POST', credentials: 'same-origin', signal,
    headers: { 'content-type': 'application/json', 'x-infonet-console': '1' },
    body: JSON.stringify(fields),
  });
  const b = await r.json().catch(() => ({ ok: false, error: { code: 'http_' + r.status, reason: r.statusText } }));
  if (!b.ok) throw new Error(`${b.error.code}: ${b.error.reason}`);
  return b.result;
}

/**
 * Runs `load(signal)` again whenever `deps` change, and cancels the request before (AbortController): under a slow
 * node, superseded requests would otherwise stay open behind the browser's six connections per host and the node's
 * MLS queue, and the answer that matters would wait behind them. Only the newest answer reaches the page.
 */
export function useLoad(load, deps) {
  const [state, setState] = useState({ data: null, error: null });
  useEffect(() => {
    if (!load) { setState({ data: null, error: null }); return undefined; }
    const ctl = new AbortController();
    load(ctl.signal)
      .then((data) => ctl.signal.aborted || setState({ data, error: null }))
      .catch((e) => ctl.signal.aborted || setState({ data: null, error: e instanceof Error ? e.message : String(e) }));
    return () => ctl.abort();
  }, deps);
  return state;
}

/** GET `path` (a /console-api route answering { ok, result | error }) again whenever it or `deps` change. */
export function useGet(path, deps) {
  return useLoad(path && (async (signal) => {
    const b = await (await fetch(path, { credentials: 'same-origin', signal })).json();
    if (!b.ok) throw new Error(`${b.error.code}: ${b.error.reason}`);
    return b.result;
  }), [path, ...deps]);
}

/**
 * What in a pushed status can change the Gate directory: the chain (gates, epochs, members, posts arrive as events)
 * and the mailbox counts (a replicated invitation is a pending request). Not uptime or latency: the node pushes
 * those every few seconds even when nothing else moved, and a refetch per push piles requests up on a slow node.
 */
export const gateChangeKey = (s) => {
  const mb = (s && s.mailboxes) || {};
  const st = mb.stats || {};
  return JSON.stringify([s && s.height, mb.stored, mb.live, st.pending, st.claimed, st.claims]);
};

/** Runs an action with a shared result line: a status message on success, an alert with the node's error otherwise. */
function useActions(onDone) {
  const [msg, setMsg] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = async (action, fields, describe) => {
    setBusy(true);
    try {
      const r = await act(action, fields);
      setMsg({ ok: true, text: describe(r) });
      onDone();
      return r;
    } catch (e) {
      setMsg({ ok: false, text: `${action} failed — ${e.message}` });
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { msg, busy, run };
}

const formFields = (e) => Object.fromEntries(new FormData(e.currentTarget).entries());

function Field({ id, label, children, hint }) {
  return html`<p class="field"><label for=${id}>${label}</label>${children}${hint ? html`<span class="hint" id=${id + '-hint'}>${hint}</span>` : ''}</p>`;
}

function CreateGate({ run, busy }) {
  const submit = async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const r = await run('create', formFields(e), (x) => `Created gate ${x.gate_id} (epoch ${x.epoch}).`);
    if (r) form.reset();
  };
  return html`<form data-testid="create-gate" onSubmit=${submit} aria-labelledby="h-create-gate">
    <h3 id="h-create-gate">Create a gate</h3>
    <${Field} id="cg-id" label="Gate id" hint="lower-case letters, digits, . _ - (up to 64)">
      <input id="cg-id" name="gate_id" required aria-describedby="cg-id-hint" /><//>
    <${Field} id="cg-name" label="Display name"><input id="cg-name" name="display_name" maxlength="64" /><//>
    <${Field} id="cg-persona" label="Member persona" hint="the persona of this node that holds the gate">
      <input id="cg-persona" name="persona" value="default" required aria-describedby="cg-persona-hint" /><//>
    <${Field} id="cg-rules" label="Rules (JSON object, optional)"><textarea id="cg-rules" name="rules" rows="2" cols="40"></textarea><//>
    <button type="submit" disabled=${busy}>Create gate</button>
  </form>`;
}

function KeyPackage({ run, busy }) {
  const [kp, setKp] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const r = await run('key_package', formFields(e), (x) => `Key package made for persona ${x.persona}: give the JSON below to the inviter.`);
    if (r) setKp(r);
  };
  return html`<form data-testid="key-package" onSubmit=${submit} aria-labelledby="h-key-package">
    <h3 id="h-key-package">Key package (to be invited)</h3>
    <${Field} id="kp-persona" label="Persona"><input id="kp-persona" name="persona" required /><//>
    <button type="submit" disabled=${busy}>Make key package</button>
    ${kp ? html`<${Field} id="kp-out" label=${`Key package for ${kp.persona}`}>
      <textarea id="kp-out" data-testid="key-package-out" readonly rows="5" cols="60">${JSON.stringify({ persona: kp.persona, recipient_id: kp.recipient_id, mls_key_package: kp.mls_key_package, welcome_dh_pub: kp.welcome_dh_pub }, null, 2)}</textarea><//>` : ''}
  </form>`;
}

function Pending({ personas, run, busy }) {
  return html`<section aria-labelledby="h-pending">
    <h3 id="h-pending">Pending invitations</h3>
    ${personas.length === 0 ? html`<p>No personas on this node yet (make a key package to get invited).</p>` : html`<table data-testid="pending-invitations">
      <caption>Requests waiting in each persona's mailbox (counted, not opened)</caption>
      <thead><tr><th scope="col">Persona</th><th scope="col">Pending</th><th scope="col">Action</th></tr></thead>
      <tbody>${personas.map((p) => html`<tr data-persona=${p.persona}><td>${p.persona}</td><td data-testid="pending-count">${p.pending}</td>
        <td><button type="button" disabled=${busy} onClick=${() => run('accept', { persona: p.persona },
          (x) => (x.joined.length ? `Persona ${x.persona} joined ${x.joined.join(', ')}.` : `No gate invitation was waiting for ${x.persona}.`))}>Accept invitations for ${p.persona}</button></td></tr>`)}</tbody>
    </table>`}
  </section>`;
}

function Posts({ gate, persona, s, run, busy, version }) {
  const { data, error } = useLoad((signal) => act('read', { gate, persona }, signal), [gate, persona, s && s.height, version]);
  const posts = data && data.messages;
  const submit = async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    if (await run('post', { gate, persona, text: formFields(e).text }, () => `Posted to ${gate} as ${persona}.`)) form.reset();
  };
  return html`<section aria-labelledby="h-posts">
    <h4 id="h-posts">Posts as ${persona} (decrypted on this node)</h4>
    ${error ? html`<p role="alert">${error}</p>` : ''}
    ${posts && posts.length === 0 ? html`<p>No posts yet.</p>` : ''}
    ${posts && posts.length ? html`<ol data-testid="posts">${posts.map((m) => html`<li><strong>${m.sender}</strong>${m.own ? ' (this node)' : ''}: ${m.body}</li>`)}</ol>` : ''}
    <form onSubmit=${submit} aria-label=${`Post to ${gate}`}>
      <${Field} id="post-text" label="New post"><textarea id="post-text" name="text" required rows="2" cols="50"></textarea><//>
      <button type="submit" disabled=${busy}>Post</button>
    </form>
  </section>`;
}

function Manage({ gate, s, run, busy, version }) {
  const { data, error } = useGet('/console-api/gates/' + encodeURIComponent(gate), [s && s.height, version]);
  const members = (data && data.members) || [];
  const others = members.filter((m) => m !== (data && data.persona));
  const invite = async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    if (await run('invite', { gate, key_package: formFields(e).key_package }, (x) => `Invited to ${x.gate_id}: the gate is at epoch ${x.epoch}; the Welcome went to the invitee's mailbox.`)) form.reset();
  };
  const remove = (e) => {
    e.preventDefault();
    return run('remove', { gate, member: formFields(e).member }, (x) => `Removed from ${x.gate_id}: the gate is at epoch ${x.epoch}.`);
  };
  return html`<section aria-labelledby="h-manage" data-testid="manage">
    <h3 id="h-manage">Gate ${gate}</h3>
    ${error ? html`<p role="alert">${error}</p>` : ''}
    ${data ? html`<p>Epoch <span data-testid="manage-epoch">${data.epoch}</span>; member persona on this node: ${data.persona || '—'}.</p>
      <p>Members: <span data-testid="members">${members.join(', ') || '—'}</span></p>` : ''}
    <p><button type="button" disabled=${busy} onClick=${() => run('rotate', { gate }, (x) => `Rotated ${x.gate_id}: epoch ${x.epoch}.`)}>Rotate epoch of ${gate}</button></p>
    <form onSubmit=${invite} aria-label=${`Invite to ${gate}`} data-testid="invite">
      <${Field} id="inv-kp" label="Invitee's key package (JSON from “infonet gate key-package”)">
        <textarea id="inv-kp" name="key_package" required rows="5" cols="60"></textarea><//>
      <button type="submit" disabled=${busy}>Invite</button>
    </form>
    ${others.length === 0 ? html`<p>No other members to remove.</p>` : html`<form onSubmit=${remove} aria-label=${`Remove a member from ${gate}`} data-testid="remove">
      <${Field} id="rm-member" label="Member to remove">
        <select id="rm-member" name="member" required>${others.map((m) => html`<option value=${m}>${m}</option>`)}</select><//>
      <button type="submit" disabled=${busy}>Remove member</button>
    </form>`}
    ${data && data.member && data.persona ? html`<${Posts} gate=${gate} persona=${data.persona} s=${s} run=${run} busy=${busy} version=${version} />` : ''}
  </section>`;
}

export function Gates({ s, fmtTime }) {
  const [version, setVersion] = useState(0);
  const [selected, setSelected] = useState(null);
  const { data, error } = useGet('/console-api/gates', [gateChangeKey(s), version]);
  const { msg, busy, run } = useActions(() => setVersion((v) => v + 1));
  const gates = (data && data.gates) || [];
  const current = gates.find((g) => g.gate_id === selected && g.member);
  return html`<section aria-labelledby="h-gates">
    <h2 id="h-gates">Gate directory</h2>
    ${error ? html`<p role="alert">${error}</p>` : ''}
    <div class="result" data-testid="gate-result"><p role="status">${msg && msg.ok ? msg.text : ''}</p><p role="alert" class="error">${msg && !msg.ok ? msg.text : ''}</p></div>
    ${gates.length === 0 ? html`<p>No gates known to this node.</p>` : html`<table data-testid="gates">
      <caption>Gates (membership of this node's personas)</caption>
      <thead><tr><th scope="col">Gate</th><th scope="col">Display name</th><th scope="col">Member</th><th scope="col">Persona</th><th scope="col">Epoch</th>
        <th scope="col">Members</th><th scope="col">Last post</th><th scope="col">Undecrypted events</th><th scope="col">Actions</th></tr></thead>
      <tbody>${gates.map((g) => html`<tr data-gate=${g.gate_id}><td><code>${g.gate_id}</code></td><td>${g.display_name}</td>
        <td data-testid="member">${g.locked ? 'locked: ' + g.locked : g.member ? 'yes' : 'no'}</td><td>${g.persona || '—'}</td><td data-testid="epoch">${g.epoch}</td><td>${g.member_count}</td>
        <td>${g.last_post_at ? fmtTime(g.last_post_at) : '—'}</td><td>${g.waiting}</td>
        <td>${g.member ? html`<button type="button" aria-pressed=${selected === g.gate_id} onClick=${() => setSelected(selected === g.gate_id ? null : g.gate_id)}>Manage ${g.gate_id}</button>` : '—'}</td></tr>`)}</tbody></table>`}
    ${current ? html`<${Manage} gate=${current.gate_id} s=${s} run=${run} busy=${busy} version=${version} />` : ''}
    <${Pending} personas=${(data && data.personas) || []} run=${run} busy=${busy} />
    <${CreateGate} run=${run} busy=${busy} />
    <${KeyPackage} run=${run} busy=${busy} />
  </section>`;
}
