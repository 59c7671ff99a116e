const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;
const utf8 = new TextEncoder();

/** FNV-1a 64-bit hash of the UTF-8 bytes of `s`. Deterministic across processes and platforms. */
export function fnv1a64(s: string): bigint {
  let hash = FNV64_OFFSET;
  for (const byte of utf8.encode(s)) {
    hash ^= BigInt(byte);
    hash = (hash * FNV64_PRIME) & MASK64;
  }
  return hash;
}

/**
 * A 10-character lowercase base-36 digest of `s` (about 51 bits), for stable shortened names and
 * label values. Not cryptographic: it only has to be stable and rarely collide.
 */
export function shortHash(s: string): string {
  return fnv1a64(s).toString(36).padStart(13, '0').slice(-10);
}
