/**
 * Builds the live view's page (issue #13), as the last step of
 * `npm run build`: esbuild bundles actors/view/page/ with Mermaid and uPlot
 * from node_modules into dist/actors/view/assets/, beside the module that
 * serves them (actors/view/liveView.ts). Everything the page loads is in that
 * folder: no script, style or font comes from anywhere else.
 *
 * Code splitting keeps the first load small: Mermaid loads each kind of
 * diagram on demand, and only the state diagram's chunks are ever asked for.
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { ASSETS_DIR } from './liveView.js';

/** The page's sources, in the repository (this module runs from dist/actors/view/). */
const PAGE_SOURCES = fileURLToPath(new URL('../../../actors/view/page/', import.meta.url));

async function main(): Promise<void> {
  rmSync(ASSETS_DIR, { recursive: true, force: true });
  mkdirSync(ASSETS_DIR, { recursive: true });
  await build({
    entryPoints: { main: join(PAGE_SOURCES, 'main.ts') },
    bundle: true,
    format: 'esm',
    splitting: true,
    minify: true,
    sourcemap: false,
    target: ['chrome111', 'firefox111', 'safari16.4'],
    outdir: ASSETS_DIR,
    entryNames: '[name]',
    chunkNames: 'chunk-[hash]',
    legalComments: 'linked',
    logLevel: 'warning',
    tsconfig: join(PAGE_SOURCES, 'tsconfig.json'),
  });
  copyFileSync(join(PAGE_SOURCES, 'index.html'), join(ASSETS_DIR, 'index.html'));
}

main().catch((err: unknown) => {
  process.stderr.write(`building the live view failed: ${String(err)}\n`);
  process.exitCode = 1;
});
