// check.js - make test-corpus, step 2: every corpus model through grappo, against the TensorFlow.js
// outputs ref.js saved. Per model: `grappo inspect model.json` (loads), `grappo run model.json
// --runtime ref` and the default fast runtime on the same inputs (ref ok, fast ok), then
// `grappo optimize model.json --search grappler --target tf` and the optimized graph run again on
// the reference runtime (grappler exact: within the tolerance of TensorFlow.js, and equal to the
// unoptimized graph on the reference runtime to float32 rounding: max|opt - unopt| <= 1e-5 max|unopt|
// per output, the bound exact rewrites such as batch-norm folding are held to, or, for an output on
// which TF.js's wasm and cpu backends differ by more than that (it amplifies rounding), by no more
// than they differ). Writes OUT/report.md and OUT/report.json and prints the table; exits 1
// if a model fails that KNOWN (tools/corpus/known-failures.txt) does not list, or a listed one
// passes (so the list only shrinks).
//
// Tolerance per output: max|grappo - cpu| <= tol * max(max|cpu|, 1e-6) with tol = 1e-4 (what the
// five real fixtures meet); where TensorFlow.js's wasm and cpu backends differ by more than that,
// tol is their relative difference (the tightest bound both backends meet with each other), and
// the report says so. Integer and bool outputs must be equal.
// Usage: node check.js GRAPPO OUT_DIR KNOWN_FILE [model ...]
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { readNpy } = require('./npy.js');

const [grappo, outDir, knownFile, ...only] = process.argv.slice(2);
const TOOL_GRAPPLER = process.env.GRAPPO_TOOL_GRAPPLER || '';
const TOL = 1e-4;
const EXACT = 1e-5;
const TIMEOUT_MS = 30 * 60 * 1000;

function readKnown(file) {
  const known = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^([^#\s][^:]*):\s*(.*)$/.exec(line);
    if (m) known[m[1].trim()] = m[2].trim();
  }
  return known;
}

function grappoRun(args) {
  const t0 = Date.now();
  const r = spawnSync(grappo, args, { encoding: 'utf8', timeout: TIMEOUT_MS, maxBuffer: 64 << 20 });
  const err = (r.stderr || '').trim().split('\n').filter((l) => l.length).pop() || '';
  const msg = r.error ? `${r.error.code || r.error.message}` : (r.status !== 0 ? `exit ${r.status}: ${err}` : '');
  return { ok: !r.error && r.status === 0, msg, ms: Date.now() - t0, stdout: r.stdout || '' };
}

const fetchName = (n) => (n.includes(':') ? n : `${n}:0`);
const fileName = (n) => `${fetchName(n).replace(/[/:]/g, '_')}.npy`;
const isFloat = (dt) => dt === 'float32' || dt === 'float64';

// error of grappo's output `got` against TF.js's `ref`: relative to max|ref|; Infinity on a
// shape mismatch or a NaN where the other has none
function relError(got, ref) {
  if (JSON.stringify(got.shape) !== JSON.stringify(ref.shape)) return { err: Infinity, why: `shape [${got.shape}] vs TF.js [${ref.shape}]` };
  let d = 0;
  let scale = 1e-6;
  for (let i = 0; i < ref.data.length; i++) {
    const a = got.data[i]; const b = ref.data[i];
    if (Number.isNaN(a) || Number.isNaN(b)) { if (Number.isNaN(a) !== Number.isNaN(b)) return { err: Infinity, why: `NaN at ${i}` }; continue; }
    if (a === b) { scale = Math.max(scale, Math.abs(b)); continue; }
    const e = Math.abs(a - b);
    if (!(e <= d)) d = e; // also catches inf - inf
    scale = Math.max(scale, Math.abs(b));
  }
  return { err: d / scale, why: '' };
}

// largest |a - b| relative to max(max|b|, 1e-6) as in relError (0 when bit-identical; Infinity on
// a shape or NaN mismatch)
function relDiff(a, b) {
  if (JSON.stringify(a.shape) !== JSON.stringify(b.shape)) return Infinity;
  let d = 0;
  let scale = 1e-6;
  for (let i = 0; i < a.data.length; i++) {
    const x = a.data[i]; const y = b.data[i];
    if (!Number.isNaN(y)) scale = Math.max(scale, Math.abs(y));
    if (Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y))) continue;
    d = Math.max(d, Math.abs(x - y) || Infinity);
  }
  return d / scale;
}

// compare the outputs grappo saved in dir against the TF.js outputs; -> { ok, err, tolNote, msg }
function compare(meta, dir, tols) {
  let worst = 0; let msg = ''; let ok = true;
  meta.outputs.forEach((o, i) => {
    const f = path.join(dir, fileName(o.name));
    if (!fs.existsSync(f)) { ok = false; msg = msg || `output ${o.name} not written`; worst = Infinity; return; }
    const got = readNpy(f);
    const ref = readNpy(path.join(outDir, meta.model, o.cpu));
    const { err, why } = relError(got, ref);
    const tol = isFloat(o.dtype) ? tols[i] : 0;
    if (err > worst) worst = err;
    if (!(err <= tol)) { ok = false; msg = msg || `output ${o.name}: ${why || `error ${err.toExponential(2)} > tolerance ${tol.toExponential(2)}`}`; }
  });
  return { ok, err: worst, msg };
}

