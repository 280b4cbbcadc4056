#!/usr/bin/env node
// The `mailfleet` command. In a checkout the TypeScript sources are here and
// tsx compiles them on load, so `npx mailfleet` needs no build step and never
// runs a stale dist/ (npm install builds one for the library). A published
// package carries no sources, only the compiled dist/ (`npm run build`,
// run by `prepare` before packing), and runs that.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

function loadCli() {
  const source = join(__dirname, '..', 'cli', 'main.ts');
  if (existsSync(source)) {
    require('tsx/cjs');
    return require(source);
  }
  return require(join(__dirname, '..', 'dist', 'cli', 'main.js'));
}

loadCli().main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`mailfleet: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
