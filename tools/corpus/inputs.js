// inputs.js - deterministic inputs for a corpus model, from its input signature: float inputs are
// images in [0, 1), int32 inputs images in [0, 255] (the human-models conventions: movenet and
// the detectors with int32 inputs take raw pixels); unknown batch dims 1, other unknown dims 128
// (a multiple of the strides of every model here). A few inputs that are not images are named.
'use strict';

const RECIPE = 'inputs-v3'; // v2: uint8 graph inputs written as uint8 (ref.js); v3: also by the Placeholder's dtype

// mulberry32: a tiny deterministic PRNG (same stream in every Node version)
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// inputs that are not images: rvm's recurrent states start as scalar zeros and its
// downsample_ratio is a scalar (0.5), as @vladmandic/human feeds them
const SPECIAL = {
  rvm: { r1i: { shape: [], fill: 0 }, r2i: { shape: [], fill: 0 }, r3i: { shape: [], fill: 0 },
         r4i: { shape: [], fill: 0 }, downsample_ratio: { shape: [], fill: 0.5 } },
};

function makeInputs(model, sig) {
  return sig.map((inp, k) => {
    const sp = (SPECIAL[model] || {})[inp.name];
    const dtype = inp.dtype;
    if (sp) return { name: inp.name, dtype, shape: sp.shape, data: [sp.fill], range: `constant ${sp.fill}` };
    const shape = (inp.shape || [1]).map((d, i) => (d >= 0 ? d : (i === 0 ? 1 : 128)));
    const n = shape.reduce((a, b) => a * b, 1);
    const rnd = mulberry32(1234 + k);
    const data = new Array(n);
    if (dtype === 'int32') for (let i = 0; i < n; i++) data[i] = Math.floor(rnd() * 256);
    else for (let i = 0; i < n; i++) data[i] = Math.floor(rnd() * 16777216) / 16777216;
    const range = dtype === 'int32' ? 'uniform integers [0, 255]' : 'uniform [0, 1) (24-bit)';
    return { name: inp.name, dtype, shape, data, range };
  });
}

module.exports = { makeInputs, RECIPE };
