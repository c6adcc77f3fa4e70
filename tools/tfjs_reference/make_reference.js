// Computes reference outputs of face-api's pretrained models with the original JavaScript
// framework (@tensorflow/tfjs 4.22.0, pure-JS 'cpu' backend, no native code) and writes them as
// small test data for moodnet's import tests (tests/test_tfjs.cpp, tag [tfjs]).
//
//   cd tools/tfjs_reference && npm ci && node make_reference.js [WEIGHTS_DIR] [OUT_DIR]
//
// WEIGHTS_DIR: the model/ folder scripts/fetch-pretrained.sh fills (default
// ~/.cache/moodnet/pretrained/face-api-1.7.15/model or $MOODNET_PRETRAINED_DIR/...).
// OUT_DIR: default ../../tests/data/tfjs.
//
// Inputs are generated, not photos: pixel(n, y, x, c) = an integer formula in 0..255 (see
// `pixel` below, mirrored in the C++ test), so the data stays tiny and redistributable.
//
// MobileNetV1: face-api runs it as src/ssdMobilenetv1/mobileNetV1.ts; every layer ends in
// tf.clipByValue(x, 0, 6), so the script wraps the cpu backend's ClipByValue kernel and records
// its outputs in call order: Conv2d_0, then Conv2d_i depthwise and pointwise for i = 1..13.
// Input A (512x512) goes through face-api's own SsdMobilenetv1.forward (its preprocessing
// x / 127.5 - 1 and its mobileNetV1); the other inputs (sizes face-api's detector never feeds,
// odd ones included) go through `mobileNetV1Copy`, a line-by-line copy of mobileNetV1.ts, which
// the script first checks against face-api's own run on input A (bitwise equal).
//
// Output: <name>.json (index: layers, shapes, what each stored array is) and <name>.bin
// (little-endian float32 arrays, concatenated in index order).
'use strict';

const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const only = (process.argv.find((a) => a.startsWith('--only=')) || '').slice(7); // mobilenet | expression
const weightsDir = args[0] || path.join(process.env.MOODNET_PRETRAINED_DIR ||
    path.join(os.homedir(), '.cache', 'moodnet', 'pretrained'), 'face-api-1.7.15', 'model');
const outDir = args[1] || path.join(__dirname, '..', '..', 'tests', 'data', 'tfjs');
// The shared data sets (FER2013 photos for the expression net), as the tests find them.
const dataDir = process.env.MOODNET_SHARED_DATA_DIR || path.join(__dirname, '..', '..', '..', 'shared', 'data');

// The generated test image: integers 0..255 (mirrored in tests/test_tfjs.cpp).
function pixel(n, y, x, c) {
  return (7 * x + 11 * y + 50 * c + 3 * ((x * y) >> 4) + 97 * n + ((x ^ y) & 31)) & 255;
}
function makeImage(n, h, w) {
  const v = new Float32Array(h * w * 3);
  let i = 0;
  for (let y = 0; y < h; ++y)
    for (let x = 0; x < w; ++x)
      for (let c = 0; c < 3; ++c) v[i++] = pixel(n, y, x, c);
  return tf.tensor4d(v, [1, h, w, 3], 'float32');
}

// Records the outputs of the hooked kernels (ClipByValue, Relu, AvgPool, Softmax) while
// `recording` is set, in call order.
let recording = null;
function hookKernel(kernelName) {
  const orig = tf.getKernel(kernelName, 'cpu');
  if (!orig) throw new Error(`no cpu ${kernelName} kernel`);
  tf.unregisterKernel(kernelName, 'cpu');
  tf.registerKernel({
    ...orig,
    kernelFunc: (args) => {
      const out = orig.kernelFunc(args);
      if (recording) {
        const vals = args.backend.readSync(out.dataId);
        recording.push({ kernel: kernelName, shape: out.shape.slice(), values: Float32Array.from(vals) });
      }
      return out;
    },
  });
}
function record(fn) {
  recording = [];
  const r = fn();
  const got = recording;
  recording = null;
  return [got, r];
}

