// Removes what `npm run build` emitted (a .js next to every .ts), so the
// repository keeps running the TypeScript sources: `npm pack` runs this before
// building (prepack) and after packing (postpack).
const { readdirSync, rmSync, existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const SOURCE_DIRS = ['.', 'lib', 'rules'];

for (const dir of SOURCE_DIRS) {
  const abs = join(root, dir);
  for (const f of readdirSync(abs)) {
    if (f.endsWith('.js') && existsSync(join(abs, `${f.slice(0, -3)}.ts`))) rmSync(join(abs, f));
  }
}
