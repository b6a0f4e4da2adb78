/**
 * _signals/redact — what text from a workload (a container's log, an Event's message) must lose
 * before it leaves the cluster in a message: tokens, keys, passwords, credentials in URLs, private
 * keys. Pure; RE2 (re2js), so matching is linear in the text whatever it holds. The built-in rules
 * always apply; an operator's are added after them. A match becomes `[REDACTED:<rule>]`; the
 * words that say what was there (`password=`, `Bearer `) stay, so the reader still sees what kind
 * of secret it was. Used by enrich on every log line, termination message and Event message it sends on.
 */
import { RE2JS } from 're2js';

export interface RedactionRule {
  readonly name: string;
  /**
   * RE2 syntax. Group `keep` (named) is kept before the secret, group `after` after it; the rest
   * of the match is replaced.
   */
  readonly pattern: string;
}

/**
 * The built-in set. Each has positive and negative examples in redact.test.ts; over-redaction is
 * the safe side (a `tokens: 5` loses its 5).
 */
export const BUILT_IN_RULES: readonly RedactionRule[] = [
  // PEM private keys, whole (a log that prints one usually prints all of it); an unterminated one to the end.
  { name: 'private-key', pattern: '-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\\z)' },
  // An Authorization header, whatever its scheme: all of its value.
  { name: 'authorization', pattern: '(?i)(?P<keep>\\b(?:proxy-)?authorization"?\\s*[:=]\\s*"?)[^"\\r\\n]+' },
  { name: 'bearer', pattern: '(?i)(?P<keep>\\bbearer\\s+)[A-Za-z0-9._~+/=-]{8,}' },
  { name: 'basic-auth', pattern: '(?i)(?P<keep>\\bbasic\\s+)[A-Za-z0-9+/]{8,}={0,2}' },
  // user:password@ in any URL (postgres://, amqp://, https://, redis://…).
  { name: 'url-credentials', pattern: '(?i)(?P<keep>\\b[a-z][a-z0-9+.-]*://[^:/@\\s]*:)[^@/\\s]+(?P<after>@)' },
  { name: 'jwt', pattern: '\\beyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]*' },
  { name: 'aws-access-key-id', pattern: '\\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\\b' },
  { name: 'github-token', pattern: '\\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\\b' },
  { name: 'slack-token', pattern: '\\bxox[abposr]-[A-Za-z0-9-]{10,}' },
  { name: 'slack-webhook', pattern: '(?i)https://hooks\\.slack\\.com/(?:services|workflows)/[A-Za-z0-9/_-]+' },
  { name: 'google-api-key', pattern: '\\bAIza[0-9A-Za-z_-]{35}\\b' },
  { name: 'stripe-key', pattern: '\\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}\\b' },
  // key = value, key: value, "key": "value", key=value in a query string: the value goes.
  {
    name: 'assignment',
    pattern:
      '(?i)(?P<keep>\\b[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?|session[_-]?id|cookie)[A-Za-z0-9_.-]*"?\\s*[:=]\\s*)(?:"[^"\\r\\n]*"|\'[^\'\\r\\n]*\'|[^\\s,;&"\']+)',
  },
];

interface Compiled {
  readonly name: string;
  readonly re: RE2JS;
  readonly keep: number | undefined;
  readonly after: number | undefined;
}

export type Redactor = (text: string) => { readonly text: string; readonly redactions: Readonly<Record<string, number>> };

/** Compiles the built-in rules and `extra` (an operator's); a pattern RE2 cannot parse throws, naming its rule. */
export function createRedactor(extra: readonly RedactionRule[] = []): Redactor {
  const rules: Compiled[] = [...BUILT_IN_RULES, ...extra].map((r) => {
    let re: RE2JS;
    try {
      re = RE2JS.compile(r.pattern);
    } catch (err) {
      throw new Error(
        `redaction rule ${r.name}: \`${r.pattern}\` is not an RE2 pattern: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const names = re.namedGroups() as Record<string, number>;
    return { name: r.name, re, keep: names['keep'], after: names['after'] };
  });
  return (text) => {
    const redactions: Record<string, number> = {};
    let out = text;
    for (const r of rules) {
      out = r.re.matcher(out).replaceAll((...args: unknown[]) => {
        redactions[r.name] = (redactions[r.name] ?? 0) + 1;
        const group = (i: number | undefined): string => (i === undefined ? '' : typeof args[i] === 'string' ? (args[i] as string) : '');
        return `${group(r.keep)}[REDACTED:${r.name}]${group(r.after)}`;
      });
    }
    return { text: out, redactions };
  };
}