// A copy of face-api 1.7.15 src/ssdMobilenetv1/mobileNetV1.ts (+ pointwiseConvLayer.ts).
const epsilon = 0.0010000000474974513;
function pointwiseConvLayer(x, params, strides) {
  return tf.tidy(() => {
    let out = tf.conv2d(x, params.filters, strides, 'same');
    out = tf.add(out, params.batch_norm_offset);
    return tf.clipByValue(out, 0, 6);
  });
}
function depthwiseConvLayer(x, params, strides) {
  return tf.tidy(() => {
    let out = tf.depthwiseConv2d(x, params.filters, strides, 'same');
    out = tf.batchNorm(out, params.batch_norm_mean, params.batch_norm_variance,
      params.batch_norm_offset, params.batch_norm_scale, epsilon);
    return tf.clipByValue(out, 0, 6);
  });
}
function mobileNetV1Copy(x, params) {
  return tf.tidy(() => {
    let out = pointwiseConvLayer(x, params.conv_0, [2, 2]);
    for (let i = 1; i <= 13; ++i) {
      const strides = [2, 4, 6, 12].includes(i) ? [2, 2] : [1, 1];
      out = depthwiseConvLayer(out, params[`conv_${i}`].depthwise_conv, strides);
      out = pointwiseConvLayer(out, params[`conv_${i}`].pointwise_conv, [1, 1]);
    }
    return out;
  });
}
// face-api's preprocessing (SsdMobilenetv1.forwardInput): x / 127.5 - 1.
function normalize(img) {
  return tf.tidy(() => tf.sub(tf.div(img, 127.5), 1));
}

const layerNames = ['Conv2d_0'];
for (let i = 1; i <= 13; ++i) layerNames.push(`Conv2d_${i}_depthwise`, `Conv2d_${i}_pointwise`);
// The layers whose outputs are stored (all 27 are checked against face-api's own run).
const storedLayers = ['Conv2d_0', 'Conv2d_1_depthwise', 'Conv2d_1_pointwise',
  'Conv2d_5_pointwise', 'Conv2d_11_pointwise', 'Conv2d_13_depthwise', 'Conv2d_13_pointwise'];
const RAW_VALUES = 1024; // raw values stored per layer: every element, or a strided subset

// Appends a layer's reference arrays: `count` raw values at offset + i * stride, and the
// per-channel sums over (N, H, W) computed in double.
function storeLayer(out, bin, layer, shape, values) {
  const channels = shape[shape.length - 1];
  const size = values.length;
  const stride = size <= RAW_VALUES ? 1 : Math.floor(size / RAW_VALUES);
  const count = Math.min(RAW_VALUES, size);
  const offset = stride > 1 ? Math.floor(stride / 2) : 0;
  const raw = new Float32Array(count);
  for (let i = 0; i < count; ++i) raw[i] = values[offset + i * stride];
  const sums = new Float64Array(channels);
  for (let i = 0; i < size; ++i) sums[i % channels] += values[i];
  const entry = { layer, shape, raw: { offset, stride, count, at: bin.floats },
    channel_sums: { count: channels, at: bin.floats + count } };
  bin.chunks.push(Buffer.from(raw.buffer), Buffer.from(Float32Array.from(sums).buffer));
  bin.floats += count + channels;
  out.push(entry);
}

function writeReference(name, index, bin) {
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(index, null, 1) + '\n');
  fs.writeFileSync(path.join(outDir, `${name}.bin`), Buffer.concat(bin.chunks));
  console.log(`wrote ${path.join(outDir, name)}.{json,bin} (${bin.floats} floats)`);
}
function seconds(t) { return ((Date.now() - t) / 1000).toFixed(1); }

