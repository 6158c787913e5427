/**
 * TLS from files (issue #14), with Node's own `node:tls` and `node:crypto`:
 * certificates and keys read and checked up front, so that one that cannot
 * be used stops a program at start (status 2) or leaves a reload undone,
 * rather than failing handshakes later; and a client's failure to connect
 * named by its reason.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureVersion } from 'node:tls';
import { describeError, type ErrorCode, MeteoError } from '../lib/errors.js';

/** TLS 1.2 at the least (issue #14), with Node's default ciphers. */
export const MIN_TLS_VERSION: SecureVersion = 'TLSv1.2';

function badFile(message: string): MeteoError {
  return new MeteoError('ERR_BAD_TLS_FILE', message);
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw badFile(`cannot read the ${what} ${file}: ${describeError(err)}`);
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM file, in order: at least one. */
function certificatesIn(pem: Buffer, file: string, what: string): X509Certificate[] {
  const blocks = pem.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw badFile(`the ${what} ${file} holds no PEM certificate`);
  return blocks.map((block) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw badFile(
        `the ${what} ${file} holds a certificate that cannot be read: ${describeError(err)}`,
      );
    }
  });
}

function privateKeyIn(pem: Buffer, file: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    const encrypted = /passphrase/i.test(String((err as Error).message));
    throw badFile(
      encrypted
        ? `the key ${file} is encrypted; give it without a passphrase (and readable by this user only)`
        : `the key ${file} is not a PEM private key: ${describeError(err)}`,
    );
  }
}

/** A certificate and its key, checked to belong together. */
export interface Identity {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** The certificate itself (the first of the chain): its subject, names and dates. */
  readonly certificate: X509Certificate;
}

/** Reads a certificate (with its chain) and its key; ERR_BAD_TLS_FILE if either cannot be used or they do not match. */
export function loadIdentity(certFile: string, keyFile: string): Identity {
  const cert = readPem(certFile, 'certificate');
  const key = readPem(keyFile, 'key');
  const [certificate] = certificatesIn(cert, certFile, 'certificate') as [X509Certificate];
  if (!certificate.checkPrivateKey(privateKeyIn(key, keyFile))) {
    throw badFile(`the key ${keyFile} does not match the certificate ${certFile}`);
  }
  return { cert, key, certificate };
}

/** Reads a file of CA certificates (PEM, one or more). */
export function loadCa(caFile: string): Buffer {
  const ca = readPem(caFile, 'CA file');
  certificatesIn(ca, caFile, 'CA file');
  return ca;
}

/** Where a server's TLS comes from: its certificate and key, and the CA of its clients' certificates (mutual TLS). */
export interface ServerTlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile?: string;
}

/** What a TLS server is made with: the options of `tls.createServer` and `server.setSecureContext`. */
export interface ServerTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** The CA clients' certificates must be issued by; none when clients need no certificate. */
  readonly ca?: Buffer;
  readonly minVersion: SecureVersion;
  /** The server's certificate, for its log lines (subject, expiry). */
  readonly certificate: X509Certificate;
}

/**
 * Reads and checks a server's TLS files: ERR_BAD_TLS_FILE when one cannot
 * be read, is not PEM, or the key does not match the certificate.
 */
export function loadServerTls(files: ServerTlsFiles): ServerTls {
  const { cert, key, certificate } = loadIdentity(files.certFile, files.keyFile);
  const ca = files.caFile === undefined ? undefined : loadCa(files.caFile);
  const tls: ServerTls = {
    cert,
    key,
    ...(ca === undefined ? {} : { ca }),
    minVersion: MIN_TLS_VERSION,
    certificate,
  };
  try {
    // What OpenSSL itself refuses (a key too weak for its security level, say) is refused here too.
    createSecureContext(secureContextOf(tls));
  } catch (err) {
    throw badFile(`cannot use ${files.certFile} and ${files.keyFile}: ${describeError(err)}`);
  }
  return tls;
}

/** The options of a secure context for `tls` (createServer's, setSecureContext's). */
export function secureContextOf(tls: ServerTls): {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  minVersion: SecureVersion;
} {
  return {
    cert: tls.cert,
    key: tls.key,
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    minVersion: tls.minVersion,
  };
}

