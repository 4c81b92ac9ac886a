#!/usr/bin/env node
// Production entry point: runs the compiled JavaScript (npm run build).
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(`kpx: ${err?.stack ?? err}`); process.exitCode = 1; },
);