async function mobilenet() {
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(weightsDir);
  const params = faceapi.nets.ssdMobilenetv1.params.mobilenetv1;
  const clips = (rec) => rec.filter((r) => r.kernel === 'ClipByValue');
  const inputs = [
    { name: 'A', n: 0, h: 512, w: 512, via: 'face-api SsdMobilenetv1.forward (own preprocessing and mobileNetV1)' },
    { name: 'B', n: 1, h: 224, w: 224, via: 'mobileNetV1Copy(x / 127.5 - 1)' },
    { name: 'C', n: 2, h: 100, w: 76, via: 'mobileNetV1Copy(x / 127.5 - 1)' },
    { name: 'D', n: 3, h: 32, w: 32, via: 'mobileNetV1Copy(x / 127.5 - 1)' },
  ];
  const index = {
    generator: 'tools/tfjs_reference/make_reference.js',
    package: '@vladmandic/face-api@1.7.15 model/ssd_mobilenetv1_model',
    tfjs: tf.version.tfjs,
    backend: tf.getBackend(),
    pixel: '(7x + 11y + 50c + 3((x*y) >> 4) + 97n + ((x ^ y) & 31)) & 255, n = image number',
    preprocessing: 'x / 127.5 - 1 (face-api SsdMobilenetv1), i.e. 2 * (x / 255) - 1',
    layers: layerNames,
    inputs: [],
  };
  const bin = { chunks: [], floats: 0 };
  for (const inp of inputs) {
    const t1 = Date.now();
    const img = makeImage(inp.n, inp.h, inp.w);
    let layers;
    if (inp.name === 'A') {
      recording = [];
      const det = await faceapi.nets.ssdMobilenetv1.forward(img);
      layers = clips(recording).slice(0, 27);
      recording = null;
      tf.dispose([det.boxes, det.scores]);
      // The copy must reproduce face-api's own run exactly.
      const x = normalize(img);
      const [rec, y] = record(() => mobileNetV1Copy(x, params));
      tf.dispose([x, y]);
      const copy = clips(rec);
      if (copy.length !== 27) throw new Error(`copy recorded ${copy.length} layers`);
      for (let l = 0; l < 27; ++l) {
        const a = layers[l].values; const b = copy[l].values;
        if (a.length !== b.length || a.some((v, i) => !Object.is(v, b[i])))
          throw new Error(`mobileNetV1Copy differs from face-api at ${layerNames[l]}`);
      }
      console.log('mobileNetV1Copy reproduces face-api bitwise on input A (27 layers)');
    } else {
      const x = normalize(img);
      const [rec, y] = record(() => mobileNetV1Copy(x, params));
      tf.dispose([x, y]);
      layers = clips(rec);
    }
    img.dispose();
    if (layers.length !== 27) throw new Error(`recorded ${layers.length} layers, expected 27`);
    const entry = { name: inp.name, image: inp.n, height: inp.h, width: inp.w, via: inp.via, outputs: [] };
    for (const name of storedLayers) {
      const l = layers[layerNames.indexOf(name)];
      storeLayer(entry.outputs, bin, name, l.shape, l.values);
    }
    index.inputs.push(entry);
    console.log(`MobileNetV1 input ${inp.name} ${inp.h}x${inp.w}: ${seconds(t1)} s`);
  }
  writeReference('mobilenet_v1', index, bin);
}

