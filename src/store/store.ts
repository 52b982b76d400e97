import type {
  Account,
  ApiKeyOwner,
  ConnectedAccount,
  DeliveryAttempt,
  DeliveryKind,
  DestinationType,
  EndpointSecret,
  Millis,
  Mode,
  Page,
  PageRequest,
  StoredEvent,
  WebhookEndpoint,
} from '../domain/types.js';

/**
 * Everything Herald keeps, named after what Herald does with it. SQLite and PostgreSQL implement it;
 * nothing outside `store/` writes SQL. Every method is safe to call from several processes at once
 * (the PostgreSQL implementation relies on that).
 */
export interface Store {
  close(): Promise<void>;

  // Accounts and API keys
  /** The account created on first start, creating it with `init` when there is none. */
  ensureDefaultAccount(init: Account): Promise<{ account: Account; created: boolean }>;
  createAccount(account: Account): Promise<void>;
  getAccount(id: string): Promise<Account | null>;
  /** Every account, oldest first (operators' listing: `herald accounts list`). */
  listAccounts(): Promise<Account[]>;
  /** Makes `keyHash` the account's one secret key for `mode`, replacing any previous secret key. */
  setApiKey(accountId: string, mode: Mode, keyHash: string, now: Millis): Promise<void>;
  /** Adds a restricted (read-only) key; an account may have several. */
  addRestrictedApiKey(accountId: string, mode: Mode, keyHash: string, now: Millis): Promise<void>;
  findApiKeyOwner(keyHash: string): Promise<ApiKeyOwner | null>;
  /** Changes the account's default API version (events created from now on); false when there is no such account. */
  setDefaultApiVersion(accountId: string, version: string): Promise<boolean>;

  // Connected accounts (Connect), always looked up within their platform
  /** Stores a connected account unless the platform already has one with this id; answers the stored one. */
  ensureConnectedAccount(account: ConnectedAccount): Promise<{ account: ConnectedAccount; created: boolean }>;
  getConnectedAccount(platformAccountId: string, id: string): Promise<ConnectedAccount | null>;
  listConnectedAccounts(platformAccountId: string, page: PageRequest): Promise<Page<ConnectedAccount>>;

  // Signing secrets at rest
  /**
   * Rewrites every stored signing secret (endpoints' and listen sessions') and every kept
   * idempotent response body (a create or roll response shows a secret) in one transaction:
   * `rewrite` gets the stored text and the id of its owner (endpoint, session, or
   * `idempotencyOwner(…)`) and answers the text to store; rows it answers unchanged are not
   * written. If `rewrite` throws, nothing changes. Answers how many rows changed. Encryption at rest
   * (secret-encryption.ts) is built on it. `responses` narrows the kept responses visited (there
   * may be many) to those stored sealed (starting with SEALED_PREFIX) or in plaintext; signing
   * secrets are always all visited.
   */
  rewriteSecrets(rewrite: (stored: string, ownerId: string) => string, options?: { responses?: 'all' | 'sealed' | 'plaintext' }): Promise<number>;

  // Webhook endpoints
  /** Stores a new endpoint with its first secret, unless the account and mode already have `max`. */
  createEndpoint(endpoint: WebhookEndpoint, secret: EndpointSecret, max: number): Promise<'created' | 'limit_reached'>;
  getEndpoint(accountId: string, mode: Mode, id: string): Promise<WebhookEndpoint | null>;
  /** The mode an endpoint of this account lives in, to tell a user they used the wrong key. */
  findEndpointMode(accountId: string, id: string): Promise<Mode | null>;
  /** Saves the user-editable fields (url, enabled_events, description, metadata, name, AWS settings) and status; false when it is gone. */
  updateEndpoint(endpoint: WebhookEndpoint): Promise<boolean>;
  deleteEndpoint(accountId: string, mode: Mode, id: string, now: Millis): Promise<boolean>;
  /** Endpoints and other destinations, newest first; `filter.type` keeps one kind (the v1 API lists webhook endpoints only). */
  listEndpoints(accountId: string, mode: Mode, page: PageRequest, filter?: EndpointFilter): Promise<Page<WebhookEndpoint>>;
  /** Secrets that are still signed with at `now`, newest first. */
  activeSecrets(endpointId: string, now: Millis): Promise<EndpointSecret[]>;
  /** Adds `secret` as current; the previous current secret stays active until `oldExpiresAt`. */
  rollSecret(endpointId: string, secret: EndpointSecret, oldExpiresAt: Millis): Promise<void>;