/** The days until a certificate expires (negative once it has). */
export function daysLeft(certificate: X509Certificate, now: number = Date.now()): number {
  return (Date.parse(certificate.validTo) - now) / 86_400_000;
}

// ---------------------------------------------------------------- the client

/** What a TLS client is told (its flags, read). */
export interface ClientTlsFiles {
  /** The CA the server's certificate must be issued by; the system's CAs when absent. */
  readonly caFile?: string;
  /** The client's certificate and key, for a server that requires one (mutual TLS). */
  readonly certFile?: string;
  readonly keyFile?: string;
  /** The name the server's certificate must carry (and SNI), when not the host connected to. */
  readonly servername?: string;
  /** Do not check the server's certificate at all (`--insecure-skip-verify`). */
  readonly insecureSkipVerify?: boolean;
}

/** The options of `tls.connect` that a client's flags give. */
export interface ClientTls {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly servername?: string;
  readonly rejectUnauthorized: boolean;
  readonly minVersion: SecureVersion;
}

/** Reads and checks a client's TLS files: ERR_BAD_TLS_FILE as for the server. */
export function loadClientTls(files: ClientTlsFiles): ClientTls {
  const identity =
    files.certFile === undefined || files.keyFile === undefined
      ? undefined
      : loadIdentity(files.certFile, files.keyFile);
  const ca = files.caFile === undefined ? undefined : loadCa(files.caFile);
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(identity === undefined ? {} : { cert: identity.cert, key: identity.key }),
    ...(files.servername === undefined ? {} : { servername: files.servername }),
    rejectUnauthorized: files.insecureSkipVerify !== true,
    minVersion: MIN_TLS_VERSION,
  };
}

/** Certificate errors of OpenSSL (as Node gives them in `code`) that mean "not from a CA this client trusts". */
const UNKNOWN_CA = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/** What answers a TLS hello with bytes that are not TLS (our own plain server answers ERR_FRAME_TOO_LARGE). */
const NOT_TLS = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_RECORD_LAYER_FAILURE',
  'ERR_SSL_HTTP_REQUEST',
]);

/**
 * The coded problem of a TLS client's connection failure, by its reason
 * (issue #14): an expired certificate, one for another host, one from a
 * CA the client does not trust, or another TLS failure; null when the
 * failure is not TLS's (a refused connection, say), for the caller's
 * own words. `where` names the server ("10.0.0.5:7210").
 */
export function tlsProblem(
  err: NodeJS.ErrnoException,
  where: string,
): { code: ErrorCode; message: string } | null {
  const code = err.code ?? '';
  if (code === 'CERT_HAS_EXPIRED') {
    return {
      code: 'ERR_TLS_CERT_EXPIRED',
      message: `${where}: the server's certificate has expired (${code})`,
    };
  }
  if (code === 'CERT_NOT_YET_VALID') {
    return {
      code: 'ERR_TLS_CERT_EXPIRED',
      message: `${where}: the server's certificate is not valid yet (${code}); check both clocks`,
    };
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return {
      code: 'ERR_TLS_WRONG_HOST',
      message: `${where}: the server's certificate is for another host (${(err as { reason?: string }).reason ?? err.message}); connect by a name it carries, or say which with --servername`,
    };
  }
  if (UNKNOWN_CA.has(code)) {
    return {
      code: 'ERR_TLS_UNKNOWN_CA',
      message: `${where}: the server's certificate was not issued by a CA this client trusts (${code}); give its CA with --ca`,
    };
  }
  if (NOT_TLS.has(code)) {
    return {
      code: 'ERR_TLS_HANDSHAKE_FAILED',
      message: `${where}: the server did not answer in TLS (${code}); is it started with --tls-cert?`,
    };
  }
  if (/^ERR_SSL_.*(CERTIFICATE|UNKNOWN_CA|HANDSHAKE_FAILURE)/.test(code)) {
    return {
      code: 'ERR_TLS_HANDSHAKE_FAILED',
      message: `${where}: the server refused this client's certificate, or its lack of one (${code}); give one with --cert and --key`,
    };
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('CERT_') || code.startsWith('ERR_TLS_')) {
    return {
      code: 'ERR_TLS_HANDSHAKE_FAILED',
      message: `${where}: the TLS handshake failed (${code}: ${err.message})`,
    };
  }
  return null;
}
