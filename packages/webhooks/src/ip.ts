// IP addresses and CIDR ranges, IPv4 and IPv6, with no Node modules (it runs in every runtime).
// Herald uses it to guard its outgoing connections; receivers use it to accept only Herald's
// published egress addresses.

/** An address as a number: 32 bits for IPv4, 128 for IPv6. */
export interface IpAddress {
  family: 4 | 6;
  value: bigint;
}

/** A CIDR range: `network` has every bit past `prefix` cleared. */
export interface IpRange {
  family: 4 | 6;
  network: bigint;
  prefix: number;
}

const BITS = { 4: 32, 6: 128 } as const;

/**
 * Parses an IPv4 dotted quad (`192.0.2.1`, no leading zeros, no shorthand forms) or an IPv6
 * address (`2001:db8::1`, `::ffff:192.0.2.1`, in brackets or not, an optional `%zone` ignored).
 * Returns null for anything else.
 */
export function parseIpAddress(text: string): IpAddress | null {
  let s = text.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  if (s.includes(':')) return parseIpv6(s);
  const v4 = parseIpv4(s);
  return v4 === null ? null : { family: 4, value: v4 };
}

function parseIpv4(s: string): bigint | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    // Leading zeros are refused: some parsers read them as octal, and an address must mean one thing.
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseIpv6(input: string): IpAddress | null {
  const zone = input.indexOf('%');
  const s = zone === -1 ? input : input.slice(0, zone);
  if (zone !== -1 && zone === input.length - 1) return null;
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groupsOf = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseIpv4(piece);
        if (v4 === null) return null;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return null;
        out.push(parseInt(piece, 16));
      }
    }
    return out;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!head || !tail) return null;
  // An embedded IPv4 address may only end the address.
  if (halves.length === 2 && halves[0]!.includes('.')) return null;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return null;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return null;
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  return { family: 6, value };
}

const MAPPED_PREFIX = 0xffffn << 32n;

/** `::ffff:a.b.c.d` (IPv4-mapped IPv6, how dual-stack sockets report IPv4 peers) as the IPv4 address; others unchanged. */
export function unmapIpv4(address: IpAddress): IpAddress {
  if (address.family === 6 && address.value >> 32n === 0xffffn) return { family: 4, value: address.value & 0xffffffffn };
  return address;
}

/** The canonical text of an address: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run as `::`). */
export function formatIpAddress(address: IpAddress): string {
  if (address.family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => Number((address.value >> shift) & 0xffn)).join('.');
  }
  if (address.value >> 32n === 0xffffn) return `::ffff:${formatIpAddress({ family: 4, value: address.value & 0xffffffffn })}`;
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((address.value >> shift) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1; // a single zero group is not shortened (RFC 5952 4.2.2)
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Parses `192.0.2.0/24`, `2001:db8::/32`, or a bare address (a range of one). Null when invalid. */
export function parseIpRange(text: string): IpRange | null {
  const s = text.trim();
  const slash = s.lastIndexOf('/');
  const address = parseIpAddress(slash === -1 ? s : s.slice(0, slash));
  if (!address) return null;
  const bits = BITS[address.family];
  let prefix: number = bits;
  if (slash !== -1) {
    const p = s.slice(slash + 1);
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return null;
    prefix = Number(p);
    if (prefix > bits) return null;
  }
  return { family: address.family, network: address.value & mask(address.family, prefix), prefix };
}

function mask(family: 4 | 6, prefix: number): bigint {
  const bits = BigInt(BITS[family]);
  return ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(prefix))) - 1n);
}

/** Whether `address` lies in `range` (same family only; unmap first to match IPv4-mapped forms). */
export function rangeContains(range: IpRange, address: IpAddress): boolean {
  return range.family === address.family && (address.value & mask(range.family, range.prefix)) === range.network;
}

export function formatIpRange(range: IpRange): string {
  return `${formatIpAddress({ family: range.family, value: range.network })}/${range.prefix}`;
}

/**
 * A list of addresses and CIDR ranges, e.g. Herald's published egress addresses. `has()` matches
 * IPv4-mapped IPv6 forms (`::ffff:203.0.113.7`) against IPv4 entries, as a dual-stack server sees them.
 */
export class IpRangeList {
  readonly ranges: readonly IpRange[];

  /** Throws a TypeError naming the first entry that is not an address or a CIDR range. */
  constructor(entries: Iterable<string>) {
    const ranges: IpRange[] = [];
    for (const entry of entries) {
      const range = parseIpRange(entry);
      if (!range) throw new TypeError(`'${entry}' is not an IP address or CIDR range (e.g. 203.0.113.0/24 or 2001:db8::/32)`);
      ranges.push(range);
    }
    this.ranges = ranges;
  }

  get size(): number {
    return this.ranges.length;
  }

  /** Whether the address (text or parsed) is in one of the ranges; false for text that is not an address. */
  has(address: string | IpAddress): boolean {
    const parsed = typeof address === 'string' ? parseIpAddress(address) : address;
    if (!parsed) return false;
    const plain = unmapIpv4(parsed);
    return this.ranges.some((range) => rangeContains(range, plain) || rangeContains(range, parsed));
  }

  toJSON(): string[] {
    return this.ranges.map(formatIpRange);
  }
}
