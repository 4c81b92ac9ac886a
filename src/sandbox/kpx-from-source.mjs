// kpx-from-source.mjs: runs kpx's CLI straight from the TypeScript sources (started with
// `node --import tsx`), so tests exercise the current code without a build step that two test files
// running at once would race on. Production runs bin/kpx.js (the compiled dist/).
import { main } from '../cli/main.ts';

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(`kpx: ${err?.stack ?? err}`); process.exitCode = 1; },
);