function checkModel(meta) {
  const dir = path.join(outDir, meta.model);
  const json = meta.model_json;
  const feeds = meta.inputs.flatMap((x) => ['--input', `${x.name}=${path.join(dir, x.file)}`]);
  const fetches = meta.outputs.flatMap((o) => ['--output', fetchName(o.name)]);
  const shapes = meta.inputs.flatMap((x) => ['--input-shape', `${x.name}=${x.shape.join(',')}`]);
  // relative wasm-vs-cpu difference of each output (0 where wasm did not run)
  const rels = meta.outputs.map((o) => (o.wasm_vs_cpu_max_abs === undefined ? 0 : o.wasm_vs_cpu_max_abs / Math.max(o.max_abs, 1e-6)));
  const tols = rels.map((r) => Math.max(TOL, r));
  const row = { model: meta.model, package: meta.package, nodes: meta.nodes, loads: false, ref_ok: false, fast_ok: false,
    grappler_exact: false, max_err: null, tol: Math.max(...tols), backends: '', msg: '', times_ms: {} };
  const disagree = meta.outputs.filter((o, i) => tols[i] > TOL).map((o) => o.name);
  if (meta.wasm_error) row.backends = `wasm failed: ${meta.wasm_error}`;
  else if (disagree.length) row.backends = `wasm and cpu differ beyond ${TOL} (relative) on ${disagree.join(', ')}: tolerance ${row.tol.toExponential(2)}`;
  else row.backends = 'wasm = cpu within 1e-4';
  const fail = (m) => { row.msg = row.msg || m; return row; };

  const ins = grappoRun(['inspect', json, ...shapes]);
  row.times_ms.inspect = ins.ms;
  // loaded, but holding ops grappo cannot execute, is still "loads"; a TF1 while loop is refused
  // at load (the GraphDef is a cycle)
  row.loads = ins.ok || (/cannot execute/.test(ins.msg) && !/while loop/.test(ins.msg));
  if (!ins.ok) return fail(`inspect: ${ins.msg}`);

  const refDir = path.join(dir, 'grappo-ref');
  const fastDir = path.join(dir, 'grappo-fast');
  const optDir = path.join(dir, 'grappo-grappler');
  for (const d of [refDir, fastDir, optDir]) fs.rmSync(d, { recursive: true, force: true });

  const r = grappoRun(['run', json, '--runtime', 'ref', ...feeds, ...fetches, '--save-outputs', refDir]);
  row.times_ms.ref = r.ms;
  if (r.ok) { const c = compare(meta, refDir, tols); row.ref_ok = c.ok; row.max_err = c.err; if (!c.ok) fail(`ref: ${c.msg}`); } else fail(`run --runtime ref: ${r.msg}`);

  const f = grappoRun(['run', json, '--threads', '2', ...feeds, ...fetches, '--save-outputs', fastDir]);
  row.times_ms.fast = f.ms;
  if (f.ok) { const c = compare(meta, fastDir, tols); row.fast_ok = c.ok; row.max_err = Math.max(row.max_err || 0, c.err); if (!c.ok) fail(`fast: ${c.msg}`); } else fail(`run (fast): ${f.msg}`);

  const optPb = path.join(dir, 'grappler.pb');
  const o = grappoRun(['optimize', json, '--search', 'grappler', '--target', 'tf', '-o', optPb, '--threads', '2',
    '--repeats', '3', '--eval-batches', '2', ...shapes]);
  row.times_ms.optimize = o.ms;
  if (!o.ok) return fail(`optimize --search grappler: ${o.msg}`);
  // the verdict: a rewritten graph, or the input written unchanged (no rewrite applied, not faster
  // in the short timing, or outside the accuracy budget, which an exact pipeline must never be)
  const verdict = (o.stdout.match(/^(optimized graph written|.*written unchanged)/m) || ['?'])[0];
  const applied = (o.stdout.match(/^rules applied \((\d+)\)/m) || [0, '0'])[1];
  row.grappler = verdict.startsWith('optimized') ? `${applied} rewrites` : `input kept: ${verdict.replace(/: the input graph.*/, '')}`;
  if (/accuracy/.test(verdict)) return fail(`optimize --search grappler: ${verdict}`);
  // optimize kept the input (its short timing found the rewrite not faster): check the rewritten
  // graph anyway, made by the same pipeline without the timing (tests/tool_grappler.c)
  let checked = optPb;
  if (/not faster/.test(verdict) && TOOL_GRAPPLER) {
    checked = path.join(dir, 'grappler-forced.pb');
    const t = spawnSync(TOOL_GRAPPLER, [json, checked, ...meta.inputs.map((x) => `${x.name}=${x.shape.join(',')}`)], { encoding: 'utf8' });
    if (t.status !== 0) return fail(`tool_grappler: ${(t.stderr || '').trim()}`);
    row.grappler += `; rewritten graph checked (${(t.stdout.match(/\((\d+)\)/) || [0, '?'])[1]} rewrites)`;
  }
  const g = grappoRun(['run', checked, '--runtime', 'ref', ...feeds, ...fetches, '--save-outputs', optDir]);
  row.times_ms.grappler_run = g.ms;
  if (!g.ok) return fail(`run grappler.pb --runtime ref: ${g.msg}`);
  const c = compare(meta, optDir, tols);
  // per output: the rounding bound EXACT, or where TF.js's two backends differ by more (an output
  // that amplifies float32 rounding), that difference
  let diff = Infinity;
  let exactMsg = row.ref_ok ? '' : 'the unoptimized graph did not run on the reference runtime';
  if (row.ref_ok) {
    diff = 0;
    meta.outputs.forEach((out, i) => {
      const d = relDiff(readNpy(path.join(optDir, fileName(out.name))), readNpy(path.join(refDir, fileName(out.name))));
      const bound = Math.max(EXACT, rels[i]);
      diff = Math.max(diff, d);
      if (!(d <= bound) && !exactMsg) exactMsg = `output ${out.name} differs from the unoptimized graph on the reference runtime by ${d.toExponential(2)} (relative) > ${bound.toExponential(2)}`;
    });
  }
  row.grappler_vs_unoptimized = diff;
  row.grappler_exact = c.ok && !exactMsg;
  row.max_err = Math.max(row.max_err || 0, c.err);
  if (!c.ok) fail(`grappler: ${c.msg}`);
  else if (exactMsg) fail(`grappler: ${exactMsg}`);
  return row;
}

