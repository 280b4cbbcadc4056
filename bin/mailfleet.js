#!/usr/bin/env node
// The published entry point. The sources are TypeScript; tsx compiles them on
// load so `npx mailfleet` works straight after `npm install`, with no build step.
'use strict';
require('tsx/cjs');
require('../cli/main.ts').main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`mailfleet: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