  // Events
  /**
   * Stores events durably and, in the same transaction, one automatic delivery for every enabled
   * endpoint that wants each one. Returns the stored events with `pendingWebhooks` set.
   */
  publishEvents(events: PublishedEvent[]): Promise<StoredEvent[]>;
  getEvent(accountId: string, mode: Mode, id: string): Promise<StoredEvent | null>;
  findEventMode(accountId: string, id: string): Promise<Mode | null>;
  listEvents(accountId: string, mode: Mode, filter: EventFilter, page: PageRequest): Promise<Page<StoredEvent>>;
  /** The newest event whose subject (`related_object`) is this object: its latest published snapshot. */
  latestEventAbout(accountId: string, mode: Mode, object: { type: string; id: string }): Promise<StoredEvent | null>;

  // Deliveries
  /**
   * Claims up to `limit` deliveries that are due at `now` (including those whose lease expired),
   * leasing each until `now + leaseMs`. Deliveries whose endpoint is disabled or deleted are
   * cancelled instead of returned. With `fairness`, no endpoint gets more than its allowance
   * (`perEndpoint` less its attempts in flight) of the batch, and the rest of the batch goes to
   * other endpoints' due work, earliest first: a backlog at one slow endpoint cannot take every slot.
   */
  claimDueDeliveries(now: Millis, limit: number, leaseMs: number, fairness?: ClaimFairness): Promise<ClaimedDelivery[]>;
  /** Records finished attempts and moves their deliveries on, in one transaction. */
  recordAttempts(results: AttemptResult[], policy: HealthPolicy): Promise<RecordOutcome>;
  /** Gives claimed deliveries back (on shutdown) so they are due again at once. */
  releaseDeliveries(claims: { deliveryId: string; leaseToken: string }[], now: Millis): Promise<void>;
  /** The earliest time a delivery becomes due, or null when none is waiting. */
  nextDueTime(): Promise<Millis | null>;
  /**
   * Optional: calls `onWork` when another process commits work that may be due now (published
   * events, resends, recoveries, released leases); returns the unsubscribe function. Stores shared
   * by several processes implement it (PostgreSQL: LISTEN/NOTIFY); a one-process store need not.
   */
  watchForWork?(onWork: () => void): () => void;
  /**
   * Optional, for a delivery worker of a store that several worker processes share: like
   * watchForWork, but each announcement wakes one idle worker of all processes (the one on call),
   * not every worker at once to claim the same rows, all but one of them in vain. The duty passes
   * on when the worker says that more may be due than it can take.
   */
  watchForWorkOnCall?(onWork: () => void): WakeUpDuty;
  /** Queues a one-off manual delivery (resend) due now. Automatic retries are untouched. */
  enqueueManualDelivery(eventId: string, endpoint: WebhookEndpoint, now: Millis): Promise<void>;
  /**
   * Queues, due now, every event of the window that the endpoint wants and has not received
   * successfully; `dryRun` only counts them.
   */
  recoverEvents(endpoint: WebhookEndpoint, window: { since: Millis; until: Millis }, now: Millis, dryRun: boolean): Promise<number>;
  listAttempts(scope: AttemptScope, page: PageRequest): Promise<Page<DeliveryAttempt>>;

  // Delivery log queries (the dashboard's API extensions)
  /** One attempt, only within its account and mode. */
  getAttempt(accountId: string, mode: Mode, id: string): Promise<DeliveryAttempt | null>;
  /** Deliveries of one endpoint or one event, newest first, each with its last attempt. */
  listDeliveries(scope: AttemptScope, filter: DeliveryFilter, page: PageRequest): Promise<Page<DeliverySummary>>;
  /** An endpoint's attempts in `[since, until)` counted by outcome, per bucket of `bucketMs`. */
  attemptCounts(scope: { accountId: string; mode: Mode; endpointId: string }, window: { since: Millis; until: Millis; bucketMs: number }): Promise<AttemptCountBucket[]>;

