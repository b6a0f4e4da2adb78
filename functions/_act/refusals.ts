/** _act/refusals — the metric every acting function counts its refusals in (bounded labels: the Refusal kinds). */
import type { Registry } from 'prom-client';
import { counter } from '../_kit/metrics.js';
import type { Refusal } from './guard.js';

export function refusals(registry: Registry): (why: Refusal) => void {
  const c = counter(registry, 'reflex_refusals_total', 'Requests to act refused before they could be trusted, by reason', ['reason']);
  return (why) => c.inc({ reason: why });
}
