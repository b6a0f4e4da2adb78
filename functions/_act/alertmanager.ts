/**
 * _act/alertmanager — the one question an acting function asks Alertmanager: which alerts of this
 * name are active now (API v2, GET /api/v2/alerts: not silenced, not inhibited). A signal made from
 * an alert is confirmed there, not by what the signal says.
 * @see https://github.com/prometheus/alertmanager/blob/main/api/v2/openapi.yaml
 */
import { UnavailableError } from '../_kit/errors.js';

/** An alert as Alertmanager's API v2 lists it (gettableAlert); only what confirmation reads. */
export interface ActiveAlert {
  readonly fingerprint: string;
  readonly startsAt: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly status: { readonly state: string };
}

export interface AlertmanagerPort {
  /** The base URL asked, for reasons. */
  readonly url: string;
  /** Active alerts (neither silenced nor inhibited) with this alertname; UnavailableError when Alertmanager cannot answer. */
  active(alertname: string | undefined): Promise<readonly ActiveAlert[]>;
}

/** Alertmanager answers from memory: a slow answer is a sick one, and the Broker is waiting. */
const TIMEOUT_MS = 5_000;

export function alertmanagerPort(url: string, fetcher: typeof fetch = fetch): AlertmanagerPort {
  const base = url.replace(/\/+$/, '');
  return {
    url: base,
    async active(alertname) {
      const query = new URLSearchParams({ active: 'true', silenced: 'false', inhibited: 'false', unprocessed: 'false' });
      // The matcher syntax of the API: a quoted value, with " and \ escaped.
      if (alertname) query.append('filter', `alertname="${alertname.replace(/["\\]/g, (c) => `\\${c}`)}"`);
      let res: Response;
      try {
        res = await fetcher(`${base}/api/v2/alerts?${query.toString()}`, {
          headers: { accept: 'application/json' },
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
      } catch (err) {
        throw new UnavailableError(`Alertmanager at ${base} did not answer: ${err instanceof Error ? err.message : String(err)}`);
      }
      const text = await res.text();
      if (!res.ok) throw new UnavailableError(`Alertmanager at ${base} answered HTTP ${res.status}`);
      try {
        const alerts = JSON.parse(text) as unknown;
        if (!Array.isArray(alerts)) throw new Error('not a list');
        return alerts as ActiveAlert[];
      } catch (err) {
        throw new UnavailableError(`Alertmanager at ${base} answered something that is not a list of alerts (${(err as Error).message})`);
      }
    },
  };
}
