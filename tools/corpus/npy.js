// npy.js - read and write NumPy .npy files (version 1.0, C order, little-endian) for the corpus
// scripts: float32, int32, int64, bool, uint8. No dependencies.
'use strict';
const fs = require('fs');

const DESCR = { float32: '<f4', int32: '<i4', int64: '<i8', bool: '|b1', uint8: '|u1', float64: '<f8' };
const ARRAY = { '<f4': Float32Array, '<i4': Int32Array, '<i8': BigInt64Array, '|b1': Uint8Array,
                '|u1': Uint8Array, '<f8': Float64Array };
const DTYPE = Object.fromEntries(Object.entries(DESCR).map(([k, v]) => [v, k]));

function writeNpy(path, dtype, shape, data) {
  const descr = DESCR[dtype];
  if (!descr) throw new Error(`npy: dtype ${dtype} not supported`);
  const shp = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shp}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1'); head[6] = 1; head[7] = 0; head.writeUInt16LE(header.length, 8);
  let body;
  if (dtype === 'int64') body = Buffer.from(BigInt64Array.from(data, (v) => BigInt(v)).buffer);
  else if (dtype === 'bool' || dtype === 'uint8') body = Buffer.from(Uint8Array.from(data, (v) => (v ? Number(v) : 0)));
  else body = Buffer.from(new ARRAY[descr](data).buffer);
  const tmp = `${path}.tmp`;
  fs.writeFileSync(tmp, Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
  fs.renameSync(tmp, path);
}

// -> { dtype, shape, data: Float64Array } (int64 converted to double: exact below 2^53)
function readNpy(path) {
  const buf = fs.readFileSync(path);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const off = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', off, off + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${path}: Fortran order`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim())
    .filter((s) => s.length).map(Number);
  const Arr = ARRAY[descr];
  if (!Arr) throw new Error(`${path}: dtype ${descr} not supported`);
  const raw = buf.subarray(off + hlen);
  const copy = new Uint8Array(raw.length); copy.set(raw);
  const typed = new Arr(copy.buffer, 0, raw.length / Arr.BYTES_PER_ELEMENT);
  const data = Float64Array.from(typed, (v) => Number(v));
  return { dtype: DTYPE[descr], shape, data };
}

module.exports = { writeNpy, readNpy };
