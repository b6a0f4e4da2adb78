// jest.config — three tiers (see docs/testing.md): unit beside the code, wire over real HTTP,
// cluster against the real control plane (one per run, started by the global setup).
// ts-jest transpiles only (tsconfig isolatedModules): `npm run typecheck` is the type check.
const common = {
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }] },
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
};

export default {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/functions/**/*.test.ts', '<rootDir>/dev/**/*.test.ts', '<rootDir>/test/unit/**/*.test.ts'],
    },
    { ...common, displayName: 'wire', testMatch: ['<rootDir>/test/wire/**/*.test.ts', '<rootDir>/test/fuzz/**/*.test.ts'] },
    {
      ...common,
      displayName: 'cluster',
      testMatch: ['<rootDir>/test/cluster/**/*.test.ts'],
      globalSetup: '<rootDir>/test/cluster/global-setup.mjs',
      globalTeardown: '<rootDir>/test/cluster/global-teardown.mjs',
    },
    // The web console in a real Chromium (Debian's), installed by the global setup when missing.
    {
      ...common,
      displayName: 'browser',
      testMatch: ['<rootDir>/test/browser/**/*.test.ts'],
      globalSetup: '<rootDir>/test/browser/global-setup.mjs',
    },
  ],
  testTimeout: 60_000,
};
