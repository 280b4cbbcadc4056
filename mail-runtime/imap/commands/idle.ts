import { continuation } from '../protocol';
import { noArgs } from './args';
import { AUTH_OR_SELECTED, badResult, defineCommand, okResult } from './types';

/**
 * RFC 2177 IDLE: `+ idling`, then mailbox changes are pushed as they become
 * durable until the client sends DONE. Autologout still applies (clients
 * re-issue IDLE before 29 minutes, §3).
 */
export const IDLE = defineCommand({
  name: 'IDLE',
  states: AUTH_OR_SELECTED,
  parse: noArgs,
  async handle(ctx) {
    await ctx.flushNotifications(true);
    ctx.send(continuation('idling'));
    ctx.setIdle(true);
    let line: Buffer | 'too-long' | null;
    try {
      line = await ctx.readLine();
    } finally {
      ctx.setIdle(false);
    }
    if (line === null) return badResult('Connection closed');
    if (line === 'too-long' || line.toString('latin1').toUpperCase() !== 'DONE') return badResult('Expected DONE');
    return okResult('IDLE terminated');
  },
});