  // Listen sessions (`herald listen`: a streaming destination fed from the event log by cursor)
  /**
   * The account and mode's one listen session, created from `init` (its cursor at the newest event)
   * when there is none; an existing one keeps its id, secret and cursor and takes `init`'s filter.
   */
  openListenSession(init: Omit<ListenSession, 'cursor'>): Promise<ListenSession>;
  getListenSession(accountId: string, mode: Mode, id: string): Promise<ListenSession | null>;
  /** The session's events after `afterSeq` that it has not acknowledged, oldest first. */
  listenBacklog(sessionId: string, afterSeq: number, limit: number): Promise<ListenEvent[]>;
  /** Of these event ids, those the session has not acknowledged yet. */
  listenUnacknowledged(sessionId: string, eventIds: string[]): Promise<string[]>;
  /**
   * Acknowledges an event for the session and records the CLI's forwarding attempts of it (none
   * when it only printed the event) in the delivery log, in one transaction: as one delivery of the
   * event to the session (see listen-delivery.ts), whose id the store gives the attempts.
   */
  recordListenAttempts(sessionId: string, eventId: string, attempts: DeliveryAttempt[]): Promise<void>;
  /** Moves the cursor forward to `seq` (never back) and forgets acknowledgements it now covers. */
  advanceListenCursor(sessionId: string, seq: number): Promise<void>;

  // Idempotency keys
  beginIdempotentRequest(req: IdempotentRequest): Promise<IdempotencyVerdict>;
  completeIdempotentRequest(req: IdempotentRequest, status: number, body: string, expiresAt: Millis): Promise<void>;
  /** Forgets a key whose request failed validation (Stripe does not save those). */
  abandonIdempotentRequest(req: IdempotentRequest): Promise<void>;
  /**
   * A request that reserved an id failed in a way that may have written its object: the key keeps
   * the id and lets a retry run at once, resumed (it looks for the object before making it).
   */
  unlockIdempotentRequest(req: IdempotentRequest): Promise<void>;

  // Rate limits
  /**
   * Counts one request of `key` in the window that starts at `windowStart` and says whether it is
   * within `limit`. Shared by every process on the database, so the limit holds for the whole cluster.
   */
  hitRateLimit(key: string, windowStart: Millis, limit: number): Promise<boolean>;

  // Failure alerts (see alerts/monitor.ts)
  /**
   * Endpoints whose alert state may change now: enabled ones failing since `failingSinceBefore` or
   * earlier, ones Herald disabled that were not alerted about yet, and ones warned or disabled.
   */
  alertCandidates(failingSinceBefore: Millis): Promise<AlertCandidate[]>;
  /**
   * Moves an endpoint's alert state from `from` to `to` and queues `alert`, in one transaction, only
   * if the state is still `from` (a compare-and-set: of several processes, one queues the alert).
   */
  transitionAlertState(endpointId: string, from: AlertStateRecord, to: AlertStateRecord, alert: EndpointAlert, now: Millis): Promise<boolean>;
  /** Leases up to `limit` alerts due to be sent at `now` until `now + leaseMs`. */
  claimDueAlerts(now: Millis, limit: number, leaseMs: number): Promise<ClaimedAlert[]>;
  /** Records how a claimed alert went out, or when to try again; does nothing if the lease was lost. */
  finishAlert(claim: ClaimedAlert, result: AlertSendResult): Promise<void>;
  listAlerts(accountId: string, mode: Mode, page: PageRequest): Promise<Page<EndpointAlert>>;
  /** The account's own alert address (null: the operator's HERALD_ALERT_EMAIL). */
  getAlertEmail(accountId: string): Promise<string | null>;
  setAlertEmail(accountId: string, email: string | null, now: Millis): Promise<void>;

