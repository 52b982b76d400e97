import { errors } from '../domain/errors.js';

/** Parameters every endpoint accepts and ignores (stripe-node may send them). */
const ALWAYS_ALLOWED = new Set(['expand']);

/**
 * Reads one request's parameters (form or JSON, already parsed) with Stripe's rules: unknown names
 * are rejected up front, an empty value means "unset", and each type error names its parameter.
 */
export class Params {
  constructor(
    private readonly values: Record<string, unknown>,
    allowed: readonly string[],
  ) {
    for (const name of Object.keys(values)) {
      if (!allowed.includes(name) && !ALWAYS_ALLOWED.has(name)) throw errors.parameterUnknown(name);
    }
  }

  has(name: string): boolean {
    return this.values[name] !== undefined;
  }

  /** undefined: absent; null: sent empty (unset). */
  string(name: string, options: { required?: boolean; maxLength?: number } = {}): string | null | undefined {
    const value = this.values[name];
    if (value === undefined || value === null) {
      if (options.required) throw errors.parameterMissing(name);
      return value as undefined | null;
    }
    if (typeof value !== 'string') throw errors.parameterInvalid(name, `Invalid ${name}: must be a string.`);
    if (value === '') {
      if (options.required) throw errors.parameterMissing(name);
      return null;
    }
    if (options.maxLength !== undefined && value.length > options.maxLength) {
      throw errors.parameterInvalid(name, `Invalid ${name}: must be at most ${options.maxLength} characters.`);
    }
    return value;
  }

  requiredString(name: string, options: { maxLength?: number } = {}): string {
    return this.string(name, { ...options, required: true }) as string;
  }

  boolean(name: string): boolean | undefined {
    const value = this.values[name];
    if (value === undefined || value === null || value === '') return undefined;
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    throw errors.parameterInvalid(name, `Invalid boolean: ${JSON.stringify(value)}; ${name} must be true or false.`);
  }

  integer(name: string, options: { min?: number; max?: number } = {}): number | undefined {
    const value = this.values[name];
    if (value === undefined || value === null || value === '') return undefined;
    const number = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d{1,15}$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(number)) throw errors.invalidInteger(name, `Invalid integer: ${JSON.stringify(value)}; ${name} must be a whole number.`);
    if (options.min !== undefined && number < options.min) {
      throw errors.invalidInteger(name, `Invalid ${name}: this value must be greater than or equal to ${options.min}.`);
    }
    if (options.max !== undefined && number > options.max) {
      throw errors.invalidInteger(name, `Invalid ${name}: this value must be less than or equal to ${options.max}.`);
    }
    return number;
  }

  /** A list of strings, sent as `name[0]=…`, `name[]=…` or a JSON array. */
  stringArray(name: string, options: { maxItems?: number } = {}): string[] | undefined {
    const value = this.values[name];
    if (value === undefined || value === null || value === '') return undefined;
    if (!Array.isArray(value)) throw errors.parameterInvalid(name, `Invalid array: ${name} must be a list (${name}[]=… or ${name}[0]=…).`);
    if (options.maxItems !== undefined && value.length > options.maxItems) {
      throw errors.parameterInvalid(name, `Invalid ${name}: at most ${options.maxItems} items are allowed.`);
    }
    return value.map((item, i) => {
      if (typeof item !== 'string' || item === '') throw errors.parameterInvalid(`${name}[${i}]`, `Invalid ${name}[${i}]: must be a non-empty string.`);
      return item;
    });
  }

  /** Any object (JSON keeps its types; a form gives strings). */
  object(name: string, options: { required?: boolean } = {}): Record<string, unknown> | undefined {
    const value = this.values[name];
    if (value === undefined || value === null || value === '') {
      if (options.required) throw errors.parameterMissing(name);
      return undefined;
    }
    if (typeof value !== 'object' || Array.isArray(value)) throw errors.parameterInvalid(name, `Invalid ${name}: must be an object (${name}[key]=…).`);
    return value as Record<string, unknown>;
  }

  /**
   * Stripe's metadata: at most 50 keys of at most 40 characters, values of at most 500. Returns
   * the changes: a null value deletes its key; `'clear'` when `metadata=` (empty) was sent.
   */
  metadata(name = 'metadata'): Record<string, string | null> | 'clear' | undefined {
    const value = this.values[name];
    if (value === undefined || value === null) return undefined;
    if (value === '') return 'clear';
    if (typeof value !== 'object') throw errors.parameterInvalid(name, 'Invalid metadata: must be a set of key-value pairs (metadata[key]=value).');
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
    const changes: Record<string, string | null> = {};
    for (const [key, raw] of entries) {
      if (key.length > 40) throw errors.parameterInvalid(`${name}[${key}]`, `Invalid metadata key '${key}': keys can be at most 40 characters.`);
      if (/[\[\]]/.test(key)) throw errors.parameterInvalid(`${name}[${key}]`, `Invalid metadata key '${key}': keys cannot contain brackets.`);
      if (raw === null || raw === '') {
        changes[key] = null;
        continue;
      }
      if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
        throw errors.parameterInvalid(`${name}[${key}]`, `Invalid metadata value for '${key}': values must be strings.`);
      }
      const text = String(raw);
      if (text.length > 500) throw errors.parameterInvalid(`${name}[${key}]`, `Invalid metadata value for '${key}': values can be at most 500 characters.`);
      changes[key] = text;
    }
    return changes;
  }
}

/** Applies metadata changes to the current metadata, enforcing the 50-key limit on the result. */
export function applyMetadata(current: Record<string, string>, changes: Record<string, string | null> | 'clear' | undefined): Record<string, string> {
  if (changes === undefined) return current;
  if (changes === 'clear') return {};
  const next = { ...current };
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete next[key];
    else next[key] = value;
  }
  if (Object.keys(next).length > 50) throw errors.parameterInvalid('metadata', 'Invalid metadata: an object can have at most 50 metadata keys.');
  return next;
}
