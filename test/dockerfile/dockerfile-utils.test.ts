import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';

// The Dockerfile linter from npm (Debian has no hadolint): the language
// server's validator reports syntax and instruction errors.
describe('Dockerfile lints clean with dockerfile-utils', () => {
  it('has no diagnostics', () => {
    const text = readFileSync(join(__dirname, '..', '..', 'Dockerfile'), 'utf8');
    expect(validate(text).map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
  });

  it('the linter does catch a broken Dockerfile', () => {
    const diagnostics = validate('FROM node:20\nHEALTHCHECK CMD\n');
    expect(diagnostics.map((d) => d.message)).toEqual(['Missing command after HEALTHCHECK CMD']);
  });
});
