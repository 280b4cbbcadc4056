#!/usr/bin/env node
// `npm run preview -- --stack NAME [--json]`: offline preview of a stack.
'use strict';
require('tsx/cjs');
require('../cli/preview/main.ts').main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`preview: ${err instanceof Error ? err.stack || err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
