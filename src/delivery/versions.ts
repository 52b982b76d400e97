import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { typePatternMatcher } from '../domain/event-types.js';
import { isApiVersion } from '../domain/ids.js';
import { ConfigError } from '../config/config.js';
import type { Logger } from '../domain/logger.js';

/**
 * One change of the event payloads' shape, as Stripe versions its API: events are published in one
 * version and delivered in each endpoint's. `downgrade` turns data of this version into the
 * previous one's; `upgrade` does the reverse. Herald cannot know your objects' shapes, so the
 * operator supplies these (HERALD_API_VERSIONS_DIR, or the older single module
 * HERALD_VERSION_TRANSFORMS); without one, an event is delivered as published.
 */
export interface VersionChange {
  version: string;
  /** What changed, for the operator's logs and docs. */
  description?: string;
  /** Event types (patterns with `*` allowed) the change concerns; absent: every type. */
  eventTypes?: string[];
  upgrade?: (data: EventData, context: ChangeContext) => EventData;
  downgrade?: (data: EventData, context: ChangeContext) => EventData;
}

export interface ChangeContext {
  /** The event's type (`charge.succeeded`), for changes that treat types differently. */
  eventType: string;
}

export type EventData = { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };

/** Versions are dates with an optional name (`2026-10-28.endive`): the date orders them. */
const dateOf = (version: string) => version.slice(0, 10);

export class VersionTranslator {
  private readonly changes: (VersionChange & { concerns: (type: string) => boolean })[];
  private readonly warned = new Set<string>();
  /** How many times data was translated (each is one render of an event in one version). */
  translations = 0;

  /**
   * `declared`: the operator's versions, oldest first (HERALD_API_VERSIONS_DIR); events and
   * endpoints may only name these. Empty: any dated version is accepted (HERALD_VERSION_TRANSFORMS).
   */
  constructor(
    changes: readonly VersionChange[],
    private readonly logger: Logger,
    readonly declared: readonly string[] = [],
  ) {
    this.changes = [...changes]
      .sort((a, b) => dateOf(a.version).localeCompare(dateOf(b.version)))
      .map((change) => {
        const matchers = change.eventTypes?.map(typePatternMatcher);
        return { ...change, concerns: matchers ? (type: string) => matchers.some((m) => m(type)) : () => true };
      });
  }

  get empty(): boolean {
    return this.changes.length === 0;
  }

  /** Whether events and endpoints may use `version` (every dated version when none were declared). */
  knows(version: string): boolean {
    return this.declared.length === 0 ? isApiVersion(version) : this.declared.includes(version);
  }

  /**
   * The data rendered for `target`, or null when the changes between the two versions cannot all
   * be applied (the event is then delivered in its own version, and that is logged once).
   */
  translate(data: EventData, from: string, target: string, eventType = ''): EventData | null {
    if (dateOf(from) === dateOf(target)) return data;
    const downward = dateOf(target) < dateOf(from);
    const steps = (
      downward
        ? this.changes.filter((c) => dateOf(c.version) > dateOf(target) && dateOf(c.version) <= dateOf(from)).reverse()
        : this.changes.filter((c) => dateOf(c.version) > dateOf(from) && dateOf(c.version) <= dateOf(target))
    ).filter((c) => c.concerns(eventType));
    this.translations++;
    let current = structuredClone(data);
    for (const step of steps) {
      const apply = downward ? step.downgrade : step.upgrade;
      if (!apply) {
        this.warnOnce(`${from}->${target}`, `no ${downward ? 'downgrade' : 'upgrade'} for version ${step.version}`);
        return null;
      }
      current = apply(current, { eventType });
    }
    return current;
  }

  private warnOnce(key: string, reason: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.logger.warn('event delivered in its own API version', { versions: key, reason });
  }
}

/** Loads the operator's module: its default export (or `changes`) is a list of VersionChange. */
export async function loadVersionChanges(moduleUrl: string): Promise<VersionChange[]> {
  const module = (await import(moduleUrl)) as { default?: unknown; changes?: unknown };
  const list = module.default ?? module.changes;
  if (!Array.isArray(list)) throw new Error('the module must export a list of { version, upgrade?, downgrade? } (default export or `changes`)');
  for (const change of list as VersionChange[]) validateChange(change, change?.version);
  return list as VersionChange[];
}

const MODULE_EXTENSIONS = ['.mjs', '.js'];

