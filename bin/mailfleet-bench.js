#!/usr/bin/env node
// `npm run bench -- <suite>`: benchmarks (figures, never pass/fail).
'use strict';
require('tsx/cjs');
require('../bench/main.ts');
