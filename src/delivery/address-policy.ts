import { formatIpAddress, IpRangeList, parseIpAddress, parseIpRange, rangeContains, type IpAddress, type IpRange } from '@herald/webhooks';
import type { Mode } from '../domain/types.js';

/**
 * Which addresses deliveries may connect to. Everything that is not a public unicast address is
 * blocked: Herald must not become a way into the network it runs in (SSRF). Pure: no DNS, no I/O.
 */

interface SpecialRange {
  range: IpRange;
  what: string;
  /** The low 32 bits (or bits 16..48 for 6to4) hold an IPv4 address that decides instead. */
  embedsIpv4?: 'low32' | '6to4';
}

const special = (cidr: string, what: string, embedsIpv4?: SpecialRange['embedsIpv4']): SpecialRange => ({ range: parseIpRange(cidr)!, what, ...(embedsIpv4 ? { embedsIpv4 } : {}) });

/** IPv4 ranges that are not public unicast (IANA special-purpose registry, plus cloud metadata). */
const IPV4_BLOCKED: SpecialRange[] = [
  special('0.0.0.0/8', 'an unspecified ("this network") address'),
  special('10.0.0.0/8', 'a private address (RFC 1918)'),
  special('100.64.0.0/10', 'a shared (carrier-grade NAT) address'),
  special('127.0.0.0/8', 'a loopback address'),
  special('169.254.169.254/32', 'the cloud metadata service'),
  special('169.254.0.0/16', 'a link-local address'),
  special('172.16.0.0/12', 'a private address (RFC 1918)'),
  special('192.0.0.0/24', 'an IETF protocol assignment'),
  special('192.0.2.0/24', 'a documentation address'),
  special('192.88.99.0/24', 'a 6to4 relay anycast address'),
  special('192.168.0.0/16', 'a private address (RFC 1918)'),
  special('198.18.0.0/15', 'a benchmarking address'),
  special('198.51.100.0/24', 'a documentation address'),
  special('203.0.113.0/24', 'a documentation address'),
  special('224.0.0.0/4', 'a multicast address'),
  special('255.255.255.255/32', 'the broadcast address'),
  special('240.0.0.0/4', 'a reserved address'),
  // Azure's WireServer answers instance metadata and secrets from a public-looking address.
  special('168.63.129.16/32', 'the cloud metadata service (Azure WireServer)'),
];

/** IPv6: only global unicast (2000::/3) is reachable, minus these; the rest of the space is blocked as reserved. */
const IPV6_SPECIAL: SpecialRange[] = [
  special('::/128', 'the unspecified address'),
  special('::1/128', 'the loopback address'),
  special('::ffff:0:0/96', 'an IPv4-mapped address', 'low32'),
  special('::/96', 'an IPv4-compatible address', 'low32'),
  special('64:ff9b::/96', 'a NAT64 address', 'low32'),
  special('64:ff9b:1::/48', 'a local-use NAT64 address'),
  special('100::/64', 'a discard-only address'),
  special('2001::/23', 'an IETF protocol assignment (Teredo, ORCHID, benchmarking)'),
  special('2001:db8::/32', 'a documentation address'),
  special('2002::/16', 'a 6to4 address', '6to4'),
  special('3fff::/20', 'a documentation address'),
  special('fd00:ec2::254/128', 'the cloud metadata service (AWS, IPv6)'),
  special('fc00::/7', 'a unique local address (IPv6 private network)'),
  special('fe80::/10', 'a link-local address'),
  special('fec0::/10', 'a site-local address'),
  special('ff00::/8', 'a multicast address'),
];
const GLOBAL_UNICAST = parseIpRange('2000::/3')!;

export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };

/** Why an address is not a public unicast address, or null when it is one. */
export function specialUseOf(address: IpAddress): string | null {
  if (address.family === 4) return IPV4_BLOCKED.find((s) => rangeContains(s.range, address))?.what ?? null;
  const hit = IPV6_SPECIAL.find((s) => rangeContains(s.range, address));
  if (hit?.embedsIpv4) {
    const v4 = hit.embedsIpv4 === 'low32' ? address.value & 0xffffffffn : (address.value >> 80n) & 0xffffffffn;
    const inner = specialUseOf({ family: 4, value: v4 });
    if (inner !== null) return `${hit.what} of ${inner}`;
    // IPv4-compatible addresses are deprecated (RFC 4291) and reach nothing legitimate.
    return hit.range.prefix === 96 && hit.range.network === 0n ? `${hit.what} (deprecated)` : null;
  }
  if (hit) return hit.what;
  return rangeContains(GLOBAL_UNICAST, address) ? null : 'a reserved address';
}

export interface AddressPolicyOptions {
  /** HERALD_BLOCK_PRIVATE_NETWORKS: block in test mode too (live mode always blocks). */
  blockInTestMode: boolean;
  /** HERALD_ALLOWED_NETWORKS: ranges allowed even though they are special-use. */
  allowedNetworks: readonly string[];
}

export class AddressPolicy {
  private readonly allowed: IpRangeList;

  constructor(private readonly options: AddressPolicyOptions) {
    this.allowed = new IpRangeList(options.allowedNetworks);
  }

  /** Whether deliveries of this mode are checked at all. */
  appliesTo(mode: Mode): boolean {
    return mode === 'live' || this.options.blockInTestMode;
  }

  /** The verdict on one address (checked whatever the mode; callers ask `appliesTo` first). */
  check(text: string): AddressVerdict {
    const address = parseIpAddress(text);
    if (!address) return { allowed: false, reason: `'${text}' is not an IP address` };
    const what = specialUseOf(address);
    if (what === null || this.allowed.has(address)) return { allowed: true };
    return { allowed: false, reason: `${formatIpAddress(address)} is ${what}` };
  }
}

/** The text recorded for a blocked connection. */
export function blockedMessage(host: string, reasons: string[]): string {
  const unique = [...new Set(reasons)];
  return `Blocked: ${host} resolves only to addresses deliveries may not reach (${unique.join('; ')}). Private, loopback, link-local and metadata addresses are refused; HERALD_ALLOWED_NETWORKS lists exceptions.`;
}
