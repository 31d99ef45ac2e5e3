// Builds the dashboard page into --out <dir> (index.html, app.js, app.css, licenses.txt), which
// EdgeSelector.Server.csproj embeds in the server binary. Run by `dotnet build` (target BuildDashboard) whenever a file
// of this folder changed; by hand: `node build.mjs --out /tmp/dashboard`.
//
// 1. `npm ci` when node_modules does not match package-lock.json (a hash of the lockfile is kept in node_modules), so
//    a fresh clone needs the npm registry (or a filled npm cache) once, and an up-to-date one needs nothing.
// 2. esbuild bundles src/main.js with uPlot into one minified script and one stylesheet.
// 3. Files are written to a temporary folder and renamed into place: a build that fails leaves the last good page.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const outIndex = process.argv.indexOf('--out');
const out = path.resolve(outIndex > 0 ? process.argv[outIndex + 1] : path.join(here, 'dist'));

function fail(message) {
  // "dashboard: error:" is what the MSBuild Exec task reports as the build error (EdgeSelector.Server.csproj).
  console.error(`dashboard: error: ${message}`);
  process.exit(1);
}

const major = Number(process.versions.node.split('.')[0]);
if (major < 18) {
  fail(`Node.js ${process.versions.node} is too old: the dashboard build needs Node.js 18 or later (docs/dashboard.md).`);
}

// Two builds of the server project at once (parallel MSBuild nodes) must not run npm ci in the same folder together.
const lock = out.replace(/[\\/]+$/, '') + '.lock';
fs.mkdirSync(path.dirname(lock), { recursive: true });
const deadline = Date.now() + 5 * 60_000;
for (;;) {
  try {
    fs.mkdirSync(lock);
    break;
  } catch (e) {
    if (e.code !== 'EEXIST') throw e;
    const age = Date.now() - fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs;
    if (age > 10 * 60_000) {
      fs.rmSync(lock, { recursive: true, force: true }); // left by a build that was killed
    } else if (Date.now() > deadline) {
      fail(`another dashboard build holds ${lock}; remove it if no build is running`);
    } else {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

try {
  await build();
} finally {
  fs.rmSync(lock, { recursive: true, force: true });
}

async function build() {
  installPackages();
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch (e) {
    fail(`esbuild did not load from node_modules (${e.message}); delete ${path.join(here, 'node_modules')} and build again`);
  }

  const temp = fs.mkdtempSync(out.replace(/[\\/]+$/, '') + '.tmp-');
  try {
    const result = await esbuild.build({
      absWorkingDir: here,
      entryPoints: { app: 'src/main.js' },
      bundle: true,
      minify: true,
      format: 'iife',
      target: ['chrome100', 'firefox100', 'safari15'],
      outdir: temp,
      legalComments: 'none', // licenses.txt carries them
      logLevel: 'silent',
    });
    for (const warning of result.warnings) console.warn(`dashboard: warning: ${warning.text}`);
    fs.copyFileSync(path.join(here, 'index.html'), path.join(temp, 'index.html'));
    const uplot = JSON.parse(fs.readFileSync(path.join(here, 'node_modules/uplot/package.json'), 'utf8'));
    fs.writeFileSync(
      path.join(temp, 'licenses.txt'),
      `The dashboard bundles uPlot ${uplot.version} (https://github.com/leeoniya/uPlot):\n\n` +
        fs.readFileSync(path.join(here, 'node_modules/uplot/LICENSE'), 'utf8'),
    );
    fs.mkdirSync(out, { recursive: true });
    for (const file of fs.readdirSync(temp)) {
      fs.renameSync(path.join(temp, file), path.join(out, file));
    }
  } catch (e) {
    fail(e.errors?.length ? e.errors.map((x) => `${x.location?.file ?? ''}:${x.location?.line ?? ''} ${x.text}`).join('; ') : e.message);
  } finally {
    fs.rmSync(temp, { recursive: true, force: true });
  }

  console.log(`dashboard: built ${fs.readdirSync(out).join(', ')} into ${out}`);
}

function installPackages() {
  const lockfile = fs.readFileSync(path.join(here, 'package-lock.json'));
  const hash = createHash('sha256').update(lockfile).digest('hex');
  const stamp = path.join(here, 'node_modules', '.edgeselector-lock-sha256');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === hash) {
    return;
  }

  console.log('dashboard: npm ci (package-lock.json changed or node_modules is missing)');
  // --ignore-scripts: esbuild's postinstall only re-checks the platform binary that npm installs as an optional
  // package; skipping it runs no package code at install time and makes npm 10 and 11 behave alike.
  const npm = spawnSync('npm', ['ci', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], {
    cwd: here,
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  if (npm.error?.code === 'ENOENT') {
    fail('npm is not on PATH: the dashboard build needs Node.js 18+ with npm (Debian: apt-get install nodejs npm), or build the server with -p:EdgeSelectorDashboard=false');
  }
  if (npm.status !== 0) {
    fail(
      `npm ci failed (exit ${npm.status}) in ${here}. It needs the npm registry, or an npm cache that already holds ` +
        'uplot and esbuild, once per fresh clone (offline: run it once where the registry is reachable, or build the ' +
        'server with -p:EdgeSelectorDashboard=false).',
    );
  }
  fs.writeFileSync(stamp, hash);
}
