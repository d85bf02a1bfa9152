// jest 30 + @swc/jest compiling TS to CommonJS (see ../shared/spec/toolchain-notes.md, "Jest + TypeScript").
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(@noble|@hpke|ts-mls|stream-json|stream-chain|socks-proxy-agent|agent-base)/)'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testTimeout: 60000,
  maxWorkers: 2,
  // Onion tests share one private Tor network per run; these only name/clean its directory (test/helpers/tor.ts).
  globalSetup: '<rootDir>/test/onion/global-setup.ts',
  globalTeardown: '<rootDir>/test/onion/global-teardown.ts',
};
