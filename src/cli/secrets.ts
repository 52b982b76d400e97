import { newEncryptionKey, rotateSecretsAtRest, SecretCipher, EncryptionKeyError } from '../store/secret-encryption.js';
import { withConfiguredStore } from './admin.js';
import { CliError } from './output.js';

export const SECRETS_HELP = `Usage: herald secrets new-key
       herald secrets rotate-encryption-key [--database URL]
       herald secrets decrypt [--database URL]

Endpoint signing secrets are encrypted at rest (AES-256-GCM) when HERALD_ENCRYPTION_KEY is set.

new-key                A new random 32-byte key, base64, for HERALD_ENCRYPTION_KEY.
rotate-encryption-key  Re-encrypts every stored secret with the FIRST key of HERALD_ENCRYPTION_KEY,
                       in one transaction; the other keys of the list decrypt what they sealed.
                       Plaintext secrets are encrypted too. Idempotent API responses kept for
                       24 h (a create or roll_secret response shows a secret) are encrypted alike.
decrypt                Stores every secret in plaintext again (to turn encryption off), with the
                       keys of HERALD_ENCRYPTION_KEY; one transaction.

Rotation (one process, SQLite):
  NEW=$(herald secrets new-key)
  HERALD_ENCRYPTION_KEY=$NEW,$OLD herald secrets rotate-encryption-key
  then run Herald with HERALD_ENCRYPTION_KEY=$NEW
Several processes (PostgreSQL): see the README's key-rotation procedure.
`;

export async function secrets(positionals: string[], flags: Record<string, string>): Promise<number> {
  const action = positionals[0];
  if (action === 'new-key') {
    process.stdout.write(`${newEncryptionKey()}\n`);
    return 0;
  }
  if (action !== 'rotate-encryption-key' && action !== 'decrypt') {
    process.stderr.write(SECRETS_HELP);
    return 2;
  }
  return withConfiguredStore(flags, [], async (store, config) => {
    if (!config.encryptionKeys) throw new CliError('HERALD_ENCRYPTION_KEY is not set: list the new key first, then the old one(s): HERALD_ENCRYPTION_KEY=NEW,OLD', 2);
    const cipher = new SecretCipher(config.encryptionKeys);
    try {
      const changed =
        action === 'decrypt' ? await store.rewriteSecrets((stored, owner) => cipher.open(stored, owner)) : await rotateSecretsAtRest(store, cipher);
      process.stdout.write(action === 'decrypt' ? `Decrypted ${changed} stored values.\n` : `Re-encrypted ${changed} stored values (signing secrets and kept API responses that show one) with key ${cipher.sealingKeyId}.\n`);
    } catch (err) {
      if (err instanceof EncryptionKeyError) throw new CliError(`${err.message}; nothing was changed`, 2);
      throw err;
    }
    return 0;
  });
}
