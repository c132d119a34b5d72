// Runs every test/**/*.test.ts with node --test (Node 20 does not expand globs itself).
// Extra arguments narrow the run: `npm test -- test/unit` or a single file.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function collect(path) {
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path).sort().flatMap((name) => collect(join(path, name)));
}

const roots = process.argv.slice(2).length ? process.argv.slice(2) : ['test'];
const files = roots.flatMap(collect);
if (files.length === 0) {
  console.error('no test files under', roots.join(' '));
  process.exit(1);
}
const typecheck = spawnSync('npx', ['tsc', '--noEmit'], { stdio: 'inherit' });
if (typecheck.status !== 0) process.exit(typecheck.status ?? 1);
// The web console (browser code: DOM lib, JSX) has its own tsconfig.
const typecheckWeb = spawnSync('npx', ['tsc', '--noEmit', '-p', 'web'], { stdio: 'inherit' });
if (typecheckWeb.status !== 0) process.exit(typecheckWeb.status ?? 1);
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
process.exit(result.status ?? 1);
