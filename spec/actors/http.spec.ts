/**
 * The HTTP port's server on its own (actors/http.ts): its route table, the
 * methods it takes, its upgrades, and the address the server prints.
 */
import { request } from 'node:http';
import { expect } from 'chai';
import { type HttpServer, httpUrl, isLoopbackHost, serveHttp } from '../../actors/http.js';

function call(
  port: number,
  path: string,
  method = 'GET',
): Promise<{ status: number; body: string; allow: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          body,
          allow: response.headers.allow,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('actors/http', () => {
  let server: HttpServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('answers each path of its table with its route, a path under a /* route with that one, and others 404', async () => {
    server = await serveHttp({
      host: '127.0.0.1',
      port: 0,
      routes: {
        '/healthz': (_request, response) => response.end('ok'),
        '/assets/*': (req, response) => response.end(`asset ${req.url}`),
      },
    });
    expect(await call(server.port, '/healthz?verbose')).to.include({ status: 200, body: 'ok' });
    expect(await call(server.port, '/assets/main.js')).to.include({
      status: 200,
      body: 'asset /assets/main.js',
    });
    expect((await call(server.port, '/nothing')).status).to.equal(404);
  });

  it('changes nothing: a POST is refused with 405 and says what is allowed', async () => {
    let called = false;
    server = await serveHttp({
      host: '127.0.0.1',
      port: 0,
      routes: {
        '/metrics': (_request, response) => {
          called = true;
          response.end();
        },
      },
    });
    const answer = await call(server.port, '/metrics', 'POST');
    expect(answer.status).to.equal(405);
    expect(answer.allow).to.equal('GET, HEAD');
    expect(called).to.equal(false);
  });

  it('rejects the listen error with its code when the port is taken', async () => {
    server = await serveHttp({ host: '127.0.0.1', port: 0, routes: {} });
    const taken = server.port;
    const err = await serveHttp({ host: '127.0.0.1', port: taken, routes: {} }).then(
      () => null,
      (error: NodeJS.ErrnoException) => error,
    );
    expect(err?.code).to.equal('EADDRINUSE');
  });

  it('tells loopback hosts from the others', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1']) {
      expect(isLoopbackHost(host), host).to.equal(true);
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'station.example', '']) {
      expect(isLoopbackHost(host), host).to.equal(false);
    }
  });

  it('prints an address a browser on this machine can open, for any host', () => {
    expect(httpUrl('127.0.0.1', 7211)).to.equal('http://127.0.0.1:7211/');
    expect(httpUrl('0.0.0.0', 7211)).to.equal('http://127.0.0.1:7211/');
    expect(httpUrl('::', 7211)).to.equal('http://[::1]:7211/');
    expect(httpUrl('::1', 7211)).to.equal('http://[::1]:7211/');
    expect(httpUrl('10.0.0.5', 80)).to.equal('http://10.0.0.5:80/');
  });
});