// face-api's FaceExpressionNet (face_expression_model), run by face-api itself
// (faceExpressionNet.forward: toBatchTensor(112) with tf.image.resizeBilinear, (x - mean_rgb) /
// 255, four dense blocks, 7x7 average pool, fc, softmax).
//  - Two generated 112x112 images: the recorded Relu outputs (4 per dense block, the 4th is the
//    block's output), the AvgPool output (256 features) and the Softmax output.
//  - FER2013 test photos (48x48 gray; the first PER_CLASS of each class folder by name), decoded
//    by moodnet's decoder (dump_pixels.cpp) and resized by face-api to 112x112: the 7
//    probabilities and the predicted class of each.
const PER_CLASS = 40;
async function expression() {
  await faceapi.nets.faceExpressionNet.loadFromDisk(weightsDir);
  const net = faceapi.nets.faceExpressionNet;
  const index = {
    generator: 'tools/tfjs_reference/make_reference.js',
    package: '@vladmandic/face-api@1.7.15 model/face_expression_model',
    tfjs: tf.version.tfjs,
    backend: tf.getBackend(),
    classes: faceapi.FACE_EXPRESSION_LABELS || ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'],
    pixel: '(7x + 11y + 50c + 3((x*y) >> 4) + 97n + ((x ^ y) & 31)) & 255, n = image number',
    preprocessing: '(x - [122.782, 117.001, 104.298]) / 255 on 0..255 (face-api FaceFeatureExtractor)',
    inputs: [],
    photos: { resize: 'tf.image.resizeBilinear to 112x112, alignCorners false, halfPixelCenters false (face-api toBatchTensor)', files: [] },
  };
  const bin = { chunks: [], floats: 0 };
  const t1 = Date.now();
  for (const n of [4, 5]) {
    const img = makeImage(n, 112, 112);
    recording = [];
    const probs = await net.forward(img);
    const rec = recording;
    recording = null;
    probs.dispose();
    img.dispose();
    const relus = rec.filter((r) => r.kernel === 'Relu');
    const pools = rec.filter((r) => r.kernel === 'AvgPool');
    const soft = rec.filter((r) => r.kernel === 'Softmax');
    if (relus.length !== 16 || pools.length !== 1 || soft.length !== 1)
      throw new Error(`recorded ${relus.length} Relu, ${pools.length} AvgPool, ${soft.length} Softmax`);
    const entry = { name: `E${n}`, image: n, height: 112, width: 112, outputs: [] };
    storeLayer(entry.outputs, bin, 'dense0_conv0', relus[0].shape, relus[0].values);
    for (let b = 0; b < 4; ++b) storeLayer(entry.outputs, bin, `dense${b}_out`, relus[4 * b + 3].shape, relus[4 * b + 3].values);
    storeLayer(entry.outputs, bin, 'features', pools[0].shape, pools[0].values);
    storeLayer(entry.outputs, bin, 'fc', soft[0].shape, soft[0].values);
    index.inputs.push(entry);
  }
  console.log(`expression net, generated inputs: ${seconds(t1)} s`);

  // Photos: decoded with moodnet's decoder.
  const t2 = Date.now();
  const files = [];
  for (const cls of ['happy', 'neutral', 'sad']) {
    const dir = path.join(dataDir, 'fer2013', 'test', cls);
    for (const f of fs.readdirSync(dir).sort().slice(0, PER_CLASS)) files.push(`fer2013/test/${cls}/${f}`);
  }
  const tool = path.join(os.tmpdir(), `moodnet_dump_pixels_${process.pid}`);
  const raw = `${tool}.bin`;
  execFileSync('g++', ['-std=c++20', '-O1', `-I${path.join(__dirname, '..', '..', 'include')}`,
    path.join(__dirname, 'dump_pixels.cpp'), '-lstb', '-o', tool], { stdio: 'inherit' });
  execFileSync(tool, [raw, ...files.map((f) => path.join(dataDir, f))], { stdio: 'inherit' });
  const bytes = fs.readFileSync(raw);
  fs.rmSync(tool); fs.rmSync(raw);
  let at = 0;
  const tensors = [];
  for (const f of files) {
    const h = bytes.readUInt32LE(at); const w = bytes.readUInt32LE(at + 4); at += 8;
    const px = bytes.subarray(at, at + h * w * 3); at += h * w * 3;
    let sum = 0; let hash = 0;
    for (const p of px) { sum += p; hash = (hash * 31 + p) % 1000000007; }
    tensors.push(tf.tensor3d(Int32Array.from(px), [h, w, 3], 'int32'));
    index.photos.files.push({ file: f, height: h, width: w, pixel_sum: sum, pixel_hash: hash });
  }
  const probs = [];
  for (let i = 0; i < tensors.length; i += 40) {
    const p = await net.forward(tensors.slice(i, i + 40));
    probs.push(...p.arraySync());
    p.dispose();
  }
  tf.dispose(tensors);
  const all = new Float32Array(probs.length * 7);
  probs.forEach((p, i) => {
    all.set(p, i * 7);
    index.photos.files[i].argmax = p.indexOf(Math.max(...p));
  });
  index.photos.probabilities = { count: all.length, at: bin.floats };
  bin.chunks.push(Buffer.from(all.buffer));
  bin.floats += all.length;
  console.log(`expression net, ${files.length} photos: ${seconds(t2)} s`);
  writeReference('face_expression', index, bin);
}

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  if (faceapi.tf.getBackend() !== 'cpu') throw new Error('face-api is not on the cpu backend');
  for (const k of ['ClipByValue', 'Relu', 'AvgPool', 'Softmax']) hookKernel(k);
  const t0 = Date.now();
  if (only !== 'expression') await mobilenet();
  if (only !== 'mobilenet') await expression();
  console.log(`done in ${seconds(t0)} s`);
}

main().catch((e) => { console.error(e); process.exit(1); });
