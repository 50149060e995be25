import { randomBytes } from 'node:crypto';
import { recordChange } from '../audit/log.js';
import type { Clock } from '../core/clock.js';
import { sessionHandle } from '../core/crypto.js';
import type { Logger } from '../core/logger.js';
import type { Application, SessionRecord } from '../domain/model.js';
import type { Keyring } from '../keys/keyring.js';
import { LOGOUT_TOKEN_TYP } from '../keys/signer.js';
import type { OutboundFetcher } from '../outbound/fetch.js';
import type { Storage } from '../storage/types.js';
import { idTokenAlgorithm } from '../tokens/id-token.js';
import { sessionSid } from '../web/session.js';

/**
 * OpenID Connect Back-Channel Logout 1.0: when a sign-in session ends, every application that got
 * an ID token in it (storage.sessions.clientsOf its sid) and registers a backchannel_logout_uri is
 * sent a logout token, POSTed as `logout_token` (§2.5), through the outbound fetcher (its rules,
 * timeout and size limit). Delivery runs after the caller's response, never blocking the user; a
 * failed delivery (no answer, 5xx) is tried again a bounded number of times; 4xx is final (§2.8:
 * the RP refused the token). Each outcome is audited as `application.backchannel_logout` under the
 * client id (never the token) and logged.
 */

/** §2.4: the event member that makes a JWT a logout token. */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** How long a logout token is valid: two minutes (§2.4 asks for a short lifetime). */
export const LOGOUT_TOKEN_LIFETIME_S = 120;
/** Attempts per application and session: the first and two retries. */
export const BACKCHANNEL_ATTEMPTS = 3;
/** Waits before the retries (ms). */
export const BACKCHANNEL_RETRY_DELAYS_MS: readonly number[] = [1_000, 5_000];

export interface BackchannelLogoutDeps {
  readonly storage: Pick<Storage, 'sessions' | 'applications'> & Partial<Pick<Storage, 'audit'>>;
  readonly keyring: Pick<Keyring, 'idTokenKey'>;
  readonly issuer: () => string;
  readonly fetcher: OutboundFetcher;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Tests shorten the waits between attempts. */
  readonly retryDelaysMs?: readonly number[];
}

/** What one delivery came to, as audited. */
export interface BackchannelOutcome {
  readonly clientId: string;
  readonly session: string;
  readonly delivered: boolean;
  readonly attempts: number;
  /** The last HTTP status answered (null: no answer). */
  readonly status: number | null;
  readonly error: string | null;
}

/** The sessions a notification is about: sign-in sessions (console sessions have no sid of their own). */
export type EndedSession = Pick<SessionRecord, 'id' | 'userId' | 'kind'>;

/** §2.4: the claims of a logout token for one application and session. */
export function logoutTokenClaims(issuer: string, app: Pick<Application, 'clientId'>, userId: string, sid: string, nowMs: number): Record<string, unknown> {
  const iat = Math.floor(nowMs / 1000);
  return {
    iss: issuer,
    aud: app.clientId,
    iat,
    exp: iat + LOGOUT_TOKEN_LIFETIME_S,
    jti: randomBytes(16).toString('base64url'),
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    // Both sub and sid: the sid is known for every session we notify about (§2.4 allows both).
    sub: userId,
    sid,
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export class BackchannelLogout {
  private readonly pending = new Set<Promise<void>>();
  private readonly delays: readonly number[];

  constructor(private readonly deps: BackchannelLogoutDeps) {
    this.delays = deps.retryDelaysMs ?? BACKCHANNEL_RETRY_DELAYS_MS;
  }

  /**
   * Notifies the applications of the ended sessions; returns at once (the work is started in the
   * background, its failures logged and audited, never thrown to the caller).
   */
  sessionsEnded(sessions: readonly EndedSession[]): void {
    const signin = sessions.filter((s) => s.kind === 'signin');
    if (signin.length === 0) return;
    const work = this.notifyAll(signin).catch((error: unknown) => {
      this.deps.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'back-channel logout failed');
    });
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  /** Resolves when every notification started so far is done (tests, and a graceful stop). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private async notifyAll(sessions: readonly EndedSession[]): Promise<void> {
    const jobs: Promise<BackchannelOutcome>[] = [];
    for (const session of sessions) {
      const sid = sessionSid(session);
      for (const applicationId of await this.deps.storage.sessions.clientsOf(sid)) {
        const app = await this.deps.storage.applications.byId(applicationId);
        if (app === undefined || !app.active || app.backchannelLogoutUri === undefined || app.backchannelLogoutUri === null) continue;
        jobs.push(this.deliver(app, app.backchannelLogoutUri, session, sid));
      }
    }
    await Promise.all(jobs);
  }

  /** Delivers one logout token with bounded retries; audits and logs the outcome. */
  private async deliver(app: Application, uri: string, session: EndedSession, sid: string): Promise<BackchannelOutcome> {
    const handle = sessionHandle(session.id);
    let status: number | null = null;
    let error: string | null = null;
    let attempts = 0;
    let delivered = false;
    while (attempts < BACKCHANNEL_ATTEMPTS) {
      if (attempts > 0) await sleep(this.delays[Math.min(attempts - 1, this.delays.length - 1)] ?? 1_000);
      attempts += 1;
      try {
        const key = await this.deps.keyring.idTokenKey(idTokenAlgorithm(app), this.deps.clock.now());
        // A fresh token (new jti, iat) for every attempt.
        const token = key.sign(logoutTokenClaims(this.deps.issuer(), app, session.userId, sid, this.deps.clock.now()), LOGOUT_TOKEN_TYP);
        if (this.deps.fetcher.postForm === undefined) throw new Error('the outbound fetcher cannot POST');
        const res = await this.deps.fetcher.postForm(uri, { logout_token: token });
        status = res.status;
        error = null;
        // §2.8: 200 on success; 204 is accepted too (frameworks answer it for an empty body).
        if (res.status === 200 || res.status === 204) {
          delivered = true;
          break;
        }
        error = `answered ${res.status}`;
        // A 4xx is the RP's verdict on the token: sending it again would not change it.
        if (res.status >= 400 && res.status < 500) break;
      } catch (e) {
        status = null;
        error = (e instanceof Error ? e.message : String(e)).slice(0, 300);
      }
    }
    const outcome: BackchannelOutcome = { clientId: app.clientId, session: handle, delivered, attempts, status, error };
    const log = { clientId: app.clientId, session: handle, uri, attempts, status, error };
    if (delivered) this.deps.logger.info(log, 'back-channel logout delivered');
    else this.deps.logger.warn(log, 'back-channel logout not delivered');
    await recordChange(
      { storage: this.deps.storage, clock: this.deps.clock },
      { action: 'application.backchannel_logout', target: app.clientId, before: null, after: { uri, session: handle, delivered, attempts, status, error } },
    );
    return outcome;
  }
}
