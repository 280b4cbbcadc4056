import type { Logger } from '../common/log';
import { LoginLimiter, sleep } from './limiter';
import type { AuthContext, Directory, DirectoryUser } from './types';

export type LoginOutcome =
  | { ok: true; user: DirectoryUser }
  /** `failed`: wrong credentials; `throttled`: too many failures, password not even checked; `unavailable`: directory broken. */
  | { ok: false; reason: 'failed' | 'throttled' | 'unavailable' };

/**
 * The one login path for every protocol: limiter verdict, directory check,
 * progressive delay, one log line. Protocol code maps the outcome to its
 * reply (IMAP `NO [AUTHENTICATIONFAILED]`/`[UNAVAILABLE]`, POP3 `-ERR [AUTH]`/`[SYS/TEMP]`).
 */
export class Authenticator {
  constructor(
    readonly directory: Directory,
    readonly limiter: LoginLimiter = new LoginLimiter(),
    private readonly log?: Logger,
  ) {}

  async login(username: string, password: string, ctx: AuthContext): Promise<LoginOutcome> {
    const verdict = this.limiter.check(ctx.ip, username);
    if (!verdict.allowed) {
      await sleep(verdict.delayMs);
      this.log?.warn({ ip: ctx.ip, user: username, protocol: ctx.protocol, limit: verdict.reason }, 'login refused: too many failures');
      return { ok: false, reason: 'throttled' };
    }
    let user: DirectoryUser | null;
    try {
      user = await this.directory.authenticate(username, password, ctx);
    } catch (err) {
      this.log?.error({ ip: ctx.ip, user: username, protocol: ctx.protocol, err }, 'directory error');
      return { ok: false, reason: 'unavailable' };
    }
    if (!user) {
      this.limiter.recordFailure(ctx.ip, username);
      await sleep(Math.max(verdict.delayMs, this.limiter.check(ctx.ip, username).delayMs));
      this.log?.info({ ip: ctx.ip, user: username, protocol: ctx.protocol }, 'login failed');
      return { ok: false, reason: 'failed' };
    }
    this.limiter.recordSuccess(ctx.ip, username);
    this.log?.info({ ip: ctx.ip, user: user.address, protocol: ctx.protocol }, 'login');
    return { ok: true, user };
  }
}
