/**
 * TLS files, read and checked before they are used (actors/tls.ts, issue
 * #14), with certificates the machine's openssl makes for this spec; and
 * the reasons a client gives for a certificate it cannot check.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  daysLeft,
  loadClientTls,
  loadServerTls,
  MIN_TLS_VERSION,
  tlsProblem,
} from '../../actors/tls.js';
import { makePki, type TestPki } from '../helpers/certificates.js';
import { thrown } from '../helpers/errors.js';

describe('actors/tls', () => {
  let pki: TestPki;
  before(() => {
    pki = makePki();
  });
  after(() => pki.remove());

  describe('loadServerTls', () => {
    it('reads a certificate and its key, with TLS 1.2 at the least', () => {
      const tls = loadServerTls({ certFile: pki.server.cert, keyFile: pki.server.key });
      expect(tls.minVersion).to.equal(MIN_TLS_VERSION).and.to.equal('TLSv1.2');
      expect(tls.ca).to.equal(undefined);
      expect(tls.certificate.subject).to.include('127.0.0.1');
      expect(daysLeft(tls.certificate)).to.be.above(0);
    });

    it('reads the CA of client certificates for mutual TLS', () => {
      const tls = loadServerTls({
        certFile: pki.server.cert,
        keyFile: pki.server.key,
        caFile: pki.ca.cert,
      });
      expect(tls.ca?.toString()).to.equal(readFileSync(pki.ca.cert, 'utf8'));
    });

    it('says an expired certificate has expired (the server warns of it)', () => {
      const tls = loadServerTls({ certFile: pki.expired.cert, keyFile: pki.expired.key });
      expect(daysLeft(tls.certificate)).to.be.below(0);
    });

    const cases: readonly (readonly [
      string,
      () => { certFile: string; keyFile: string; caFile?: string },
    ])[] = [
      [
        'a certificate file that does not exist',
        () => ({ certFile: join(pki.dir, 'none.pem'), keyFile: pki.server.key }),
      ],
      [
        'a key file that does not exist',
        () => ({ certFile: pki.server.cert, keyFile: join(pki.dir, 'none.key') }),
      ],
      [
        'a key that does not match the certificate',
        () => ({ certFile: pki.server.cert, keyFile: pki.client.key }),
      ],
      [
        'a certificate file that holds a key',
        () => ({ certFile: pki.server.key, keyFile: pki.server.key }),
      ],
      [
        'a key file that holds a certificate',
        () => ({ certFile: pki.server.cert, keyFile: pki.server.cert }),
      ],
      [
        'a certificate file that is not PEM',
        () => ({ certFile: pki.file('junk.pem', 'not a certificate\n'), keyFile: pki.server.key }),
      ],
      [
        'a CA file that is not PEM',
        () => ({
          certFile: pki.server.cert,
          keyFile: pki.server.key,
          caFile: pki.file(
            'junk-ca.pem',
            '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
          ),
        }),
      ],
      [
        'a key encrypted with a passphrase',
        () => {
          const encrypted = join(pki.dir, 'encrypted.key');
          execFileSync('openssl', [
            'pkey',
            '-in',
            pki.server.key,
            '-aes256',
            '-passout',
            'pass:a passphrase',
            '-out',
            encrypted,
          ]);
          return { certFile: pki.server.cert, keyFile: encrypted };
        },
      ],
    ];
    for (const [what, files] of cases) {
      it(`refuses ${what} with ERR_BAD_TLS_FILE`, () => {
        expect(thrown(() => loadServerTls(files())).code).to.equal('ERR_BAD_TLS_FILE');
      });
    }
  });

  describe('loadClientTls', () => {
    it('checks the server unless told to skip it, and reads a CA and a client certificate', () => {
      const tls = loadClientTls({
        caFile: pki.ca.cert,
        certFile: pki.client.cert,
        keyFile: pki.client.key,
        servername: 'localhost',
      });
      expect(tls.rejectUnauthorized).to.equal(true);
      expect(tls.servername).to.equal('localhost');
      expect(tls.cert).to.be.instanceOf(Buffer);
      expect(loadClientTls({}).rejectUnauthorized).to.equal(true);
      expect(loadClientTls({ insecureSkipVerify: true }).rejectUnauthorized).to.equal(false);
    });

    it('refuses a client key that does not match its certificate with ERR_BAD_TLS_FILE', () => {
      const err = thrown(() =>
        loadClientTls({ certFile: pki.client.cert, keyFile: pki.server.key }),
      );
      expect(err.code).to.equal('ERR_BAD_TLS_FILE');
    });
  });

  describe('tlsProblem', () => {
    const problem = (code: string) =>
      tlsProblem(Object.assign(new Error('x'), { code }), '10.0.0.5:7210')?.code ?? null;

    it('names each reason a certificate is not trusted by a code of its own', () => {
      expect(problem('CERT_HAS_EXPIRED')).to.equal('ERR_TLS_CERT_EXPIRED');
      expect(problem('CERT_NOT_YET_VALID')).to.equal('ERR_TLS_CERT_EXPIRED');
      expect(problem('ERR_TLS_CERT_ALTNAME_INVALID')).to.equal('ERR_TLS_WRONG_HOST');
      for (const code of [
        'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
        'SELF_SIGNED_CERT_IN_CHAIN',
        'DEPTH_ZERO_SELF_SIGNED_CERT',
        'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      ]) {
        expect(problem(code), code).to.equal('ERR_TLS_UNKNOWN_CA');
      }
    });

    it('gives other TLS failures ERR_TLS_HANDSHAKE_FAILED, and leaves the rest to the caller', () => {
      for (const code of [
        'ERR_SSL_WRONG_VERSION_NUMBER',
        'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
        'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
        'CERT_REVOKED',
      ]) {
        expect(problem(code), code).to.equal('ERR_TLS_HANDSHAKE_FAILED');
      }
      for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND']) {
        expect(problem(code), code).to.equal(null);
      }
    });
  });
});
