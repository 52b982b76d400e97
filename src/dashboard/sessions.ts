import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../domain/clock.js';
import type { Mode } from '../domain/types.js';

/**
 * A signed-in browser. It holds the secret keys the user typed (one per mode, both of one account)
 * only in this process's memory; the browser holds nothing but an opaque, HttpOnly cookie.
 */
export interface DashboardSession {
  id: string;
  accountId: string;
  keys: Partial<Record<Mode, string>>;
  /** Sent back by the page on every mutating call; a cross-site request cannot read it. */
  csrfToken: string;
  created: number;
  lastSeen: number;
}

/** However active, a session ends after this long: an open tab that polls does not sign in forever. */
const MAX_SESSION_MS = 7 * 86_400_000;

/** Sessions in memory: a restart signs everyone out, which is the safe default for keys. */
export class SessionStore {
  private readonly sessions = new Map<string, DashboardSession>();

  constructor(
    private readonly clock: Clock,
    private readonly idleMs: number,
    private readonly maxSessions = 10_000,
  ) {}

  private expired(session: DashboardSession, now: number): boolean {
    return now - session.lastSeen > this.idleMs || now - session.created > MAX_SESSION_MS;
  }

  create(accountId: string, mode: Mode, key: string): DashboardSession {
    this.evictExpired();
    if (this.sessions.size >= this.maxSessions) {
      // Map iteration order is insertion order: the oldest session goes first.
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    const session: DashboardSession = {
      id: randomBytes(32).toString('base64url'),
      accountId,
      keys: { [mode]: key },
      csrfToken: randomBytes(32).toString('base64url'),
      created: this.clock.now(),
      lastSeen: this.clock.now(),
    };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session with this id, its idle timer restarted; null when unknown or expired. */
  touch(id: string | undefined): DashboardSession | null {
    if (!id) return null;
    const session = this.sessions.get(id);
    if (!session) return null;
    const now = this.clock.now();
    if (this.expired(session, now)) {
      this.sessions.delete(id);
      return null;
    }
    session.lastSeen = now;
    return session;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  private evictExpired(): void {
    const now = this.clock.now();
    for (const [id, session] of this.sessions) if (this.expired(session, now)) this.sessions.delete(id);
  }
}

/** Constant-time comparison of a presented CSRF token with the session's. */
export function csrfTokenMatches(session: DashboardSession, presented: string | undefined): boolean {
  if (!presented) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(session.csrfToken);
  return a.length === b.length && timingSafeEqual(a, b);
}
