// scripts/node-check — fail early, with a fix, when npm scripts run on an old Node.
// package.json pins Node 24 as a dev dependency: `npm ci` puts it first on the scripts' PATH.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  console.error(
    `Reflex needs Node >= 22.19 (found ${process.versions.node}). Run "npm ci" first: it installs Node 24 for the npm scripts.`,
  );
  process.exit(1);
}
