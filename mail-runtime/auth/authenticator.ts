import type { Logger } from '../common/log';
import { RuntimeLimits } from '../config';
import type { CredentialCache } from './credential-cache';
import { LoginLimiter, sleep } from './limiter';
import { PasswordCheckPool, PasswordChecksBusy } from './password-checks';
import type { AuthContext, Directory, DirectoryUser } from './types';

export type LoginOutcome =
  | { ok: true; user: DirectoryUser }
  | {
      ok: false;
      /**
       * `failed`: wrong credentials; `throttled`: too many failures, password
       * not even checked; `unavailable`: directory broken, or no password
       * check could start within the queue deadline (try again later).
       */
      reason: 'failed' | 'throttled' | 'unavailable';
      /**
       * Hang up after the reply: this connection has failed
       * `limits.loginFailuresPerConnection` times (IMAP `* BYE`, POP3 `-ERR`).
       */
      disconnect: boolean;
    };

export interface AuthenticatorOptions {
  /** Failed or refused logins on one connection before `disconnect` (config `limits.loginFailuresPerConnection`). */
  failuresPerConnection?: number;
  /** The password-check pool (config `limits.passwordCheck*`); one per process. */
  passwords?: PasswordCheckPool;
  /** Verified credentials remembered for a short time (config `limits.credentialCacheSeconds`); absent: every login hashes. */
  credentials?: CredentialCache;
  /** Called once per outcome (metrics). */
  onOutcome?: (result: 'ok' | 'failed' | 'throttled' | 'busy' | 'unavailable') => void;
}

/** Connections with failures remembered at once; the oldest are forgotten first (they are long gone). */
const MAX_TRACKED_CONNECTIONS = 100_000;

/**
 * The one login path for every protocol (IMAP, POP3; submission and the
 * proxy later): limiter verdict, per-user slow-down, the directory's check
 * through the bounded password-check pool, per-connection failure count,
 * one log line. Protocol code maps the outcome to its reply (IMAP
 * `NO [AUTHENTICATIONFAILED]`/`[UNAVAILABLE]`, POP3 `-ERR [AUTH]`/
 * `[LOGIN-DELAY]`/`[SYS/TEMP]`) and hangs up on `disconnect`.
 */
export class Authenticator {
  readonly passwords: PasswordCheckPool;
  private readonly failuresPerConnection: number;
  private readonly onOutcome: NonNullable<AuthenticatorOptions['onOutcome']>;
  private readonly credentials: CredentialCache | undefined;
  private readonly connectionFailures = new Map<string, number>();

  constructor(
    readonly directory: Directory,
    readonly limiter: LoginLimiter = new LoginLimiter(),
    private readonly log?: Logger,
    opts: AuthenticatorOptions = {},
  ) {
    this.failuresPerConnection = opts.failuresPerConnection ?? RuntimeLimits.parse(undefined).loginFailuresPerConnection;
    this.passwords = opts.passwords ?? new PasswordCheckPool();
    this.onOutcome = opts.onOutcome ?? (() => undefined);
    this.credentials = opts.credentials;
  }

  async login(username: string, password: string, ctx: AuthContext): Promise<LoginOutcome> {
    const base = { ip: ctx.ip, user: username, protocol: ctx.protocol };
    let verdict;
    try {
      verdict = await this.limiter.check(username, ctx.ip);
    } catch (err) {
      this.log?.error({ ...base, err }, 'login limiter unavailable');
      return this.unavailable('unavailable');
    }
    if (!verdict.allowed) {
      this.log?.warn({ ...base, limit: verdict.reason }, 'login refused: too many failures');
      this.onOutcome('throttled');
      return { ok: false, reason: 'throttled', disconnect: this.countFailure(ctx) };
    }
    await sleep(verdict.delayMs);
    let user: DirectoryUser | null;
    try {
      // The limiter and its delays above still apply to a remembered login: only the hash is saved.
      const pool = this.passwords.verifier(verdict.priority);
      const passwords = this.credentials ? this.credentials.verifier(username, pool) : pool;
      user = await this.directory.authenticate(username, password, { ...ctx, passwords });
    } catch (err) {
      if (err instanceof PasswordChecksBusy) {
        this.log?.info({ ...base, priority: verdict.priority }, 'login refused: password checks busy');
        return this.unavailable('busy');
      }
      this.log?.error({ ...base, err }, 'directory error');
      return this.unavailable('unavailable');
    }
    if (!user) {
      await this.limiter.failed(username, ctx.ip).catch((err: unknown) => this.log?.error({ ...base, err }, 'login limiter unavailable'));
      this.log?.info(base, 'login failed');
      this.onOutcome('failed');
      return { ok: false, reason: 'failed', disconnect: this.countFailure(ctx) };
    }
    await this.limiter.succeeded(username, ctx.ip).catch((err: unknown) => this.log?.error({ ...base, err }, 'login limiter unavailable'));
    if (ctx.connectionId) this.connectionFailures.delete(ctx.connectionId);
    this.log?.info({ ...base, user: user.address }, 'login');
    this.onOutcome('ok');
    return { ok: true, user };
  }

  private unavailable(result: 'busy' | 'unavailable'): LoginOutcome {
    this.onOutcome(result);
    // The server's condition, not the client's: does not count towards hanging up.
    return { ok: false, reason: 'unavailable', disconnect: false };
  }

  /** One more failure on the attempt's connection; true when it has had its share. */
  private countFailure(ctx: AuthContext): boolean {
    const id = ctx.connectionId;
    if (!id) return false;
    const n = (this.connectionFailures.get(id) ?? 0) + 1;
    this.connectionFailures.delete(id);
    if (n >= this.failuresPerConnection) return true;
    this.connectionFailures.set(id, n);
    if (this.connectionFailures.size > MAX_TRACKED_CONNECTIONS) this.connectionFailures.delete(this.connectionFailures.keys().next().value as string);
    return false;
  }
}
