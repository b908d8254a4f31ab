import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';

/** Why a received message was dropped; see {@link RejectedMessages}. */
export type RejectReason = 'malformed' | 'unsigned' | 'forged';

/** A base64url HMAC-SHA256 (43 characters), then a dot, then the payload. */
const SIGNED = /^[A-Za-z0-9_-]{43}\./;
const PREFIX_LENGTH = 44;

/** Signs outgoing messages and checks incoming ones with shared secrets. */
export interface Signer {
  /** `<mac>.<payload>`, the MAC made with the first secret. */
  sign(payload: string): string;
  /** The payload of a signed message if one of the secrets signed it, else `undefined`. */
  open(raw: string): string | undefined;
}

/** Whether `raw` has the shape of a signed message (whoever signed it). */
export function isSigned(raw: string): boolean {
  return SIGNED.test(raw);
}

/**
 * Creates a signer over `secrets` (the first signs, every one verifies, so that a secret can be
 * rotated without a flag day). The MAC covers the channel name too: a message cannot be replayed
 * into the channel of another namespace that shares the secret.
 */
export function createSigner(secrets: readonly string[], channel: string): Signer {
  const keys = secrets.map((secret) => createSecretKey(Buffer.from(secret, 'utf8')));
  const mac = (key: KeyObject, payload: string) =>
    createHmac('sha256', key).update(channel).update('\n').update(payload).digest('base64url');
  const [signingKey] = keys;
  if (!signingKey) throw new TypeError('at least one secret is needed to sign');
  return {
    sign: (payload) => `${mac(signingKey, payload)}.${payload}`,
    open(raw) {
      if (!isSigned(raw)) return undefined;
      const given = Buffer.from(raw.slice(0, PREFIX_LENGTH - 1), 'latin1');
      const payload = raw.slice(PREFIX_LENGTH);
      for (const key of keys) {
        // Constant time, so that response timing reveals nothing about the expected MAC.
        if (timingSafeEqual(given, Buffer.from(mac(key, payload), 'latin1'))) return payload;
      }
      return undefined;
    },
  };
}
