#!/usr/bin/env node
// The `tether` command. The CLI lives in the compiled package (run `npm run build` first).
import('../dist/cli.js').then(
  (cli) => cli.main(process.argv.slice(2)),
  (err) => {
    console.error(`tether: cannot load dist/cli.js (${err.message}); run \`npm run build\` first`);
    process.exitCode = 1;
  },
);
