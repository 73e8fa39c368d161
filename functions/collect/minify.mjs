// tracker.js as browsers get it (docs/design.md §6.2): `node minify.mjs tracker.js tracker.min.js`.
//
// The collector bakes each campaign's configuration in where the script says /*__ZT_CONFIG__*/{}.
// A minifier drops comments, so that spot goes through terser as a free variable, which it can
// neither rename nor remove, and is put back afterwards.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { minify } from 'terser';

const PLACEHOLDER = '/*__ZT_CONFIG__*/{}';
const STAND_IN = '__ZT_CONFIG__';

function once(text, part, where) {
  const count = text.split(part).length - 1;
  if (count !== 1) throw new Error(`${where}: expected ${part} exactly once, found it ${count} times`);
}

const [source, target] = process.argv.slice(2);
const code = readFileSync(source, 'utf8');
once(code, PLACEHOLDER, source);
const result = await minify(code.replace(PLACEHOLDER, STAND_IN), {
  ecma: 2017, // what tracker.js is written in
  compress: { passes: 2 },
  mangle: true,
  format: { comments: false },
});
once(result.code, STAND_IN, 'minified output');
// Written aside and renamed, so a running local stack never reads half a script.
writeFileSync(`${target}.tmp`, result.code.replace(STAND_IN, PLACEHOLDER) + '\n');
renameSync(`${target}.tmp`, target);
