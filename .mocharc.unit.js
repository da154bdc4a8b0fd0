// `npm run test:unit`: the whole suite's settings (.mocharc.json, the one place the spec path
// lives) minus the suites tagged as needing a real server or a spawned process. The tag is
// INTEGRATION in spec/support/integration.ts.
const base = require('./.mocharc.json');

module.exports = { ...base, grep: '@integration', invert: true };