  // Housekeeping
  /** Deletes expired idempotency keys and, in small batches, data older than `olderThan`. */
  prune(now: Millis, olderThan: Millis): Promise<{ events: number; attempts: number; idempotencyKeys: number }>;
}

export type PublishedEvent = Omit<StoredEvent, 'pendingWebhooks'> & {
  /** Deliver to this one destination only, whatever it subscribes to (a destination's `ping`). */
  onlyEndpointId?: string;
  /** `data` as JSON, when the publisher has serialised it already: stored as is, not serialised again. */
  dataJson?: string;
};

export interface EndpointFilter {
  type?: DestinationType;
}

export interface EventFilter {
  /** Exact type, or a pattern with `*`. */
  type?: string;
  types?: string[];
  createdGte?: Millis;
  createdLt?: Millis;
  deliverySuccess?: boolean;
  /** Only events whose subject (`related_object`) has this id. */
  objectId?: string;
  /** Only the events of this connected account (a request with `Stripe-Account`). */
  connectedAccount?: string;
  /** Events created before this are outside the listing window. */
  notBefore: Millis;
}

/** A worker's side of watchForWorkOnCall. */
export interface WakeUpDuty {
  /**
   * After each look at the queue: `full` when the worker cannot take all the due work now (a full
   * claim, or no room left to claim). The worker on call then hands the duty on, and the work is
   * announced again for another idle worker; it may take the duty again after a claim that took
   * all it could.
   */
  claimed(full: boolean): void;
  stop(): void;
}

/** The per-endpoint bound of a claim (see claimDueDeliveries). */
export interface ClaimFairness {
  /** Most attempts in flight to one endpoint at once. */
  perEndpoint: number;
  /** The claimer's attempts in flight, by endpoint id (absent: none). */
  inFlight: ReadonlyMap<string, number>;
}

export interface ClaimedDelivery {
  deliveryId: string;
  leaseToken: string;
  kind: DeliveryKind;
  /** 1 for the first attempt of this delivery. */
  attemptNumber: number;
  /** Position in the retry schedule (automatic deliveries). */
  scheduleStep: number;
  /** The event as stored; `dataJson` is its `data` as JSON text, spliced into payloads unparsed. */
  event: Omit<StoredEvent, 'data' | 'accountId'> & { dataJson: string };
  endpoint: WebhookEndpoint;
  secrets: string[];
}

export interface AttemptResult {
  claim: ClaimedDelivery;
  attempt: DeliveryAttempt;
  /** What happens to the delivery next: retried at a time, or finished. */
  next: { state: 'pending'; at: Millis; scheduleStep: number } | { state: 'succeeded' | 'failed' };
  /** Disable the endpoint at once with this reason (the receiver answered 410 Gone). */
  disableReason?: string;
}

export interface HealthPolicy {
  /** An endpoint failing this long without a 2xx is disabled. */
  disableAfterMs: number;
}

export interface RecordOutcome {
  /** Endpoints disabled by these results, with the reason recorded. */
  disabled: { endpointId: string; reason: string }[];
}

/**
 * What a delivery looks like to its owner: `succeeded`; `failed` when its last attempt failed
 * (retrying while `nextAttemptAt` is set, given up otherwise); `pending` before its first attempt
 * or while one is in flight; `cancelled` when its endpoint was disabled or deleted first.
 */
export type DeliveryStatus = 'succeeded' | 'failed' | 'pending' | 'cancelled';

export interface DeliveryFilter {
  status?: DeliveryStatus;
  eventType?: string;
  createdGte?: Millis;
  createdLt?: Millis;
}

export interface DeliverySummary {
  id: string;
  eventId: string;
  eventType: string;
  endpointId: string;
  mode: Mode;
  kind: DeliveryKind;
  status: DeliveryStatus;
  attemptCount: number;
  /** When the next attempt is due (pending or retrying), else null. */
  nextAttemptAt: Millis | null;
  created: Millis;
  lastAttempt: Pick<DeliveryAttempt, 'id' | 'created' | 'outcome' | 'httpStatus' | 'failureKind' | 'durationMs'> | null;
}

