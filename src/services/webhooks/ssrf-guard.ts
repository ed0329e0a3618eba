import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import type { FieldError } from '../../errors.js';

/**
 * Where a webhook may be sent (README "Webhooks", SSRF rules). At registration the URL must
 * be an https:// URL (http:// with WEBHOOK_ALLOW_HTTP) without credentials; at send time the
 * host is resolved and every address must be public unicast, or inside WEBHOOK_ALLOWED_NETWORKS.
 * The request then connects to the address checked here, so DNS cannot change in between.
 */

export const MAX_URL_LENGTH = 2048;

/** Cloud metadata services, refused even where their range would be allowed. */
const METADATA = ['169.254.169.254', 'fd00:ec2::254', '100.100.100.200'];

/** Problems with an endpoint URL (empty when it is acceptable), `path` naming the field. */
export function endpointUrlErrors(raw: string, allowHttp: boolean, path = '/url'): FieldError[] {
  if (raw.length > MAX_URL_LENGTH) {
    return [{ path, message: `must be at most ${MAX_URL_LENGTH} characters` }];
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return [{ path, message: 'is not a valid URL' }];
  }
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) {
    return [{ path, message: allowHttp ? 'must be an http(s):// URL' : 'must be an https:// URL' }];
  }
  if (url.username !== '' || url.password !== '') {
    return [{ path, message: 'must not carry credentials' }];
  }
  if (url.hash !== '') return [{ path, message: 'must not carry a fragment' }];
  if (url.hostname === '') return [{ path, message: 'must name a host' }];
  return [];
}

export type ParsedNetwork = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** WEBHOOK_ALLOWED_NETWORKS as parsed CIDRs (config.ts has validated them). */
export const parseNetworks = (cidrs: readonly string[]): ParsedNetwork[] =>
  cidrs.map((c) => ipaddr.parseCIDR(c));

/** An IPv4-mapped IPv6 address is judged as the IPv4 address it carries. */
const normalise = (address: string): ipaddr.IPv4 | ipaddr.IPv6 => {
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (parsed as ipaddr.IPv6).toIPv4Address();
  }
  return parsed;
};

const inNetworks = (addr: ipaddr.IPv4 | ipaddr.IPv6, networks: readonly ParsedNetwork[]) =>
  networks.some(([net, bits]) => net.kind() === addr.kind() && addr.match([net, bits]));

/**
 * Why `address` may not receive a webhook (e.g. "loopback"), or undefined when it may: only
 * public unicast is accepted, unless the address is inside an allowed network. Metadata
 * addresses are refused whatever is allowed.
 */
export function refusedAddressReason(
  address: string,
  allowed: readonly ParsedNetwork[],
): string | undefined {
  if (!ipaddr.isValid(address)) return 'not an IP address';
  const addr = normalise(address);
  const text = addr.toNormalizedString();
  if (METADATA.some((m) => ipaddr.parse(m).toNormalizedString() === text)) return 'metadata';
  if (inNetworks(addr, allowed)) return undefined;
  // ipaddr.js names every special-purpose range; anything but plain unicast is refused
  // (private, loopback, linkLocal, carrierGradeNat, uniqueLocal, multicast, unspecified,
  // reserved, and IPv6 ranges that embed IPv4 addresses: 6to4, teredo, rfc6052, rfc6145).
  const range = addr.range();
  return range === 'unicast' ? undefined : range;
}

export interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

/** A send refused by the guard (not retried). */
export class SsrfRefusal extends Error {
  override readonly name = 'SsrfRefusal';
}

/**
 * Resolves `hostname` (every address) and returns the first, when none is refused; throws
 * SsrfRefusal naming the refused address and its range otherwise.
 */
export async function resolveChecked(
  hostname: string,
  allowed: readonly ParsedNetwork[],
): Promise<CheckedAddress> {
  const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  const addresses = net.isIP(host)
    ? [{ address: host, family: net.isIP(host) }]
    : await dns.promises.lookup(host, { all: true, verbatim: true });
  if (addresses.length === 0) throw new SsrfRefusal(`${host} did not resolve`);
  for (const a of addresses) {
    const reason = refusedAddressReason(a.address, allowed);
    if (reason !== undefined) {
      throw new SsrfRefusal(`refused: ${host} resolves to ${a.address} (${reason})`);
    }
  }
  const first = addresses[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void;

/** A `lookup` for http(s).request that answers only the address already checked. */
export const pinnedLookup =
  (checked: CheckedAddress) =>
  (_hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
    if (options.all === true) callback(null, [checked]);
    else callback(null, checked.address, checked.family);
  };
