// ref.js - TensorFlow.js reference outputs for the corpus (make test-corpus, step 1).
// For every graph model: deterministic inputs (inputs.js), then the model's outputs computed by
// TensorFlow.js 4.22 (tfjs-converter) on the cpu backend and again on the wasm backend, offline.
// Written to OUT/<model>/: input_<k>.npy, cpu_<i>.npy, wasm_<i>.npy and meta.json (names,
// shapes, dtypes, the wasm-vs-cpu difference). A model whose meta.json has the current recipe is
// not recomputed (cache). Usage: node ref.js NPM_DIR OUT_DIR [model ...]
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { writeNpy } = require('./npy.js');
const { listModels } = require('./models.js');
const { makeInputs, RECIPE } = require('./inputs.js');

const [npmDir, outDir, ...only] = process.argv.slice(2);
const nm = path.resolve(npmDir, 'node_modules');
const tf = require(path.join(nm, '@tensorflow/tfjs-core'));
require(path.join(nm, '@tensorflow/tfjs-backend-cpu'));
require(path.join(nm, '@tensorflow/tfjs-backend-wasm'));
const converter = require(path.join(nm, '@tensorflow/tfjs-converter'));
const TFJS_VERSION = require(path.join(nm, '@tensorflow/tfjs-core/package.json')).version;

async function loadModel(jsonPath) {
  const j = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
  const art = await tf.io.getModelArtifactsForJSON(j, async (manifest) => {
    const specs = [];
    const bufs = [];
    for (const g of manifest) {
      for (const p of g.paths) bufs.push(fs.readFileSync(path.join(path.dirname(jsonPath), p)));
      specs.push(...g.weights);
    }
    const all = Buffer.concat(bufs);
    return [specs, all.buffer.slice(all.byteOffset, all.byteOffset + all.length)];
  });
  return { gm: await converter.loadGraphModel(tf.io.fromMemory(art)), json: j };
}

async function runOn(backend, gm, feeds, outNames) {
  await tf.setBackend(backend);
  await tf.ready();
  const inputs = {};
  for (const f of feeds) inputs[f.name] = tf.tensor(f.data, f.shape, f.dtype);
  const t0 = Date.now();
  let outs = await gm.executeAsync(inputs, outNames);
  if (!Array.isArray(outs)) outs = [outs];
  const res = [];
  for (const o of outs) res.push({ shape: o.shape, dtype: o.dtype, data: Array.from(await o.data()) });
  const ms = Date.now() - t0;
  tf.dispose(outs);
  tf.dispose(Object.values(inputs));
  return { res, ms };
}

function maxAbs(a) { let m = 0; for (const v of a) if (Math.abs(v) > m) m = Math.abs(v); return m; }

async function one(m) {
  const dir = path.join(outDir, m.name);
  const metaPath = path.join(dir, 'meta.json');
  const sha = crypto.createHash('sha256').update(fs.readFileSync(m.json)).digest('hex');
  const key = `${RECIPE} tfjs ${TFJS_VERSION} ${sha}`;
  if (fs.existsSync(metaPath) && JSON.parse(fs.readFileSync(metaPath, 'utf8')).key === key) return 'cached';
  fs.mkdirSync(dir, { recursive: true });
  await tf.setBackend('cpu');
  const { gm, json } = await loadModel(m.json);
  const feeds = makeInputs(m.name, gm.inputs);
  // TensorFlow.js holds a uint8 input as int32; the graph (and so grappo) takes the uint8 the
  // signature declares: the same values, written with the graph's dtype
  // (or, with no signature entry, faceboxes', its Placeholder's dtype attr)
  const sigIn = (json.signature && json.signature.inputs) || {};
  const nodes = (json.modelTopology && json.modelTopology.node) || [];
  const graphDtype = (name) => {
    const s = sigIn[name] || sigIn[`${name}:0`] || Object.values(sigIn).find((v) => v.name === name || v.name === `${name}:0`);
    const p = nodes.find((n) => n.op === 'Placeholder' && n.name === name.replace(/:0$/, ''));
    const dt = s ? s.dtype : p && p.attr && p.attr.dtype && p.attr.dtype.type;
    return dt === 'DT_UINT8' ? 'uint8' : null;
  };
  feeds.forEach((f, k) => {
    f.file = `input_${k}.npy`;
    writeNpy(path.join(dir, f.file), graphDtype(f.name) || f.dtype, f.shape, f.data);
  });
  const outNames = gm.outputs.map((o) => o.name);
  const cpu = await runOn('cpu', gm, feeds, outNames);
  let wasm = null;
  let wasmError = null;
  try { wasm = await runOn('wasm', gm, feeds, outNames); } catch (e) { wasmError = String(e.message || e).split('\n')[0]; }
  const outputs = outNames.map((name, i) => {
    const c = cpu.res[i];
    const o = { name, shape: c.shape, dtype: c.dtype, cpu: `cpu_${i}.npy`, max_abs: maxAbs(c.data) };
    writeNpy(path.join(dir, o.cpu), c.dtype, c.shape, c.data);
    if (wasm) {
      const w = wasm.res[i];
      o.wasm = `wasm_${i}.npy`;
      writeNpy(path.join(dir, o.wasm), w.dtype, w.shape, w.data);
      if (JSON.stringify(w.shape) !== JSON.stringify(c.shape)) o.wasm_vs_cpu = `shapes differ: wasm [${w.shape}] cpu [${c.shape}]`;
      else {
        let d = 0;
        for (let k = 0; k < c.data.length; k++) {
          const x = c.data[k]; const y = w.data[k];
          if (Number.isNaN(x) !== Number.isNaN(y)) d = Infinity; else if (!Number.isNaN(x)) d = Math.max(d, Math.abs(x - y));
        }
        o.wasm_vs_cpu_max_abs = d;
      }
    }
    return o;
  });
  const meta = { key, model: m.name, package: m.package, file: m.file, model_json: path.resolve(m.json),
    nodes: json.modelTopology.node.length, tfjs: TFJS_VERSION,
    inputs: feeds.map((f) => ({ name: f.name, shape: f.shape, dtype: f.dtype, file: f.file, range: f.range })),
    outputs, cpu_ms: cpu.ms, wasm_ms: wasm ? wasm.ms : null, wasm_error: wasmError };
  fs.writeFileSync(`${metaPath}.tmp`, JSON.stringify(meta, null, 1));
  fs.renameSync(`${metaPath}.tmp`, metaPath);
  gm.dispose();
  return `cpu ${cpu.ms} ms, wasm ${wasm ? `${wasm.ms} ms` : `failed: ${wasmError}`}`;
}

// TensorFlow.js warns (a banner suggesting tfjs-node, "use model.execute() instead"): silenced,
// the references use the pure backends on purpose.
console.warn = () => {};

(async () => {
  await tf.setBackend('wasm'); await tf.ready();
  const { models, layers } = listModels(npmDir, outDir);
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'models.json'), JSON.stringify({
    graph_models: models.map((m) => m.name), layers: layers.map((m) => m.name) }, null, 1));
  console.log(`corpus: ${models.length} graph models, ${layers.length} layers-models (out of scope: ${layers.map((m) => m.name).join(', ')})`);
  let failed = 0;
  for (const m of models) {
    if (only.length && !only.includes(m.name)) continue;
    try {
      console.log(`ref ${m.name}: ${await one(m)}`);
    } catch (e) {
      failed++;
      console.log(`ref ${m.name}: TensorFlow.js failed: ${String(e.message || e).split('\n')[0]}`);
    }
  }
  process.exit(failed ? 1 : 0);
})();