export interface AttemptCountBucket {
  /** Start of the bucket. */
  start: Millis;
  succeeded: number;
  failed: number;
}

export type AttemptScope =
  | { accountId: string; mode: Mode; endpointId: string }
  | { accountId: string; mode: Mode; eventId: string };

export interface IdempotentRequest {
  accountId: string;
  mode: Mode;
  key: string;
  /** Hash of method, path and parameters: the same key with other parameters is an error. */
  requestHash: string;
  now: Millis;
  /** How long a request in progress holds the key before a retry may run it again. */
  lockMs: number;
  /**
   * The id of the object the request creates, kept with the key for `forMs` (the key's lifetime):
   * should the request's process die after writing the object but before the key records the
   * answer, the retry is given the same id (`resumed`) and finds the object instead of making another.
   */
  reserve?: { id: string; forMs: number };
}

export type IdempotencyVerdict =
  /**
   * `reservedId`: the id to create the object under (the request's own `reserve.id`, or the one an
   * earlier run of the same request reserved); `resumed`: that earlier run never finished, so the
   * object may exist already.
   */
  | { kind: 'proceed'; reservedId?: string; resumed?: true }
  | { kind: 'replay'; status: number; body: string }
  | { kind: 'mismatch' }
  | { kind: 'in_progress' };

/** A `herald listen` session: the destination the CLI streams from. */
export interface ListenSession {
  id: string; // lsn_…
  accountId: string;
  mode: Mode;
  /** The signing secret the CLI signs forwarded requests with; the same across restarts. */
  secret: string;
  enabledEvents: string[];
  /** Position in the event log: every event at or before it is acknowledged or not wanted. */
  cursor: number;
  created: Millis;
}

/** An event as the listen stream sends it: its log position and its data as stored JSON text. */
export type ListenEvent = ClaimedDelivery['event'] & { seq: number };

/** Where an endpoint stands as far as alerts go, and the start of the run of failures it is about. */
export type AlertState = 'ok' | 'warned' | 'disabled';
export interface AlertStateRecord {
  state: AlertState;
  failingSince: Millis | null;
}

export interface AlertCandidate {
  endpoint: WebhookEndpoint;
  alert: AlertStateRecord;
}

/** `failing`: failing for HERALD_ALERT_AFTER; `disabled`: Herald disabled it; `recovered`: a 2xx again. */
export type AlertKind = 'failing' | 'disabled' | 'recovered';
/** pending: to be sent; emailed; logged: no SMTP server or no recipient, so only logged and listed. */
export type AlertDelivery = 'pending' | 'emailed' | 'logged';

export interface EndpointAlert {
  id: string; // walrt_…
  accountId: string;
  mode: Mode;
  endpointId: string;
  kind: AlertKind;
  created: Millis;
  subject: string;
  /** The email's plain text. */
  body: string;
  details: AlertDetails;
  delivery: AlertDelivery;
  recipient: string | null;
  sendAttempts: number;
  lastError: string | null;
  sentAt: Millis | null;
}

export interface AlertDetails {
  url: string;
  failingSince: Millis | null;
  /** When Herald disables it if nothing succeeds (failing), or when it did (disabled). */
  disableAt: Millis | null;
  disabledAt: Millis | null;
  disabledReason: string | null;
  recoveredAt: Millis | null;
  /** Recent failed attempts by kind and HTTP status, most frequent first. */
  failures: { failureKind: string; httpStatus: number | null; count: number }[];
  example: { attemptId: string; eventId: string; created: Millis; failureKind: string | null; httpStatus: number | null; failureMessage: string | null } | null;
}

export interface ClaimedAlert {
  alert: EndpointAlert;
  leaseToken: string;
  /** The account's own alert address, if it set one. */
  accountEmail: string | null;
}

export type AlertSendResult =
  | { delivery: 'emailed' | 'logged'; recipient: string | null; at: Millis }
  | { delivery: 'pending'; retryAt: Millis; error: string };
