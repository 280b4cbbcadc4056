import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { RuntimeConfigOf } from '../config';

type Hook = NonNullable<RuntimeConfigOf<'failover-controller'>['trafficSwitch']>;

export interface SwitchFacts {
  /** The site that is now active. */
  active: 'primary' | 'standby';
  memberId: string;
  epoch: number;
}

/** Output of a hook kept for the event record (a DNS tool can be chatty). */
const MAX_HOOK_OUTPUT = 2000;

/**
 * Moves client traffic to the active site: runs the operator's command
 * (argv, no shell; the facts in MAILFLEET_FAILOVER_* variables) or POSTs the
 * facts as JSON to a webhook. Resolves with a short detail; rejects when
 * the hook fails, exits non-zero or outlives `timeoutMs` (it is killed).
 */
export function runTrafficSwitch(hook: Hook, facts: SwitchFacts, timeoutMs: number): Promise<string> {
  if (hook.kind === 'command') {
    return new Promise((resolve, reject) => {
      const child = spawn(hook.argv[0]!, hook.argv.slice(1), {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          MAILFLEET_FAILOVER_ACTIVE: facts.active,
          MAILFLEET_FAILOVER_MEMBER: facts.memberId,
          MAILFLEET_FAILOVER_EPOCH: String(facts.epoch),
        },
      });
      let out = '';
      const keep = (d: Buffer) => {
        out = (out + d.toString('utf8')).slice(-MAX_HOOK_OUTPUT);
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`traffic-switch command still running after ${timeoutMs} ms (killed)`));
      }, timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`traffic-switch command: ${e.message}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(`command exited 0${out.trim() ? `: ${out.trim()}` : ''}`);
        else reject(new Error(`traffic-switch command exited ${code ?? signal}${out.trim() ? `: ${out.trim()}` : ''}`));
      });
    });
  }
  return new Promise((resolve, reject) => {
    const url = new URL(hook.url);
    const body = JSON.stringify({ event: 'mailfleet.failover.traffic-switch', ...facts });
    const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
    if (hook.tokenFile) headers.authorization = `Bearer ${readFileSync(hook.tokenFile, 'utf8').trim()}`;
    const req = (url.protocol === 'https:' ? https : http).request(url, { method: 'POST', headers }, (res) => {
      res.resume();
      res.on('end', () => {
        clearTimeout(timer);
        const code = res.statusCode ?? 0;
        if (code >= 200 && code < 300) resolve(`webhook answered ${code}`);
        else reject(new Error(`traffic-switch webhook answered ${code}`));
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`traffic-switch webhook got no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`traffic-switch webhook: ${e.message}`));
    });
    req.end(body);
  });
}
