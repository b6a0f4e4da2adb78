/**
 * recover/handler — accepts a failure signal -> the acting loop (_act/act) with recover's own
 * parts: its history on the target, what it observes and plans (recover/decide), its steps in
 * words -> replies dev.reflex.action.<verb> with the outcome and the reason.
 */
import { act, type Actor } from '../_act/act.js';
import type { SignalData } from '../_contracts/events.js';
import { refusals } from '../_act/refusals.js';
import type { Deps, Handler } from '../_kit/index.js';
import type { RecoverConfig } from './config.js';
import { confirm, escalateOnly, parseRecoverState, plan, type RecoverState, type Step } from './decide.js';
import { recoverPort } from './port.js';

export function describe(s: Step): string {
  switch (s.do) {
    case 'rollback':
      return `roll back to revision ${s.revision} (${s.toReplicaSet})`;
    case 'delete-pod':
      return `delete pod ${s.pod}`;
    case 'set-memory':
      return `set ${s.container} memory limit ${s.limit}${s.request ? `, request ${s.request}` : ''}`;
    case 'cordon':
      return `cordon node ${s.node}`;
    case 'evict':
      return `evict pod ${s.namespace}/${s.pod}`;
  }
}

export function recoverHandler(config: RecoverConfig, deps: Deps): Handler<RecoverConfig> {
  const port = recoverPort(deps.cluster, deps.now);
  const refused = refusals(deps.registry);
  return async (event, ctx) => {
    const signal = event.data as SignalData;
    const actor: Actor<Step, RecoverState> = {
      name: 'recover',
      policy: config.policy,
      port,
      parse: parseRecoverState,
      describe,
      refused,
      async plan(_target, loaded, state, now) {
        const since = new Date(now.getTime() - config.policy.maxSignalAgeSeconds * 1000);
        const observed = await port.observe(signal, loaded.uid, since);
        const unconfirmed = confirm(signal, observed);
        return unconfirmed
          ? { kind: 'nothing', verb: 'skipped', reason: `not confirmed: ${unconfirmed}`, unconfirmed: true }
          : plan(signal, observed, state, config.policy, now);
      },
    };
    const cause = { id: event.id, type: event.type, key: signal.key, class: signal.class, reason: signal.reason };
    return act(actor, { target: signal.target, cause, seenAt: signal.lastSeen, escalation: () => escalateOnly(signal) }, ctx);
  };
}
