#!/usr/bin/env -S node --max-semi-space-size=8
// The node flags are src/cli/node-flags.ts's (why there); a unit test keeps this line in step.
// Production entry point: runs the compiled JavaScript (npm run build).
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(`kpx: ${err?.stack ?? err}`); process.exitCode = 1; },
);
