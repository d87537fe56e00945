/** Dotted quad of a big-endian 32-bit IPv4 address. */
export function formatIpv4(word: number): string {
  return `${word >>> 24}.${(word >>> 16) & 255}.${(word >>> 8) & 255}.${word & 255}`;
}

/**
 * RFC 5952 text of an IPv6 address given as four big-endian words: lower-case hex, no leading zeros, the first
 * longest run of two or more zero groups as "::". IPv4-mapped addresses (::ffff:a.b.c.d) keep the dotted tail, or
 * become a bare dotted quad with `mappedAsIpv4` (what Go's net.IP.String does, and so FlowMeter).
 */
export function formatIpv6(words: ArrayLike<number>, mappedAsIpv4 = false): string {
  if (words[0] === 0 && words[1] === 0 && words[2] === 0xffff) {
    const v4 = formatIpv4(words[3]);
    return mappedAsIpv4 ? v4 : `::ffff:${v4}`;
  }
  const groups = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    groups[2 * i] = words[i] >>> 16;
    groups[2 * i + 1] = words[i] & 0xffff;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) return groups.map((g) => g.toString(16)).join(":");
  const head = groups.slice(0, bestStart).map((g) => g.toString(16));
  const tail = groups.slice(bestStart + bestLen).map((g) => g.toString(16));
  return `${head.join(":")}::${tail.join(":")}`;
}

/** Text form of an address from a DecodedPacket-style word array. */
export function formatIp(version: number, words: ArrayLike<number>, mappedAsIpv4 = false): string {
  return version === 4 ? formatIpv4(words[0]) : formatIpv6(words, mappedAsIpv4);
}