/**
 * Loads an API versions folder (HERALD_API_VERSIONS_DIR): `versions.json` lists the versions oldest
 * first, and every version after the first has a change module named after it
 * (`2026-10-28.endive.mjs`) whose default export is `{ description?, eventTypes?, downgrade, upgrade? }`:
 * how data of that version becomes data of the version before it, and back.
 */
export async function loadVersionsDirectory(dir: string): Promise<{ versions: string[]; changes: VersionChange[] }> {
  const listFile = join(dir, 'versions.json');
  if (!existsSync(listFile)) throw new Error(`${listFile} is missing: it lists the API versions, oldest first`);
  let versions: unknown;
  try {
    versions = JSON.parse(readFileSync(listFile, 'utf8'));
  } catch (err) {
    throw new Error(`${listFile}: ${(err as Error).message}`);
  }
  if (!Array.isArray(versions) || versions.length === 0 || !versions.every((v) => typeof v === 'string' && isApiVersion(v))) {
    throw new Error(`${listFile} must be a JSON list of versions such as ["2025-03-31.basil", "2026-10-28.endive"]`);
  }
  const list = versions as string[];
  list.forEach((version, i) => {
    if (i > 0 && dateOf(version) <= dateOf(list[i - 1]!)) throw new Error(`${listFile}: versions must be in date order, oldest first ('${version}' after '${list[i - 1]}')`);
  });
  const files = new Set(readdirSync(dir));
  const changes: VersionChange[] = [];
  for (const version of list.slice(1)) {
    const file = MODULE_EXTENSIONS.map((ext) => `${version}${ext}`).find((name) => files.has(name));
    if (!file) throw new Error(`no change module for ${version} in ${dir} (expected ${version}.mjs or ${version}.js)`);
    const module = (await import(pathToFileURL(join(dir, file)).href)) as { default?: unknown };
    const change = module.default as Omit<VersionChange, 'version'> | undefined;
    if (!change || typeof change !== 'object') throw new Error(`${file} must export default { description?, eventTypes?, downgrade, upgrade? }`);
    validateChange({ ...change, version }, version);
    if (typeof change.downgrade !== 'function') throw new Error(`${file} must have a downgrade function (data of ${version} → data of the version before)`);
    changes.push({ ...change, version });
  }
  return { versions: list, changes };
}

function validateChange(change: VersionChange, name: unknown): void {
  if (typeof change?.version !== 'string' || !/^\d{4}-\d{2}-\d{2}/.test(change.version)) throw new Error(`each change needs a version such as 2026-10-28.endive (got ${JSON.stringify(name)})`);
  for (const fn of ['upgrade', 'downgrade'] as const) {
    if (change[fn] !== undefined && typeof change[fn] !== 'function') throw new Error(`${fn} of ${change.version} must be a function`);
  }
  if (change.eventTypes !== undefined && !(Array.isArray(change.eventTypes) && change.eventTypes.every((t) => typeof t === 'string'))) {
    throw new Error(`eventTypes of ${change.version} must be a list of event types`);
  }
}

/**
 * The translator of the configured versions: HERALD_API_VERSIONS_DIR (declared versions), else the
 * older single module HERALD_VERSION_TRANSFORMS, else none. Errors name the setting.
 */
export async function loadApiVersions(
  config: { apiVersionsDir: string | null; versionTransforms: string | null; apiVersion: string },
  logger: Logger,
): Promise<VersionTranslator | undefined> {
  if (config.apiVersionsDir) {
    let loaded: { versions: string[]; changes: VersionChange[] };
    try {
      loaded = await loadVersionsDirectory(config.apiVersionsDir);
    } catch (err) {
      throw new ConfigError('HERALD_API_VERSIONS_DIR', (err as Error).message);
    }
    if (!loaded.versions.includes(config.apiVersion)) {
      throw new ConfigError('HERALD_API_VERSION', `'${config.apiVersion}' is not one of the versions in ${config.apiVersionsDir}/versions.json (${loaded.versions.join(', ')})`);
    }
    return new VersionTranslator(loaded.changes, logger, loaded.versions);
  }
  if (config.versionTransforms) {
    try {
      return new VersionTranslator(await loadVersionChanges(config.versionTransforms), logger);
    } catch (err) {
      throw new ConfigError('HERALD_VERSION_TRANSFORMS', (err as Error).message);
    }
  }
  return undefined;
}
