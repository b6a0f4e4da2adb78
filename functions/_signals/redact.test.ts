import { describe, expect, it } from '@jest/globals';
import { BUILT_IN_RULES, createRedactor } from './redact.js';

const redact = createRedactor();
const out = (s: string): string => redact(s).text;

const EXAMPLES: [string, string, string][] = [
  ['authorization', 'GET /api Authorization: Bearer abc.def.ghi-jkl', 'GET /api Authorization: [REDACTED:authorization]'],
  ['authorization', '{"authorization":"Basic dXNlcjpwYXNz"}', '{"authorization":"[REDACTED:authorization]"}'],
  ['bearer', 'calling with bearer 0123456789abcdef', 'calling with bearer [REDACTED:bearer]'],
  ['basic-auth', 'header basic dXNlcjpwYXNzd29yZA==', 'header basic [REDACTED:basic-auth]'],
  [
    'url-credentials',
    'connect postgres://app:s3cr3t@db:5432/shop failed',
    'connect postgres://app:[REDACTED:url-credentials]@db:5432/shop failed',
  ],
  ['url-credentials', 'amqp://guest:guest@rabbit/', 'amqp://guest:[REDACTED:url-credentials]@rabbit/'],
  ['jwt', 'token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U', 'token [REDACTED:jwt]'],
  ['aws-access-key-id', 'key AKIAIOSFODNN7EXAMPLE used', 'key [REDACTED:aws-access-key-id] used'],
  ['github-token', 'push with ghp_abcdefghijklmnopqrstuvwxyz0123456789AB', 'push with [REDACTED:github-token]'],
  ['slack-token', 'xoxb-123456789012-abcdefghijkl', '[REDACTED:slack-token]'],
  ['slack-webhook', 'posting to https://hooks.slack.com/services/T000/B000/XXXXXXXX', 'posting to [REDACTED:slack-webhook]'],
  ['google-api-key', 'AIzaSyA1234567890abcdefghijklmnopqrstuv', '[REDACTED:google-api-key]'],
  ['stripe-key', 'sk_live_0123456789abcdefABCDEF', '[REDACTED:stripe-key]'],
  ['assignment', 'password=hunter2 user=bob', 'password=[REDACTED:assignment] user=bob'],
  ['assignment', 'DB_PASSWORD: "correct horse"', 'DB_PASSWORD: [REDACTED:assignment]'],
  ['assignment', '{"client_secret": "abc", "id": 1}', '{"client_secret": [REDACTED:assignment], "id": 1}'],
  ['assignment', 'GET /cb?code=1&access_token=abc123&state=x', 'GET /cb?code=1&access_token=[REDACTED:assignment]&state=x'],
  [
    'private-key',
    'key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAAAA\n-----END RSA PRIVATE KEY-----\nnext',
    'key:\n[REDACTED:private-key]\nnext',
  ],
];

describe('redaction', () => {
  it.each(EXAMPLES)('%s: %j', (rule, input, expected) => {
    const r = redact(input);
    expect(r.text).toBe(expected);
    expect(r.redactions[rule]).toBeGreaterThan(0);
  });

  it.each([
    'Back-off restarting failed container web in pod web-7d9c8b5f4-x2x7q',
    'GET /healthz 200 1.2ms',
    'connecting to https://db.internal:5432/shop',
    'user bob logged in from 10.0.0.7',
    'Liveness probe failed: HTTP probe failed with statuscode: 500',
  ])('leaves an ordinary line alone: %s', (line) => {
    expect(redact(line)).toEqual({ text: line, redactions: {} });
  });

  it('every built-in rule has a distinct name and is exercised above', () => {
    const names = BUILT_IN_RULES.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    expect(new Set(EXAMPLES.map(([rule]) => rule))).toEqual(new Set(names));
  });

  it("an operator's rule applies after the built-in ones; a bad one names itself", () => {
    const r = createRedactor([{ name: 'customer-id', pattern: '(?P<keep>customer=)C[0-9]{6}' }]);
    expect(r('order for customer=C123456 paid').text).toBe('order for customer=[REDACTED:customer-id] paid');
    expect(() => createRedactor([{ name: 'broken', pattern: '(' }])).toThrow(/redaction rule broken/);
  });

  it('takes hostile text that would make a backtracking engine stall (RE2: linear), and still redacts', () => {
    // Near-matches of every rule, 3 MB: a backtracking engine takes minutes on the assignment rule alone.
    const hostile = 'password'.repeat(100_000) + ' a='.repeat(300_000) + 'postgres://u:'.repeat(50_000) + ' token=abc';
    expect(out(hostile).endsWith(' token=[REDACTED:assignment]')).toBe(true);
  });
});
