/**
 * A small Dockerfile reader and the project's rules for it. Not a general
 * linter (see the report: dockerfile-utils would be the real one); it checks
 * the properties that matter for a mail runtime image.
 */

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

/** Joins `\` continuations, drops comments and blank lines (Dockerfile reference, "Format"). */
export function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const logical: { text: string; line: number }[] = [];
  let current = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (current === '' && /^\s*#/.test(line)) return;
    if (current === '' && line.trim() === '') return;
    if (current === '') start = i + 1;
    if (current !== '' && /^\s*#/.test(line)) return; // comments inside continuations are dropped too
    if (/\\\s*$/.test(line)) {
      current += `${line.replace(/\\\s*$/, '')} `;
      return;
    }
    logical.push({ text: (current + line).trim(), line: start });
    current = '';
  });
  if (current !== '') logical.push({ text: current.trim(), line: start });

  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^(\S+)\s*(.*)$/.exec(l.text)!;
    const keyword = m[1]!.toUpperCase();
    const rest = m[2]!;
    if (keyword === 'ARG' && stages.length === 0) {
      const a = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/.exec(rest.trim());
      if (a) args.set(a[1]!, (a[2] ?? '').replace(/^"(.*)"$/, '$1'));
      continue;
    }
    if (keyword === 'FROM') {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest.trim());
      if (!f) throw new Error(`line ${l.line}: cannot read FROM ${rest}`);
      const image = f[1]!.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_s, name: string) => args.get(name) ?? '');
      stages.push({ image, name: f[2], instructions: [] });
      continue;
    }
    if (stages.length === 0) throw new Error(`line ${l.line}: ${keyword} before the first FROM`);
    stages[stages.length - 1]!.instructions.push({ keyword, args: rest, line: l.line });
  }
  return { args, stages };
}

/** `["a","b"]` exec form → array; undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  const t = args.trim();
  if (!t.startsWith('[')) return undefined;
  try {
    const v = JSON.parse(t) as unknown;
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
  } catch {
    return undefined;
  }
}

/** name:x.y.z[-variant]@sha256:<64 hex> */
const PINNED = /^[a-z0-9][a-z0-9._/-]*:\d+\.\d+\.\d+[A-Za-z0-9._-]*@sha256:[0-9a-f]{64}$/;

/** Every rule the project's Dockerfile must satisfy; returns the broken ones (empty = fine). */
export function lintDockerfile(text: string): string[] {
  const problems: string[] = [];
  let parsed: ReturnType<typeof parseDockerfile>;
  try {
    parsed = parseDockerfile(text);
  } catch (err) {
    return [(err as Error).message];
  }
  const { stages } = parsed;
  if (stages.length < 2) problems.push('multi-stage: expected a build stage and a runtime stage');
  const stageNames = new Set(stages.map((s) => s.name).filter(Boolean));
  for (const s of stages) {
    if (stageNames.has(s.image)) continue; // FROM <earlier stage>
    if (/(^|:)latest(@|$)/.test(s.image) || !s.image.includes(':')) problems.push(`base image "${s.image}" uses latest or no tag`);
    else if (!PINNED.test(s.image)) problems.push(`base image "${s.image}" is not pinned to an exact version and a sha256 digest`);
  }
  for (const s of stages) {
    for (const i of s.instructions) {
      if (i.keyword === 'ADD' && /(^|\s)(https?|git|ftp):\/\//i.test(i.args)) problems.push(`line ${i.line}: ADD of a remote URL (use a verified download in RUN, or COPY)`);
      if (i.keyword === 'ADD' && /\bgit@/.test(i.args)) problems.push(`line ${i.line}: ADD of a git repository`);
      if (i.keyword === 'RUN' && /\bnpm\s+(install|i)\b/.test(i.args)) problems.push(`line ${i.line}: npm install (use npm ci against the lockfile)`);
      if (i.keyword === 'RUN' && /\bcurl\b[^|]*\|\s*(ba)?sh/.test(i.args)) problems.push(`line ${i.line}: pipes a download into a shell`);
    }
  }
  const build = stages.slice(0, -1);
  if (!build.some((s) => s.instructions.some((i) => i.keyword === 'RUN' && /\bnpm\s+ci\b.*--omit=dev/.test(i.args)))) {
    problems.push('a build stage must install production dependencies with `npm ci --omit=dev`');
  }
  const final = stages[stages.length - 1];
  if (final) {
    const of = (k: string) => final.instructions.filter((i) => i.keyword === k);
    const users = of('USER');
    const lastUser = users[users.length - 1]?.args.trim();
    if (!lastUser) problems.push('runtime stage: no USER (it would run as root)');
    else if (/^(root|0)(:.*)?$/.test(lastUser)) problems.push(`runtime stage: USER ${lastUser} is root`);
    const workdir = of('WORKDIR').pop()?.args.trim();
    if (workdir !== '/app') problems.push(`runtime stage: WORKDIR must be /app (got ${workdir ?? 'none'})`);
    const hc = of('HEALTHCHECK').pop();
    if (!hc) problems.push('runtime stage: no HEALTHCHECK');
    else if (!/CMD\s+\[/.test(hc.args) || !hc.args.includes('http://127.0.0.1:9090/healthz')) {
      problems.push('runtime stage: HEALTHCHECK must be an exec-form CMD requesting http://127.0.0.1:9090/healthz');
    }
    const entry = of('ENTRYPOINT').pop();
    if (JSON.stringify(entry ? execForm(entry.args) : undefined) !== JSON.stringify(['node', '/app/bin/mailfleet.js'])) {
      problems.push('runtime stage: ENTRYPOINT must be ["node","/app/bin/mailfleet.js"] (exec form, so signals reach node)');
    }
    const cmd = of('CMD').pop();
    if (JSON.stringify(cmd ? execForm(cmd.args) : undefined) !== JSON.stringify(['run'])) problems.push('runtime stage: CMD must be ["run"]');
    const exposed = new Set(of('EXPOSE').flatMap((i) => i.args.split(/\s+/).map((p) => Number(p.replace(/\/tcp$/, '')))));
    for (const port of [25, 110, 143, 465, 587, 993, 995, 9090]) if (!exposed.has(port)) problems.push(`runtime stage: EXPOSE ${port} missing`);
    if (!final.instructions.some((i) => i.keyword === 'COPY' && /--from=/.test(i.args) && /node_modules/.test(i.args))) {
      problems.push('runtime stage: node_modules must come from the build stage (COPY --from=...)');
    }
  }
  return problems;
}
