import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

const HELLO_CONTEXT = "pickbox-raft-hello-v1\0";

/** A fresh challenge per accepted connection, so a recorded hello cannot be replayed. */
export function makeNonce(): Uint8Array {
  return new Uint8Array(randomBytes(16));
}

export function helloMac(secret: string, nonce: Uint8Array, address: string): Uint8Array {
  const h = createHmac("sha256", secret);
  h.update(HELLO_CONTEXT);
  h.update(nonce);
  h.update(address);
  return new Uint8Array(h.digest());
}

/** True when no secret is required, or the mac proves the dialer knows it. Constant-time compare. */
export function verifyHello(
  secret: string | undefined,
  nonce: Uint8Array,
  address: string,
  mac: Uint8Array | null | undefined,
): boolean {
  if (secret === undefined) return true;
  if (!mac) return false;
  const expected = helloMac(secret, nonce, address);
  return mac.byteLength === expected.byteLength && timingSafeEqual(mac, expected);
}
