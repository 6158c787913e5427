/**
 * Certificates for the TLS specs, made by the machine's `openssl` in a
 * temporary directory when a spec starts, and removed with it: no private
 * key is ever committed (issue #14). EC P-256 keys, which take milliseconds.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its key, as files. */
export interface Pair {
  readonly cert: string;
  readonly key: string;
}

export interface TestPki {
  readonly dir: string;
  /** The CA that issues the certificates below (but `untrusted`). */
  readonly ca: Pair;
  /** For 127.0.0.1 and localhost, valid now. */
  readonly server: Pair;
  /** Another certificate for the same names, from the same CA: what a renewal installs. */
  readonly renewed: Pair;
  /** For 127.0.0.1 and localhost, expired in 2020. */
  readonly expired: Pair;
  /** Valid now, but for other.example only. */
  readonly wrongHost: Pair;
  /** For 127.0.0.1, from a CA of its own that no client is told of. */
  readonly untrusted: Pair;
  /** A client certificate (CN kiosk) for mutual TLS. */
  readonly client: Pair;
  /** A file of `text`, in the directory (an auth file, a broken PEM); its path. */
  file(name: string, text: string, mode?: number): string;
  /** What a file holds (a certificate, to hand to a TLS socket). */
  fileText(path: string): string;
  /** Removes the directory, keys and all. */
  remove(): void;
}

function openssl(dir: string, args: readonly string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const SERVER_NAMES = 'subjectAltName=IP:127.0.0.1,DNS:localhost';

/** `openssl req` arguments for a new P-256 key, unencrypted, written to `name`.key, with `subject`. */
function newKey(name: string, subject: string): string[] {
  return [
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-subj',
    subject,
  ];
}

/** Makes a CA, and certificates from it, in a new temporary directory. */
export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'meteo-pki-'));
  const path = (name: string) => join(dir, name);
  const write = (name: string, text: string) => writeFileSync(path(name), text);

  const makeCa = (name: string): Pair => {
    openssl(dir, [
      'req',
      '-x509',
      ...newKey(name, `/CN=meteo-actors test ${name}`),
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    return { cert: path(`${name}.pem`), key: path(`${name}.key`) };
  };

  let serial = 1;
  /** A certificate from `ca`; `dates` makes it valid only then (expired). */
  const issue = (
    name: string,
    ca: Pair,
    subject: string,
    extensions: string,
    dates?: { start: string; end: string },
  ): Pair => {
    openssl(dir, ['req', '-new', ...newKey(name, subject), '-out', `${name}.csr`]);
    write(`${name}.ext`, `basicConstraints=CA:FALSE\n${extensions}\n`);
    if (dates === undefined) {
      openssl(dir, [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        ca.cert,
        '-CAkey',
        ca.key,
        '-set_serial',
        String(serial++),
        '-days',
        '2',
        '-extfile',
        `${name}.ext`,
        '-out',
        `${name}.pem`,
      ]);
    } else {
      // `openssl x509` cannot date a certificate in the past; `openssl ca` can.
      write('index.txt', '');
      write('serial', `${(serial++).toString(16).padStart(2, '0')}\n`);
      write(
        'ca.cnf',
        [
          '[ca]',
          'default_ca = test',
          '[test]',
          'database = index.txt',
          'new_certs_dir = .',
          'serial = serial',
          'default_md = sha256',
          'policy = anything',
          'unique_subject = no',
          '[anything]',
          'commonName = supplied',
          '',
        ].join('\n'),
      );
      openssl(dir, [
        'ca',
        '-batch',
        '-notext',
        '-config',
        'ca.cnf',
        '-cert',
        ca.cert,
        '-keyfile',
        ca.key,
        '-in',
        `${name}.csr`,
        '-out',
        `${name}.pem`,
        '-startdate',
        dates.start,
        '-enddate',
        dates.end,
        '-extfile',
        `${name}.ext`,
      ]);
    }
    return { cert: path(`${name}.pem`), key: path(`${name}.key`) };
  };

  const ca = makeCa('ca');
  const serverAuth = `${SERVER_NAMES}\nextendedKeyUsage=serverAuth`;
  const other = makeCa('other-ca');
  return {
    dir,
    ca,
    server: issue('server', ca, '/CN=127.0.0.1', serverAuth),
    renewed: issue('renewed', ca, '/CN=127.0.0.1', serverAuth),
    expired: issue('expired', ca, '/CN=127.0.0.1', serverAuth, {
      start: '20200101000000Z',
      end: '20200102000000Z',
    }),
    wrongHost: issue(
      'wrong-host',
      ca,
      '/CN=other.example',
      'subjectAltName=DNS:other.example\nextendedKeyUsage=serverAuth',
    ),
    untrusted: issue('untrusted', other, '/CN=127.0.0.1', serverAuth),
    client: issue('client', ca, '/CN=kiosk', 'extendedKeyUsage=clientAuth'),
    file(name, text, mode = 0o600) {
      writeFileSync(path(name), text, { mode });
      return path(name);
    },
    fileText(file) {
      return readFileSync(file, 'utf8');
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