const yes = (b) => (b ? 'yes' : '**no**');
function markdown(rows, known, layers) {
  const lines = ['| model | nodes | loads | ref ok | fast ok | grappler exact | max error / tolerance | TF.js wasm vs cpu | first failure |',
    '|---|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    const e = r.max_err === null ? '-' : `${r.max_err === Infinity ? 'inf' : r.max_err.toExponential(1)} / ${r.tol.toExponential(1)}`;
    const k = known[r.model] ? ` (known: ${known[r.model]})` : '';
    const gr = r.grappler ? ` (${r.grappler})` : '';
    lines.push(`| ${r.model} | ${r.nodes} | ${yes(r.loads)} | ${yes(r.ref_ok)} | ${yes(r.fast_ok)} | ${yes(r.grappler_exact)}${gr} | ${e} | ${r.backends.replace(/\|/g, '\\|')} | ${(r.msg + k).replace(/\|/g, '\\|')} |`);
  }
  const pass = rows.filter((r) => r.pass).length;
  lines.push('', `${rows.length} graph models: ${pass} pass on every check, ${rows.length - pass} fail ` +
    `(${rows.filter((r) => !r.pass && known[r.model]).length} of them known failures). ` +
    `Out of scope: ${layers.length} layers-models (${layers.join(', ')}).`);
  return lines.join('\n');
}

function main() {
  const known = readKnown(knownFile);
    const { graph_models: names, layers } = JSON.parse(fs.readFileSync(path.join(outDir, 'models.json'), 'utf8'));
  const rows = [];
  for (const name of names.filter((m) => !only.length || only.includes(m))) {
    const metaPath = path.join(outDir, name, 'meta.json');
    const meta = fs.existsSync(metaPath) ? JSON.parse(fs.readFileSync(metaPath, 'utf8')) : null;
    const row = meta ? checkModel(meta) : { model: name, nodes: null, loads: false, ref_ok: false, fast_ok: false,
      grappler_exact: false, max_err: null, tol: TOL, backends: '', msg: 'no TensorFlow.js reference (ref.js failed on it)' };
    row.pass = row.loads && row.ref_ok && row.fast_ok && row.grappler_exact;
    row.known = known[name] || null;
    process.stdout.write(`corpus ${name}: ${row.pass ? 'ok' : `FAIL ${row.msg}`}\n`);
    rows.push(row);
  }
  const md = `# make test-corpus\n\n${markdown(rows, known, layers)}\n`;
  fs.writeFileSync(path.join(outDir, 'report.md'), md);
  fs.writeFileSync(path.join(outDir, 'report.json'), JSON.stringify({ tolerance: TOL, rows, layers_models: layers }, null, 1));
  process.stdout.write(`\n${md}`);
  const unexpected = rows.filter((r) => !r.pass && !known[r.model]).map((r) => r.model);
  const fixed = rows.filter((r) => r.pass && known[r.model]).map((r) => r.model);
  if (unexpected.length) process.stdout.write(`\nFAIL: not in ${knownFile}: ${unexpected.join(', ')}\n`);
  if (fixed.length) process.stdout.write(`\nFAIL: pass now, remove from ${knownFile}: ${fixed.join(', ')}\n`);
  process.exit(unexpected.length || fixed.length ? 1 : 0);
}

main();
